package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jobsched/jobsched/persistence"
)

// Dependencies (depends_on) in PostgreSQL: a row of jobsched_depends per parent and child
// (migration 0006). An insert decides each child at once from its parents, read under a share
// lock so that none of them finishes meanwhile: pending while one is unfinished, cancelled if one
// failed (unless on_parent_failure is "run"), as given if all succeeded. The write that finishes
// a job calls jobsched_settle in its own transaction, which releases or cancels the dependents:
// a crash at any moment releases no child early and strands none, as with badger.

// settleSQL applies the finishes of the jobs $1 to their dependents (jobsched_settle,
// migrations/0006_depends.sql), one call per job that has an open dependency row: the others
// have nothing to settle, and most jobs have no dependents, so one index probe for the whole
// batch replaces a call (and a read of the job's record) per finished job. Being volatile,
// each call sees the rows the calls before it wrote.
const settleSQL = `SELECT s.o_category, s.o_from, s.o_to
	FROM (SELECT DISTINCT d.parent FROM jobsched_depends d WHERE d.parent = ANY($1) AND d.open ORDER BY d.parent) p
	CROSS JOIN LATERAL jobsched_settle(p.parent) s`

// finishes reports whether a write from old to j finishes the job.
func finishes(old, j *persistence.Job) bool { return j.State.Finished() && !old.State.Finished() }

// queueSettle adds to a pipelined batch the settle of the jobs ids, which the writes before it
// in the batch finish; the dependents it changes go to d.
func queueSettle(b *pgx.Batch, ids []string, d *deltas) {
	b.Queue(settleSQL, ids).Query(func(rows pgx.Rows) error { return scanSettled(rows, d) })
}

// settleTx settles the dependents of id, finished by the transaction q.
func settleTx(ctx context.Context, q querier, id string, d *deltas) error {
	rows, err := q.Query(ctx, settleSQL, []string{id})
	if err != nil {
		return fmt.Errorf("settle the dependents of %s: %w", id, err)
	}
	return scanSettled(rows, d)
}

func scanSettled(rows pgx.Rows, d *deltas) error {
	var cat, from, to string
	_, err := pgx.ForEachRow(rows, []any{&cat, &from, &to}, func() error {
		d.add(cat, persistence.State(from), persistence.State(to))
		return nil
	})
	return err
}

// hasParents reports whether a job of the batch depends on others.
func hasParents(jobs []*persistence.Job) bool {
	for _, j := range jobs {
		if len(j.Parents) > 0 {
			return true
		}
	}
	return false
}

// dependRow is one row of jobsched_depends an insert writes. batchParent is the index in the
// batch of a parent inserted with the child (-1: a stored job).
type dependRow struct {
	parent, child string
	batchParent   int
	open          bool
}

// resolveParents decides the jobs that depend on others, reading their stored parents under a
// share lock: it returns the jobs as they must be inserted (copies where they change) and the
// dependency rows. An unknown parent is a *persistence.ParentError.
func resolveParents(ctx context.Context, q querier, jobs []*persistence.Job) ([]*persistence.Job, []dependRow, error) {
	inBatch := map[string]int{}
	var stored []string
	for i, j := range jobs {
		for _, p := range j.Parents {
			if _, ok := inBatch[p]; !ok {
				stored = append(stored, p)
			}
		}
		inBatch[j.ID] = i
	}
	parents := map[string]*persistence.Job{}
	if len(stored) > 0 {
		rows, err := q.Query(ctx, "SELECT seq, "+recSQL+" FROM jobsched_jobs WHERE id = ANY($1) ORDER BY id FOR SHARE", stored)
		if err != nil {
			return nil, nil, fmt.Errorf("read the parents: %w", err)
		}
		ps, err := pgx.CollectRows(rows, scanJob)
		if err != nil {
			return nil, nil, fmt.Errorf("read the parents: %w", err)
		}
		for _, p := range ps {
			parents[p.ID] = p
		}
	}
	out := make([]*persistence.Job, len(jobs))
	copy(out, jobs)
	var deps []dependRow
	for i, j := range jobs {
		if len(j.Parents) == 0 {
			continue
		}
		c := j.Clone()
		waiting := 0
		var failed *persistence.Job
		for k, pid := range c.Parents {
			p, bi := parents[pid], -1
			if f, ok := inBatch[pid]; ok && f < i {
				p, bi = out[f], f
			}
			if p == nil {
				return nil, nil, &persistence.ParentError{Job: i, Parent: k, ID: pid}
			}
			open := !p.State.Finished()
			deps = append(deps, dependRow{parent: pid, child: c.ID, batchParent: bi, open: open})
			switch {
			case open:
				waiting++
			case p.State != persistence.StateSucceeded && failed == nil && c.OnParentFailure != persistence.ParentFailureRun:
				failed = p
			}
		}
		switch {
		case failed != nil:
			persistence.CancelForParent(c, failed, c.CreatedAt)
		case waiting > 0:
			c.State, c.Seq = persistence.StatePending, 0
		}
		out[i] = c
	}
	return out, deps, nil
}

// insertDepends writes the dependency rows of the jobs the insert stored; a parent of the batch
// that was not stored (its unique key was held) is replaced by the holder, unfinished.
func insertDepends(ctx context.Context, q querier, deps []dependRow, stored map[string]bool, res []persistence.InsertResult) error {
	var parents, children []string
	var open []bool
	for _, d := range deps {
		if !stored[d.child] {
			continue
		}
		if d.batchParent >= 0 && !stored[d.parent] && res[d.batchParent].Job != nil {
			d.parent = res[d.batchParent].Job.ID
		}
		parents, children, open = append(parents, d.parent), append(children, d.child), append(open, d.open)
	}
	if len(parents) == 0 {
		return nil
	}
	_, err := q.Exec(ctx, `INSERT INTO jobsched_depends (parent, child, open)
		SELECT * FROM unnest($1::text[], $2::text[], $3::bool[]) ON CONFLICT DO NOTHING`, parents, children, open)
	if err != nil {
		return fmt.Errorf("write the dependencies: %w", err)
	}
	return nil
}

// getSQL reads a job with the ids of its dependents (the API's children).
const getSQL = `SELECT seq, ` + recSQL + `, ARRAY(SELECT child FROM jobsched_depends WHERE parent = $1 ORDER BY child)
	FROM jobsched_jobs WHERE id = $1`

// getWithChildren is Get's read.
func (s *Store) getWithChildren(ctx context.Context, id string) (*persistence.Job, error) {
	var seq *int64
	var rec []byte
	var children []string
	err := s.pool.QueryRow(ctx, getSQL, id).Scan(&seq, &rec, &children)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("%w: %s", persistence.ErrNotFound, id)
	}
	if err != nil {
		return nil, fmt.Errorf("read job %s: %w", id, err)
	}
	j, err := decode(seq, rec)
	if err != nil {
		return nil, err
	}
	if len(children) > 0 {
		j.Children = children
	}
	return j, nil
}
