package actors

import (
	"sync/atomic"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/jobsched/jobsched/supervision"
)

// registry knows a category's workers and lends each free one to the Fifo (Demand.Lend), which
// gives it a job itself. It grows and shrinks the pool when the balancer resizes it: new workers
// are added to the Workers supervisor; surplus workers are drained (a busy one finishes its job
// first) and recalled from the Fifo. The busy count is kept by the handles (Lent.give and the
// attempt's end), not here.
type registry struct {
	env     *Env
	cat     string
	stats   *CategoryStats
	workers map[string]*workerState
	target  int
	pending int        // workers asked of the Workers supervisor, not yet announced
	fifo    *actor.PID // made once: a PID caches the process it names
	// restarted: an earlier incarnation ran (the balancer may have resized it).
	restarted bool
}

type workerState struct {
	pid      *actor.PID
	lent     *Lent // the incarnation's handle (the latest that announced itself)
	draining bool
}

// NewWorkerRegistry returns the producer of a category's WorkerRegistry; initial is the number
// of workers the Workers supervisor starts with.
func NewWorkerRegistry(env *Env, cat string, initial int) actor.Producer {
	var made atomic.Bool
	return func() actor.Actor {
		return &registry{env: env, cat: cat, stats: env.Stats[cat], workers: map[string]*workerState{}, target: initial, pending: initial,
			restarted: made.Swap(true)}
	}
}

func (r *registry) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		r.fifo = r.env.FifoPID(r.cat)
		// Whatever the Fifo was lent belonged to an earlier registry.
		ctx.Send(r.fifo, &Demand{Reset: true})
		r.stats.Allocated.Store(int64(r.target))
		if r.restarted {
			// It starts from the minimum again: the balancer, which tells a registry only the
			// changes of its allocation, must tell it again. (A first incarnation has the
			// minimum the balancer counts.)
			ctx.Send(r.env.BalancerPID(), &RegistryStarted{Category: r.cat})
		}
	case *WorkerIdle:
		r.idle(ctx, msg)
	case *WorkerGone:
		r.gone(ctx, msg.PID)
	case *Resize:
		r.resize(ctx, msg.Workers)
	case *actor.Terminated:
		if w := r.gone(ctx, msg.Who); w != nil && !w.draining {
			r.resize(ctx, r.target)
		}
	}
}

// gone forgets a worker that stopped, and recalls it from the Fifo.
func (r *registry) gone(ctx actor.Context, pid *actor.PID) *workerState {
	w := r.workers[pid.Id]
	if w == nil {
		return nil
	}
	delete(r.workers, pid.Id)
	if !w.draining {
		ctx.Send(r.fifo, &Demand{Recall: pid})
	}
	return w
}

// idle takes a worker that is free and lends it to the Fifo; msg.Ended is the token of the
// attempt it just ended (0: none), which travels on to the Fifo with the loan (or alone, when
// the worker is not lent again).
func (r *registry) idle(ctx actor.Context, msg *WorkerIdle) {
	pid, ended := msg.PID, msg.Ended
	w := r.workers[pid.Id]
	if w == nil && ended != 0 || w != nil && ended != 0 && msg.Lent != w.lent {
		// The end of an attempt of a worker gone meanwhile (its goroutine reported the end as
		// the worker drained and stopped), of an earlier incarnation, or of an earlier
		// registry's worker: only the end counts. A live incarnation announces itself with
		// Ended 0 when it starts.
		ctx.Send(r.fifo, &Demand{Ended: ended})
		return
	}
	if w == nil {
		w = &workerState{pid: pid}
		r.workers[pid.Id] = w
		ctx.Watch(pid) // a worker that vanishes (its supervisor restarted) is replaced
		if r.pending > 0 {
			r.pending--
		}
		if r.live() > r.target {
			w.lent = msg.Lent
			r.drain(ctx, w)
			return
		}
	}
	w.lent = msg.Lent
	if w.draining {
		ctx.Send(pid, &Drain{}) // restarted while draining: tell the new incarnation
		if ended != 0 {
			ctx.Send(r.fifo, &Demand{Ended: ended})
		}
		return
	}
	ctx.Send(r.fifo, &Demand{Lend: msg.Lent, Ended: ended})
}

// live counts the workers that are or will be serving: announced and not draining, plus asked for.
func (r *registry) live() int {
	n := r.pending
	for _, w := range r.workers {
		if !w.draining {
			n++
		}
	}
	return n
}

func (r *registry) resize(ctx actor.Context, n int) {
	r.target = n
	r.stats.Allocated.Store(int64(n))
	live := r.live()
	for ; live < n; live++ {
		r.pending++
		ctx.Send(r.env.WorkersPID(r.cat), &supervision.AddChild{Child: WorkerSpec(r.env, r.cat)})
	}
	// Shrink: idle workers first, then busy ones (they finish their job first).
	for _, busy := range []bool{false, true} {
		for _, w := range r.workers {
			if live <= n {
				return
			}
			if !w.draining && (busy || w.lent == nil || !w.lent.running()) {
				r.drain(ctx, w)
				live--
			}
		}
	}
}

// drain stops a worker once its job is done, and recalls it from the Fifo: its handle takes no
// job from now on (a job it runs already is finished first).
func (r *registry) drain(ctx actor.Context, w *workerState) {
	w.draining = true
	if w.lent != nil {
		w.lent.recall() // the Fifo gives it no job from now on, whatever it still holds
	}
	ctx.Send(w.pid, &Drain{})
	ctx.Send(r.fifo, &Demand{Recall: w.pid})
}
