package actors

import (
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/jobsched/jobsched/persistence"
	"github.com/stretchr/testify/require"
)

// probe spawns, under id, an actor that passes on every message but protoactor's own.
func probe(t *testing.T, sys *actor.ActorSystem, id string) (*actor.PID, chan any) {
	t.Helper()
	ch := make(chan any, 64)
	pid, err := sys.Root.SpawnNamed(actor.PropsFromFunc(func(c actor.Context) {
		switch c.Message().(type) {
		case actor.SystemMessage, actor.AutoReceiveMessage:
			return
		}
		ch <- c.Message()
	}), id)
	require.NoError(t, err)
	return pid, ch
}

// next waits for the first message of type T on ch, skipping the others.
func next[T any](t *testing.T, ch chan any) T {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case m := <-ch:
			if v, ok := m.(T); ok {
				return v
			}
		case <-deadline:
			var zero T
			t.Fatalf("no %T came", zero)
			return zero
		}
	}
}

// Once the registry drains a worker (the balancer shrank the category and gave the worker to
// another), the Fifo must not give that worker a new job, even before the Worker has handled
// its Drain or the Fifo its Recall: the job would run past the drain, a worker over the budget
// for its whole length.
func TestADrainedWorkerTakesNoNewJob(t *testing.T) {
	sys := actor.NewActorSystem()
	defer sys.Shutdown()
	st := &CategoryStats{}
	env := &Env{System: sys, Stats: map[string]*CategoryStats{"c": st}}
	_, fifo := probe(t, sys, env.FifoPID("c").Id)
	// The Worker's mailbox stands still: it has not reached the Drain yet.
	wpid, worker := probe(t, sys, "w-probe")
	reg, err := sys.Root.SpawnNamed(actor.PropsFromProducer(NewWorkerRegistry(env, "c", 1)), env.RegistryPID("c").Id)
	require.NoError(t, err)

	l := &Lent{pid: wpid, stats: st, runs: make(chan run, 1)}
	sys.Root.Send(reg, &WorkerIdle{PID: wpid, Lent: l})
	for d := next[*Demand](t, fifo); d.Lend == nil; d = next[*Demand](t, fifo) {
	}
	sys.Root.Send(reg, &Resize{Workers: 0})
	next[*Drain](t, worker)

	require.False(t, l.give(&persistence.Job{ID: "j"}, 1), "the drained worker took a new job")
	require.EqualValues(t, 0, st.Busy.Load())
}
