package postgres

import (
	"context"
	"fmt"

	"github.com/jobsched/jobsched/persistence"
)

// Delete implements persistence.Store: one statement removes the job if it has finished, so a
// job cannot be retried and deleted at once (the retry's row lock orders the two). An unfinished
// job is refused with persistence.ErrNotFinished, an unknown id with persistence.ErrNotFound.
// Counts are left alone, as on badger.
func (s *Store) Delete(ctx context.Context, id string) error {
	if s.closed.Load() {
		return persistence.ErrClosed
	}
	var deleted bool
	var state *string // the row's state when it was not deleted; nil when there is none
	// The CTE deletes a finished row; the outer read says what the row was when it was not.
	err := s.pool.QueryRow(ctx, `WITH del AS (
		DELETE FROM jobsched_jobs WHERE id = $1 AND state IN ('succeeded', 'dead', 'cancelled') RETURNING id)
		SELECT EXISTS (SELECT 1 FROM del), (SELECT state FROM jobsched_jobs WHERE id = $1)`, id).Scan(&deleted, &state)
	if err != nil {
		return fmt.Errorf("delete %s: %w", id, err)
	}
	switch {
	case deleted:
		s.commits.Add(1)
		s.syncs.Add(1)
		s.writes.Add(1)
	case state == nil:
		return fmt.Errorf("delete %s: %w", id, persistence.ErrNotFound)
	default:
		return fmt.Errorf("delete %s: %w (state %s)", id, persistence.ErrNotFinished, *state)
	}
	return nil
}
