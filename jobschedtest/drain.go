package jobschedtest

import (
	"context"
	"testing"
	"time"

	"github.com/jobsched/jobsched"
)

// Drain runs the queue until it is empty: it returns once no job is queued, running or
// retrying (retries come quickly with the backoff Start sets; with a Clock as Config.Clock,
// Drain moves the clock to each retry's time once nothing else runs), and fails the test if
// that takes longer than timeout. Jobs the handlers enqueue meanwhile are drained too. Jobs
// scheduled for later stay scheduled; DrainAll runs them as well.
func Drain(t testing.TB, s *jobsched.Scheduler, timeout time.Duration) {
	t.Helper()
	drain(t, s, timeout, false)
}

// DrainAll is Drain that also runs every scheduled job now instead of at its run_at, until no
// job is left unfinished, so a test need not wait for delays.
func DrainAll(t testing.TB, s *jobsched.Scheduler, timeout time.Duration) {
	t.Helper()
	drain(t, s, timeout, true)
}

func drain(t testing.TB, s *jobsched.Scheduler, timeout time.Duration, scheduled bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	// Job events wake the check; the ticker covers the moments no event marks (a retry's backoff).
	events, stop := s.Subscribe(1024)
	defer stop()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	clock, _ := s.Config().Clock.(*Clock)
	for {
		busy, waiting := pending(s)
		if clock != nil && busy > 0 {
			advanceToRetry(ctx, t, s, clock)
		}
		if scheduled && waiting > 0 {
			if _, err := s.RetryWhere(ctx, jobsched.Filter{State: jobsched.StateScheduled}); err != nil {
				t.Fatalf("jobschedtest: drain: run the scheduled jobs now: %v", err)
			}
			continue
		}
		if busy == 0 {
			return
		}
		select {
		case <-events:
		case <-tick.C:
		case <-ctx.Done():
			t.Fatalf("jobschedtest: drain: %d jobs still queued, running or retrying after %s", busy, timeout)
		}
	}
}

// pending counts the jobs that will run without anyone waiting for a time (queued, running,
// retrying), and the scheduled ones.
func pending(s *jobsched.Scheduler) (busy, scheduled int) {
	for _, c := range s.Categories() {
		busy += c.Counts[jobsched.StateQueued] + c.Counts[jobsched.StateRunning] + c.Counts[jobsched.StateRetrying]
		scheduled += c.Counts[jobsched.StateScheduled]
	}
	return busy, scheduled
}

// advanceToRetry moves a fake clock to the earliest retry's time when every busy job is
// retrying: nothing else would move them.
func advanceToRetry(ctx context.Context, t testing.TB, s *jobsched.Scheduler, clock *Clock) {
	t.Helper()
	for _, c := range s.Categories() {
		if c.Counts[jobsched.StateQueued]+c.Counts[jobsched.StateRunning] > 0 {
			return
		}
	}
	var first time.Time
	cursor := ""
	for {
		jobs, next, err := s.List(ctx, jobsched.ListOptions{State: jobsched.StateRetrying, Limit: 1000, Cursor: cursor})
		if err != nil {
			t.Fatalf("jobschedtest: drain: list the retrying jobs: %v", err)
		}
		for _, j := range jobs {
			if first.IsZero() || j.RunAt.Before(first) {
				first = j.RunAt
			}
		}
		if next == "" {
			break
		}
		cursor = next
	}
	if !first.IsZero() {
		clock.AdvanceTo(first)
	}
}
