package jobsched_test

import (
	"context"
	"testing"
	"time"

	"github.com/jobsched/jobsched"
	"github.com/jobsched/jobsched/internal/synchold"
	"github.com/stretchr/testify/require"
)

// Review: the state counts move when an insert lands (before its sync) while its queue-limit
// reservation is released only after Insert returns (after the sync): in between, the jobs are
// counted twice, and an enqueue that fits the limit is refused with ErrQueueFull.
func TestReviewAnInsertLandedButNotSyncedIsNotCountedTwiceAgainstTheQueueLimit(t *testing.T) {
	h := synchold.New()
	s := start(t, jobsched.Config{Dir: t.TempDir(), Observer: h,
		Categories: []jobsched.Category{{Name: jobsched.DefaultCategory, QueueLimit: 10}}},
		map[string]jobsched.Handler{
			"w": func(context.Context, *jobsched.Job) (any, error) { return nil, nil },
		})
	t.Cleanup(h.Release)
	warm, err := s.Enqueue(context.Background(), jobsched.JobSpec{Kind: "w"})
	require.NoError(t, err)
	require.Equal(t, jobsched.StateSucceeded, waitJob(t, s, warm.ID).State)
	h.Arm()

	later := time.Now().Add(time.Hour) // scheduled: they stay in the backlog
	specs := make([]jobsched.JobSpec, 6)
	for i := range specs {
		specs[i] = jobsched.JobSpec{Kind: "w", RunAt: later}
	}
	first := make(chan error, 1)
	go func() { _, err := s.EnqueueBatch(context.Background(), specs); first <- err }()
	backlog := func() int {
		for _, c := range s.Categories() {
			if c.Name == jobsched.DefaultCategory {
				return c.Counts[jobsched.StateScheduled]
			}
		}
		return -1
	}
	// The batch landed (counted), its sync held: its Enqueue has not returned.
	require.Eventually(t, func() bool { return backlog() == 6 }, 10*time.Second, time.Millisecond)

	second := make(chan error, 1)
	go func() { _, err := s.EnqueueBatch(context.Background(), specs[:4]); second <- err }()
	select {
	case err := <-second:
		// 6 + 4 = 10 jobs: within the limit of 10.
		require.NoError(t, err, "an enqueue within the queue limit was refused while an earlier batch's sync was held")
	case <-time.After(500 * time.Millisecond):
		// Blocked on the held sync: it was admitted.
	}
	h.Release()
	require.NoError(t, <-first)
	select {
	case err := <-second:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("the second enqueue did not return")
	}
}
