package postgres_test

import (
	"context"
	"testing"

	"github.com/jobsched/jobsched/internal/pgtest"
	"github.com/jobsched/jobsched/persistence/postgres"
	"github.com/stretchr/testify/require"
)

// Open leaves its pool warm: connections made, the hot statements prepared on them, so the
// first jobs of a fresh node do not pay for them (docs/cluster.md, "Session 6: p99 at 500/s").
func TestOpenWarmsThePool(t *testing.T) {
	ctx := context.Background()
	s := open(t, pgtest.DSN(t), postgres.Options{Node: "warm"})
	require.GreaterOrEqual(t, s.Pool().Stat().TotalConns(), int32(8))
	conn, err := s.Pool().Acquire(ctx)
	require.NoError(t, err)
	defer conn.Release()
	var n int
	require.NoError(t, conn.QueryRow(ctx, "SELECT count(*) FROM pg_prepared_statements").Scan(&n))
	require.GreaterOrEqual(t, n, 8, "the hot statements are prepared on the connection")

	small := open(t, pgtest.DSN(t), postgres.Options{Node: "warm-small", MaxConns: 3})
	require.LessOrEqual(t, small.Pool().Stat().TotalConns(), int32(3), "no more than MaxConns")
}
