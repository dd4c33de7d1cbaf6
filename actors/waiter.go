package actors

import (
	"container/heap"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/jobsched/jobsched/persistence"
	"github.com/jobsched/jobsched/supervision"
)

// waiter holds the jobs that wait for a time (scheduled, and retrying after a failure) in a
// heap, with one timer for the earliest. When a job's time comes it is stored as queued and
// handed to the Dispatcher.
type waiter struct {
	env     *Env
	h       waitHeap
	timer   Timer
	timerAt time.Time
	ready   bool
}

type waitItem struct {
	at time.Time
	id string
}

type waitHeap []waitItem

func (h waitHeap) Len() int           { return len(h) }
func (h waitHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h waitHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *waitHeap) Push(x any)        { *h = append(*h, x.(waitItem)) }
func (h *waitHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

var _ supervision.ReadySignaler = (*waiter)(nil)

// NewWaiter returns the Waiter's producer.
func NewWaiter(env *Env) actor.Producer { return func() actor.Actor { return &waiter{env: env} } }

// SignalsReady: the Waiter is ready once it has read the waiting jobs from the store.
func (*waiter) SignalsReady() {}

func (w *waiter) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		self := ctx.Self()
		w.env.Go(func() {
			c, cancel := loadCtx()
			defer cancel()
			var items []waitItem
			err := w.env.Store.Waiting(c, func(id string, at time.Time) error {
				items = append(items, waitItem{at: at, id: id})
				return nil
			})
			w.env.send(self, &waitingLoaded{items: items, err: err})
		})
	case *waitingLoaded:
		if msg.err != nil {
			panic("waiter: read waiting jobs: " + msg.err.Error())
		}
		for _, it := range msg.items {
			heap.Push(&w.h, it)
		}
		w.ready = true
		supervision.Ready(ctx)
		w.due(ctx)
	case *Schedule:
		heap.Push(&w.h, waitItem{at: msg.RunAt, id: msg.ID})
		if w.ready {
			w.due(ctx)
		}
	case *tick:
		w.timerAt = time.Time{}
		w.due(ctx)
	case *actor.Stopping, *actor.Restarting:
		if w.timer != nil {
			w.timer.Stop()
		}
	}
}

// due promotes every job whose time has come and sets the timer for the next.
func (w *waiter) due(ctx actor.Context) {
	now := w.env.Clock.Now()
	for w.h.Len() > 0 && !w.h[0].at.After(now) {
		it := heap.Pop(&w.h).(waitItem)
		w.env.Store.UpdateAsync(it.id, Promote(now), false, func(j *persistence.Job, err error) {
			if err == nil {
				w.env.send(w.env.DispatcherPID(), &Enqueued{Jobs: []*persistence.Job{j}})
			}
		})
	}
	if w.h.Len() == 0 {
		return
	}
	next := w.h[0].at
	if !w.timerAt.IsZero() && !next.Before(w.timerAt) {
		return // the timer set already fires in time
	}
	if w.timer != nil {
		w.timer.Stop()
	}
	self := ctx.Self()
	w.timerAt = next
	w.timer = w.env.Clock.AfterFunc(next.Sub(now), func() { w.env.send(self, &tick{}) })
}

// Promote is the store mutation of a waiting job whose time has come: it becomes queued. A job
// that is no longer waiting, or waits for a later time (it failed again and was rescheduled),
// is left alone.
func Promote(now time.Time) persistence.Mutator {
	return func(j *persistence.Job) error {
		if !j.State.Waiting() || j.RunAt.After(now) {
			return persistence.ErrSkip
		}
		j.State = persistence.StateQueued
		return nil
	}
}
