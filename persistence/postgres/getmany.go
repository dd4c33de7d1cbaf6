package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jobsched/jobsched/persistence"
)

// MaxGetMany bounds the ids one GetMany reads.
const MaxGetMany = 1000

// GetMany reads the jobs of ids in one query (at most MaxGetMany ids), in no particular order;
// an id with no job is left out. The jobs carry no dependents (Get adds them): it serves the
// event stream, which shows a job's state, not its graph.
func (s *Store) GetMany(ctx context.Context, ids []string) ([]*persistence.Job, error) {
	if s.closed.Load() {
		return nil, persistence.ErrClosed
	}
	if len(ids) == 0 {
		return nil, nil
	}
	if len(ids) > MaxGetMany {
		return nil, fmt.Errorf("get many: ids: %d, over the limit of %d", len(ids), MaxGetMany)
	}
	rows, err := s.pool.Query(ctx, "SELECT seq, "+recSQL+" FROM jobsched_jobs WHERE id = ANY($1)", ids)
	if err != nil {
		return nil, fmt.Errorf("get many: %w", err)
	}
	out, err := pgx.CollectRows(rows, scanJob)
	if err != nil {
		return nil, fmt.Errorf("get many: %w", err)
	}
	return out, nil
}
