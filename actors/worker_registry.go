package actors

import (
	"github.com/asynkron/protoactor-go/actor"
	"github.com/jobsched/jobsched/supervision"
)

// registry knows a category's workers and which are free, and gives each dispatched job to a
// free one. It grows and shrinks the pool when the balancer resizes it: new workers are added
// to the Workers supervisor; surplus workers are drained (a busy one finishes its job first).
type registry struct {
	env     *Env
	cat     string
	stats   *CategoryStats
	workers map[string]*workerState
	free    []*actor.PID
	target  int
	pending int        // workers asked of the Workers supervisor, not yet announced
	fifo    *actor.PID // made once: a PID caches the process it names
}

type workerState struct {
	pid      *actor.PID
	busy     bool
	draining bool
	// free: in the free list. An idle worker is not looked for in it: with the balancer's
	// headroom the list holds most of the budget.
	free bool
}

// NewWorkerRegistry returns the producer of a category's WorkerRegistry; initial is the number
// of workers the Workers supervisor starts with.
func NewWorkerRegistry(env *Env, cat string, initial int) actor.Producer {
	return func() actor.Actor {
		return &registry{env: env, cat: cat, stats: env.Stats[cat], workers: map[string]*workerState{}, target: initial, pending: initial}
	}
}

func (r *registry) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		r.fifo = r.env.FifoPID(r.cat)
		// Whatever the Fifo counted belonged to an earlier registry.
		ctx.Send(r.fifo, &Demand{Reset: true})
		r.stats.Allocated.Store(int64(r.target))
		r.stats.Busy.Store(0)
	case *WorkerIdle:
		r.idle(ctx, msg.PID, msg.Ended)
	case *Dispatch:
		r.dispatch(ctx, msg)
	case *WorkerGone:
		if w := r.workers[msg.PID.Id]; w != nil {
			if w.busy {
				r.stats.Busy.Add(-1)
			}
			delete(r.workers, msg.PID.Id)
			r.dropFree(w)
		}
	case *Resize:
		r.resize(ctx, msg.Workers)
	case *actor.Terminated:
		if w := r.workers[msg.Who.Id]; w != nil {
			if w.busy {
				r.stats.Busy.Add(-1)
			}
			delete(r.workers, msg.Who.Id)
			r.dropFree(w)
			if !w.draining {
				r.resize(ctx, r.target)
			}
		}
	}
}

// idle takes a worker that is free; ended is the token of the attempt it just ended (0: none),
// which travels on to the Fifo with the demand (or alone, when the worker is not free).
func (r *registry) idle(ctx actor.Context, pid *actor.PID, ended uint64) {
	if ended != 0 {
		defer func() {
			if ended != 0 {
				ctx.Send(r.fifo, &Demand{Ended: ended})
			}
		}()
	}
	w := r.workers[pid.Id]
	if w == nil && ended != 0 {
		// The end of an attempt of a worker gone meanwhile (its goroutine reported the end as
		// the worker drained and stopped) or of an earlier registry's: only the end counts. A
		// live worker announces itself with Ended 0 when it starts.
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
			r.drain(ctx, w)
			return
		}
	}
	if w.busy {
		w.busy = false
		r.stats.Busy.Add(-1)
	}
	if w.draining {
		ctx.Send(pid, &Drain{}) // restarted while draining: tell the new incarnation
		return
	}
	if !w.free {
		w.free = true
		r.free = append(r.free, pid)
	}
	ctx.Send(r.fifo, &Demand{N: 1, Ended: ended})
	ended = 0
}

func (r *registry) dispatch(ctx actor.Context, msg *Dispatch) {
	for len(r.free) > 0 {
		pid := r.free[len(r.free)-1]
		r.free = r.free[:len(r.free)-1]
		w := r.workers[pid.Id]
		if w == nil {
			continue
		}
		w.free = false
		if w.busy || w.draining {
			continue
		}
		w.busy = true
		r.stats.Busy.Add(1)
		r.stats.Dispatched.Add(1)
		// A worker that stopped meanwhile drops the Run: the Fifo's audit takes the job back.
		ctx.Send(pid, &Run{Job: msg.Job, Token: msg.Token})
		return
	}
	ctx.Send(r.fifo, &Requeue{Job: msg.Job, Token: msg.Token})
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
	for i := len(r.free) - 1; i >= 0 && live > n; i-- {
		if w := r.workers[r.free[i].Id]; w != nil && !w.draining && !w.busy {
			r.drain(ctx, w)
			ctx.Send(r.fifo, &Demand{N: -1})
			live--
		}
	}
	for _, w := range r.workers {
		if live <= n {
			break
		}
		if !w.draining {
			r.drain(ctx, w)
			live--
		}
	}
}

func (r *registry) drain(ctx actor.Context, w *workerState) {
	w.draining = true
	r.dropFree(w)
	ctx.Send(w.pid, &Drain{})
}

// dropFree takes a worker out of the free list.
func (r *registry) dropFree(w *workerState) {
	if !w.free {
		return
	}
	w.free = false
	for i, p := range r.free {
		if p.Equal(w.pid) {
			r.free = append(r.free[:i], r.free[i+1:]...)
			return
		}
	}
}
