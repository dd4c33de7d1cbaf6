package jobsched

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"sync"
	"time"

	"github.com/jobsched/jobsched/actors"
	"github.com/jobsched/jobsched/persistence"
)

// claimTable implements actors.Claims on a store shared by several nodes (persistence.Claimer):
// it claims jobs for the Fifos, their start stored by the claim (startAttempt, one start stamp
// each), and holds every claimed job until a worker takes it (take, in runner.Run) or it is
// given back to its queue. Take and give-back remove the entry under one lock, so a job is
// either run or given back, never both: a Run that arrives after its job was given back does
// nothing.
type claimTable struct {
	s     *Scheduler
	store persistence.Claimer
	keys  map[string]int // key_concurrency per kind, held across the cluster by the claims
	mu    sync.Mutex
	m     map[string]claimEntry
	// doubt holds the starts of claims whose outcome is unknown (the claim returned an error:
	// its commit may have landed all the same), by job id: each is given back at the next claim
	// if the store holds it, so none is left running under this node's lease with no Fifo
	// knowing it.
	doubt map[string]time.Time
	// gens counts the GiveBackAll of each category: a claim that returns after one (its
	// category stopped, or its Fifo restarted, while the claim ran) gives its jobs back at once
	// instead of holding them for a Fifo that may be gone.
	gens map[string]uint64
}

// claimEntry is a claimed job no worker took yet.
type claimEntry struct {
	cat       string
	startedAt time.Time
	cancels   uint64 // Scheduler.cancels before the claim (see runner.Run)
}

var _ actors.Claims = (*claimTable)(nil)

func newClaimTable(s *Scheduler, c persistence.Claimer, keyLimits map[string]int) *claimTable {
	return &claimTable{s: s, store: c, keys: keyLimits, m: map[string]claimEntry{}, doubt: map[string]time.Time{}, gens: map[string]uint64{}}
}

// Claim implements actors.Claims.
func (t *claimTable) Claim(ctx context.Context, cat string, n int) ([]*persistence.Job, error) {
	t.settleDoubts(ctx)
	cancels := t.s.cancels.Load()
	type start struct {
		id string
		at time.Time
	}
	var tried []start // the starts this claim may have stored
	t.mu.Lock()
	gen := t.gens[cat]
	t.mu.Unlock()
	opt := persistence.ClaimOptions{KeyLimits: t.keys}
	if c, ok := t.s.category(cat); ok {
		opt.RateLimit, opt.RateBurst = c.RateLimit, c.RateBurst
	}
	opt.Stamp = func(id string) time.Time { // the start of a store that starts the jobs itself (in SQL)
		stamp := t.s.startStamp()
		tried = append(tried, start{id, stamp})
		return stamp
	}
	jobs, err := t.store.Claim(ctx, cat, n, opt, func(j *Job) error {
		stamp := t.s.startStamp()
		tried = append(tried, start{j.ID, stamp})
		return startAttempt(stamp)(j)
	})
	if err != nil {
		if !errors.Is(err, persistence.ErrSkip) && !errors.Is(err, persistence.ErrClosed) { // fenced, or closed: nothing stored
			t.mu.Lock()
			for _, st := range tried {
				t.doubt[st.id] = st.at
			}
			t.mu.Unlock()
		}
		return nil, err
	}
	t.mu.Lock()
	if t.gens[cat] != gen {
		t.mu.Unlock()
		// The category's claims were given back while this one ran: its Fifo stopped (a
		// deletion, a restart). Nobody waits for these jobs; they go back to their queue.
		for _, j := range jobs {
			t.s.abandonStart(j.ID, *j.StartedAt)
		}
		return nil, nil
	}
	for _, j := range jobs {
		t.m[j.ID] = claimEntry{cat: cat, startedAt: *j.StartedAt, cancels: cancels}
	}
	t.mu.Unlock()
	return jobs, nil
}

// settleDoubts gives back the starts of failed claims that the store holds after all (the
// give-back skips a job that is not running under that very start); those it cannot settle now
// are tried again at the next claim.
func (t *claimTable) settleDoubts(ctx context.Context) {
	t.mu.Lock()
	doubt := maps.Clone(t.doubt)
	t.mu.Unlock()
	for id, stamp := range doubt {
		_, err := t.s.store.Update(ctx, id, giveBackStart(stamp, t.s.cfg.clock.Now()), true)
		if err != nil && !persistence.Permanent(err) {
			continue // the store fails still: next time
		}
		t.mu.Lock()
		delete(t.doubt, id)
		t.mu.Unlock()
		if err == nil {
			t.s.log.Warn("gave back a job a failed claim had started after all", slog.String("job", id))
		}
	}
}

// take removes a claimed job for the worker that runs it; false: it was given back.
func (t *claimTable) take(id string) (claimEntry, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.m[id]
	delete(t.m, id)
	return e, ok
}

// GiveBack implements actors.Claims: the start is undone through the retrier (abandonStart),
// so the job is back in its queue, its attempt not counted, unless a cancel was asked (it
// ends cancelled).
func (t *claimTable) GiveBack(id string) bool {
	e, ok := t.take(id)
	if ok {
		t.s.abandonStart(id, e.startedAt)
	}
	return ok
}

// GiveBackAll implements actors.Claims.
func (t *claimTable) GiveBackAll(cat string) {
	t.mu.Lock()
	t.gens[cat]++ // a claim still in flight gives its jobs back when it returns
	var ids []string
	for id, e := range t.m {
		if e.cat == cat {
			ids = append(ids, id)
		}
	}
	t.mu.Unlock()
	for _, id := range ids {
		t.GiveBack(id)
	}
}

// giveBackLeft gives back, and waits for, every claimed job still held once the tree stopped
// (Close): a claim that came back to a stopped Fifo. Were they left, the jobs would stay
// running until the lease ran out, and the rescue would count an attempt never made.
func (t *claimTable) giveBackLeft(ctx context.Context) {
	t.settleDoubts(ctx) // the starts of failed claims that landed all the same (REVIEW)
	t.mu.Lock()
	left := t.m
	t.m = map[string]claimEntry{}
	t.mu.Unlock()
	now := t.s.cfg.clock.Now()
	for id, e := range left {
		if _, err := t.s.store.Update(ctx, id, giveBackStart(e.startedAt, now), true); err != nil && !persistence.Permanent(err) {
			t.s.log.Warn("close: give back a claimed job; its lease's end returns it", slog.String("job", id), slog.Any("err", err))
		}
	}
}
