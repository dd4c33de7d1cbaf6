package pgtest_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jobsched/jobsched/internal/leaktest"
	"github.com/jobsched/jobsched/internal/pgtest"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(pgtest.Main(m), leaktest.Ignore...) }

// Each test gets its own empty database on the shared server, which runs with fsync on.
func TestFreshDatabasesOnOneDurableServer(t *testing.T) {
	ctx := context.Background()
	a, b := pgtest.DSN(t), pgtest.DSN(t)
	require.NotEqual(t, a, b)
	c, err := pgx.Connect(ctx, a)
	require.NoError(t, err)
	defer c.Close(ctx)
	_, err = c.Exec(ctx, "CREATE TABLE x (v int)")
	require.NoError(t, err)
	var fsync, sc string
	require.NoError(t, c.QueryRow(ctx, "SELECT current_setting('fsync'), current_setting('synchronous_commit')").Scan(&fsync, &sc))
	require.Equal(t, "on", fsync)
	require.Equal(t, "on", sc)

	c2, err := pgx.Connect(ctx, b)
	require.NoError(t, err)
	defer c2.Close(ctx)
	var n int
	require.NoError(t, c2.QueryRow(ctx, "SELECT count(*) FROM pg_tables WHERE tablename = 'x'").Scan(&n))
	require.Zero(t, n, "the other database is empty")
}
