package jobschedtest_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jobsched/jobsched"
	"github.com/jobsched/jobsched/jobschedtest"
	"github.com/stretchr/testify/require"
)

var epoch = time.Date(2030, 1, 1, 9, 0, 0, 0, time.UTC)

// The clock's timers fire in time order when it passes them, timers they set included; a
// stopped timer never fires; time does not go back.
func TestClockTimers(t *testing.T) {
	c := jobschedtest.NewClock(epoch)
	var order []string
	c.AfterFunc(2*time.Second, func() { order = append(order, "2s") })
	c.AfterFunc(time.Second, func() {
		order = append(order, "1s")
		c.AfterFunc(500*time.Millisecond, func() { order = append(order, "1.5s") })
		c.AfterFunc(time.Hour, func() { order = append(order, "late") })
	})
	stopped := c.AfterFunc(time.Second, func() { order = append(order, "stopped") })
	require.True(t, stopped.Stop())
	require.False(t, stopped.Stop())
	c.AfterFunc(0, func() { order = append(order, "now") })
	c.Advance(1999 * time.Millisecond)
	require.Equal(t, []string{"now", "1s", "1.5s"}, order)
	c.Advance(time.Millisecond)
	require.Equal(t, []string{"now", "1s", "1.5s", "2s"}, order)
	require.Equal(t, epoch.Add(2*time.Second), c.Now())
	require.Equal(t, 1, c.Pending())
	c.AdvanceTo(epoch) // in the past: no move
	require.Equal(t, epoch.Add(2*time.Second), c.Now())
	require.Panics(t, func() { c.Advance(-time.Second) })
}

// A job due in an hour runs when the clock passes its run_at, not before, with no real wait.
func TestClockRunsADelayedJob(t *testing.T) {
	clock := jobschedtest.NewClock(epoch)
	var ran atomic.Int32
	s := jobschedtest.Start(t, jobsched.Config{Clock: clock}, map[string]jobsched.Handler{
		"report": func(context.Context, *jobsched.Job) (any, error) { ran.Add(1); return "sent", nil },
		"now":    func(context.Context, *jobsched.Job) (any, error) { return nil, nil },
	})
	ctx := context.Background()
	j, err := s.Enqueue(ctx, jobsched.JobSpec{Kind: "report", Delay: jobsched.Duration(time.Hour)})
	require.NoError(t, err)
	require.Equal(t, epoch.Add(time.Hour), j.RunAt)

	clock.Advance(59 * time.Minute)
	// A job enqueued after the move and run to its end: the actors have handled the move.
	now, err := s.Enqueue(ctx, jobsched.JobSpec{Kind: "now"})
	require.NoError(t, err)
	jobschedtest.RequireFinished(t, s, now.ID, jobsched.StateSucceeded, 5*time.Second)
	got, err := s.Get(ctx, j.ID)
	require.NoError(t, err)
	require.Equal(t, jobsched.StateScheduled, got.State, "not due yet")
	require.Zero(t, ran.Load())

	clock.Advance(time.Minute)
	done := jobschedtest.RequireFinished(t, s, j.ID, jobsched.StateSucceeded, 5*time.Second)
	require.Equal(t, epoch.Add(time.Hour), *done.StartedAt)
	require.EqualValues(t, 1, ran.Load())
}

// A failing job waits for its backoff on the clock: each Advance past it runs the next attempt.
func TestClockRunsRetries(t *testing.T) {
	clock := jobschedtest.NewClock(epoch)
	s := jobschedtest.Start(t, jobsched.Config{Clock: clock, RetryBackoff: func(n int) time.Duration { return time.Duration(n) * time.Hour }},
		map[string]jobsched.Handler{"flaky": func(_ context.Context, j *jobsched.Job) (any, error) {
			if j.Attempt < 3 {
				return nil, errors.New("not yet")
			}
			return "ok", nil
		}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	j, err := s.Enqueue(ctx, jobsched.JobSpec{Kind: "flaky", MaxAttempts: 3})
	require.NoError(t, err)
	r, err := jobschedtest.WaitState(ctx, s, j.ID, jobsched.StateRetrying)
	require.NoError(t, err)
	require.Equal(t, epoch.Add(time.Hour), r.RunAt, "1h after the first attempt")
	clock.Advance(time.Hour)
	r, err = jobschedtest.WaitJob(ctx, s, j.ID, func(j *jobsched.Job) bool { return j.State == jobsched.StateRetrying && j.Attempt == 2 })
	require.NoError(t, err)
	require.Equal(t, epoch.Add(3*time.Hour), r.RunAt, "2h after the second attempt")
	clock.Advance(2 * time.Hour)
	done := jobschedtest.RequireFinished(t, s, j.ID, jobsched.StateSucceeded, 5*time.Second)
	require.Equal(t, 3, done.Attempt)
	require.Equal(t, epoch.Add(3*time.Hour), *done.FinishedAt)
}

// Drain moves a fake clock to each retry's time: a job that fails twice with hour-long
// backoffs drains at once.
func TestDrainAdvancesAFakeClock(t *testing.T) {
	clock := jobschedtest.NewClock(epoch)
	s := jobschedtest.Start(t, jobsched.Config{Clock: clock, RetryBackoff: func(int) time.Duration { return time.Hour }},
		map[string]jobsched.Handler{"flaky": func(_ context.Context, j *jobsched.Job) (any, error) {
			if j.Attempt < 3 {
				return nil, errors.New("not yet")
			}
			return nil, nil
		}})
	j, err := s.Enqueue(context.Background(), jobsched.JobSpec{Kind: "flaky", MaxAttempts: 3})
	require.NoError(t, err)
	jobschedtest.Drain(t, s, 10*time.Second)
	got, err := s.Get(context.Background(), j.ID)
	require.NoError(t, err)
	require.Equal(t, jobsched.StateSucceeded, got.State)
	require.Equal(t, epoch.Add(2*time.Hour), clock.Now())
}

// A category with no idle worker gets one from the balancer once the clock moves 50 ms.
func TestClockAndACategoryWithoutIdleWorkers(t *testing.T) {
	clock := jobschedtest.NewClock(epoch)
	s := jobschedtest.Start(t, jobsched.Config{Clock: clock, Categories: []jobsched.Category{{Name: "lazy", MinWorkers: jobsched.NoWorkers}}},
		map[string]jobsched.Handler{"k": func(context.Context, *jobsched.Job) (any, error) { return nil, nil }})
	j, err := s.Enqueue(context.Background(), jobsched.JobSpec{Kind: "k", Category: "lazy"})
	require.NoError(t, err)
	clock.Advance(50 * time.Millisecond)
	jobschedtest.RequireFinished(t, s, j.ID, jobsched.StateSucceeded, 5*time.Second)
}

// A periodic job ticks when the clock passes its tick: one job per tick passed.
func TestClockTicksPeriodicJobs(t *testing.T) {
	clock := jobschedtest.NewClock(epoch)
	ran := make(chan time.Time, 10)
	s := jobschedtest.Start(t, jobsched.Config{Clock: clock, Periodic: []jobsched.PeriodicJob{{Cron: "@every 1h", Kind: "hourly"}}},
		map[string]jobsched.Handler{"hourly": func(context.Context, *jobsched.Job) (any, error) { ran <- clock.Now(); return nil, nil }})
	clock.Advance(time.Hour)
	select {
	case at := <-ran:
		require.Equal(t, epoch.Add(time.Hour), at)
	case <-time.After(5 * time.Second):
		t.Fatal("the hourly job did not run when the clock passed the hour")
	}
	clock.Advance(time.Hour)
	select {
	case at := <-ran:
		require.Equal(t, epoch.Add(2*time.Hour), at)
	case <-time.After(5 * time.Second):
		t.Fatal("the second tick did not run")
	}
	jobschedtest.Drain(t, s, 5*time.Second)
	require.Empty(t, ran, "one job per tick")
}
