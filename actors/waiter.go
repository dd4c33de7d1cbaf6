package actors

import (
	"container/heap"
	"errors"
	"log/slog"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/jobsched/jobsched/persistence"
	"github.com/jobsched/jobsched/supervision"
)

// waiter holds the jobs that wait for a time (scheduled, and retrying after a failure) in a
// heap, with one timer for the earliest. When a job's time comes it is stored as queued and
// handed to the Dispatcher.
//
// The store drives it: every poll interval it reads the due jobs from the store again and takes
// those it does not hold (a Schedule message lost, a restart), and a Promote the store did not
// take is tried again after a backoff.
type waiter struct {
	env       *Env
	epoch     uint64
	h         waitHeap
	held      map[string]time.Time // the time each job in the heap waits for (stale entries are skipped)
	promoting map[string]bool      // Promote sent, answer not in
	retries   map[string]int       // failed Promotes in a row, per job
	timer     Timer
	timerAt   time.Time
	pollTimer Timer
	ready     bool
	polling   bool
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

// errNotDue stops a read of the waiting jobs at the first one not due yet.
var errNotDue = errors.New("not due")

// NewWaiter returns the Waiter's producer.
func NewWaiter(env *Env) actor.Producer {
	return func() actor.Actor {
		return &waiter{env: env, epoch: epochs.Add(1), held: map[string]time.Time{},
			promoting: map[string]bool{}, retries: map[string]int{}}
	}
}

// SignalsReady: the Waiter is ready once it has read the waiting jobs from the store.
func (*waiter) SignalsReady() {}

func (w *waiter) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		w.read(ctx, false)
		w.armPoll(ctx)
	case *waitingLoaded:
		if msg.epoch != w.epoch {
			return
		}
		w.polling = false
		if msg.err != nil {
			w.env.Log.Warn("waiter: read waiting jobs", slog.Any("err", msg.err))
			return // read again at the next poll
		}
		for _, it := range msg.items {
			w.hold(it)
		}
		if !w.ready {
			w.ready = true
			supervision.Ready(ctx)
		}
		w.due(ctx)
	case *poll:
		if msg.epoch != w.epoch {
			return
		}
		w.armPoll(ctx)
		if !w.polling {
			w.read(ctx, w.ready)
		}
	case *Schedule:
		if msg.ID == "" {
			panic("waiter: a Schedule without a job id") // a bug of the sender; fault tests use it
		}
		w.hold(waitItem{at: msg.RunAt, id: msg.ID})
		if w.ready {
			w.due(ctx)
		}
	case *promoted:
		if msg.epoch == w.epoch {
			w.promoted(ctx, msg)
		}
	case *tick:
		w.timerAt = time.Time{}
		w.due(ctx)
	case *actor.Stopping, *actor.Restarting:
		if w.timer != nil {
			w.timer.Stop()
		}
		if w.pollTimer != nil {
			w.pollTimer.Stop()
		}
	}
}

func (w *waiter) armPoll(ctx actor.Context) {
	self, ep := ctx.Self(), w.epoch
	w.pollTimer = w.env.Clock.AfterFunc(w.env.pollInterval(), func() { w.env.send(self, &poll{epoch: ep}) })
}

// read reads the waiting jobs on a goroutine: all of them at the start, only the due ones on a
// poll (the read stops at the first job not due).
func (w *waiter) read(ctx actor.Context, dueOnly bool) {
	w.polling = true
	self, ep := ctx.Self(), w.epoch
	now := w.env.Clock.Now()
	w.env.Go(func() {
		c, cancel := loadCtx()
		defer cancel()
		var items []waitItem
		err := w.env.Store.Waiting(c, func(id string, at time.Time) error {
			if dueOnly && at.After(now) {
				return errNotDue
			}
			items = append(items, waitItem{at: at, id: id})
			return nil
		})
		if errors.Is(err, errNotDue) {
			err = nil
		}
		w.env.send(self, &waitingLoaded{epoch: ep, items: items, err: err})
	})
}

// hold puts a job in the heap unless it is there for that time already or being promoted.
func (w *waiter) hold(it waitItem) {
	if at, ok := w.held[it.id]; (ok && at.Equal(it.at)) || w.promoting[it.id] {
		return
	}
	w.held[it.id] = it.at
	heap.Push(&w.h, it)
}

// due promotes every job whose time has come and sets the timer for the next.
func (w *waiter) due(ctx actor.Context) {
	now := w.env.Clock.Now()
	self, ep := ctx.Self(), w.epoch
	for w.h.Len() > 0 && !w.h[0].at.After(now) {
		it := heap.Pop(&w.h).(waitItem)
		if at, ok := w.held[it.id]; !ok || !at.Equal(it.at) {
			continue // a stale entry: the job waits for another time now
		}
		delete(w.held, it.id)
		w.promoting[it.id] = true
		id := it.id
		w.env.Store.UpdateAsync(id, Promote(now), false, func(j *persistence.Job, err error) {
			if err == nil {
				w.env.send(w.env.DispatcherPID(), &Enqueued{Jobs: []*persistence.Job{j}})
			}
			w.env.send(self, &promoted{epoch: ep, id: id, err: err})
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
	w.timerAt = next
	w.timer = w.env.Clock.AfterFunc(next.Sub(now), func() { w.env.send(self, &tick{}) })
}

// promoted takes the store's answer to a Promote: a failure that may pass is tried again after
// a backoff (the job is still waiting in the store, so a poll would find it too).
func (w *waiter) promoted(ctx actor.Context, msg *promoted) {
	delete(w.promoting, msg.id)
	if msg.err == nil || persistence.Permanent(msg.err) {
		delete(w.retries, msg.id)
		return
	}
	n := w.retries[msg.id] + 1
	w.retries[msg.id] = n
	w.env.Log.Warn("waiter: promote a due job; trying again", slog.String("job", msg.id), slog.Int("tries", n), slog.Any("err", msg.err))
	w.hold(waitItem{at: w.env.Clock.Now().Add(Backoff(n)), id: msg.id})
	w.due(ctx)
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
