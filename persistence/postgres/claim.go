package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jobsched/jobsched/persistence"
)

// Claim takes up to limit queued jobs of a category, in FIFO order, and starts them in one
// transaction: start is applied to each (it must take the job to running, and may refuse one
// with an error, which leaves it queued). Rows other nodes are claiming at the same moment are
// skipped, not waited for (FOR UPDATE SKIP LOCKED), so nodes never block each other and no job
// is claimed twice. The claimed jobs are held by this node's lease; when the lease no longer
// holds, nothing is claimed (ErrFenced).
func (s *Store) Claim(ctx context.Context, category string, limit int, start persistence.Mutator) ([]*persistence.Job, error) {
	var out []*persistence.Job
	err := s.write(ctx, false, func(tx pgx.Tx, st *txState) error {
		out = out[:0]
		if err := relax(ctx, tx, st); err != nil { // a lost start is harmless: the job is queued again
			return err
		}
		ok, err := s.leaseHolds(ctx, tx)
		if err != nil {
			return err
		}
		if !ok {
			return ErrFenced
		}
		rows, err := tx.Query(ctx, `SELECT seq, record FROM jobsched_jobs WHERE category = $1 AND state = 'queued'
			ORDER BY seq LIMIT $2 FOR UPDATE SKIP LOCKED`, category, limit)
		if err != nil {
			return err
		}
		jobs, err := pgx.CollectRows(rows, scanJob)
		if err != nil {
			return err
		}
		for _, old := range jobs {
			j := old.Clone()
			if err := start(j); err != nil {
				continue
			}
			if j.ID != old.ID || j.State != persistence.StateRunning {
				return fmt.Errorf("claim: the start mutator must take job %s to running, not %s", old.ID, j.State)
			}
			if err := s.writeBack(ctx, tx, old, j); err != nil {
				return err
			}
			st.deltas.add(j.Category, old.State, j.State)
			out = append(out, j.Clone())
		}
		return nil
	})
	if err != nil {
		if errors.Is(err, ErrFenced) {
			s.fenced.Add(1)
		}
		return nil, fmt.Errorf("claim: %w", err)
	}
	s.writes.Add(uint64(len(out)))
	s.claimed.Add(uint64(len(out)))
	for _, j := range out {
		s.track(j)
	}
	return out, nil
}
