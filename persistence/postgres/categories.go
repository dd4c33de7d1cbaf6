package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jobsched/jobsched/persistence"
)

// A category deleted at runtime holds across the nodes (migration 0007): DeleteCategory counts
// the category's unfinished jobs in the table and stores the deletion in one transaction under
// the category's advisory lock, taken exclusive; every insert takes the same lock shared and is
// refused if the category is deleted (jobsched_category_check). So a job acknowledged by any node
// either is seen by the count (the delete is refused) or is refused itself: none is ever left in
// a category no node runs.

// lockCategories is the first key of the categories' advisory locks (the second is the hash of
// the name); "jobs" in ASCII, as in jobsched_category_check.
const lockCategories int32 = 0x6a6f6273

// sqlstateCategoryGone is the SQLSTATE jobsched_category_check raises for a deleted category.
const sqlstateCategoryGone = "JS404"

// CategoryDeletedError is an insert refused because its category was deleted (by DeleteCategory
// on any node) and not put again since.
type CategoryDeletedError struct{ Category string }

// Error names the category.
func (e *CategoryDeletedError) Error() string {
	return fmt.Sprintf("category %q was deleted", e.Category)
}

// DeletedCategory returns the name of the deleted category (the scheduler reports it as an
// invalid category).
func (e *CategoryDeletedError) DeletedCategory() string { return e.Category }

// categoryErr turns the error jobsched_category_check raised into a *CategoryDeletedError.
func categoryErr(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == sqlstateCategoryGone {
		return &CategoryDeletedError{Category: pe.ColumnName}
	}
	return err
}

// categoryCheckSQL is the first statement of every insert (see jobsched_category_check).
const categoryCheckSQL = "SELECT jobsched_category_check($1)"

// reopens reports whether a write brings a job back into a category's unfinished jobs (a
// retry of a finished job, a move to another category): it takes the category's check as an
// insert does.
func reopens(old, j *persistence.Job) bool {
	return !j.State.Finished() && (old.State.Finished() || j.Category != old.Category)
}

// jobCategories returns the distinct categories of jobs.
func jobCategories(jobs []*persistence.Job) []string {
	var cats []string
	seen := map[string]bool{}
	for _, j := range jobs {
		if !seen[j.Category] {
			seen[j.Category] = true
			cats = append(cats, j.Category)
		}
	}
	return cats
}

// DeleteCategory stores val under key (the category's deletion, as PutSetting would) if the
// store holds no unfinished job of category, counted in the table in the same transaction, under
// the category's advisory lock: from its commit on, every insert into category is refused with a
// *CategoryDeletedError until PutCategory puts it again. It returns the number of unfinished
// jobs: when it is not 0, nothing was stored.
func (s *Store) DeleteCategory(ctx context.Context, category, key string, val []byte) (int64, error) {
	if key == "" {
		return 0, persistence.ErrBadSettingKey
	}
	if s.closed.Load() {
		return 0, persistence.ErrClosed
	}
	var n int64
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1, hashtext($2))", lockCategories, category); err != nil {
			return err
		}
		// A statement after the lock: its snapshot holds every insert that took the lock before.
		if err := tx.QueryRow(ctx, `SELECT (SELECT count(*) FROM jobsched_jobs WHERE category = $1 AND state IN `+unstartedSQL+`)
			+ (SELECT count(*) FROM jobsched_jobs WHERE category = $1 AND state = 'running')`,
			category).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return nil // nothing written: the commit changes nothing
		}
		if _, err := tx.Exec(ctx, `INSERT INTO jobsched_categories_gone (category) VALUES ($1) ON CONFLICT DO NOTHING`, category); err != nil {
			return err
		}
		return s.putSettingTx(ctx, tx, key, val)
	})
	if err != nil {
		return 0, fmt.Errorf("delete category %q: %w", category, err)
	}
	return n, nil
}

// PutCategory stores val under key (a category's settings, as PutSetting would) and lets inserts
// into category again if it was deleted, in one transaction.
func (s *Store) PutCategory(ctx context.Context, category, key string, val []byte) error {
	if key == "" {
		return persistence.ErrBadSettingKey
	}
	if s.closed.Load() {
		return persistence.ErrClosed
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM jobsched_categories_gone WHERE category = $1`, category); err != nil {
			return err
		}
		return s.putSettingTx(ctx, tx, key, val)
	})
	if err != nil {
		return fmt.Errorf("put category %q: %w", category, err)
	}
	return nil
}

// putSettingTx stores val under key in tx and tells the other nodes (see settingWrite).
func (s *Store) putSettingTx(ctx context.Context, tx pgx.Tx, key string, val []byte) error {
	if _, err := tx.Exec(ctx, putSettingSQL, key, val); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, "SELECT pg_notify($1, $2)", chanSettings, s.node+"|"+key)
	return err
}
