package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jobsched/jobsched/persistence"
)

// RetryWithDependents applies fn (the scheduler's retry) to the job id and moves back to pending
// the jobs its failure cancelled, recursively (jobsched_revive, migration 0006), in one
// transaction: all of it is stored or none, so no crash can leave a revived job waiting for a
// parent that stayed dead. A revived job's other dead or cancelled parents are settled in the
// same transaction (their failure cancels it again, or counts as done under "run"). fn's error
// is returned with the job as stored, as Update does.
func (s *Store) RetryWithDependents(ctx context.Context, id string, fn persistence.Mutator) (*persistence.Job, error) {
	var out *persistence.Job
	var fnErr error
	err := s.write(ctx, false, func(tx pgx.Tx, st *txState) error {
		var seq *int64
		var rec []byte
		err := tx.QueryRow(ctx, "SELECT seq, "+recSQL+" FROM jobsched_jobs WHERE id = $1 FOR UPDATE", id).Scan(&seq, &rec)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("%w: %s", persistence.ErrNotFound, id)
		}
		if err != nil {
			return fmt.Errorf("read job %s: %w", id, err)
		}
		old, err := decode(seq, rec)
		if err != nil {
			return err
		}
		j := old.Clone()
		if fnErr = fn(j); fnErr != nil {
			out = old
			return fnErr
		}
		if j.ID != old.ID {
			return fmt.Errorf("mutator changed the id of job %s", old.ID)
		}
		rows, err := tx.Query(ctx, "SELECT o_child, o_category, o_failed FROM jobsched_revive($1)", id)
		if err != nil {
			return fmt.Errorf("revive the dependents of %s: %w", id, err)
		}
		var child, cat, failed *string
		var others []string
		_, err = pgx.ForEachRow(rows, []any{&child, &cat, &failed}, func() error {
			if child != nil && cat != nil {
				st.deltas.add(*cat, persistence.StateCancelled, persistence.StatePending)
			}
			if failed != nil {
				others = append(others, *failed)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("revive the dependents of %s: %w", id, err)
		}
		if err := s.writeBack(ctx, tx, old, j); err != nil {
			if pe := (*pgconn.PgError)(nil); errors.As(err, &pe) && pe.Code == "23505" && pe.ConstraintName == "jobsched_jobs_unique" {
				return fmt.Errorf("job %s: unique key %q: %w", id, j.UniqueKey, persistence.ErrUniqueHeld)
			}
			return err
		}
		if old.State != j.State {
			st.deltas.add(j.Category, old.State, j.State)
		}
		for _, f := range others {
			if err := settleTx(ctx, tx, f, &st.deltas); err != nil {
				return err
			}
		}
		out = j
		return nil
	})
	if fnErr != nil {
		return out, fnErr
	}
	if err != nil {
		return nil, fmt.Errorf("retry %s with its dependents: %w", id, err)
	}
	s.writes.Add(1)
	return out.Clone(), nil
}
