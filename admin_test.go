package jobsched_test

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jobsched/jobsched"
	"github.com/stretchr/testify/require"
)

var twoCategories = []jobsched.Category{{Name: "a", MinWorkers: 1}, {Name: "b", MinWorkers: 1}}

// flaky fails while fail is true.
func flaky(fail *atomic.Bool) jobsched.Handler {
	return func(context.Context, *jobsched.Job) (any, error) {
		if fail.Load() {
			return nil, errors.New("downstream is down")
		}
		return "ok", nil
	}
}

func TestRetryRunsADeadJobAgainWithOneMoreAttempt(t *testing.T) {
	var fail atomic.Bool
	fail.Store(true)
	s := start(t, jobsched.Config{Workers: 2, Categories: twoCategories}, map[string]jobsched.Handler{"flaky": flaky(&fail)})
	ctx := context.Background()
	j, err := s.Enqueue(ctx, jobsched.JobSpec{Kind: "flaky", MaxAttempts: 2})
	require.NoError(t, err)
	j = waitJob(t, s, j.ID)
	require.Equal(t, jobsched.StateDead, j.State)
	require.Equal(t, 2, j.Attempt)

	fail.Store(false) // the fix is deployed
	r, err := s.Retry(ctx, j.ID)
	require.NoError(t, err)
	require.Equal(t, 3, r.MaxAttempts, "its attempts were spent: one more")
	require.Equal(t, 2, r.Attempt, "attempts are kept")
	require.Nil(t, r.FinishedAt)
	j = waitJob(t, s, j.ID)
	require.Equal(t, jobsched.StateSucceeded, j.State)
	require.Equal(t, 3, j.Attempt)
	require.Len(t, j.Errors, 2, "the errors of the earlier attempts stay")

	_, err = s.Retry(ctx, j.ID)
	require.ErrorIs(t, err, jobsched.ErrNotRetryable, "a succeeded job is not retried")
	_, err = s.Retry(ctx, "no-such-job")
	require.ErrorIs(t, err, jobsched.ErrNotFound)
}

func TestRetryRunsAScheduledJobNowAndACancelledOne(t *testing.T) {
	ran := make(chan string, 2)
	s := start(t, jobsched.Config{Workers: 2, Categories: twoCategories}, map[string]jobsched.Handler{
		"k": func(_ context.Context, j *jobsched.Job) (any, error) { ran <- j.ID; return nil, nil }})
	ctx := context.Background()
	later, err := s.Enqueue(ctx, jobsched.JobSpec{Kind: "k", Delay: jobsched.Duration(time.Hour)})
	require.NoError(t, err)
	r, err := s.Retry(ctx, later.ID)
	require.NoError(t, err)
	require.Equal(t, jobsched.StateQueued, r.State)
	require.Equal(t, later.MaxAttempts, r.MaxAttempts, "attempts not spent: max_attempts unchanged")
	require.Equal(t, jobsched.StateSucceeded, waitJob(t, s, later.ID).State)

	c, err := s.Enqueue(ctx, jobsched.JobSpec{Kind: "k", Delay: jobsched.Duration(time.Hour)})
	require.NoError(t, err)
	_, err = s.Cancel(ctx, c.ID)
	require.NoError(t, err)
	_, err = s.Retry(ctx, c.ID)
	require.NoError(t, err)
	require.Equal(t, jobsched.StateSucceeded, waitJob(t, s, c.ID).State)
	require.ElementsMatch(t, []string{later.ID, c.ID}, []string{<-ran, <-ran})
}

func TestRetryOfAFinishedJobWhoseUniqueKeyIsTaken(t *testing.T) {
	s := start(t, jobsched.Config{Workers: 2, Categories: twoCategories}, map[string]jobsched.Handler{"k": noop})
	ctx := context.Background()
	old, err := s.Enqueue(ctx, jobsched.JobSpec{Kind: "k", UniqueKey: "report-1", Delay: jobsched.Duration(time.Hour)})
	require.NoError(t, err)
	_, err = s.Cancel(ctx, old.ID)
	require.NoError(t, err)
	_, err = s.Enqueue(ctx, jobsched.JobSpec{Kind: "k", UniqueKey: "report-1", Delay: jobsched.Duration(time.Hour)})
	require.NoError(t, err)
	_, err = s.Retry(ctx, old.ID)
	require.ErrorIs(t, err, jobsched.ErrDuplicate)
	j, err := s.Get(ctx, old.ID)
	require.NoError(t, err)
	require.Equal(t, jobsched.StateCancelled, j.State, "a refused retry changes nothing")
}

func TestDeleteRemovesFinishedJobsOnly(t *testing.T) {
	s := start(t, jobsched.Config{Workers: 2, Categories: twoCategories}, map[string]jobsched.Handler{"k": noop})
	ctx := context.Background()
	waiting, err := s.Enqueue(ctx, jobsched.JobSpec{Kind: "k", Delay: jobsched.Duration(time.Hour), UniqueKey: "u"})
	require.NoError(t, err)
	require.ErrorIs(t, s.Delete(ctx, waiting.ID), jobsched.ErrNotFinished)
	_, err = s.Get(ctx, waiting.ID)
	require.NoError(t, err, "a refused delete changes nothing")

	done, err := s.Enqueue(ctx, jobsched.JobSpec{Kind: "k"})
	require.NoError(t, err)
	waitJob(t, s, done.ID)
	require.NoError(t, s.Delete(ctx, done.ID))
	_, err = s.Get(ctx, done.ID)
	require.ErrorIs(t, err, jobsched.ErrNotFound)
	require.ErrorIs(t, s.Delete(ctx, done.ID), jobsched.ErrNotFound)

	_, err = s.Cancel(ctx, waiting.ID)
	require.NoError(t, err)
	require.NoError(t, s.Delete(ctx, waiting.ID))
	_, err = s.Enqueue(ctx, jobsched.JobSpec{Kind: "k", UniqueKey: "u"})
	require.NoError(t, err, "the deleted job's unique key is free")
}

// Bulk operations page through more jobs than one page holds, and touch only what the filter
// selects.
func TestCancelWhereAndRetryWhereWorkInPages(t *testing.T) {
	ran := atomic.Int64{}
	s := start(t, jobsched.Config{Workers: 4, MaxBatch: 5000, Categories: twoCategories}, map[string]jobsched.Handler{
		"x": func(context.Context, *jobsched.Job) (any, error) { ran.Add(1); return nil, nil },
		"y": noop,
	})
	ctx := context.Background()
	const n = jobsched.BulkPage*2 + 500
	later := jobsched.Duration(time.Hour)
	var specs []jobsched.JobSpec
	for i := 0; i < n; i++ {
		specs = append(specs, jobsched.JobSpec{Kind: "x", Category: "a", Delay: later})
	}
	specs = append(specs, jobsched.JobSpec{Kind: "y", Category: "a", Delay: later}, jobsched.JobSpec{Kind: "x", Category: "b", Delay: later})
	jobs, err := s.EnqueueBatch(ctx, specs)
	require.NoError(t, err)

	count, err := s.CancelWhere(ctx, jobsched.Filter{Category: "a", Kind: "x"})
	require.NoError(t, err)
	require.Equal(t, n, count)
	for _, j := range jobs[n:] {
		got, err := s.Get(ctx, j.ID)
		require.NoError(t, err)
		require.Equal(t, jobsched.StateScheduled, got.State, "outside the filter: untouched")
	}
	count, err = s.CancelWhere(ctx, jobsched.Filter{Category: "a", Kind: "x"})
	require.NoError(t, err)
	require.Zero(t, count, "nothing left to cancel")

	count, err = s.RetryWhere(ctx, jobsched.Filter{Category: "a", State: jobsched.StateCancelled})
	require.NoError(t, err)
	require.Equal(t, n, count)
	require.Eventually(t, func() bool { return ran.Load() == n }, 30*time.Second, 10*time.Millisecond)
	for _, j := range jobs[:3] {
		require.Equal(t, jobsched.StateSucceeded, waitJob(t, s, j.ID).State)
	}
}

func TestCancelWhereStopsARunningJob(t *testing.T) {
	started := make(chan struct{})
	s := start(t, jobsched.Config{Workers: 2, Categories: twoCategories}, map[string]jobsched.Handler{
		"block": func(ctx context.Context, _ *jobsched.Job) (any, error) {
			close(started)
			<-ctx.Done()
			return nil, context.Cause(ctx)
		}})
	ctx := context.Background()
	j, err := s.Enqueue(ctx, jobsched.JobSpec{Kind: "block", Category: "b"})
	require.NoError(t, err)
	<-started
	count, err := s.CancelWhere(ctx, jobsched.Filter{Category: "b", State: jobsched.StateRunning})
	require.NoError(t, err)
	require.Equal(t, 1, count)
	require.Equal(t, jobsched.StateCancelled, waitJob(t, s, j.ID).State)
}

func TestBulkFilterErrorsNameTheField(t *testing.T) {
	s := start(t, jobsched.Config{Workers: 2, Categories: twoCategories}, nil)
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		f     jobsched.Filter
		retry bool
		field string
	}{
		{"empty", jobsched.Filter{}, true, "filter"},
		{"unknown category", jobsched.Filter{Category: "zz"}, true, "category"},
		{"unknown state", jobsched.Filter{State: "sleeping"}, false, "state"},
		{"retry a succeeded state", jobsched.Filter{State: jobsched.StateSucceeded}, true, "state"},
		{"cancel a dead state", jobsched.Filter{State: jobsched.StateDead}, false, "state"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			if tc.retry {
				_, err = s.RetryWhere(ctx, tc.f)
			} else {
				_, err = s.CancelWhere(ctx, tc.f)
			}
			var inv *jobsched.InvalidError
			require.ErrorAs(t, err, &inv)
			require.Equal(t, tc.field, inv.Field)
		})
	}
}

// errorLog counts the error records logged.
type errorLog struct{ n atomic.Int64 }

func (e *errorLog) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelError }
func (e *errorLog) Handle(context.Context, slog.Record) error    { e.n.Add(1); return nil }
func (e *errorLog) WithAttrs([]slog.Attr) slog.Handler           { return e }
func (e *errorLog) WithGroup(string) slog.Handler                { return e }

// A job cancelled while queued stays in its Fifo's memory until handed out; deleted meanwhile,
// it is simply skipped when its turn comes, with no error.
func TestDeletedJobStillInItsFifoIsSkippedQuietly(t *testing.T) {
	logs := &errorLog{}
	ran := make(chan string, 2)
	s := start(t, jobsched.Config{Workers: 2, Categories: twoCategories, Logger: slog.New(logs)}, map[string]jobsched.Handler{
		"k": func(_ context.Context, j *jobsched.Job) (any, error) { ran <- j.ID; return nil, nil }})
	ctx := context.Background()
	require.NoError(t, s.Pause("a"))
	gone, err := s.Enqueue(ctx, jobsched.JobSpec{Kind: "k", Category: "a"})
	require.NoError(t, err)
	kept, err := s.Enqueue(ctx, jobsched.JobSpec{Kind: "k", Category: "a"})
	require.NoError(t, err)
	_, err = s.Cancel(ctx, gone.ID)
	require.NoError(t, err)
	require.NoError(t, s.Delete(ctx, gone.ID))
	require.NoError(t, s.Resume("a"))
	require.Equal(t, jobsched.StateSucceeded, waitJob(t, s, kept.ID).State)
	require.Equal(t, kept.ID, <-ran, "only the kept job ran")
	require.Zero(t, logs.n.Load(), "nothing was logged as an error")
}
