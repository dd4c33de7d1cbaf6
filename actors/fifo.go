package actors

import (
	"math"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/jobsched/jobsched/persistence"
	"github.com/jobsched/jobsched/supervision"
	"golang.org/x/time/rate"
)

// fifo holds the ready jobs of one category in order and hands them to the WorkerRegistry as
// it reports free workers (Demand). It keeps at most Env.FifoMemory jobs in memory; past that
// the queue "spills": new jobs stay only in the store, and the Fifo reads them back (by their
// sequence number, from a cursor, never scanning deleted keys) as the queue drains.
type fifo struct {
	env   *Env
	cat   string
	stats *CategoryStats

	queue  []*persistence.Job // queue[head:] are waiting
	head   int
	ids    map[string]struct{}
	demand int
	paused bool

	// spilled: jobs with Seq > cursor may be in the store and not in memory.
	spilled bool
	cursor  uint64
	// dropMin is the lowest Seq dropped while a read was running (0: none).
	dropMin uint64
	loading bool
	ready   bool

	// Flow control. limiter paces starts (rate_limit); wakeAt is when a pump is due for it.
	limiter *rate.Limiter
	wakeAt  time.Time
	// keyRunning counts the dispatched, unfinished jobs per kind+concurrency key with a limit;
	// parked holds, in order, the jobs waiting for a slot of their key (not taking a worker).
	keyRunning map[string]int
	parked     map[string][]*persistence.Job
}

var _ supervision.ReadySignaler = (*fifo)(nil)

// NewFifo returns the producer of a category's Fifo.
func NewFifo(env *Env, cat string) actor.Producer {
	return func() actor.Actor {
		f := &fifo{env: env, cat: cat, stats: env.Stats[cat], ids: map[string]struct{}{},
			keyRunning: map[string]int{}, parked: map[string][]*persistence.Job{}}
		for _, c := range env.Categories {
			if c.Name == cat && c.RateLimit > 0 {
				f.limiter = rate.NewLimiter(rate.Limit(c.RateLimit), max(c.RateBurst, 1))
			}
		}
		return f
	}
}

// SignalsReady: the Fifo is ready once its first read of the store is in.
func (*fifo) SignalsReady() {}

func (f *fifo) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		f.paused = f.stats.Paused.Load()
		f.spilled, f.cursor = true, 0
		f.load(ctx)
	case *queuedLoaded:
		f.loaded(ctx, msg)
	case *Enqueued:
		for _, j := range msg.Jobs {
			f.enqueued(j)
		}
		f.pump(ctx)
	case *Requeue:
		if k, limited := f.keyOf(msg.Job); limited {
			f.keyRunning[k]-- // it did not start after all
		}
		f.pushFront(msg.Job)
		f.pump(ctx)
	case *KeyReleased:
		f.release(msg.Kind + "\x00" + msg.Key)
		f.pump(ctx)
	case *tick:
		f.wakeAt = time.Time{}
		f.pump(ctx)
	case *Demand:
		if msg.Reset {
			f.demand = 0
		}
		f.demand = max(f.demand+msg.N, 0)
		f.pump(ctx)
	case *Pause:
		f.paused = true
		f.stats.Paused.Store(true)
	case *Resume:
		f.paused = false
		f.stats.Paused.Store(false)
		f.pump(ctx)
	}
}

func (f *fifo) len() int { return len(f.queue) - f.head }

// enqueued takes one ready job; the caller pumps.
func (f *fifo) enqueued(j *persistence.Job) {
	if _, dup := f.ids[j.ID]; dup {
		return
	}
	if f.spilled || f.len() >= f.env.FifoMemory {
		// Leave it in the store; it is read back in order when the queue drains.
		if !f.spilled {
			f.spilled, f.cursor = true, j.Seq-1
		} else if j.Seq <= f.cursor {
			f.cursor = j.Seq - 1
		}
		if f.loading && (f.dropMin == 0 || j.Seq < f.dropMin) {
			f.dropMin = j.Seq
		}
		return
	}
	wasEmpty := f.len() == 0
	f.push(j)
	if wasEmpty && f.demand == 0 && !f.paused {
		f.env.send(f.env.BalancerPID(), &Backlogged{Category: f.cat})
	}
}

func (f *fifo) push(j *persistence.Job) {
	f.queue = append(f.queue, j)
	f.ids[j.ID] = struct{}{}
	f.stats.InMemory.Store(int64(f.len()))
}

func (f *fifo) pushFront(j *persistence.Job) {
	if _, dup := f.ids[j.ID]; dup {
		return
	}
	if f.head > 0 {
		f.head--
		f.queue[f.head] = j
	} else {
		f.queue = append([]*persistence.Job{j}, f.queue...)
	}
	f.ids[j.ID] = struct{}{}
	f.stats.InMemory.Store(int64(f.len()))
}

// pump hands out jobs while workers are free (within the rate limit and the concurrency-key
// limits), then refills from the store if it runs low.
func (f *fifo) pump(ctx actor.Context) {
	for f.demand > 0 && !f.paused && f.len() > 0 {
		j := f.queue[f.head]
		k, limited := f.keyOf(j)
		if limited && f.keyRunning[k] >= f.env.KeyLimits[j.Kind] {
			// Over its key's limit: park it, in order, without taking a worker.
			f.queue[f.head] = nil
			f.head++
			f.parked[k] = append(f.parked[k], j)
			continue
		}
		if !f.allowStart(ctx) {
			break
		}
		f.queue[f.head] = nil
		f.head++
		delete(f.ids, j.ID)
		f.demand--
		if limited {
			f.keyRunning[k]++
		}
		ctx.Send(f.env.RegistryPID(f.cat), &Dispatch{Job: j})
	}
	if f.head > 1024 && f.head*2 > len(f.queue) {
		f.queue = append([]*persistence.Job(nil), f.queue[f.head:]...)
		f.head = 0
	}
	f.stats.InMemory.Store(int64(f.len()))
	if f.spilled && !f.loading && f.ready && f.len() < f.env.FifoMemory/2 {
		f.load(ctx)
	}
}

// keyOf returns the concurrency-key slot of a job and whether its kind limits it.
func (f *fifo) keyOf(j *persistence.Job) (string, bool) {
	if j.ConcurrencyKey == "" || f.env.KeyLimits[j.Kind] <= 0 {
		return "", false
	}
	return j.Kind + "\x00" + j.ConcurrencyKey, true
}

// release frees one slot of a key and moves the first job parked on it back to the front.
func (f *fifo) release(k string) {
	if f.keyRunning[k] > 0 {
		f.keyRunning[k]--
	}
	if f.keyRunning[k] == 0 {
		delete(f.keyRunning, k)
	}
	if p := f.parked[k]; len(p) > 0 {
		j := p[0]
		if len(p) == 1 {
			delete(f.parked, k)
		} else {
			f.parked[k] = p[1:]
		}
		delete(f.ids, j.ID) // still in ids while parked; pushFront adds it back
		f.pushFront(j)
	}
}

// allowStart takes a token of the rate limit, or arranges a pump for when one is due.
func (f *fifo) allowStart(ctx actor.Context) bool {
	if f.limiter == nil {
		return true
	}
	now := f.env.Clock.Now()
	r := f.limiter.ReserveN(now, 1)
	d := r.DelayFrom(now)
	if d == 0 {
		return true
	}
	r.CancelAt(now)
	if f.wakeAt.IsZero() {
		d = time.Duration(math.Max(float64(d), float64(time.Millisecond)))
		f.wakeAt = now.Add(d)
		self := ctx.Self()
		f.env.Clock.AfterFunc(d, func() { f.env.send(self, &tick{}) })
	}
	return false
}

// load reads queued jobs after the cursor on a goroutine; queuedLoaded brings them back.
func (f *fifo) load(ctx actor.Context) {
	f.loading, f.dropMin = true, 0
	self, cat, after, limit := ctx.Self(), f.cat, f.cursor, f.env.FifoMemory-f.len()
	f.env.Go(func() {
		c, cancel := loadCtx()
		defer cancel()
		jobs, err := f.env.Store.Queued(c, cat, after, limit)
		f.env.send(self, &queuedLoaded{jobs: jobs, err: err, full: len(jobs) == limit})
	})
}

func (f *fifo) loaded(ctx actor.Context, msg *queuedLoaded) {
	f.loading = false
	if msg.err != nil {
		// The store failed (or is closing): crash, and let the supervisor restart the Fifo,
		// which reads again from the start.
		panic("fifo " + f.cat + ": read queued jobs: " + msg.err.Error())
	}
	for _, j := range msg.jobs {
		if _, dup := f.ids[j.ID]; !dup {
			f.push(j)
		}
		f.cursor = max(f.cursor, j.Seq)
	}
	f.spilled = msg.full
	if f.dropMin != 0 {
		f.spilled, f.cursor = true, min(f.cursor, f.dropMin-1)
		f.dropMin = 0
	}
	if !f.ready {
		f.ready = true
		supervision.Ready(ctx)
	}
	f.pump(ctx)
}
