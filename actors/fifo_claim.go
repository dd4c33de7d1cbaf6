package actors

import (
	"errors"
	"log/slog"
	"math"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/jobsched/jobsched/persistence"
	"github.com/jobsched/jobsched/supervision"
)

// A claiming Fifo (Env.Claims set: a store shared by several nodes) does not read its queue: it
// claims from the store as many jobs as it has free workers for (persistence.Claimer: FOR
// UPDATE SKIP LOCKED, in FIFO order, the start stored in the same write), so two nodes never
// try the same job and no read goes over the head of the queue again. Its memory holds only
// jobs it claimed and has not handed out yet (a give a worker refused, a job parked for its key),
// all stored as running under this node's lease: each is handed to a worker or given back to
// its queue (a pause, an earlier incarnation's claims, a hand-off lost for 5 polls). Wake-ups
// (a local insert, another node's NOTIFY, a promoted retry) and the poll start a claim; more
// demand does too unless the last claim found the queue empty (paced: see claimShare).

// claimMax caps the jobs one claim takes.
const claimMax = 1000

// Claim cadence: while fewer than 1/claimShare of the workers in use or free are free, a claim
// waits until claimCooldown after the last claim began or ended (on the wall clock: a pacing of the
// round trips, not a time of the schedule). The busy workers come back meanwhile and the claim
// takes jobs for all of them, as River's producer fetches at most once per its fetch cooldown.
// A worker waits at most claimCooldown longer for its job; with no worker busy, nothing waits.
const (
	claimShare    = 4
	claimCooldown = time.Millisecond
	claimParallel = 2
)

// claimStarted starts a claiming Fifo: the claims of an earlier incarnation that no worker took
// are given back, and the Fifo is ready at once (it holds nothing to read first).
func (f *fifo) claimStarted(ctx actor.Context) {
	f.stats.Parked.Store(0)
	f.env.Claims.GiveBackAll(f.cat)
	f.takeOver()
	f.adopting = true
	f.adopt(ctx)
	f.ready = true
	supervision.Ready(ctx)
	f.armPoll(ctx)
}

// wake claims again: jobs may be ready in the store.
func (f *fifo) wake(ctx actor.Context) { f.wakeStored(ctx, time.Time{}) }

// wakeStored claims again for jobs stored before at (zero: unknown). A claim on its way that
// began after at finds them: nothing more is needed for them (a claim again would find the
// queue empty).
func (f *fifo) wakeStored(ctx actor.Context, at time.Time) {
	f.claimIdle = false
	if f.demand <= f.len()+f.parkedN && !f.paused {
		// Work and no free worker: the balancer may give the category more (it counts the
		// store's backlog; it answers at most every 50 ms).
		f.env.send(f.env.BalancerPID(), &Backlogged{Category: f.cat})
	}
	if f.claiming > 0 && !at.IsZero() && f.claimBegan.After(at) {
		f.claimIdle, f.covered = false, true
		return
	}
	if f.claiming > 0 {
		// A claim is on its way, and may have read the queue before this job was stored: a
		// second one claims for the free workers the first did not ask for; without such
		// workers, the Fifo claims again once the first is back.
		before := f.claiming
		f.claim(ctx)
		if f.claiming == before {
			f.claimAgain = true
		}
		return
	}
	f.pump(ctx)
}

// claim asks the store, on a goroutine, for as many jobs as workers wait for beyond those in
// memory (and the parked ones) and those the claims in flight asked for, within what the rate
// limit allows now. Up to claimParallel claims are in flight at once (one with a rate limit):
// the workers a claim's round trips would leave idle are claimed for meanwhile (SKIP LOCKED
// keeps the claims apart).
func (f *fifo) claim(ctx actor.Context) {
	if f.claiming >= claimParallel || (f.claiming > 0 && f.limiter != nil) ||
		f.claimIdle || f.adopting || f.paused || !f.ready || !f.wakeAt.IsZero() {
		return // a tick is due when the rate limit has a token again
	}
	n := min(f.demand-f.len()-f.parkedN-f.asking, claimMax)
	if n <= 0 {
		return
	}
	if f.cooling {
		return // coolDone claims
	}
	if busy := len(f.flights) + f.asking; busy > 0 && n*claimShare < n+busy {
		// Few workers free and many busy: they come back soon, so claim them all at once
		// after a short cooldown instead of a claim of 1-2 jobs that holds the next one back.
		if wait := claimCooldown - time.Since(f.claimAt); wait > 0 {
			f.cooling = true
			self, ep := ctx.Self(), f.epoch
			time.AfterFunc(wait, func() { f.env.send(self, &coolDone{epoch: ep}) })
			return
		}
	}
	if f.limiter != nil {
		now := f.env.Clock.Now()
		tokens := int(math.Floor(f.limiter.TokensAt(now)))
		if tokens < 1 {
			f.allowStart(ctx) // no token now: it arranges a pump for when one is due
			return
		}
		n = min(n, tokens)
	}
	f.claiming++
	f.asking += n
	f.claimAt = time.Now()
	f.claimBegan = f.claimAt
	self, cat, ep := ctx.Self(), f.cat, f.epoch
	f.env.Go(func() {
		c, cancel := loadCtx()
		defer cancel()
		jobs, err := f.env.Claims.Claim(c, cat, n)
		f.env.send(self, &claimed{epoch: ep, jobs: jobs, err: err, asked: n, full: len(jobs) == n})
	})
}

// claimed takes a claim's jobs into memory and hands them out. An earlier incarnation's claim
// is given back whole.
func (f *fifo) claimed(ctx actor.Context, msg *claimed) {
	if msg.epoch != f.epoch {
		for _, j := range msg.jobs {
			f.env.Claims.GiveBack(j.ID)
		}
		return
	}
	f.claiming--
	f.asking -= msg.asked
	f.claimAt = time.Now()
	var wait *persistence.RateWait
	switch {
	case errors.As(msg.err, &wait):
		// The cluster's rate limit is spent: claim again when a token is due.
		f.claimIdle = false
		f.pumpIn(ctx, wait.Wait)
	case msg.err != nil:
		f.env.Log.Warn("fifo: claim jobs", slog.String("category", f.cat), slog.Any("err", msg.err))
		f.claimIdle = true // the next poll tries again
	case !msg.full:
		f.claimIdle = true
	}
	if msg.err != nil && f.covered {
		f.claimAgain = true // it may have been the claim counted on to find a stored job
	}
	if f.claiming == 0 {
		f.covered = false
	}
	if f.claimAgain {
		f.claimAgain, f.claimIdle = false, false
	}
	if wait != nil {
		return // nothing claimed; the tick pumps
	}
	for _, j := range msg.jobs {
		f.maxSeq = max(f.maxSeq, j.Seq)
		if !f.known(j.ID) {
			f.push(j)
		}
	}
	if f.paused {
		f.giveBackQueue() // paused while the claim ran
		return
	}
	f.pump(ctx)
	if msg.full {
		f.backlogged()
	}
}

// backlogged tells the balancer that the category has work and no free worker, when a claim
// took every job it asked for (the queue may hold more) and used up the demand: a claiming Fifo
// holds no backlog in memory, so without this the category would grow only at a wake-up or the
// balancer's tick (a resumed queue, a burst claimed by a category that holds its minimum).
func (f *fifo) backlogged() {
	if f.demand <= f.len()+f.parkedN && !f.paused {
		f.env.send(f.env.BalancerPID(), &Backlogged{Category: f.cat})
	}
}

// pumpIn arranges a pump (a tick) in d, unless one is due already; claim holds back until it.
func (f *fifo) pumpIn(ctx actor.Context, d time.Duration) {
	if !f.wakeAt.IsZero() {
		return
	}
	f.wakeAt = f.env.Clock.Now().Add(d)
	self := ctx.Self()
	f.env.Clock.AfterFunc(d, func() { f.env.send(self, &tick{}) })
}

// giveBackQueue gives back the claimed jobs held in memory (a pause): they wait in the store.
func (f *fifo) giveBackQueue() {
	if f.env.Claims == nil {
		return
	}
	for f.len() > 0 {
		j := f.q.pop()
		delete(f.ids, j.ID)
		f.env.Claims.GiveBack(j.ID)
	}
	for k, p := range f.parked {
		for _, j := range p {
			delete(f.ids, j.ID)
			f.env.Claims.GiveBack(j.ID)
		}
		delete(f.parked, k)
	}
	f.parkedN = 0
	f.stats.Parked.Store(0)
	f.stats.InMemory.Store(0)
}

// forget drops a job the Fifo will not keep in memory: it stays queued in the store, or, when
// it was claimed, it is given back to its queue.
func (f *fifo) forget(j *persistence.Job) {
	if f.env.Claims != nil {
		f.env.Claims.GiveBack(j.ID)
	}
}
