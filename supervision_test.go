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
	s.ActorSystem().Root.Send(fifo, &actors.Enqueued{Jobs: []*jobsched.Job{nil}})
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

type echo struct{}

func (echo) Receive(ctx actor.Context) {
	if s, ok := ctx.Message().(string); ok {
		ctx.Respond("echo " + s)
	}
}

// An embedding program can put its own actor under the scheduler's root: it is supervised, and
// the tree snapshot shows it.
func TestAddActorPutsAnEmbeddersActorUnderTheTree(t *testing.T) {
	s := start(t, jobsched.Config{}, nil)
	require.NoError(t, s.AddActor(supervision.ChildSpec{Name: "mine", Role: "MyActor", Producer: func() actor.Actor { return echo{} }}))
	pid := actor.NewPID(s.ActorSystem().Address(), actors.RootName+"/mine")
	require.Eventually(t, func() bool {
		res, err := s.ActorSystem().Root.RequestFuture(pid, "hi", time.Second).Result()
		return err == nil && res == "echo hi"
	}, 5*time.Second, 10*time.Millisecond)
	require.Equal(t, 1, supervision.Roles(s.Tree())["MyActor"])
	require.Error(t, s.AddActor(supervision.ChildSpec{}), "a child needs a name and a producer")
}

func TestCloseBeforeStartAndStartTwice(t *testing.T) {
	s, err := jobsched.New(jobsched.Config{})
	require.NoError(t, err)
	require.NoError(t, s.Close(context.Background()))
	require.ErrorIs(t, s.Start(context.Background()), jobsched.ErrStarted)
	_, err = s.Enqueue(context.Background(), jobsched.JobSpec{Kind: "k"})
	require.ErrorIs(t, err, jobsched.ErrClosed)
}
