package postgres_test

import (
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jobsched/jobsched/internal/pgtest"
	"github.com/jobsched/jobsched/persistence/postgres"
	"github.com/stretchr/testify/require"
)

// Nodes starting together apply each migration once; a second run applies nothing.
func TestMigrateOnceUnderTheLock(t *testing.T) {
	dsn := pgtest.DSN(t)
	all, err := postgres.Migrations()
	require.NoError(t, err)
	require.NotEmpty(t, all)
	var wg sync.WaitGroup
	applied := make([][]int, 4)
	for i := range applied {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			v, err := postgres.MigrateDSN(ctx, dsn)
			if err != nil {
				t.Error(err)
			}
			applied[i] = v
		}(i)
	}
	wg.Wait()
	total := 0
	for _, v := range applied {
		total += len(v)
	}
	require.Equal(t, len(all), total, "every migration applied exactly once")
	v, err := postgres.MigrateDSN(ctx, dsn)
	require.NoError(t, err)
	require.Empty(t, v)

	c, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err)
	defer c.Close(ctx)
	_, err = c.Exec(ctx, "INSERT INTO jobsched_migrations (version, name) VALUES (9999, 'future')")
	require.NoError(t, err)
	_, err = postgres.MigrateDSN(ctx, dsn)
	require.ErrorIs(t, err, postgres.ErrSchemaTooNew)
	_, err = postgres.Open(ctx, postgres.Options{DSN: dsn})
	require.ErrorIs(t, err, postgres.ErrSchemaTooNew, "a node refuses a schema newer than it knows")
}
