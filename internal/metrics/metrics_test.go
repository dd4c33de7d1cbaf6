package metrics

import (
	"context"
	"io"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/jobsched/jobsched"
	"github.com/stretchr/testify/require"
)

// The kind label takes only registered kinds: a caller's kind string cannot grow the series.
func TestKindLabelIsBounded(t *testing.T) {
	m := New()
	s, err := jobsched.New(jobsched.Config{Logger: nil, Observer: m})
	require.NoError(t, err)
	require.NoError(t, s.Register("known", func(context.Context, *jobsched.Job) (any, error) { return nil, nil }))
	m.Attach(s)
	ctx := context.Background()
	require.NoError(t, s.Start(ctx))
	t.Cleanup(func() {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		require.NoError(t, s.Close(cctx))
	})
	known, err := s.Enqueue(ctx, jobsched.JobSpec{Kind: "known"})
	require.NoError(t, err)
	for _, k := range []string{"made-up-1", "made-up-2"} {
		_, err := s.Enqueue(ctx, jobsched.JobSpec{Kind: k, Delay: jobsched.Duration(time.Hour)})
		require.NoError(t, err)
	}
	_, err = s.Wait(ctx, known.ID)
	require.NoError(t, err)

	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, err := io.ReadAll(rec.Body)
	require.NoError(t, err)
	text := string(body)
	require.Contains(t, text, `jobsched_jobs_enqueued_total{category="default",kind="known"} 1`)
	require.Contains(t, text, `jobsched_jobs_enqueued_total{category="default",kind="other"} 2`)
	require.NotContains(t, text, "made-up")
}
