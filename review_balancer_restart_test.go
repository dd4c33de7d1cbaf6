package jobsched_test

import (
	"context"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/jobsched/jobsched"
	"github.com/jobsched/jobsched/actors"
	"github.com/stretchr/testify/require"
)

// A restarted WorkerBalancer does not know what its predecessor told the registries. Assuming
// each holds its minimum, it left a registry that had been grown where it was (above its
// allocation), and gave the budget to the other categories beside it: the registries together
// kept more workers than the budget. It must tell every registry its allocation again.
func TestARestartedBalancerTellsEveryRegistryItsAllocation(t *testing.T) {
	release := make(chan struct{})
	block := func(ctx context.Context, _ *jobsched.Job) (any, error) {
		select {
		case <-release:
			return nil, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	s := start(t, jobsched.Config{Workers: 2, BalanceInterval: time.Hour, // no tick: only events rebalance
		Categories: []jobsched.Category{
			{Name: "a", MinWorkers: jobsched.NoWorkers, MaxWorkers: 2},
			{Name: "b", MinWorkers: jobsched.NoWorkers, MaxWorkers: 2},
		}}, map[string]jobsched.Handler{"block": block})
	ctx := context.Background()
	both := func(cat string) []*jobsched.Job {
		jobs, err := s.EnqueueBatch(ctx, []jobsched.JobSpec{{Kind: "block", Category: cat}, {Kind: "block", Category: cat}})
		require.NoError(t, err)
		return jobs
	}
	busy := func(cat string) int {
		for _, c := range s.Categories() {
			if c.Name == cat {
				return c.Busy
			}
		}
		return -1
	}

	// a is grown to the whole budget, and its jobs end: it keeps its two workers.
	first := both("a")
	require.Eventually(t, func() bool { return busy("a") == 2 }, 10*time.Second, time.Millisecond)
	release <- struct{}{}
	release <- struct{}{}
	for _, j := range first {
		require.Equal(t, jobsched.StateSucceeded, waitJob(t, s, j.ID).State)
	}
	require.Equal(t, 2, allocated(s, "a"))

	// The balancer crashes (a RegistryStarted without its category) and is restarted.
	pid := "jobsched/balancer"
	before := restartsOf(s, pid)
	s.ActorSystem().Root.Send(actor.NewPID(s.ActorSystem().Address(), actors.RootName+"/balancer"),
		(*actors.RegistryStarted)(nil))
	require.Eventually(t, func() bool { return restartsOf(s, pid) > before }, 5*time.Second, time.Millisecond)

	// b gets the budget; a must have been told it has none of it.
	second := both("b")
	require.Eventually(t, func() bool { return busy("b") == 2 }, 10*time.Second, time.Millisecond)
	require.Eventually(t, func() bool { return allocated(s, "a")+allocated(s, "b") <= 2 }, 5*time.Second, time.Millisecond,
		"the registries keep more workers than the budget: a %d, b %d", allocated(s, "a"), allocated(s, "b"))
	close(release)
	for _, j := range second {
		require.Equal(t, jobsched.StateSucceeded, waitJob(t, s, j.ID).State)
	}
}
