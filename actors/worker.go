package actors

import (
	"context"
	"errors"
	"fmt"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/jobsched/jobsched/persistence"
	"github.com/jobsched/jobsched/supervision"
)

// ErrWorkerStopped is the cause given to a job's context when its worker stops or restarts.
var ErrWorkerStopped = errors.New("worker stopped")

// worker runs one job at a time. The attempt runs on the worker's own goroutine (the Runner),
// never in Receive; JobDone brings its end back. The goroutine lives as long as the worker
// incarnation and keeps its grown stack: a goroutine and two contexts per attempt cost ~6% of
// the CPU per job (BenchmarkThroughput). A handler's panic comes back in JobDone and crashes the
// Worker, so the Workers supervisor restarts it and the tree shows the restart.
type worker struct {
	env      *Env
	cat      string
	current  string
	token    uint64
	draining bool
	// runs feeds the attempt goroutine, one job at a time (a Run is taken only when no attempt
	// runs, so the send never waits); closed when the incarnation stops or restarts. cancel ends,
	// with ErrWorkerStopped, the incarnation's context, the parent of every attempt's context.
	runs   chan run
	cancel context.CancelCauseFunc
	// The PIDs this worker sends to, made once: a PID caches the process it names.
	fifo, registry *actor.PID
	// handoffs is the category's table of hand-offs (handoff.go).
	handoffs *handoffs
}

// run is one hand-off given to the attempt goroutine.
type run struct {
	job   *persistence.Job
	token uint64
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
		w.fifo, w.registry = w.env.FifoPID(w.cat), w.env.RegistryPID(w.cat)
		w.handoffs = &w.env.Stats[w.cat].handoffs
		w.start(ctx.Self())
		ctx.Send(w.registry, &WorkerIdle{PID: ctx.Self()})
	case *Run:
		if w.current != "" || w.draining || w.runs == nil {
			ctx.Send(w.fifo, &Requeue{Job: msg.Job, Token: msg.Token})
			return
		}
		select {
		case w.runs <- run{job: msg.Job, token: msg.Token}:
			w.current, w.token = msg.Job.ID, msg.Token
		default: // unreachable: the goroutine took the previous job before its JobDone came
			ctx.Send(w.fifo, &Requeue{Job: msg.Job, Token: msg.Token})
		}
	case *JobDone:
		if w.current == "" || msg.Token != w.token {
			return // the end of an attempt an earlier incarnation started
		}
		w.current = ""
		ended := w.token
		w.token = 0
		if msg.Panic != "" {
			ctx.Send(w.fifo, &AttemptEnded{Token: ended})
			panic(fmt.Sprintf("job %s: handler panic: %s", msg.JobID, msg.Panic))
		}
		w.afterJob(ctx, ended)
	case *Drain:
		w.draining = true
		if w.current == "" {
			w.afterJob(ctx, 0)
		}
	case *actor.Restarting, *actor.Stopping:
		w.stop()
	}
}

// start starts the incarnation's attempt goroutine: it runs each job sent on runs and tells the
// worker when the attempt ended, until runs is closed.
func (w *worker) start(self *actor.PID) {
	jctx, cancel := context.WithCancelCause(context.Background())
	runs := make(chan run, 1)
	w.runs, w.cancel = runs, cancel
	h := w.handoffs
	w.env.Go(func() {
		for r := range runs {
			// A hand-off the Fifo's audit revoked meanwhile (it took the job back) is not run.
			var p string
			if h.take(r.token) {
				p = w.env.Runner.Run(jctx, r.job)
				h.drop(r.token)
			}
			w.env.send(self, &JobDone{JobID: r.job.ID, Token: r.token, Panic: p})
		}
	})
}

// stop cancels the running attempt, if any, and ends the attempt goroutine once it returns.
func (w *worker) stop() {
	if w.runs == nil {
		return
	}
	w.cancel(ErrWorkerStopped)
	close(w.runs)
	w.runs, w.cancel = nil, nil
}

// afterJob reports the worker free (or gone, when draining); ended is the token of the attempt
// that just ended (0: none).
func (w *worker) afterJob(ctx actor.Context, ended uint64) {
	if w.draining {
		if ended != 0 {
			ctx.Send(w.fifo, &AttemptEnded{Token: ended})
		}
		ctx.Send(w.registry, &WorkerGone{PID: ctx.Self()})
		ctx.Stop(ctx.Self())
		return
	}
	ctx.Send(w.registry, &WorkerIdle{PID: ctx.Self(), Ended: ended})
}
