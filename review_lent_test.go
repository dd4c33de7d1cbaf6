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

// A Fifo may hold a lent worker that refuses its job (its worker drained or stopped since: an
// attempt's end that raced the worker's drain or stop lends it all the same). The refused give
// started no job, so it must not spend a token of the category's rate limit: with a slow rate,
// the next job would wait a whole token interval for nothing.
func TestAGiveAStaleWorkerRefusesSpendsNoRateToken(t *testing.T) {
	started := make(chan string, 3)
	release := make(chan struct{})
	s := start(t, jobsched.Config{Workers: 1,
		// Two starts at once, then one an hour.
		Categories: []jobsched.Category{{Name: "default", MinWorkers: 1, MaxWorkers: 1, RateLimit: 1.0 / 3600, RateBurst: 2}}},
		map[string]jobsched.Handler{"k": func(_ context.Context, j *jobsched.Job) (any, error) {
			started <- j.ID
			<-release
			return "ok", nil
		}})
	ctx := context.Background()
	inMemory := func() int { return s.Categories()[0].InMemory }

	a, err := s.Enqueue(ctx, jobsched.JobSpec{Kind: "k"})
	require.NoError(t, err)
	require.Equal(t, a.ID, <-started) // the first token; the only worker is busy from now on
	b, err := s.Enqueue(ctx, jobsched.JobSpec{Kind: "k"})
	require.NoError(t, err)
	require.Eventually(t, func() bool { return inMemory() == 1 }, 10*time.Second, time.Millisecond)

	// A handle that refuses every job, lent to the Fifo while b waits: the Fifo tries it at once.
	fifo := actor.NewPID(s.ActorSystem().Address(), actors.RootName+"/categories/default/fifo")
	s.ActorSystem().Root.Send(fifo, &actors.Demand{Lend: &actors.Lent{}})
	// c reaches the Fifo after the lend (it goes through the Dispatcher, sent later): once c is
	// in memory, the Fifo has tried the handle.
	_, err = s.Enqueue(ctx, jobsched.JobSpec{Kind: "k"})
	require.NoError(t, err)
	require.Eventually(t, func() bool { return inMemory() == 2 }, 10*time.Second, time.Millisecond)

	close(release) // the worker comes back: b takes the second token
	select {
	case id := <-started:
		require.Equal(t, b.ID, id)
	case <-time.After(10 * time.Second):
		t.Fatal("b did not start: the refused give spent the second token of the rate limit")
	}
}

// A WorkerRegistry that restarts (its Workers with it) starts again from the category's
// minimum, as if the balancer had never resized it. The balancer, which tells a registry only
// a change of its allocation, must tell the new one again: a category with min_workers 0 would
// otherwise keep no worker at all while its jobs wait, and a busier one its minimum.
func TestARestartedRegistryIsToldItsAllocationAgain(t *testing.T) {
	s := start(t, jobsched.Config{Workers: 1,
		Categories: []jobsched.Category{{Name: "default", MinWorkers: jobsched.NoWorkers, MaxWorkers: 1}}},
		map[string]jobsched.Handler{"k": noop})
	ctx := context.Background()
	a, err := s.Enqueue(ctx, jobsched.JobSpec{Kind: "k"})
	require.NoError(t, err)
	require.Equal(t, jobsched.StateSucceeded, waitJob(t, s, a.ID).State) // the balancer gave it its worker

	before := restartsOf(s, "jobsched/categories/default/workers")
	crashRegistry(s, "default")
	require.Eventually(t, func() bool { return restartsOf(s, "jobsched/categories/default/workers") > before },
		5*time.Second, time.Millisecond)
	b, err := s.Enqueue(ctx, jobsched.JobSpec{Kind: "k"})
	require.NoError(t, err)
	require.Equal(t, jobsched.StateSucceeded, waitJob(t, s, b.ID).State)
}
