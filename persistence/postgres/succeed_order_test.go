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
