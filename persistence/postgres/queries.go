package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jobsched/jobsched/persistence"
)

// Queued implements persistence.Store.
func (s *Store) Queued(ctx context.Context, category string, afterSeq uint64, limit int) ([]*persistence.Job, error) {
	if s.closed.Load() {
		return nil, persistence.ErrClosed
	}
	rows, err := s.pool.Query(ctx, `SELECT seq, `+recSQL+` FROM jobsched_jobs
		WHERE category = $1 AND state = 'queued' AND seq > $2 ORDER BY seq LIMIT $3`, category, int64(afterSeq), limit)
	if err != nil {
		return nil, fmt.Errorf("queued: %w", err)
	}
	out, err := pgx.CollectRows(rows, scanJob)
	if err != nil {
		return nil, fmt.Errorf("queued: %w", err)
	}
	return out, nil
}

// waitingPage is how many waiting jobs Waiting reads per query.
const waitingPage = 10_000

// Waiting implements persistence.Store. It reads pages in (run_at, id) order and calls fn with
// no connection held, so fn may use the store.
func (s *Store) Waiting(ctx context.Context, fn func(id string, runAt time.Time) error) error {
	if s.closed.Load() {
		return persistence.ErrClosed
	}
	type entry struct {
		id string
		at time.Time
	}
	var after *entry
	for {
		var rows pgx.Rows
		var err error
		if after == nil {
			rows, err = s.pool.Query(ctx, `SELECT id, run_at FROM jobsched_jobs
				WHERE state IN ('scheduled', 'retrying') ORDER BY run_at, id LIMIT $1`, waitingPage)
		} else {
			rows, err = s.pool.Query(ctx, `SELECT id, run_at FROM jobsched_jobs
				WHERE state IN ('scheduled', 'retrying') AND (run_at, id) > ($1, $2) ORDER BY run_at, id LIMIT $3`,
				after.at, after.id, waitingPage)
		}
		if err != nil {
			return fmt.Errorf("waiting: %w", err)
		}
		page, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (entry, error) {
			var e entry
			err := r.Scan(&e.id, &e.at)
			e.at = e.at.UTC()
			return e, err
		})
		if err != nil {
			return fmt.Errorf("waiting: %w", err)
		}
		for _, e := range page {
			if err := fn(e.id, e.at); err != nil {
				return err
			}
		}
		if len(page) < waitingPage {
			return nil
		}
		after = &page[len(page)-1]
	}
}

// Running implements persistence.Store for this node: the jobs it holds as running, under its
// current lease. The jobs other nodes run are theirs; those of a dead node, or of this node's
// previous incarnation, are rescued by the maintenance (within MaintainEvery).
func (s *Store) Running(ctx context.Context, fn func(id string) error) error {
	if s.closed.Load() {
		return persistence.ErrClosed
	}
	rows, err := s.pool.Query(ctx, `SELECT id FROM jobsched_jobs WHERE state = 'running' AND node = $1 AND node_epoch = $2
		ORDER BY id`, s.node, s.epoch.Load())
	if err != nil {
		return fmt.Errorf("running: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("running: %w", err)
	}
	for _, id := range ids {
		if err := fn(id); err != nil {
			return err
		}
	}
	return nil
}

// Backlog implements persistence.Store from the counts (see Counts).
func (s *Store) Backlog(category string) int {
	s.counts.mu.Lock()
	defer s.counts.mu.Unlock()
	c := s.counts.by[category]
	return c[persistence.StateQueued] + c[persistence.StateScheduled] + c[persistence.StateRetrying]
}

// Counts implements persistence.Store. The counts are the whole cluster's, read from the
// database every CountsEvery; this node's own writes are added at once in between, so another
// node's writes show up within CountsEvery. Finished states count the jobs finished (by any
// node) since this store was opened and still kept.
func (s *Store) Counts() map[string]persistence.StateCounts {
	s.counts.mu.Lock()
	defer s.counts.mu.Unlock()
	out := make(map[string]persistence.StateCounts, len(s.counts.by))
	for cat, c := range s.counts.by {
		cc := make(persistence.StateCounts, len(c))
		for k, v := range c {
			cc[k] = v
		}
		out[cat] = cc
	}
	return out
}
