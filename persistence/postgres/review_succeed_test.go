package postgres_test

import (
	"encoding/json"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jobsched/jobsched/internal/pgtest"
	"github.com/jobsched/jobsched/persistence"
	"github.com/jobsched/jobsched/persistence/postgres"
	"github.com/stretchr/testify/require"
)

// The review's probes of the hot path in SQL (migration 0008): a claim's start and an
// attempt's success written as a patch over the record, each compared with what the Go
// mutators would have stored.

// succeedMutator is the scheduler's finishAttempt for a success: only on the attempt that
// started at startedAt.
func succeedMutator(attempt int, startedAt, at time.Time, result json.RawMessage) persistence.Mutator {
	return func(j *persistence.Job) error {
		if j.State != persistence.StateRunning || j.Attempt != attempt || j.StartedAt == nil || !j.StartedAt.Equal(startedAt) {
			return persistence.ErrSkip
		}
		j.State, j.Result, j.FinishedAt = persistence.StateSucceeded, result, &at
		return nil
	}
}

// stamps numbers the claims' start times, so that no two are equal.
var stamps atomic.Int64

// claimOne claims the category's next job with the scheduler's options (Stamp set: the start
// is written in SQL).
func claimOne(t *testing.T, s *postgres.Store, cat string) *persistence.Job {
	t.Helper()
	jobs, err := s.Claim(ctx, cat, 1, persistence.ClaimOptions{Stamp: func(string) time.Time {
		return time.Date(2030, 1, 1, 9, 0, int(stamps.Add(1)), 123456000, time.UTC)
	}}, func(*persistence.Job) error { t.Fatal("a claim with Stamp calls no mutator"); return nil })
	require.NoError(t, err)
	require.Len(t, jobs, 1)
	return jobs[0]
}

// succeed writes an attempt's success through SucceedAsync and waits for its answer.
func succeed(s *postgres.Store, started *persistence.Job, at time.Time, result string) (*persistence.Job, error) {
	type answer struct {
		j   *persistence.Job
		err error
	}
	ch := make(chan answer, 1)
	res := json.RawMessage(result)
	s.SucceedAsync(persistence.Success{Job: started, At: at, Result: res},
		succeedMutator(started.Attempt, *started.StartedAt, at, res),
		func(j *persistence.Job, err error) { ch <- answer{j, err} })
	a := <-ch
	return a.j, a.err
}

func requireSameJob(t *testing.T, want, got *persistence.Job) {
	t.Helper()
	require.Equal(t, want.State, got.State)
	require.Equal(t, want.Attempt, got.Attempt)
	require.Equal(t, want.CancelRequested, got.CancelRequested)
	require.JSONEq(t, string(want.Result), string(got.Result))
	require.True(t, want.StartedAt.Equal(*got.StartedAt), "started_at %v, read back %v", want.StartedAt, got.StartedAt)
	require.True(t, want.FinishedAt.Equal(*got.FinishedAt), "finished_at %v, read back %v", want.FinishedAt, got.FinishedAt)
	require.Equal(t, len(want.Errors), len(got.Errors))
}

// A success in SQL over a claim's patch: the job read back is the job the caller was given,
// and what an earlier attempt left (its error) is kept.
func TestReviewSQLSuccessReadsBackAsAnswered(t *testing.T) {
	s := open(t, pgtest.DSN(t), postgres.Options{Node: "a", BatchWindow: -1})
	j := job("j", "c")
	j.Attempt = 1
	j.Errors = []persistence.AttemptError{{Attempt: 1, At: time.Now(), Error: "boom"}}
	_, err := s.Insert(ctx, []*persistence.Job{j})
	require.NoError(t, err)
	started := claimOne(t, s, "c")
	require.Equal(t, 2, started.Attempt)
	stored, err := s.Get(ctx, "j")
	require.NoError(t, err)
	require.Equal(t, persistence.StateRunning, stored.State)
	require.True(t, started.StartedAt.Equal(*stored.StartedAt))

	at := started.StartedAt.Add(time.Millisecond)
	done, err := succeed(s, started.Clone(), at, `{"n":1}`)
	require.NoError(t, err)
	require.Equal(t, persistence.StateSucceeded, done.State)
	got, err := s.Get(ctx, "j")
	require.NoError(t, err)
	requireSameJob(t, done, got)
	require.Len(t, got.Errors, 1, "the earlier attempt's error is kept")
	require.Empty(t, runningOn(t, s), "no longer held")
}

// A cancel asked while the attempt runs (a whole-record write) and a success after it: the
// success is stored as the Go mutator stores it (succeeded, the request kept), and read back
// as answered.
func TestReviewSQLSuccessAfterACancelRequest(t *testing.T) {
	s := open(t, pgtest.DSN(t), postgres.Options{Node: "a", BatchWindow: -1})
	_, err := s.Insert(ctx, []*persistence.Job{job("j", "c")})
	require.NoError(t, err)
	started := claimOne(t, s, "c")
	_, err = s.Update(ctx, "j", func(j *persistence.Job) error { j.CancelRequested = true; return nil }, true)
	require.NoError(t, err)
	done, err := succeed(s, started.Clone(), started.StartedAt.Add(time.Millisecond), `"ok"`)
	require.NoError(t, err)
	require.Equal(t, persistence.StateSucceeded, done.State)
	require.True(t, done.CancelRequested, "the success does not forget the request")
	got, err := s.Get(ctx, "j")
	require.NoError(t, err)
	requireSameJob(t, done, got)
}

// A success of an attempt given back and claimed again (the same node, a later attempt) is
// not written over the new attempt; nor is one of a node whose lease no longer holds.
func TestReviewSQLSuccessIsFenced(t *testing.T) {
	dsn := pgtest.DSN(t)
	a := open(t, dsn, postgres.Options{Node: "a", Lease: time.Minute, BatchWindow: -1})
	b := open(t, dsn, postgres.Options{Node: "b", Lease: time.Minute, BatchWindow: -1})
	_, err := a.Insert(ctx, []*persistence.Job{job("j", "c")})
	require.NoError(t, err)
	first := claimOne(t, a, "c")
	_, err = a.Update(ctx, "j", func(j *persistence.Job) error {
		j.State, j.StartedAt = persistence.StateQueued, nil
		j.Attempt--
		return nil
	}, true)
	require.NoError(t, err)
	second := claimOne(t, a, "c")
	require.Equal(t, first.Attempt, second.Attempt, "the attempt given back is numbered again")
	require.False(t, first.StartedAt.Equal(*second.StartedAt))
	_, err = succeed(a, first.Clone(), first.StartedAt.Add(time.Millisecond), `"stale"`)
	require.ErrorIs(t, err, persistence.ErrSkip)
	got, err := a.Get(ctx, "j")
	require.NoError(t, err)
	require.Equal(t, persistence.StateRunning, got.State, "the later attempt still runs")
	require.True(t, second.StartedAt.Equal(*got.StartedAt))

	// a loses its lease; b rescues the job: a's success is refused.
	expire(t, dsn, "a")
	n, err := b.Maintain(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	_, err = succeed(a, second.Clone(), second.StartedAt.Add(time.Millisecond), `"late"`)
	require.ErrorIs(t, err, persistence.ErrSkip)
	got, err = b.Get(ctx, "j")
	require.NoError(t, err)
	require.Equal(t, persistence.StateQueued, got.State, "rescued, not succeeded")
	require.Nil(t, got.FinishedAt)
}

// A whole-record write after a success in SQL (a revive) clears the patch: the job read back is
// the record written, not the old success over it.
func TestReviewWholeWriteAfterSQLSuccessClearsThePatch(t *testing.T) {
	s := open(t, pgtest.DSN(t), postgres.Options{Node: "a", BatchWindow: -1})
	_, err := s.Insert(ctx, []*persistence.Job{job("j", "c")})
	require.NoError(t, err)
	started := claimOne(t, s, "c")
	_, err = succeed(s, started.Clone(), started.StartedAt.Add(time.Millisecond), `"ok"`)
	require.NoError(t, err)
	_, err = s.Update(ctx, "j", func(j *persistence.Job) error {
		j.State, j.Result, j.FinishedAt, j.StartedAt = persistence.StateQueued, nil, nil, nil
		return nil
	}, true)
	require.NoError(t, err)
	got, err := s.Get(ctx, "j")
	require.NoError(t, err)
	require.Equal(t, persistence.StateQueued, got.State)
	require.Nil(t, got.Result)
	require.Nil(t, got.FinishedAt)
	// Claimed and succeeded again, in SQL: the second success reads back as well.
	again := claimOne(t, s, "c")
	require.Equal(t, 2, again.Attempt)
	done, err := succeed(s, again.Clone(), again.StartedAt.Add(time.Millisecond), `"twice"`)
	require.NoError(t, err)
	got, err = s.Get(ctx, "j")
	require.NoError(t, err)
	requireSameJob(t, done, got)
}
