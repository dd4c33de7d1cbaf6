package jobsched_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jobsched/jobsched"
	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// recorded returns a tracer provider that keeps every ended span in memory.
func recorded(t *testing.T) (*sdktrace.TracerProvider, *tracetest.SpanRecorder) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { require.NoError(t, tp.Shutdown(context.Background())) })
	return tp, rec
}

// spansNamed returns the ended spans of that name.
func spansNamed(rec *tracetest.SpanRecorder, name string) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range rec.Ended() {
		if s.Name() == name {
			out = append(out, s)
		}
	}
	return out
}

func attr(s sdktrace.ReadOnlySpan, key string) string {
	for _, a := range s.Attributes() {
		if string(a.Key) == key {
			return a.Value.String()
		}
	}
	return ""
}

// An enqueue under a span: the enqueue span is its child, each attempt's span is the enqueue
// span's child, and the span a handler starts from its ctx is the attempt's child: one trace.
func TestTracingJoinsTheEnqueuersTrace(t *testing.T) {
	tp, rec := recorded(t)
	s, err := jobsched.New(jobsched.Config{TracerProvider: tp, RetryBackoff: func(int) time.Duration { return time.Millisecond }})
	require.NoError(t, err)
	handlerTracer := tp.Tracer("handler")
	require.NoError(t, s.Register("flaky", func(ctx context.Context, j *jobsched.Job) (any, error) {
		_, span := handlerTracer.Start(ctx, "handler.work")
		defer span.End()
		if j.Attempt == 1 {
			return nil, errors.New("first attempt fails")
		}
		return "ok", nil
	}))
	require.NoError(t, s.Start(context.Background()))
	t.Cleanup(func() { require.NoError(t, s.Close(context.Background())) })

	ctx, parent := tp.Tracer("test").Start(context.Background(), "request")
	j, err := s.Enqueue(ctx, jobsched.JobSpec{Kind: "flaky", MaxAttempts: 3})
	require.NoError(t, err)
	parent.End()
	wctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done, err := s.Wait(wctx, j.ID)
	require.NoError(t, err)
	require.Equal(t, jobsched.StateSucceeded, done.State)
	traceID := parent.SpanContext().TraceID()
	require.Contains(t, done.TraceParent, traceID.String(), "the job carries the enqueuer's trace")

	enq := spansNamed(rec, "jobsched.enqueue")
	require.Len(t, enq, 1)
	require.Equal(t, traceID, enq[0].SpanContext().TraceID())
	require.Equal(t, parent.SpanContext().SpanID(), enq[0].Parent().SpanID())
	require.Equal(t, trace.SpanKindProducer, enq[0].SpanKind())
	require.Equal(t, j.ID, attr(enq[0], "jobsched.job.id"))

	require.Eventually(t, func() bool { return len(spansNamed(rec, "handler.work")) == 2 }, 5*time.Second, time.Millisecond)
	attempts := spansNamed(rec, "jobsched.attempt")
	require.Len(t, attempts, 2)
	outcomes := map[string]string{}
	for _, a := range attempts {
		require.Equal(t, traceID, a.SpanContext().TraceID())
		require.Equal(t, enq[0].SpanContext().SpanID(), a.Parent().SpanID(), "an attempt is the enqueue's child")
		require.Equal(t, trace.SpanKindConsumer, a.SpanKind())
		outcomes[attr(a, "jobsched.attempt")] = attr(a, "jobsched.outcome")
		if attr(a, "jobsched.attempt") == "1" {
			require.Equal(t, "Error", a.Status().Code.String())
			require.Equal(t, "first attempt fails", a.Status().Description)
		}
	}
	require.Equal(t, map[string]string{"1": "failed", "2": "succeeded"}, outcomes)
	attemptIDs := map[trace.SpanID]bool{attempts[0].SpanContext().SpanID(): true, attempts[1].SpanContext().SpanID(): true}
	for _, h := range spansNamed(rec, "handler.work") {
		require.Equal(t, traceID, h.SpanContext().TraceID(), "the handler's span joins the trace")
		require.True(t, attemptIDs[h.Parent().SpanID()], "the handler's span is an attempt's child")
	}
}

// The trace context is stored with the job: a scheduler started again on the same directory,
// with a tracer provider of its own, runs the job under the enqueuer's trace.
func TestTracingSurvivesARestart(t *testing.T) {
	dir := t.TempDir()
	tp1, rec1 := recorded(t)
	s1, err := jobsched.New(jobsched.Config{Dir: dir, TracerProvider: tp1})
	require.NoError(t, err)
	require.NoError(t, s1.Start(context.Background()))
	require.NoError(t, s1.Pause(jobsched.DefaultCategory)) // stored: the job waits for the next start
	ctx, parent := tp1.Tracer("test").Start(context.Background(), "request")
	j, err := s1.Enqueue(ctx, jobsched.JobSpec{Kind: "work"})
	require.NoError(t, err)
	parent.End()
	require.NoError(t, s1.Close(context.Background()))
	enq := spansNamed(rec1, "jobsched.enqueue")
	require.Len(t, enq, 1)

	tp2, rec2 := recorded(t)
	s2, err := jobsched.New(jobsched.Config{Dir: dir, TracerProvider: tp2})
	require.NoError(t, err)
	var handlerTrace trace.TraceID
	require.NoError(t, s2.Register("work", func(ctx context.Context, _ *jobsched.Job) (any, error) {
		handlerTrace = trace.SpanContextFromContext(ctx).TraceID()
		return nil, nil
	}))
	require.NoError(t, s2.Start(context.Background()))
	t.Cleanup(func() { require.NoError(t, s2.Close(context.Background())) })
	require.NoError(t, s2.Resume(jobsched.DefaultCategory))
	wctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done, err := s2.Wait(wctx, j.ID)
	require.NoError(t, err)
	require.Equal(t, jobsched.StateSucceeded, done.State)
	require.Equal(t, parent.SpanContext().TraceID(), handlerTrace)
	require.Eventually(t, func() bool { return len(spansNamed(rec2, "jobsched.attempt")) == 1 }, 5*time.Second, time.Millisecond)
	a := spansNamed(rec2, "jobsched.attempt")[0]
	require.Equal(t, parent.SpanContext().TraceID(), a.SpanContext().TraceID())
	require.Equal(t, enq[0].SpanContext().SpanID(), a.Parent().SpanID())
	require.True(t, a.Parent().IsRemote(), "the parent came from the store")
}

// Without a tracer provider nothing is stored with the job, even when the enqueuer traces.
func TestTracingOffStoresNothing(t *testing.T) {
	tp, _ := recorded(t)
	s, err := jobsched.New(jobsched.Config{})
	require.NoError(t, err)
	var handlerSpan trace.SpanContext
	require.NoError(t, s.Register("work", func(ctx context.Context, _ *jobsched.Job) (any, error) {
		handlerSpan = trace.SpanContextFromContext(ctx)
		return nil, nil
	}))
	require.NoError(t, s.Start(context.Background()))
	t.Cleanup(func() { require.NoError(t, s.Close(context.Background())) })
	ctx, parent := tp.Tracer("test").Start(context.Background(), "request")
	defer parent.End()
	j, err := s.Enqueue(ctx, jobsched.JobSpec{Kind: "work"})
	require.NoError(t, err)
	require.Empty(t, j.TraceParent)
	wctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done, err := s.Wait(wctx, j.ID)
	require.NoError(t, err)
	require.Empty(t, done.TraceParent)
	require.False(t, handlerSpan.IsValid(), "no span in the handler's ctx")
}
