package jobsched

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

// Tracing off (no TracerProvider) costs no allocation per job: the enqueue and attempt hooks
// return at once.
func TestTracingOffAllocatesNothing(t *testing.T) {
	s := &Scheduler{}
	s.tracer = newTracer(Config{})
	require.Nil(t, s.tracer)
	jobs := []*Job{{ID: "a", Kind: "k", Category: "c"}}
	ctx := context.Background()
	out := outcome{result: []byte("null")}
	allocs := testing.AllocsPerRun(1000, func() {
		c, span := s.traceEnqueue(ctx, jobs)
		endSpan(span, nil)
		c, span = s.traceAttempt(c, jobs[0])
		endAttemptSpan(span, out)
		_ = c
	})
	require.Zero(t, allocs)
	require.Empty(t, jobs[0].TraceParent)
}
