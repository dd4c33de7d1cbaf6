package jobschedtest_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jobsched/jobsched"
	"github.com/jobsched/jobsched/jobschedtest"
	"github.com/stretchr/testify/require"
)

// fakeT records a failure instead of failing the real test; Fatalf ends its goroutine, as
// testing.T's does.
type fakeT struct {
	testing.TB
	mu     sync.Mutex
	failed string
}

func (f *fakeT) Helper() {}
func (f *fakeT) Fatalf(format string, a ...any) {
	f.mu.Lock()
	f.failed = fmt.Sprintf(format, a...)
	f.mu.Unlock()
	runtime.Goexit()
}

// failure runs fn with a fakeT on its own goroutine and returns its failure message ("" if none).
func failure(t *testing.T, fn func(tb testing.TB)) string {
	f := &fakeT{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(f)
	}()
	<-done
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.failed
}

func TestDrainRunsRetriesAndFollowUpsUntilEmpty(t *testing.T) {
	var flakyRuns, followUps atomic.Int64
	var s *jobsched.Scheduler
	s = jobschedtest.Start(t, jobsched.Config{}, map[string]jobsched.Handler{
		"flaky": func(context.Context, *jobsched.Job) (any, error) {
			if flakyRuns.Add(1) <= 2 {
				return nil, errors.New("not yet")
			}
			return nil, nil
		},
		"order": func(ctx context.Context, j *jobsched.Job) (any, error) {
			_, err := s.Enqueue(ctx, jobsched.JobSpec{Kind: "receipt", Args: j.Args})
			return nil, err
		},
		"receipt": func(context.Context, *jobsched.Job) (any, error) { followUps.Add(1); return nil, nil },
	})
	ctx := context.Background()
	for i := 0; i < 20; i++ {
		_, err := s.Enqueue(ctx, jobsched.JobSpec{Kind: "order", Args: jobsched.Args(map[string]int{"order": i})})
		require.NoError(t, err)
	}
	flaky, err := s.Enqueue(ctx, jobsched.JobSpec{Kind: "flaky"})
	require.NoError(t, err)
	later, err := s.Enqueue(ctx, jobsched.JobSpec{Kind: "receipt", Delay: jobsched.Duration(time.Hour)})
	require.NoError(t, err)

	jobschedtest.Drain(t, s, 10*time.Second)
	require.Equal(t, int64(20), followUps.Load(), "the jobs the handlers enqueued ran too")
	j, err := s.Get(ctx, flaky.ID)
	require.NoError(t, err)
	require.Equal(t, jobsched.StateSucceeded, j.State, "its retries ran")
	require.Equal(t, 3, j.Attempt)
	j, err = s.Get(ctx, later.ID)
	require.NoError(t, err)
	require.Equal(t, jobsched.StateScheduled, j.State, "Drain leaves jobs scheduled for later")
	jobschedtest.RequireEnqueuedWith(t, s, "receipt", "", map[string]int{"order": 7})

	jobschedtest.DrainAll(t, s, 10*time.Second)
	jobschedtest.RequireFinished(t, s, later.ID, jobsched.StateSucceeded, time.Second)
	require.Equal(t, int64(21), followUps.Load())
}

func TestDrainFailsTheTestWhenJobsStayBusy(t *testing.T) {
	release := make(chan struct{})
	s := jobschedtest.Start(t, jobsched.Config{}, map[string]jobsched.Handler{
		"stuck": func(ctx context.Context, _ *jobsched.Job) (any, error) {
			select {
			case <-release:
			case <-ctx.Done():
			}
			return nil, nil
		},
	})
	_, err := s.Enqueue(context.Background(), jobsched.JobSpec{Kind: "stuck"})
	require.NoError(t, err)
	msg := failure(t, func(tb testing.TB) { jobschedtest.Drain(tb, s, 100*time.Millisecond) })
	require.Contains(t, msg, "1 jobs still queued, running or retrying after 100ms")
	close(release)
	jobschedtest.Drain(t, s, 10*time.Second)
}

func TestRequireEnqueuedWithComparesArgsAsJSON(t *testing.T) {
	s := jobschedtest.Start(t, jobsched.Config{}, map[string]jobsched.Handler{"mail": func(context.Context, *jobsched.Job) (any, error) { return nil, nil }})
	ctx := context.Background()
	_, err := s.Enqueue(ctx, jobsched.JobSpec{Kind: "mail", Args: []byte(`{"to":"a@example.com", "cc":["b"]}`)})
	require.NoError(t, err)
	_, err = s.Enqueue(ctx, jobsched.JobSpec{Kind: "mail", Args: jobsched.Args(map[string]any{"to": "c@example.com"})})
	require.NoError(t, err)

	type mail struct {
		CC []string `json:"cc"`
		To string   `json:"to"`
	}
	j := jobschedtest.RequireEnqueuedWith(t, s, "mail", "default", mail{To: "a@example.com", CC: []string{"b"}})
	require.JSONEq(t, `{"to":"a@example.com","cc":["b"]}`, string(j.Args))
	jobschedtest.RequireEnqueuedWith(t, s, "mail", "", []byte(`{"to": "c@example.com"}`))

	msg := failure(t, func(tb testing.TB) {
		jobschedtest.RequireEnqueuedWith(tb, s, "mail", "", map[string]string{"to": "nobody"})
	})
	require.True(t, strings.HasPrefix(msg, `jobschedtest: no job of kind "mail"`), msg)
	require.Contains(t, msg, `{"to":"c@example.com"}`, "the message shows what was enqueued")
}
