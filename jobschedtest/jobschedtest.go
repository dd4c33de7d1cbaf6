// Package jobschedtest helps users test code that enqueues jobs: a started scheduler on an
// in-memory store that closes itself at the end of the test, Drain to run its queue until it is
// empty, assertions on the jobs it holds, by kind and args (River's rivertest shows why a job
// system wants one), and a fake Clock that runs delayed jobs and retries when the test moves it.
package jobschedtest

import (
	"context"
	"testing"
	"time"

	"github.com/jobsched/jobsched"
)

// Start returns a started scheduler for t: in memory unless cfg.Dir is set, with fast retries
// (10 ms) unless cfg.RetryBackoff is set, the handlers registered, and Close at the end of t.
// With a Clock as cfg.Clock, retries and delays wait for the test to move it (or for Drain).
func Start(t testing.TB, cfg jobsched.Config, handlers map[string]jobsched.Handler) *jobsched.Scheduler {
	t.Helper()
	if cfg.RetryBackoff == nil {
		cfg.RetryBackoff = func(int) time.Duration { return 10 * time.Millisecond }
	}
	s, err := jobsched.New(cfg)
	if err != nil {
		t.Fatalf("jobschedtest: %v", err)
	}
	for kind, h := range handlers {
		if err := s.Register(kind, h); err != nil {
			t.Fatalf("jobschedtest: %v", err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Start(ctx); err != nil {
		t.Fatalf("jobschedtest: start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Close(ctx); err != nil {
			t.Errorf("jobschedtest: close: %v", err)
		}
	})
	return s
}

// RequireEnqueued finds the newest job of kind (in category, if not "") and returns it, or fails
// the test. Use it to check that the code under test enqueued what it should.
func RequireEnqueued(t testing.TB, s *jobsched.Scheduler, kind, category string) *jobsched.Job {
	t.Helper()
	cursor := ""
	for {
		jobs, next, err := s.List(context.Background(), jobsched.ListOptions{Category: category, Limit: 1000, Cursor: cursor})
		if err != nil {
			t.Fatalf("jobschedtest: list: %v", err)
		}
		for _, j := range jobs {
			if j.Kind == kind {
				return j
			}
		}
		if next == "" {
			t.Fatalf("jobschedtest: no job of kind %q was enqueued (category %q)", kind, category)
		}
		cursor = next
	}
}

// RequireFinished waits (up to timeout) for the job to finish and fails the test unless it ends
// in state want. It returns the job.
func RequireFinished(t testing.TB, s *jobsched.Scheduler, id string, want jobsched.State, timeout time.Duration) *jobsched.Job {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	j, err := s.Wait(ctx, id)
	if err != nil {
		t.Fatalf("jobschedtest: job %s did not finish within %s: %v", id, timeout, err)
	}
	if j.State != want {
		t.Fatalf("jobschedtest: job %s ended %s (want %s); last error: %q", id, j.State, want, j.LastError())
	}
	return j
}
