package postgres

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jobsched/jobsched/persistence"
)

// counts are the per-category state counts: read from the database, plus this node's writes
// since. A refresh holds writing exclusively only while it takes its snapshot (the first
// statement of a repeatable-read transaction), so no write of ours is in flight then: each of
// our writes is either in the snapshot or applied after it, never both or neither. The writes
// applied while the refresh counts in that snapshot are kept in pending and applied again to
// what it read; the writes do not wait for the count itself (~10-50 ms, every CountsEvery).
type counts struct {
	writing sync.RWMutex // held shared by every write of ours, from its BEGIN to its delta
	mu      sync.Mutex   // guards by and pending
	by      map[string]persistence.StateCounts
	pending deltas // while a refresh counts: the writes applied since its snapshot (nil: none counting)
	opened  time.Time
	// counting, when set (by tests), is called by a refresh between its snapshot and its count.
	counting func()
}

func (c *counts) init() { c.by = map[string]persistence.StateCounts{} }

// delta is one job's change of state (from "" for a new job).
type delta struct {
	category string
	from, to persistence.State
}

// deltas are the state changes of one transaction.
type deltas []delta

func (d *deltas) add(cat string, from, to persistence.State) { *d = append(*d, delta{cat, from, to}) }

// apply adds a committed transaction's changes.
func (c *counts) apply(d deltas) {
	if len(d) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pending != nil {
		c.pending = append(c.pending, d...)
	}
	applyTo(c.by, d)
}

// applyTo adds the changes d to by.
func applyTo(by map[string]persistence.StateCounts, d deltas) {
	for _, x := range d {
		cc := by[x.category]
		if cc == nil {
			cc = persistence.StateCounts{}
			by[x.category] = cc
		}
		if x.from != "" && !x.from.Finished() {
			cc[x.from]--
		}
		cc[x.to]++
	}
}

// refreshCounts reads the counts again from the database.
func (s *Store) refreshCounts(ctx context.Context) error {
	// The connection is taken under the lock, not before it: every write takes its share of
	// the lock before its connection, so a refresh holding a connection while it waits for the
	// writes in flight could wait forever for one that waits for a connection (a small pool).
	// BEGIN and the snapshot's first statement go in one round trip.
	s.counts.writing.Lock()
	conn, err := s.pool.Acquire(ctx)
	if err == nil {
		_, err = conn.Exec(ctx, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SELECT 1")
		if err != nil {
			conn.Release() // out of its transaction or broken: the pool discards it
			conn = nil
		}
	}
	if err == nil {
		s.counts.mu.Lock()
		s.counts.pending = deltas{}
		s.counts.mu.Unlock()
	}
	s.counts.writing.Unlock()
	if err != nil {
		return fmt.Errorf("counts: %w", err)
	}
	defer func() {
		_, _ = conn.Exec(context.Background(), "ROLLBACK") // read only: its end changes nothing
		conn.Release()                                     // one left in its transaction is discarded
	}()
	defer func() {
		s.counts.mu.Lock()
		s.counts.pending = nil
		s.counts.mu.Unlock()
	}()
	if s.counts.counting != nil {
		s.counts.counting()
	}
	rows, err := conn.Query(ctx, `
		SELECT category, state, count(*) FROM jobsched_jobs
			WHERE state IN `+unstartedSQL+` GROUP BY category, state
		UNION ALL
		SELECT category, state, count(*) FROM jobsched_jobs WHERE state = 'running' GROUP BY category, state
		UNION ALL
		SELECT category, state, count(*) FROM jobsched_jobs
			WHERE finished_at >= $1 AND state IN `+finishedSQL+` GROUP BY category, state`, s.counts.opened)
	if err != nil {
		return fmt.Errorf("counts: %w", err)
	}
	by := map[string]persistence.StateCounts{}
	var cat, st string
	var n int
	_, err = pgx.ForEachRow(rows, []any{&cat, &st, &n}, func() error {
		cc := by[cat]
		if cc == nil {
			cc = persistence.StateCounts{}
			by[cat] = cc
		}
		cc[persistence.State(st)] += n
		return nil
	})
	if err != nil {
		return fmt.Errorf("counts: %w", err)
	}
	s.counts.mu.Lock()
	applyTo(by, s.counts.pending)
	s.counts.by = by
	s.counts.mu.Unlock()
	return nil
}

// countsLoop refreshes the counts every CountsEvery until Close.
func (s *Store) countsLoop() {
	t := time.NewTicker(s.opt.CountsEvery)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			if err := s.refreshCounts(s.ctx); err != nil && s.ctx.Err() == nil {
				s.opt.Logger.Warn("jobsched postgres: refresh counts", "err", err)
			}
		}
	}
}
