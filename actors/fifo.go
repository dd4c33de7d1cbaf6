package actors

import (
	"errors"
	"log/slog"
	"math"
	"slices"
	"sort"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/jobsched/jobsched/persistence"
	"github.com/jobsched/jobsched/supervision"
	"golang.org/x/time/rate"
)

// fifo holds the ready jobs of one category in order and gives them to the free workers the
// WorkerRegistry lends it (Demand.Lend), one job to each, without a message (Lent.give). It keeps at most Env.FifoMemory jobs in memory; past that
// the queue "spills": new jobs stay only in the store, and the Fifo reads them back (by their
// sequence number, from a cursor, never scanning deleted keys) as the queue drains.
//
// The store drives the queue: messages (Enqueued, Demand) are the fast path, never the only
// one. Every poll interval the Fifo rescans a page of its queue in the store, from its
// low-water mark on, and takes every queued job nobody holds; and it checks the hand-offs that
// have not ended for a while against the store, taking back those that were lost (a stopped
// worker, a dropped message). A hand-off is ended exactly once (by its token), so the
// concurrency-key slots it holds are never leaked nor freed twice.
type fifo struct {
	env   *Env
	cat   string
	stats *CategoryStats
	epoch uint64 // this incarnation: reads and timers of an earlier one are ignored

	q   *fairQueue          // the waiting jobs, round-robin across fairness keys
	ids map[string]struct{} // jobs in q or parked
	// free: the workers lent by the registry, not given a job since; demand is len(free).
	free   []*Lent
	demand int
	paused bool
	// told: the queue's length when the balancer was last told Backlogged (0: not since the
	// queue was last empty).
	told int

	// spilled: jobs with Seq > cursor may be in the store and not in memory; spilledKeys are
	// the fairness keys of the jobs left in the store since the spill began.
	spilled     bool
	spilledKeys map[string]struct{}
	cursor      uint64
	// dropMin is the lowest Seq dropped while a read was running (0: none).
	dropMin    uint64
	loading    bool
	loadFailed bool // the last read failed: the next poll reads again
	// adopting: the jobs still running for an earlier incarnation are being read, to count
	// them against their keys; nothing is handed out until they are in.
	adopting  bool
	adoptRead bool // the read is on its way
	ready     bool
	maxSeq    uint64 // highest sequence number seen

	// Hand-offs to workers not ended yet, by token, and the token of each job.
	nextToken uint64
	flights   map[uint64]flight
	inflight  map[string]uint64

	// Rescans: the next page starts after scanPos (0: at the low-water mark). A candidate
	// low-water mark becomes the mark once the inserts begun before lowMark have ended.
	scanning  bool
	scanPos   uint64
	lowCand   uint64
	lowMark   uint64
	lastScan  time.Time
	auditing  bool
	pollTimer Timer

	// Flow control. limiter paces starts (rate_limit); wakeAt is when a pump is due for it.
	limiter *rate.Limiter
	wakeAt  time.Time
	// keyRunning counts the hand-offs not ended per kind+concurrency key with a limit; parked
	// holds, in order, up to parkCap jobs waiting for a slot of their key (not taking a worker).
	keyRunning map[string]int
	parked     map[string][]*persistence.Job
	parkedN    int
	// endedWhileReading: jobs whose hand-off ended while a rescan or a spill read ran; that
	// read may have seen them still queued, and must not bring them back.
	endedWhileReading map[string]struct{}

	// Claiming (Env.Claims set; fifo_claim.go): claiming claims are on their way, for asking
	// jobs in all; claimAgain: a wake-up came meanwhile; claimIdle: the last claim found the queue empty, so more demand alone
	// claims again only at a wake-up or a poll.
	claiming   int
	asking     int
	claimAgain bool
	claimIdle  bool
	// cooling: a claim waits for the cooldown (coolDone); claimAt: when the last claim began
	// or ended.
	cooling bool
	claimAt time.Time
	// claimBegan: when the latest claim began; covered: a claim on its way began after a job
	// was stored, and will find it (wakeStored), unless it fails.
	claimBegan time.Time
	covered    bool
}

// flight is one hand-off to a worker.
type flight struct {
	id  string
	key string // concurrency-key slot held ("" none)
	at  time.Time
}

// Sizes of the store-driven paths.
const (
	scanPage = 1024 // jobs read by one rescan
	auditMax = 256  // hand-offs checked by one audit
	parkMax  = 4096 // parked jobs kept in memory; the rest stay in the store
	// admitPerKey: a fairness key with fewer jobs in memory (and none left in the store) has a
	// new job admitted to memory even when the queue spills; more if its share of FifoMemory
	// (among the keys in memory) is larger.
	admitPerKey = 4
)

var _ supervision.ReadySignaler = (*fifo)(nil)

// NewFifo returns the producer of a category's Fifo.
func NewFifo(env *Env, cat string) actor.Producer {
	return func() actor.Actor {
		ep := epochs.Add(1)
		// Tokens are unique across incarnations: the end of an earlier one's hand-off, arriving
		// late, never ends one of this incarnation.
		f := &fifo{env: env, cat: cat, stats: env.Stats[cat], q: newFairQueue(), ids: map[string]struct{}{}, epoch: ep, nextToken: ep << 32,
			flights: map[uint64]flight{}, inflight: map[string]uint64{},
			keyRunning: map[string]int{}, parked: map[string][]*persistence.Job{}}
		for _, c := range env.Categories {
			if c.Name == cat && c.RateLimit > 0 {
				f.limiter = rate.NewLimiter(rate.Limit(c.RateLimit), max(c.RateBurst, 1))
			}
			if c.Name == cat && len(c.FairnessWeights) > 0 {
				f.q.weights = c.FairnessWeights
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
		if f.env.Claims != nil {
			f.claimStarted(ctx)
			break
		}
		// What an earlier incarnation read is not trusted: read again from the low-water mark.
		f.spilled, f.cursor = true, f.stats.lowWater.Load()
		f.stats.Parked.Store(0)
		f.takeOver()
		f.adopting = true
		f.adopt(ctx)
		f.load(ctx)
		f.armPoll(ctx)
	case *poll:
		if msg.epoch == f.epoch {
			f.onPoll(ctx)
		}
	case *queuedLoaded:
		if msg.epoch == f.epoch {
			f.loaded(ctx, msg)
		}
	case *scanned:
		if msg.epoch == f.epoch {
			f.scanned(ctx, msg)
		}
	case *runningRead:
		if msg.epoch == f.epoch {
			f.adopted(ctx, msg)
		}
	case *audited:
		if msg.epoch == f.epoch {
			f.audited(ctx, msg)
		}
	case *claimed:
		f.claimed(ctx, msg)
	case *Wake:
		f.wake(ctx)
	case *Enqueued:
		if f.env.Claims != nil {
			f.wakeStored(ctx, msg.At) // stored as queued: claimed like any other
			break
		}
		for _, j := range msg.Jobs {
			f.enqueued(j)
		}
		f.pump(ctx)
	case *AttemptEnded:
		f.end(msg.Token)
		f.pump(ctx)
	case *tick:
		f.wakeAt = time.Time{}
		f.pump(ctx)
	case *coolDone:
		if msg.epoch == f.epoch {
			f.cooling = false
			f.pump(ctx)
		}
	case *Demand:
		if msg.Reset {
			clear(f.free)
			f.free = f.free[:0]
		}
		if msg.Ended != 0 {
			f.end(msg.Ended)
		}
		if msg.Recall != nil {
			f.recall(msg.Recall)
		}
		if msg.Lend != nil {
			f.free = append(f.free, msg.Lend)
		}
		f.demand = len(f.free)
		f.pump(ctx)
		f.scanIfIdle(ctx)
	case *Pause:
		f.paused = true
		f.stats.Paused.Store(true)
		f.giveBackQueue()
	case *Resume:
		f.paused, f.claimIdle = false, false
		f.stats.Paused.Store(false)
		f.pump(ctx)
	case *actor.Stopping, *actor.Restarting:
		if f.pollTimer != nil {
			f.pollTimer.Stop()
		}
	}
}

func (f *fifo) len() int { return f.q.len() }

// known reports whether the Fifo holds the job: in memory, parked, or handed off.
func (f *fifo) known(id string) bool {
	if _, ok := f.ids[id]; ok {
		return true
	}
	_, ok := f.inflight[id]
	return ok
}

// enqueued takes one ready job; the caller pumps.
func (f *fifo) enqueued(j *persistence.Job) {
	if f.known(j.ID) {
		return
	}
	f.maxSeq = max(f.maxSeq, j.Seq)
	if (f.spilled || f.len() >= f.env.FifoMemory) && !f.admit(j) {
		f.leaveInStore(j)
		return
	}
	if f.len() == 0 {
		f.told = 0
	}
	f.push(j)
	// Work and no free worker: the balancer may grow the category at once. It counts the
	// store's backlog when it gets the message, which may be before the jobs enqueued just
	// after are counted; so the Fifo tells it again each time its queue has doubled since
	// (1, 2, 4, 8... jobs: a few messages per backlog, not one per job).
	if f.demand == 0 && !f.paused && f.len() >= max(1, 2*f.told) {
		f.told = f.len()
		f.env.send(f.env.BalancerPID(), &Backlogged{Category: f.cat})
	}
}

// admit reports whether a job that would spill is taken into memory anyway because its fairness
// key has less than its share of the memory: a tenant's job enqueued behind another's backlog
// in the store would otherwise wait for the whole backlog to be read back. A key that has
// jobs left in the store is not admitted (its jobs stay in order), and at most FifoMemory jobs
// are admitted past the limit. An admitted job is known (ids), so the spill reads and rescans
// that meet it in the store skip it.
func (f *fifo) admit(j *persistence.Job) bool {
	if _, ok := f.spilledKeys[j.FairnessKey]; ok || f.len() >= 2*f.env.FifoMemory {
		return false
	}
	share := max(admitPerKey, f.env.FifoMemory/(f.q.keyCount()+1))
	return f.q.count(j.FairnessKey) < share
}

// leaveInStore leaves a job to be read back in order when the queue drains.
func (f *fifo) leaveInStore(j *persistence.Job) {
	if f.spilledKeys == nil {
		f.spilledKeys = map[string]struct{}{}
	}
	f.spilledKeys[j.FairnessKey] = struct{}{}
	if !f.spilled {
		f.spilled, f.cursor = true, j.Seq-1
	} else if j.Seq <= f.cursor {
		f.cursor = j.Seq - 1
	}
	if f.loading && (f.dropMin == 0 || j.Seq < f.dropMin) {
		f.dropMin = j.Seq
	}
}

func (f *fifo) push(j *persistence.Job) {
	f.q.push(j)
	f.ids[j.ID] = struct{}{}
	f.stats.InMemory.Store(int64(f.len()))
}

func (f *fifo) pushFront(j *persistence.Job) {
	if _, dup := f.ids[j.ID]; dup {
		return
	}
	f.q.pushFront(j)
	f.ids[j.ID] = struct{}{}
	f.stats.InMemory.Store(int64(f.len()))
}

// end ends a hand-off: the job is no longer held, and its key slot is free.
func (f *fifo) end(tok uint64) {
	fl, ok := f.flights[tok]
	if !ok {
		return // ended already (a late message after an audit)
	}
	delete(f.flights, tok)
	f.stats.handoffs.drop(tok)
	if f.scanning || f.loading {
		if f.endedWhileReading == nil {
			f.endedWhileReading = map[string]struct{}{}
		}
		f.endedWhileReading[fl.id] = struct{}{}
	}
	if f.inflight[fl.id] == tok {
		delete(f.inflight, fl.id)
	}
	if fl.key != "" {
		f.release(fl.key)
		f.claimIdle = false // a claim may find a job of that key now
	}
}

// pump hands out jobs while workers are free (within the rate limit and the concurrency-key
// limits), then refills from the store if it runs low.
func (f *fifo) pump(ctx actor.Context) {
	for !f.adopting && f.demand > 0 && !f.paused && f.len() > 0 {
		j := f.q.peek()
		k, limited := f.keyOf(j)
		if limited && f.keyRunning[k] >= f.env.KeyLimits[j.Kind] {
			// Over its key's limit: park it, in order, without taking a worker. Past parkMax
			// it is forgotten: it stays queued in the store, and a rescan brings it back.
			f.q.pop()
			f.park(k, j)
			continue
		}
		if !f.allowStart(ctx) {
			break
		}
		w := f.free[len(f.free)-1]
		f.free[len(f.free)-1] = nil
		f.free = f.free[:len(f.free)-1]
		f.demand = len(f.free)
		tok := f.nextToken + 1
		f.stats.handoffs.add(tok, j.ID, k)
		if !w.give(j, tok) {
			// The worker drains or stopped (a recall or its new incarnation is on its way):
			// forget it, and give the job to another. No job started: no token is spent.
			f.stats.handoffs.drop(tok)
			continue
		}
		f.spendStart()
		f.nextToken = tok
		f.q.pop()
		delete(f.ids, j.ID)
		if limited {
			f.keyRunning[k]++
		}
		f.flights[tok] = flight{id: j.ID, key: k, at: f.env.Clock.Now()}
		f.inflight[j.ID] = tok
	}
	f.stats.InMemory.Store(int64(f.len()))
	if f.env.Claims != nil {
		f.claim(ctx)
		return
	}
	if f.spilled && !f.loading && !f.loadFailed && f.ready && f.len() < f.env.FifoMemory/2 {
		f.load(ctx)
	}
}

// recall forgets a lent worker the registry drains or lost.
func (f *fifo) recall(pid *actor.PID) {
	for i, w := range f.free {
		if w.pid.Equal(pid) {
			f.free = slices.Delete(f.free, i, i+1)
			return
		}
	}
}

// park keeps a job waiting for a slot of its key, in the order of the queue (by Seq): a job
// released but not handed out at once, or read back from the store, takes its place again
// instead of going behind later jobs of its key. Past parkMax, the latest job parked on the key
// (or this one) is forgotten: it stays queued in the store, and a rescan brings it back.
func (f *fifo) park(k string, j *persistence.Job) {
	p := f.parked[k]
	i := sort.Search(len(p), func(i int) bool { return p[i].Seq > j.Seq })
	if f.parkedN >= parkMax {
		if i == len(p) {
			delete(f.ids, j.ID)
			f.forget(j)
			return
		}
		last := p[len(p)-1]
		p = p[:len(p)-1]
		f.parkedN--
		delete(f.ids, last.ID)
		f.forget(last)
	}
	p = slices.Insert(p, i, j)
	f.parked[k] = p
	f.parkedN++
	f.stats.Parked.Store(int64(f.parkedN))
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
		f.parkedN--
		f.stats.Parked.Store(int64(f.parkedN))
		delete(f.ids, j.ID) // still in ids while parked; pushFront adds it back
		f.pushFront(j)
	}
}

// allowStart reports whether the rate limit has a token for a start now (spendStart takes it
// once a worker took the job: a give a worker refuses spends none), or arranges a pump for when
// one is due.
func (f *fifo) allowStart(ctx actor.Context) bool {
	if f.limiter == nil {
		return true
	}
	now := f.env.Clock.Now()
	if f.limiter.TokensAt(now) >= 1 {
		return true
	}
	r := f.limiter.ReserveN(now, 1) // only to learn when a token is due
	d := r.DelayFrom(now)
	r.CancelAt(now)
	if f.wakeAt.IsZero() {
		d = time.Duration(math.Max(float64(d), float64(time.Millisecond)))
		f.wakeAt = now.Add(d)
		self := ctx.Self()
		f.env.Clock.AfterFunc(d, func() { f.env.send(self, &tick{}) })
	}
	return false
}

// spendStart takes the token of the rate limit allowStart saw for a start a worker took (the
// Fifo is the limiter's only user: the token is still there).
func (f *fifo) spendStart() {
	if f.limiter != nil {
		f.limiter.AllowN(f.env.Clock.Now(), 1)
	}
}

// load reads queued jobs after the cursor on a goroutine; queuedLoaded brings them back.
func (f *fifo) load(ctx actor.Context) {
	f.loading, f.dropMin = true, 0
	self, cat, after, limit, ep := ctx.Self(), f.cat, f.cursor, max(f.env.FifoMemory-f.len(), 1), f.epoch
	f.env.Go(func() {
		c, cancel := loadCtx()
		defer cancel()
		jobs, err := f.env.Store.Queued(c, cat, after, limit)
		f.env.send(self, &queuedLoaded{epoch: ep, jobs: jobs, err: err, full: len(jobs) == limit})
	})
}

func (f *fifo) loaded(ctx actor.Context, msg *queuedLoaded) {
	f.loading = false
	if msg.err != nil {
		f.readDone()
		// The store failed this read: keep the cursor and read again at the next poll.
		f.loadFailed = true
		f.env.Log.Warn("fifo: read queued jobs", slog.String("category", f.cat), slog.Any("err", msg.err))
		return
	}
	for _, j := range msg.jobs {
		if !f.known(j.ID) && !f.endedMeanwhile(j.ID) {
			f.push(j)
		}
		f.cursor = max(f.cursor, j.Seq)
		f.maxSeq = max(f.maxSeq, j.Seq)
	}
	f.readDone()
	f.spilled = msg.full
	if f.dropMin != 0 {
		f.spilled, f.cursor = true, min(f.cursor, f.dropMin-1)
		f.dropMin = 0
	}
	if !f.spilled {
		f.spilledKeys = nil // read through: every key's jobs are in memory
	}
	if !f.ready {
		f.ready = true
		supervision.Ready(ctx)
	}
	f.pump(ctx)
}

func (f *fifo) armPoll(ctx actor.Context) {
	self, ep := ctx.Self(), f.epoch
	f.pollTimer = f.env.Clock.AfterFunc(f.env.pollInterval(), func() { f.env.send(self, &poll{epoch: ep}) })
}

// adopt reads, on a goroutine, the jobs of the category stored as running whose kind limits
// their concurrency key. A Fifo starting after an earlier incarnation does not know that one's
// hand-offs, and their attempts may still run (a handler that ignores its worker's stop): it
// takes each as a hand-off of its own, holding its key's slot, which the audit ends once the
// store no longer says running. At the scheduler's start none runs (Start recovered them).
func (f *fifo) adopt(ctx actor.Context) {
	f.adoptRead = true
	self, ep, cat := ctx.Self(), f.epoch, f.cat
	f.env.Go(func() {
		c, cancel := loadCtx()
		defer cancel()
		var jobs []*persistence.Job
		err := f.env.Store.Running(c, func(id string) error {
			j, err := f.env.Store.Get(c, id)
			switch {
			case errors.Is(err, persistence.ErrNotFound):
				return nil
			case err != nil:
				return err
			}
			if _, limited := f.keyOf(j); limited && j.Category == cat && j.State == persistence.StateRunning {
				jobs = append(jobs, j)
			}
			return nil
		})
		f.env.send(self, &runningRead{epoch: ep, jobs: jobs, err: err})
	})
}

// adopted takes the running jobs adopt read as hand-offs; a failed read is made again at the
// next poll (nothing is handed out meanwhile).
func (f *fifo) adopted(ctx actor.Context, msg *runningRead) {
	f.adoptRead = false
	if msg.err != nil {
		f.env.Log.Warn("fifo: read running jobs", slog.String("category", f.cat), slog.Any("err", msg.err))
		return
	}
	f.adopting = false
	now := f.env.Clock.Now()
	for _, j := range msg.jobs { // nothing was handed out yet: only those takeOver held are in flight
		if _, held := f.inflight[j.ID]; held {
			continue
		}
		k, _ := f.keyOf(j)
		f.nextToken++
		f.flights[f.nextToken] = flight{id: j.ID, key: k, at: now}
		f.inflight[j.ID] = f.nextToken
		f.keyRunning[k]++
	}
	f.pump(ctx)
}

// takeOver holds, as hand-offs of its own, those of an earlier incarnation whose attempt began
// and has not returned (its start write may not be stored yet, so adopt would not see it);
// the others are revoked, and their jobs read again from the store.
func (f *fifo) takeOver() {
	now := f.env.Clock.Now()
	for tok, h := range f.stats.handoffs.takeOver(f.epoch) {
		f.flights[tok] = flight{id: h.id, key: h.key, at: now}
		f.inflight[h.id] = tok
		if h.key != "" {
			f.keyRunning[h.key]++
		}
	}
}

// onPoll is the store-driven path: settle the low-water mark, rescan a page of the queue and
// check the hand-offs that have not ended for a while.
func (f *fifo) onPoll(ctx actor.Context) {
	f.armPoll(ctx)
	if f.lowMark != 0 && f.env.Inserts != nil && f.env.Inserts.Settled(f.lowMark) {
		if f.lowCand > f.stats.lowWater.Load() {
			f.stats.lowWater.Store(f.lowCand)
		}
		f.lowMark = 0
	}
	if f.loadFailed && !f.loading {
		f.loadFailed = false
		f.load(ctx)
	}
	if f.adopting && !f.adoptRead {
		f.adopt(ctx)
	}
	if !f.ready {
		return
	}
	if f.env.Claims != nil {
		f.claimIdle = false // the poll is the fallback of a lost wake-up
		f.claim(ctx)
		f.audit(ctx)
		return
	}
	f.scan(ctx)
	f.audit(ctx)
}

// scanIfIdle rescans at once when workers wait and the Fifo has nothing (at most four times a
// poll interval), so a job whose message was lost waits less than a poll.
func (f *fifo) scanIfIdle(ctx actor.Context) {
	if f.env.Claims != nil || f.demand == 0 || f.len() > 0 || f.paused || !f.ready || f.scanning || f.spilled || f.loading {
		return // a spill read is on its way, or will be: that is the fast path
	}
	if f.env.Clock.Now().Sub(f.lastScan) < f.env.pollInterval()/4 {
		return
	}
	f.scan(ctx)
}

// scan reads the next page of the queue in the store, from the low-water mark on.
func (f *fifo) scan(ctx actor.Context) {
	if f.scanning {
		return
	}
	f.scanning = true
	f.lastScan = f.env.Clock.Now()
	low := f.stats.lowWater.Load()
	from := max(f.scanPos, low)
	msg := &scanned{epoch: f.epoch, from: from, head: from == low}
	seen := f.maxSeq
	if msg.head && f.lowMark == 0 && f.env.Inserts != nil {
		msg.mark = f.env.Inserts.Mark()
	}
	self, cat := ctx.Self(), f.cat
	f.env.Go(func() {
		c, cancel := loadCtx()
		defer cancel()
		msg.jobs, msg.err = f.env.Store.Queued(c, cat, from, scanPage)
		if msg.head && len(msg.jobs) == 0 {
			// An empty queue: nothing at or below the highest number seen before the mark.
			msg.from = max(from, seen)
		}
		f.env.send(self, msg)
	})
}

func (f *fifo) scanned(ctx actor.Context, msg *scanned) {
	f.scanning = false
	if msg.err != nil {
		f.readDone()
		f.env.Log.Warn("fifo: rescan queued jobs", slog.String("category", f.cat), slog.Any("err", msg.err))
		return
	}
	if msg.mark != 0 {
		cand := msg.from
		if len(msg.jobs) > 0 {
			cand = msg.jobs[0].Seq - 1
		}
		if cand > f.stats.lowWater.Load() {
			f.lowCand, f.lowMark = cand, msg.mark
		}
	}
	if len(msg.jobs) == scanPage {
		f.scanPos = msg.jobs[len(msg.jobs)-1].Seq
	} else {
		f.scanPos = 0 // the end of the queue: the next page starts at the low-water mark
	}
	var found []*persistence.Job
	for _, j := range msg.jobs {
		f.maxSeq = max(f.maxSeq, j.Seq)
		if f.spilled && j.Seq > f.cursor {
			// Past the spill cursor: the spill reads bring these in order. The next page
			// starts at the low-water mark again.
			f.scanPos = 0
			break
		}
		if !f.known(j.ID) && !f.endedMeanwhile(j.ID) {
			found = append(found, j)
		}
	}
	f.readDone()
	// The found jobs are older than those in memory: they go in front, oldest first.
	for i := len(found) - 1; i >= 0; i-- {
		if f.len() >= f.env.FifoMemory {
			f.leaveInStore(found[i])
			continue
		}
		f.pushFront(found[i])
	}
	if len(found) > 0 {
		f.stats.Rescued.Add(int64(len(found)))
		f.env.Log.Debug("fifo: rescan found queued jobs no message brought", slog.String("category", f.cat), slog.Int("jobs", len(found)))
	}
	f.pump(ctx)
}

// endedMeanwhile reports whether a job's hand-off ended while a read ran: a job the read saw
// queued may have run since.
func (f *fifo) endedMeanwhile(id string) bool {
	_, ok := f.endedWhileReading[id]
	return ok
}

// readDone forgets the jobs ended during reads once no read runs.
func (f *fifo) readDone() {
	if !f.scanning && !f.loading {
		f.endedWhileReading = nil
	}
}

// audit reads the stored state of the hand-offs that have not ended for 5 poll intervals.
func (f *fifo) audit(ctx actor.Context) {
	if f.auditing || len(f.flights) == 0 {
		return
	}
	now := f.env.Clock.Now()
	age := 5 * f.env.pollInterval()
	msg := &audited{epoch: f.epoch}
	var ids []string
	for tok, fl := range f.flights {
		if now.Sub(fl.at) >= age {
			if f.env.Claims != nil && f.env.Claims.GiveBack(fl.id) {
				f.end(tok) // claimed, and no attempt took it (its worker stopped): given back
				continue
			}
			msg.tokens = append(msg.tokens, tok)
			ids = append(ids, fl.id)
			if len(ids) == auditMax {
				break
			}
		}
	}
	if len(ids) == 0 {
		return
	}
	f.auditing = true
	self := ctx.Self()
	f.env.Go(func() {
		c, cancel := loadCtx()
		defer cancel()
		msg.jobs, msg.errs = make([]*persistence.Job, len(ids)), make([]error, len(ids))
		for i, id := range ids {
			msg.jobs[i], msg.errs[i] = f.env.Store.Get(c, id)
		}
		f.env.send(self, msg)
	})
}

func (f *fifo) audited(ctx actor.Context, msg *audited) {
	f.auditing = false
	now := f.env.Clock.Now()
	for i, tok := range msg.tokens {
		fl, ok := f.flights[tok]
		j, err := msg.jobs[i], msg.errs[i]
		switch {
		case !ok:
		case err != nil && !errors.Is(err, persistence.ErrNotFound):
			// Ask again at the next poll.
		case err == nil && j.State == persistence.StateRunning:
			fl.at = now // its attempt runs: its end will come
			f.flights[tok] = fl
		case err == nil && j.State == persistence.StateQueued && !f.stats.handoffs.revoke(tok):
			// An attempt took the hand-off and has not returned: its start write is on its
			// way (or it gives the job back); its end will come.
			fl.at = now
			f.flights[tok] = fl
		case err == nil && j.State == persistence.StateQueued:
			// The hand-off was lost (a stopped worker, a dropped message) and is revoked, so no
			// attempt will take it: take the job back.
			f.end(tok)
			if f.env.Claims == nil && !f.known(j.ID) { // a claimed one was given back: claim again
				f.pushFront(j)
				f.stats.Rescued.Add(1)
			}
		default:
			f.end(tok) // finished, waiting again, or gone: its end message was lost
		}
	}
	f.pump(ctx)
}
