package jobsched_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/jobsched/jobsched"
	"github.com/jobsched/jobsched/internal/synchold"
	"github.com/stretchr/testify/require"
)

// A job starts once its insert is committed, without waiting for the sync that acknowledges
// its Enqueue; the Enqueue still returns only after that sync.
func TestAJobStartsBeforeItsEnqueueIsSynced(t *testing.T) {
	h := synchold.New()
	started := make(chan struct{})
	var once sync.Once
	s := start(t, jobsched.Config{Dir: t.TempDir(), Observer: h}, map[string]jobsched.Handler{
		"k": func(context.Context, *jobsched.Job) (any, error) { once.Do(func() { close(started) }); return nil, nil },
		"w": func(context.Context, *jobsched.Job) (any, error) { return nil, nil },
	})
	t.Cleanup(h.Release) // before the Close of start's cleanup
	// The scheduler's own start-up writes and its Fifo's first read of the store are done
	// before the hold: a first job runs to its end.
	warm, err := s.Enqueue(context.Background(), jobsched.JobSpec{Kind: "w"})
	require.NoError(t, err)
	require.Equal(t, jobsched.StateSucceeded, waitJob(t, s, warm.ID).State)
	h.Arm()

	type result struct {
		j   *jobsched.Job
		err error
	}
	done := make(chan result, 1)
	go func() {
		j, err := s.Enqueue(context.Background(), jobsched.JobSpec{Kind: "k"})
		done <- result{j, err}
	}()
	select {
	case <-started:
	case r := <-done:
		t.Fatalf("Enqueue returned (%v) before the job started: the start waited for the sync", r.err)
	case <-time.After(10 * time.Second):
		t.Fatal("the job did not start while its insert's sync was held")
	}
	select {
	case r := <-done:
		t.Fatalf("Enqueue returned (%v) while its sync was held", r.err)
	default:
	}
	h.Release()
	r := <-done
	require.NoError(t, r.err)
	require.Equal(t, jobsched.StateSucceeded, waitJob(t, s, r.j.ID).State)
}
