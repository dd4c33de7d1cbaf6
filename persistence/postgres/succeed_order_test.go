package postgres

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jobsched/jobsched/internal/pgtest"
	"github.com/jobsched/jobsched/persistence"
	"github.com/stretchr/testify/require"
)

// A batch of successes locks its rows in the order of the primary key (COLLATE "C"), as every
// other write of several rows does (lockReadSQL, jobsched_settle), whatever the database's
// default collation: in one whose default is not C, ids ordered by it ("a1" before "B1") would
// be locked in another order than a batch of updates locks them, and the two could deadlock.
func TestSucceedBatchLocksInKeyOrderUnderAnotherCollation(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv := pgtest.Shared(t)
	admin, err := pgx.Connect(ctx, srv.AdminDSN())
	require.NoError(t, err)
	name := fmt.Sprintf("icu_%d", time.Now().UnixNano())
	_, err = admin.Exec(ctx, "CREATE DATABASE "+name+" TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en'")
	require.NoError(t, admin.Close(ctx))
	if err != nil {
		t.Skipf("no ICU collation: %v", err)
	}
	dsn := srv.DatabaseDSN(name)
	s, err := Open(ctx, Options{DSN: dsn, Node: "n1", CountsEvery: time.Hour})
	require.NoError(t, err)
	defer func() { require.NoError(t, s.Close()) }()

	now := time.Now()
	var jobs []*persistence.Job
	for _, id := range []string{"a1", "B1"} {
		jobs = append(jobs, &persistence.Job{ID: id, Kind: "k", Category: "c", State: persistence.StateQueued,
			MaxAttempts: 3, CreatedAt: now, RunAt: now})
	}
	_, err = s.Insert(ctx, jobs)
	require.NoError(t, err)
	claimed, err := s.Claim(ctx, "c", 2, persistence.ClaimOptions{Stamp: func(string) time.Time { return time.Now() }},
		func(*persistence.Job) error { return errors.New("unused") })
	require.NoError(t, err)
	require.Len(t, claimed, 2)

	holder, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err)
	defer func() { require.NoError(t, holder.Close(context.Background())) }()
	tx, err := holder.Begin(ctx)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, "SELECT id FROM jobsched_jobs WHERE id = 'B1' FOR UPDATE")
	require.NoError(t, err)

	var reqs []*asyncReq
	for _, j := range claimed {
		reqs = append(reqs, &asyncReq{id: j.ID, succ: &persistence.Success{Job: j, At: time.Now(), Result: []byte("null")},
			fn: func(j *persistence.Job) error { j.State = persistence.StateSucceeded; return nil }})
	}
	done := make(chan error, 1)
	go func() {
		_, err := s.succeedBatch(ctx, reqs)
		done <- err
	}()
	probe, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err)
	defer func() { require.NoError(t, probe.Close(context.Background())) }()
	require.Eventually(t, func() bool { // the batch waits for B1
		var n int
		require.NoError(t, probe.QueryRow(ctx, "SELECT count(*) FROM pg_locks WHERE NOT granted").Scan(&n))
		return n > 0
	}, 10*time.Second, time.Millisecond)
	ptx, err := probe.Begin(ctx)
	require.NoError(t, err)
	_, lockErr := ptx.Exec(ctx, "SELECT id FROM jobsched_jobs WHERE id = 'a1' FOR UPDATE NOWAIT")
	require.NoError(t, ptx.Rollback(ctx))
	require.NoError(t, tx.Rollback(ctx))
	require.NoError(t, <-done)
	var pe *pgconn.PgError
	if errors.As(lockErr, &pe) {
		t.Fatalf("the batch locked a1 before B1 (the database's collation, not the key's): %v", lockErr)
	}
	require.NoError(t, lockErr)
}

// A batch of successes that waits for a row a rescue holds checks the row as the rescue left
// it: the late success of a fenced-out attempt does not overwrite the job put back in its queue.
func TestSucceedBatchWaitingForARescueDoesNotOverwriteIt(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dsn := pgtest.DSN(t)
	s, err := Open(ctx, Options{DSN: dsn, Node: "n1", CountsEvery: time.Hour})
	require.NoError(t, err)
	defer func() { require.NoError(t, s.Close()) }()
	now := time.Now()
	_, err = s.Insert(ctx, []*persistence.Job{{ID: "j1", Kind: "k", Category: "c", State: persistence.StateQueued,
		MaxAttempts: 3, CreatedAt: now, RunAt: now}})
	require.NoError(t, err)
	claimed, err := s.Claim(ctx, "c", 1, persistence.ClaimOptions{Stamp: func(string) time.Time { return time.Now() }},
		func(*persistence.Job) error { return errors.New("unused") })
	require.NoError(t, err)
	require.Len(t, claimed, 1)

	rescuer, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err)
	defer func() { require.NoError(t, rescuer.Close(context.Background())) }()
	tx, err := rescuer.Begin(ctx)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, `UPDATE jobsched_jobs SET state = 'queued', node = NULL, node_epoch = NULL,
		seq = nextval('jobsched_seq') WHERE id = 'j1'`)
	require.NoError(t, err)

	req := &asyncReq{id: "j1", succ: &persistence.Success{Job: claimed[0], At: time.Now(), Result: []byte("null")},
		fn: func(j *persistence.Job) error { j.State = persistence.StateSucceeded; return nil }}
	type res struct {
		outs []*persistence.Job
		err  error
	}
	done := make(chan res, 1)
	go func() {
		outs, err := s.succeedBatch(ctx, []*asyncReq{req})
		done <- res{outs, err}
	}()
	require.Eventually(t, func() bool { // the batch waits for the rescue's row lock
		var n int
		require.NoError(t, s.pool.QueryRow(ctx, "SELECT count(*) FROM pg_locks WHERE NOT granted").Scan(&n))
		return n > 0
	}, 10*time.Second, time.Millisecond)
	require.NoError(t, tx.Commit(ctx))
	r := <-done
	require.NoError(t, r.err)
	require.Nil(t, r.outs[0], "the success was not written")
	var state string
	require.NoError(t, s.pool.QueryRow(ctx, "SELECT state FROM jobsched_jobs WHERE id = 'j1'").Scan(&state))
	require.Equal(t, "queued", state)
}
