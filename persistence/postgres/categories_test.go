package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jobsched/jobsched/internal/pgtest"
	"github.com/jobsched/jobsched/persistence"
	"github.com/jobsched/jobsched/persistence/postgres"
	"github.com/stretchr/testify/require"
)

// lockCategories is the first key of a category's advisory lock (postgres/categories.go).
const lockCategories = 0x6a6f6273

// waitingOnLock waits until a session waits for a lock in a statement containing sql.
func waitingOnLock(t *testing.T, st *postgres.Store, sql string) {
	t.Helper()
	require.Eventually(t, func() bool {
		var n int
		err := st.Pool().QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity
			WHERE wait_event_type = 'Lock' AND strpos(query, $1) > 0 AND pid <> pg_backend_pid()`, sql).Scan(&n)
		return err == nil && n > 0
	}, 5*time.Second, 5*time.Millisecond, "a session waits on %q", sql)
}

// deletionUnderWay opens a transaction that holds cat's lock exclusive and has stored its
// deletion, as Store.DeleteCategory does before it commits.
func deletionUnderWay(t *testing.T, st *postgres.Store, cat string) pgx.Tx {
	t.Helper()
	tx, err := st.Pool().Begin(ctx)
	require.NoError(t, err)
	t.Cleanup(func() { _ = tx.Rollback(ctx) }) // committed by the test: a no-op
	_, err = tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1, hashtext($2))", lockCategories, cat)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, "INSERT INTO jobsched_categories_gone (category) VALUES ($1)", cat)
	require.NoError(t, err)
	return tx
}

// An insert that meets a category's deletion under way waits for it and is then refused, whole:
// its check reads the deletion although the insert began before the deletion committed.
func TestInsertWaitingOnADeletionIsRefused(t *testing.T) {
	st := open(t, pgtest.DSN(t), postgres.Options{Node: "a"})
	for _, unique := range []bool{false, true} { // the pipelined path, and the general one
		t.Run(fmt.Sprintf("unique=%v", unique), func(t *testing.T) {
			cat := fmt.Sprintf("gone-%v", unique)
			tx := deletionUnderWay(t, st, cat)
			other, j := job("ok-"+cat, "fine"), job("j-"+cat, cat)
			if unique {
				j.UniqueKey = "key"
			}
			errc := make(chan error, 1)
			go func() { _, err := st.Insert(ctx, []*persistence.Job{other, j}); errc <- err }()
			waitingOnLock(t, st, "jobsched_category_check")
			require.NoError(t, tx.Commit(ctx))
			err := <-errc
			var gone *postgres.CategoryDeletedError
			require.True(t, errors.As(err, &gone), "err: %v", err)
			require.Equal(t, cat, gone.Category)
			_, err = st.Get(ctx, other.ID)
			require.ErrorIs(t, err, persistence.ErrNotFound, "all or nothing")
		})
	}
}

// A deletion that meets an insert under way (EnqueueTx's open transaction) waits for it and
// then counts its job: it stores nothing. A deleted category refuses inserts until it is put
// again.
func TestDeleteCategoryWaitsForInsertsUnderWay(t *testing.T) {
	st := open(t, pgtest.DSN(t), postgres.Options{Node: "a"})
	tx, err := st.Pool().Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(ctx) }() // committed below: a no-op
	_, err = st.InsertTx(ctx, tx, []*persistence.Job{job("j", "busy")})
	require.NoError(t, err)
	type result struct {
		n   int64
		err error
	}
	done := make(chan result, 1)
	go func() {
		n, err := st.DeleteCategory(ctx, "busy", "category/busy", []byte("deleted"))
		done <- result{n, err}
	}()
	waitingOnLock(t, st, "pg_advisory_xact_lock")
	require.NoError(t, tx.Commit(ctx))
	r := <-done
	require.NoError(t, r.err)
	require.EqualValues(t, 1, r.n, "the committed insert's job is counted")
	settings, err := st.Settings(ctx)
	require.NoError(t, err)
	require.NotContains(t, settings, "category/busy", "refused: nothing stored")
	_, err = st.Insert(ctx, []*persistence.Job{job("k", "busy")})
	require.NoError(t, err, "not deleted: inserts go on")

	n, err := st.DeleteCategory(ctx, "empty", "category/empty", []byte("deleted"))
	require.NoError(t, err)
	require.Zero(t, n)
	settings, err = st.Settings(ctx)
	require.NoError(t, err)
	require.Equal(t, []byte("deleted"), settings["category/empty"])
	_, err = st.Insert(ctx, []*persistence.Job{job("e1", "empty")})
	var gone *postgres.CategoryDeletedError
	require.True(t, errors.As(err, &gone), "err: %v", err)
	require.NoError(t, st.PutCategory(ctx, "empty", "category/empty", []byte("back")))
	_, err = st.Insert(ctx, []*persistence.Job{job("e1", "empty")})
	require.NoError(t, err, "put again: inserts go on")
}

// A write that brings a finished job back into a deleted category (a retry on a node that has
// not applied the deletion yet) is refused as an insert would be; the job stays as it was.
func TestRetryIntoADeletedCategoryIsRefused(t *testing.T) {
	st := open(t, pgtest.DSN(t), postgres.Options{Node: "a"})
	_, err := st.Insert(ctx, []*persistence.Job{job("done", "old")})
	require.NoError(t, err)
	_, err = st.Update(ctx, "done", start, true)
	require.NoError(t, err)
	_, err = st.Update(ctx, "done", finish(1), true)
	require.NoError(t, err)
	n, err := st.DeleteCategory(ctx, "old", "category/old", []byte("deleted"))
	require.NoError(t, err)
	require.Zero(t, n, "a finished job does not hold its category")

	retry := func(j *persistence.Job) error { j.State, j.FinishedAt = persistence.StateQueued, nil; return nil }
	_, err = st.Update(ctx, "done", retry, true)
	var gone *postgres.CategoryDeletedError
	require.True(t, errors.As(err, &gone), "err: %v", err)
	_, err = st.RetryWithDependents(ctx, "done", retry)
	require.True(t, errors.As(err, &gone), "err: %v", err)
	got, err := st.Get(ctx, "done")
	require.NoError(t, err)
	require.Equal(t, persistence.StateSucceeded, got.State)

	require.NoError(t, st.PutCategory(ctx, "old", "category/old", []byte("back")))
	got, err = st.Update(ctx, "done", retry, true)
	require.NoError(t, err)
	require.Equal(t, persistence.StateQueued, got.State)
}
