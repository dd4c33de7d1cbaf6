package postgres_test

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jobsched/jobsched/internal/pgtest"
	"github.com/jobsched/jobsched/persistence"
	"github.com/jobsched/jobsched/persistence/postgres"
	"github.com/stretchr/testify/require"
)

var errKept = errors.New("the session kept its locks")

// lockable reports whether another session could lock job id now (FOR UPDATE SKIP LOCKED, as
// the rescue does).
func lockable(c *pgx.Conn, id string) (bool, error) {
	var n int
	err := c.QueryRow(ctx, `SELECT count(*) FROM (SELECT id FROM jobsched_jobs WHERE id = $1 FOR UPDATE SKIP LOCKED) l`, id).Scan(&n)
	return n == 1, err
}

// A transaction of the store's pool left idle (its node frozen) past the timeout loses its
// session, and with it its row locks, well before the lease runs out; its commit then fails.
func TestIdleTransactionLosesItsLocks(t *testing.T) {
	require.Equal(t, 5*time.Second, postgres.IdleInTransactionTimeout(15*time.Second))
	require.Equal(t, time.Second, postgres.IdleInTransactionTimeout(time.Second))
	dsn := pgtest.DSN(t)
	s := open(t, dsn, postgres.Options{Node: "n1", Lease: 6 * time.Second})
	_, err := s.Insert(ctx, []*persistence.Job{job("a", "c")})
	require.NoError(t, err)
	other, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err)
	defer other.Close(ctx)

	tx, err := s.Pool().Begin(ctx)
	require.NoError(t, err)
	var setting string
	require.NoError(t, tx.QueryRow(ctx, "SHOW idle_in_transaction_session_timeout").Scan(&setting))
	require.Equal(t, "2s", setting)
	var id string
	require.NoError(t, tx.QueryRow(ctx, "SELECT id FROM jobsched_jobs WHERE id = 'a' FOR UPDATE").Scan(&id))
	ok, err := lockable(other, "a")
	require.NoError(t, err)
	require.False(t, ok, "the open transaction holds the row")
	require.Eventually(t, func() bool { ok, err := lockable(other, "a"); return err == nil && ok }, 10*time.Second, 50*time.Millisecond)
	require.Error(t, tx.Commit(ctx), "the session was ended")
	// The pool gives a fresh session to the next write.
	_, err = s.Update(ctx, "a", func(j *persistence.Job) error { j.Attempt = 1; return nil }, true)
	require.NoError(t, err)
}

// A write whose node froze between reading and writing its rows (here: a mutator that waits
// until the session's locks are gone) fails cleanly: an error, nothing written, the next write
// goes through. An async batch that fails so runs each request again on its own.
func TestWriteOnAnEndedSessionFails(t *testing.T) {
	dsn := pgtest.DSN(t)
	s := open(t, dsn, postgres.Options{Node: "n1", Lease: 3 * time.Second, AsyncWorkers: 1})
	_, err := s.Insert(ctx, []*persistence.Job{job("a", "c"), job("b", "c"), job("block", "c")})
	require.NoError(t, err)
	other, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err)
	defer other.Close(ctx)
	// freeze waits, inside a mutator, until another session can lock id: the server ended the
	// mutator's session.
	freeze := func(id string) error {
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			if ok, err := lockable(other, id); err != nil || ok {
				return err
			}
			time.Sleep(20 * time.Millisecond) // a poll of the database: no event tells the mutator
		}
		return errKept
	}

	_, err = s.Update(ctx, "a", func(j *persistence.Job) error {
		if err := freeze("a"); err != nil {
			return err
		}
		j.Attempt = 7
		return nil
	}, true)
	require.Error(t, err)
	require.NotErrorIs(t, err, errKept)
	require.False(t, persistence.Permanent(err), "a failed write is tried again by the scheduler: %v", err)
	j, err := s.Get(ctx, "a")
	require.NoError(t, err)
	require.Equal(t, 0, j.Attempt, "nothing written")
	_, err = s.Update(ctx, "a", func(j *persistence.Job) error { j.Attempt = 1; return nil }, true)
	require.NoError(t, err)

	// The same in a batch: "a" freezes once; the batch fails and each request runs again.
	release := make(chan struct{})
	blocked := make(chan struct{})
	s.UpdateAsync("block", func(*persistence.Job) error { close(blocked); <-release; return persistence.ErrSkip }, false, nil)
	<-blocked
	var froze atomic.Bool
	errs := make(chan error, 2)
	s.UpdateAsync("a", func(j *persistence.Job) error {
		if froze.CompareAndSwap(false, true) {
			if err := freeze("a"); err != nil {
				return err
			}
		}
		j.Attempt = 2
		return nil
	}, false, func(_ *persistence.Job, err error) { errs <- err })
	s.UpdateAsync("b", func(j *persistence.Job) error { j.Attempt = 2; return nil }, false, func(_ *persistence.Job, err error) { errs <- err })
	close(release)
	for range 2 {
		select {
		case err := <-errs:
			require.NoError(t, err)
		case <-time.After(20 * time.Second):
			t.Fatal("done never called")
		}
	}
	require.True(t, froze.Load())
	for _, id := range []string{"a", "b"} {
		j, err := s.Get(ctx, id)
		require.NoError(t, err)
		require.Equal(t, 2, j.Attempt, id)
	}
}
