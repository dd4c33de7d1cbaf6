package postgres_test

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
	"testing"

	"github.com/jobsched/jobsched/internal/pgtest"
	"github.com/jobsched/jobsched/persistence/postgres"
	"github.com/stretchr/testify/require"
)

// Open leaves its pool warm: connections made, the hot statements prepared on them, so the
// first jobs of a fresh node do not pay for them (docs/cluster.md, "Session 6: p99 at 500/s").
func TestOpenWarmsThePool(t *testing.T) {
	ctx := context.Background()
	logged := &syncBuffer{}
	s := open(t, pgtest.DSN(t), postgres.Options{Node: "warm", Logger: slog.New(slog.NewTextHandler(logged, nil))})
	require.NotContains(t, logged.String(), "warm", "every connection warmed without an error")
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

// syncBuffer is a bytes.Buffer safe for a logger's goroutines and the test's.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
