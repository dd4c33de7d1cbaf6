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

// orderObserver records the Observer's calls for one job kind, in order; its StoreSynced holds
// the syncer once armed (synchold.Observer).
type orderObserver struct {
	*synchold.Observer
	mu     sync.Mutex
	events []string
}

func (o *orderObserver) note(e string, j *jobsched.Job) {
	if j.Kind != "k" {
		return
	}
	o.mu.Lock()
	o.events = append(o.events, e)
	o.mu.Unlock()
}
func (o *orderObserver) JobEnqueued(j *jobsched.Job)                 { o.note("enqueued", j) }
func (o *orderObserver) JobStarted(j *jobsched.Job, _ time.Duration) { o.note("started", j) }
func (o *orderObserver) JobFinished(j *jobsched.Job, _ time.Duration) {
	o.note("finished", j)
}
func (o *orderObserver) got() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.events...)
}

// Review: with the hand-off at the commit, the Observer hears JobEnqueued only after the sync
// (announce), so a job that ran meanwhile is reported started and finished before enqueued.
func TestReviewTheObserverHearsAJobEnqueuedBeforeItStarts(t *testing.T) {
	o := &orderObserver{Observer: synchold.New()}
	s := start(t, jobsched.Config{Dir: t.TempDir(), Observer: o}, map[string]jobsched.Handler{
		"k": func(context.Context, *jobsched.Job) (any, error) { return nil, nil },
		"w": func(context.Context, *jobsched.Job) (any, error) { return nil, nil },
	})
	t.Cleanup(o.Release)
	warm, err := s.Enqueue(context.Background(), jobsched.JobSpec{Kind: "w"})
	require.NoError(t, err)
	require.Equal(t, jobsched.StateSucceeded, waitJob(t, s, warm.ID).State)
	o.Arm()
	done := make(chan error, 1)
	go func() { _, err := s.Enqueue(context.Background(), jobsched.JobSpec{Kind: "k"}); done <- err }()
	require.Eventually(t, func() bool { return len(o.got()) >= 1 }, 10*time.Second, time.Millisecond)
	o.Release()
	require.NoError(t, <-done)
	require.Eventually(t, func() bool { return len(o.got()) == 3 }, 10*time.Second, time.Millisecond)
	require.Equal(t, []string{"enqueued", "started", "finished"}, o.got())
}
