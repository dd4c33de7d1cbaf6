package jobsched_test

import (
	"github.com/asynkron/protoactor-go/actor"
	"github.com/jobsched/jobsched"
	"github.com/jobsched/jobsched/actors"
)

// crashFifo sends a category's Fifo a message it cannot handle (a nil job): it panics, and its
// supervisor restarts it (and what depends on it).
func crashFifo(s *jobsched.Scheduler, cat string) {
	s.ActorSystem().Root.Send(actor.NewPID(s.ActorSystem().Address(), actors.RootName+"/categories/"+cat+"/fifo"),
		&actors.Enqueued{Jobs: []*jobsched.Job{nil}})
}

// crashRegistry makes a category's WorkerRegistry panic (a WorkerIdle without a PID).
func crashRegistry(s *jobsched.Scheduler, cat string) {
	s.ActorSystem().Root.Send(actor.NewPID(s.ActorSystem().Address(), actors.RootName+"/categories/"+cat+"/registry"),
		&actors.WorkerIdle{})
}

// crashWaiter makes the Waiter panic (a Schedule without a job id).
func crashWaiter(s *jobsched.Scheduler) {
	s.ActorSystem().Root.Send(actor.NewPID(s.ActorSystem().Address(), actors.RootName+"/waiter"), &actors.Schedule{})
}
