package actors

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/jobsched/jobsched/persistence"
	"github.com/jobsched/jobsched/supervision"
)

// ErrWorkerStopped is the cause given to a job's context when its worker stops or restarts.
var ErrWorkerStopped = errors.New("worker stopped")

// worker runs one job at a time. The attempt runs on the worker's own goroutine (the Runner),
// never in Receive. The goroutine lives as long as the worker incarnation and keeps its grown
// stack: a goroutine and two contexts per attempt cost ~6% of the CPU per job
// (BenchmarkThroughput). The registry lends each free incarnation to the Fifo (its Lent), and
// the Fifo gives it a job straight (Lent.give: a channel send), not through the registry's and
// the Worker's mailboxes. An attempt that ends normally is reported by the goroutine itself to
// the Fifo, which the worker is lent to again with the end (Demand{Lend, Ended}): one actor
// message per job. The registry, which drains a worker through the Worker (Drain), hears of
// it again only when it drains or restarts. The Worker hears of an end only when it must act on it
// (JobDone): a handler's panic, which crashes the Worker so the Workers supervisor restarts it
// and the tree shows the restart, or an end while it drains.
type worker struct {
	env      *Env
	cat      string
	draining bool
	// cancel ends, with ErrWorkerStopped, the incarnation's context, the parent of every
	// attempt's context.
	cancel context.CancelCauseFunc
	// at is what the incarnation shares with its attempt goroutine and lends the Fifo.
	at *Lent
	// The PIDs this worker sends to, made once: a PID caches the process it names.
	fifo, registry *actor.PID
	// handoffs is the category's table of hand-offs (handoff.go).
	handoffs *handoffs
}

// Lent is a Worker incarnation's handle, which the WorkerRegistry lends the Fifo while the
// worker is free: the Fifo gives it a job through it. It is the state the incarnation shares
// with its attempt goroutine, which tells whether a job may be given (no attempt runs, the
// worker neither drains nor stopped) and who hears of an attempt's end: the registry (the
// worker is free again), the Worker (it drains), or nobody (the incarnation stopped; the Fifo's
// audit ends the hand-off, as it did when the end went to a Worker that had restarted
// meanwhile).
type Lent struct {
	pid   *actor.PID
	stats *CategoryStats
	mu    sync.Mutex
	// runs feeds the attempt goroutine, one job at a time (give sends only when no attempt
	// runs, so the send never waits); closed, under mu, when the incarnation stops or restarts.
	runs     chan run
	token    uint64 // the hand-off whose attempt runs (0: none)
	draining bool
	stopped  bool
	// recalled: the registry drains the worker (its Worker may not know yet): it takes no job
	// from then on, and its attempt's end does not lend it again.
	recalled bool
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
		ctx.Send(w.registry, &WorkerIdle{PID: ctx.Self(), Lent: w.at})
	case *JobDone:
		if msg.from == nil || msg.from != w.at {
			return // the end of an attempt an earlier incarnation started, or no attempt's
		}
		if msg.Panic != "" {
			ctx.Send(w.fifo, &AttemptEnded{Token: msg.Token})
			panic(fmt.Sprintf("job %s: handler panic: %s", msg.JobID, msg.Panic))
		}
		w.afterJob(ctx, msg.Token)
	case *Drain:
		w.draining = true
		if !w.at.drain() {
			w.afterJob(ctx, 0)
		}
	case *actor.Restarting, *actor.Stopping:
		w.stop()
	}
}

// start starts the incarnation's attempt goroutine: it runs each job given on runs and tells the
// Fifo (or the Worker, when it must act) when the attempt ended, until runs is closed.
func (w *worker) start(self *actor.PID) {
	jctx, cancel := context.WithCancelCause(context.Background())
	stats := w.env.Stats[w.cat]
	at := &Lent{pid: self, stats: stats, runs: make(chan run, 1)}
	w.cancel, w.at = cancel, at
	h, fifo, runs := w.handoffs, w.fifo, at.runs
	w.env.Go(func() {
		for r := range runs {
			// A hand-off the Fifo's audit revoked meanwhile (it took the job back) is not run.
			var p string
			if h.take(r.token) {
				p = w.env.Runner.Run(jctx, r.job)
				h.drop(r.token)
			}
			draining, stopped, recalled := at.end()
			switch {
			case p != "" || draining:
				w.env.send(self, &JobDone{JobID: r.job.ID, Token: r.token, Panic: p, from: at})
			case stopped:
			case recalled:
				// Drained: the end alone; the Worker stops at its Drain.
				w.env.send(fifo, &Demand{Ended: r.token})
			default:
				// Free again: lent back to the Fifo straight, with the end.
				w.env.send(fifo, &Demand{Lend: at, Ended: r.token})
			}
		}
	})
}

// give starts the attempt of hand-off tok on the worker; false: an attempt runs already, or the
// worker drains or stopped (the Fifo then forgets this handle: a worker is lent again, or its
// new incarnation lent, when it is free). Called by the Fifo; the send never waits.
func (a *Lent) give(j *persistence.Job, tok uint64) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.token != 0 || a.draining || a.stopped || a.recalled {
		return false
	}
	select {
	case a.runs <- run{job: j, token: tok}:
	default: // unreachable: the goroutine took the previous job before it ended its attempt
		return false
	}
	a.token = tok
	a.stats.Busy.Add(1)
	a.stats.Dispatched.Add(1)
	return true
}

// running reports whether an attempt runs.
func (a *Lent) running() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.token != 0
}

// end marks the attempt ended (the worker no longer counts as busy) and reports whether the
// worker drains, its incarnation stopped, or the registry recalled it. Called by the attempt
// goroutine only.
func (a *Lent) end() (draining, stopped, recalled bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.token = 0
	a.stats.Busy.Add(-1)
	return a.draining, a.stopped, a.recalled
}

// recall marks the worker drained by the registry: no job is given to it any more, though its
// Worker has not handled the Drain yet.
func (a *Lent) recall() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.recalled = true
}

// drain marks the worker draining and reports whether an attempt runs (its end then comes to
// the Worker in a JobDone).
func (a *Lent) drain() (running bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.draining = true
	return a.token != 0
}

// stop marks the incarnation stopped, and ends the attempt goroutine once it has run what it
// was given: the end of an attempt still running is reported to nobody.
func (a *Lent) stop() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.stopped {
		a.stopped = true
		close(a.runs)
	}
}

// stop cancels the running attempt, if any, and ends the attempt goroutine once it returns.
func (w *worker) stop() {
	if w.cancel == nil {
		return
	}
	w.at.stop()
	w.cancel(ErrWorkerStopped)
	w.cancel = nil
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
	ctx.Send(w.registry, &WorkerIdle{PID: ctx.Self(), Ended: ended, Lent: w.at})
}
