package postgres_test

import (
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jobsched/jobsched/internal/pgtest"
	"github.com/jobsched/jobsched/persistence"
	"github.com/jobsched/jobsched/persistence/postgres"
	"github.com/stretchr/testify/require"
)

// Async updates waiting together are applied in one transaction, and each keeps its own
// Update's outcome: a finish, a mutator's error, a skip, a job not found, a fenced finish, and
// two updates of one job, the second seeing the first.
func TestAsyncUpdatesInOneBatch(t *testing.T) {
	dsn := pgtest.DSN(t)
	s := open(t, dsn, postgres.Options{Node: "n1", AsyncWorkers: 1})
	var jobs []*persistence.Job
	for _, id := range []string{"block", "r1", "r2", "q1", "q2", "q3"} {
		jobs = append(jobs, job(id, "c"))
	}
	_, err := s.Insert(ctx, jobs)
	require.NoError(t, err)
	for _, id := range []string{"r1", "r2"} {
		_, err := s.Update(ctx, id, start, false)
		require.NoError(t, err)
	}
	// r2 is now held by another node, as after a rescue and a start elsewhere.
	c, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err)
	defer c.Close(ctx)
	_, err = c.Exec(ctx, "UPDATE jobsched_jobs SET node = 'other' WHERE id = 'r2'")
	require.NoError(t, err)

	// The only worker is held by the first request while the others queue up behind it.
	release := make(chan struct{})
	blocked := make(chan struct{})
	type res struct {
		j   *persistence.Job
		err error
	}
	results := map[string]chan res{}
	submit := func(key, id string, fn persistence.Mutator) {
		ch := make(chan res, 1)
		results[key] = ch
		s.UpdateAsync(id, fn, false, func(j *persistence.Job, err error) { ch <- res{j, err} })
	}
	submit("block", "block", func(j *persistence.Job) error { close(blocked); <-release; return persistence.ErrSkip })
	<-blocked
	before := s.Stats()
	custom := errors.New("custom")
	submit("finish r1", "r1", finish(1))
	submit("error q1", "q1", func(j *persistence.Job) error { j.Attempt = 9; return custom })
	submit("skip q2", "q2", func(j *persistence.Job) error { j.Attempt = 9; return persistence.ErrSkip })
	submit("nope", "nope", func(j *persistence.Job) error { return nil })
	submit("fenced r2", "r2", finish(1))
	submit("q3 first", "q3", func(j *persistence.Job) error { j.Attempt = 5; return nil })
	submit("q3 second", "q3", func(j *persistence.Job) error {
		if j.Attempt != 5 {
			return errors.New("the second update did not see the first")
		}
		j.Attempt = 6
		return nil
	})
	close(release)
	get := func(key string) res {
		select {
		case r := <-results[key]:
			return r
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: done never called", key)
			return res{}
		}
	}
	require.ErrorIs(t, get("block").err, persistence.ErrSkip)
	r := get("finish r1")
	require.NoError(t, r.err)
	require.Equal(t, persistence.StateSucceeded, r.j.State)
	r = get("error q1")
	require.ErrorIs(t, r.err, custom)
	require.Equal(t, 0, r.j.Attempt)
	r = get("skip q2")
	require.ErrorIs(t, r.err, persistence.ErrSkip)
	require.NotErrorIs(t, r.err, postgres.ErrFenced)
	require.Equal(t, persistence.StateQueued, r.j.State)
	require.ErrorIs(t, get("nope").err, persistence.ErrNotFound)
	r = get("fenced r2")
	require.ErrorIs(t, r.err, postgres.ErrFenced)
	require.Equal(t, persistence.StateRunning, r.j.State)
	r = get("q3 first")
	require.NoError(t, r.err)
	require.Equal(t, 5, r.j.Attempt)
	require.NotZero(t, r.j.Seq, "still queued: it keeps its seq")
	r = get("q3 second")
	require.NoError(t, r.err)
	require.Equal(t, 6, r.j.Attempt)

	// Two transactions (the jobs, then q3's second update), the first durable (a finish).
	after := s.Stats()
	require.EqualValues(t, 2, after.Commits-before.Commits)
	require.EqualValues(t, 1, after.Syncs-before.Syncs)
	require.EqualValues(t, 3, after.Writes-before.Writes)
	require.EqualValues(t, 1, s.ClusterStats().Fenced)

	want := map[string]struct {
		state   persistence.State
		attempt int
	}{"r1": {persistence.StateSucceeded, 1}, "r2": {persistence.StateRunning, 1}, "q1": {persistence.StateQueued, 0},
		"q2": {persistence.StateQueued, 0}, "q3": {persistence.StateQueued, 6}}
	for id, w := range want {
		j, err := s.Get(ctx, id)
		require.NoError(t, err)
		require.Equal(t, w.state, j.State, id)
		require.Equal(t, w.attempt, j.Attempt, id)
	}
	require.EqualValues(t, 1, s.Counts()["c"][persistence.StateSucceeded])
}

// UpdateAsync never blocks its caller (an actor's Receive), even with every worker held and
// more requests than the queue holds; none is dropped: each is applied, in the order submitted
// for one job, once the workers go on.
func TestUpdateAsyncNeverBlocks(t *testing.T) {
	s := open(t, pgtest.DSN(t), postgres.Options{Node: "n1", AsyncWorkers: 1})
	_, err := s.Insert(ctx, []*persistence.Job{job("block", "c"), job("n", "c")})
	require.NoError(t, err)
	release := make(chan struct{})
	blocked := make(chan struct{})
	s.UpdateAsync("block", func(*persistence.Job) error { close(blocked); <-release; return persistence.ErrSkip }, false, nil)
	<-blocked

	const n = 6000 // more than the queue (4,096)
	done := make(chan error, n)
	submitted := make(chan struct{})
	go func() {
		defer close(submitted)
		for i := range n {
			s.UpdateAsync("n", func(j *persistence.Job) error {
				if j.Attempt != i {
					return errors.New("out of order")
				}
				j.Attempt = i + 1
				return nil
			}, false, func(_ *persistence.Job, err error) { done <- err })
		}
	}()
	select {
	case <-submitted:
	case <-time.After(10 * time.Second):
		close(release)
		t.Fatal("UpdateAsync blocked while the workers were held")
	}
	close(release)
	for range n {
		select {
		case err := <-done:
			require.NoError(t, err)
		case <-time.After(30 * time.Second):
			t.Fatal("an async update was never applied")
		}
	}
	got, err := s.Get(ctx, "n")
	require.NoError(t, err)
	require.Equal(t, n, got.Attempt)
}
