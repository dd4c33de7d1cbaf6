package jobsched_test

import (
	"context"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/jobsched/jobsched"
	"github.com/jobsched/jobsched/actors"
	"github.com/jobsched/jobsched/supervision"
	"github.com/stretchr/testify/require"
)

func restartsOf(s *jobsched.Scheduler, pid string) int {
	var n int
	supervision.Walk(s.Tree(), func(node *supervision.Node, _ int) {
		if node.PID == pid {
			n = node.Restarts
		}
	})
	return n
}

// A Fifo that crashes in the middle of work restarts with the registry and the workers after it
// (rest_for_one); the new Fifo reads the queue back from the store, and every job still runs.
func TestAFifoCrashRestartsWhatDependsOnItAndLosesNoJob(t *testing.T) {
	s := start(t, jobsched.Config{Workers: 4, Categories: []jobsched.Category{{Name: "default", MinWorkers: 4}}},
		map[string]jobsched.Handler{"work": sleepFor(time.Millisecond)})
	ctx := context.Background()
	specs := make([]jobsched.JobSpec, 3000)
	for i := range specs {
		specs[i] = jobsched.JobSpec{Kind: "work"}
	}
	jobs, err := s.EnqueueBatch(ctx, specs)
	require.NoError(t, err)
	// A message the Fifo cannot handle (a nil job) makes it panic.
	fifo := actor.NewPID(s.ActorSystem().Address(), actors.RootName+"/categories/default/fifo")
	s.ActorSystem().Root.Send(fifo, &actors.Enqueued{})
	for _, j := range jobs {
		require.Equal(t, jobsched.StateSucceeded, waitJob(t, s, j.ID).State)
	}
	base := actors.RootName + "/categories/default/"
	require.Eventually(t, func() bool {
		return restartsOf(s, base+"fifo") == 1 && restartsOf(s, base+"registry") == 1 && restartsOf(s, base+"workers") == 1
	}, 5*time.Second, 10*time.Millisecond, "fifo, registry and workers restarted once each")
	require.Equal(t, 0, restartsOf(s, actors.RootName+"/categories/default"), "the category supervisor itself did not restart")
	require.Equal(t, 0, restartsOf(s, actors.RootName+"/waiter"))
	// And it keeps serving.
	j, err := s.Enqueue(ctx, jobsched.JobSpec{Kind: "work"})
	require.NoError(t, err)
	require.Equal(t, jobsched.StateSucceeded, waitJob(t, s, j.ID).State)
}
