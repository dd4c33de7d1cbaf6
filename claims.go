package jobsched

import (
	"context"
	"log/slog"
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
}

// claimEntry is a claimed job no worker took yet.
type claimEntry struct {
	cat       string
	startedAt time.Time
	cancels   uint64 // Scheduler.cancels before the claim (see runner.Run)
}

var _ actors.Claims = (*claimTable)(nil)

func newClaimTable(s *Scheduler, c persistence.Claimer, keyLimits map[string]int) *claimTable {
	return &claimTable{s: s, store: c, keys: keyLimits, m: map[string]claimEntry{}}
}

// Claim implements actors.Claims.
func (t *claimTable) Claim(ctx context.Context, cat string, n int) ([]*persistence.Job, error) {
	cancels := t.s.cancels.Load()
	jobs, err := t.store.Claim(ctx, cat, n, t.keys, func(j *Job) error { return startAttempt(t.s.startStamp())(j) })
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	for _, j := range jobs {
		t.m[j.ID] = claimEntry{cat: cat, startedAt: *j.StartedAt, cancels: cancels}
	}
	t.mu.Unlock()
	return jobs, nil
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
