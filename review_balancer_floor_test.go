package jobsched_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jobsched/jobsched"
	"github.com/stretchr/testify/require"
)

// TestACategoryWithoutMinimumRunsBesideAFlood: a category with min_workers 0 gets a worker for
// its job while another category's flood holds the whole budget (docs/operations.md: "the
// balancer gives it workers as soon as it has jobs"). Shared by weight alone, 1 job against
// 100 rounded to no worker until the flood was served.
func TestACategoryWithoutMinimumRunsBesideAFlood(t *testing.T) {
	release := make(chan struct{})
	var holding atomic.Int64
	s := start(t, jobsched.Config{Workers: 2, BalanceInterval: 20 * time.Millisecond,
		Categories: []jobsched.Category{{Name: "flood", MinWorkers: 1, MaxWorkers: 2}, {Name: "rare", MinWorkers: jobsched.NoWorkers, MaxWorkers: 2}}},
		map[string]jobsched.Handler{
			"hold": func(ctx context.Context, _ *jobsched.Job) (any, error) {
				holding.Add(1)
				select {
				case <-release:
					return nil, nil
				case <-ctx.Done():
					return nil, ctx.Err()
				}
			},
			"quick": func(context.Context, *jobsched.Job) (any, error) { return nil, nil },
		})
	defer close(release)
	ctx := context.Background()
	specs := make([]jobsched.JobSpec, 100)
	for i := range specs {
		specs[i] = jobsched.JobSpec{Kind: "hold", Category: "flood"}
	}
	_, err := s.EnqueueBatch(ctx, specs)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return holding.Load() == 2 }, 10*time.Second, time.Millisecond, "the flood takes the budget")
	j, err := s.Enqueue(ctx, jobsched.JobSpec{Kind: "quick", Category: "rare"})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		got, err := s.Get(ctx, j.ID)
		return err == nil && got.State == jobsched.StateSucceeded
	}, 10*time.Second, 5*time.Millisecond, "the rare category's job runs while the flood waits")
}
