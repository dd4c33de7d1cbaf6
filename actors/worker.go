package actors

import (
	"context"
	"errors"
	"fmt"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/jobsched/jobsched/supervision"
)

// ErrWorkerStopped is the cause given to a job's context when its worker stops or restarts.
var ErrWorkerStopped = errors.New("worker stopped")

// worker runs one job at a time. The attempt runs on a goroutine (the Runner), never in
// Receive; JobDone brings its end back. A handler's panic comes back in JobDone and crashes the
// Worker, so the Workers supervisor restarts it and the tree shows the restart.
type worker struct {
	env      *Env
	cat      string
	current  string
	token    uint64
	cancel   context.CancelCauseFunc
	draining bool
}

// WorkerSpec is the child spec of one Worker of a category. Workers are transient: restarted
// after a crash, not after the registry drains them.
func WorkerSpec(env *Env, cat string) supervision.ChildSpec {
	return supervision.ChildSpec{Name: workerName(), Role: "Worker", Restart: supervision.Transient,
		Producer: func() actor.Actor { return &worker{env: env, cat: cat} }}
}

func (w *worker) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		ctx.Send(w.env.RegistryPID(w.cat), &WorkerIdle{PID: ctx.Self()})
	case *Run:
		if w.current != "" || w.draining {
			ctx.Send(w.env.FifoPID(w.cat), &Requeue{Job: msg.Job, Token: msg.Token})
			return
		}
		jctx, cancel := context.WithCancelCause(context.Background())
		w.current, w.token, w.cancel = msg.Job.ID, msg.Token, cancel
		self, job := ctx.Self(), msg.Job
		w.env.Go(func() {
			p := w.env.Runner.Run(jctx, job)
			w.env.send(self, &JobDone{JobID: job.ID, Panic: p})
		})
	case *JobDone:
		if msg.JobID != w.current {
			return // the end of an attempt an earlier incarnation started
		}
		w.current = ""
		w.cancel(nil)
		w.cancel = nil
		ended := w.token
		w.token = 0
		if msg.Panic != "" {
			ctx.Send(w.env.FifoPID(w.cat), &AttemptEnded{Token: ended})
			panic(fmt.Sprintf("job %s: handler panic: %s", msg.JobID, msg.Panic))
		}
		w.afterJob(ctx, ended)
	case *Drain:
		w.draining = true
		if w.current == "" {
			w.afterJob(ctx, 0)
		}
	case *actor.Restarting, *actor.Stopping:
		if w.cancel != nil {
			w.cancel(ErrWorkerStopped)
		}
	}
}

// afterJob reports the worker free (or gone, when draining); ended is the token of the attempt
// that just ended (0: none).
func (w *worker) afterJob(ctx actor.Context, ended uint64) {
	if w.draining {
		if ended != 0 {
			ctx.Send(w.env.FifoPID(w.cat), &AttemptEnded{Token: ended})
		}
		ctx.Send(w.env.RegistryPID(w.cat), &WorkerGone{PID: ctx.Self()})
		ctx.Stop(ctx.Self())
		return
	}
	ctx.Send(w.env.RegistryPID(w.cat), &WorkerIdle{PID: ctx.Self(), Ended: ended})
}
