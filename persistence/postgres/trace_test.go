package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/jobsched/jobsched"
	"github.com/jobsched/jobsched/internal/pgtest"
	"github.com/jobsched/jobsched/persistence/postgres"
	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// A job enqueued in the caller's transaction under a span carries the span's trace through
// PostgreSQL: the handler runs in that trace.
func TestEnqueueTxJoinsTheTrace(t *testing.T) {
	tp := sdktrace.NewTracerProvider()
	defer func() { require.NoError(t, tp.Shutdown(ctx)) }()
	st := open(t, pgtest.DSN(t), postgres.Options{Node: "a"})
	s, err := jobsched.New(jobsched.Config{Store: st, TracerProvider: tp})
	require.NoError(t, err)
	seen := make(chan trace.TraceID, 1)
	require.NoError(t, s.Register("k", func(ctx context.Context, _ *jobsched.Job) (any, error) {
		seen <- trace.SpanContextFromContext(ctx).TraceID()
		return nil, nil
	}))
	require.NoError(t, s.Start(ctx))
	defer func() { require.NoError(t, s.Close(ctx)) }()

	sctx, span := tp.Tracer("test").Start(ctx, "request")
	defer span.End()
	tx, err := st.Pool().Begin(ctx)
	require.NoError(t, err)
	jobs, err := s.EnqueueTx(sctx, tx, []jobsched.JobSpec{{Kind: "k"}})
	require.NoError(t, err)
	require.NoError(t, tx.Commit(ctx))
	stored, err := s.Get(ctx, jobs[0].ID)
	require.NoError(t, err)
	require.Contains(t, stored.TraceParent, span.SpanContext().TraceID().String())
	select {
	case got := <-seen:
		require.Equal(t, span.SpanContext().TraceID(), got)
	case <-time.After(10 * time.Second):
		t.Fatal("the job did not run")
	}
}
