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
// since. A refresh holds writing exclusively while it reads, so no write of ours is in flight
// then: each of our writes is either in the read or applied after it, never both or neither.
type counts struct {
	writing sync.RWMutex // held shared by every write of ours, from its BEGIN to its delta
	mu      sync.Mutex   // guards by
	by      map[string]persistence.StateCounts
	opened  time.Time
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
	for _, x := range d {
		cc := c.by[x.category]
		if cc == nil {
			cc = persistence.StateCounts{}
			c.by[x.category] = cc
		}
		if x.from != "" && !x.from.Finished() {
			cc[x.from]--
		}
		cc[x.to]++
	}
}

// refreshCounts reads the counts again from the database.
func (s *Store) refreshCounts(ctx context.Context) error {
	s.counts.writing.Lock()
	defer s.counts.writing.Unlock()
	rows, err := s.pool.Query(ctx, `
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
