package jobsched_test

import (
	"context"
	"testing"
	"time"

	"github.com/jobsched/jobsched"
	"github.com/stretchr/testify/require"
)

// A subscriber that never reads does not hold up enqueues: its events are dropped for it and
// one Resync takes their place; once it reads again it gets new events.
func TestSlowSubscriberGetsResyncAndNeverBlocks(t *testing.T) {
	s := start(t, jobsched.Config{}, map[string]jobsched.Handler{"noop": noopHandler})
	ctx := context.Background()
	slow, stopSlow := s.Subscribe(4)
	defer stopSlow()
	fast, stopFast := s.Subscribe(10_000)
	defer stopFast()

	specs := make([]jobsched.JobSpec, 200)
	for i := range specs {
		specs[i] = jobsched.JobSpec{Kind: "noop"}
	}
	jobs, err := s.EnqueueBatch(ctx, specs)
	require.NoError(t, err)
	for _, j := range jobs {
		_, err := s.Wait(ctx, j.ID)
		require.NoError(t, err)
	}

	// The fast subscriber sees every job succeed.
	succeeded := map[string]bool{}
	deadline := time.After(30 * time.Second)
	for len(succeeded) < len(jobs) {
		select {
		case ev := <-fast:
			require.False(t, ev.Resync, "a subscriber with room is never told to resync")
			if ev.Job != nil && ev.Job.State == jobsched.StateSucceeded {
				succeeded[ev.Job.ID] = true
			}
		case <-deadline:
			t.Fatalf("the fast subscriber saw %d of %d jobs succeed", len(succeeded), len(jobs))
		}
	}

	// The slow one holds three events, then a Resync, and nothing more.
	require.Len(t, slow, 4)
	for range 3 {
		ev := <-slow
		require.NotNil(t, ev.Job)
		require.False(t, ev.Resync)
	}
	require.True(t, (<-slow).Resync)

	// Reading again, it gets the events that come next.
	j, err := s.Enqueue(ctx, jobsched.JobSpec{Kind: "noop"})
	require.NoError(t, err)
	select {
	case ev := <-slow:
		require.NotNil(t, ev.Job)
		require.Equal(t, j.ID, ev.Job.ID)
	case <-time.After(30 * time.Second):
		t.Fatal("no event after the subscriber caught up")
	}
}
