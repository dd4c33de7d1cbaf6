package jobschedtest_test

import (
	"context"
	"testing"
	"time"

	"github.com/jobsched/jobsched"
	"github.com/jobsched/jobsched/internal/leaktest"
	"github.com/jobsched/jobsched/jobschedtest"
)

// signUp is the code under test: it enqueues a welcome email.
func signUp(ctx context.Context, s *jobsched.Scheduler, email string) error {
	_, err := s.Enqueue(ctx, jobsched.JobSpec{Kind: "welcome-email", Category: "default", Args: jobsched.Args(email)})
	return err
}

func TestSignUpEnqueuesAWelcomeEmail(t *testing.T) {
	sent := make(chan string, 1)
	s := jobschedtest.Start(t, jobsched.Config{}, map[string]jobsched.Handler{
		"welcome-email": func(ctx context.Context, j *jobsched.Job) (any, error) {
			sent <- string(j.Args)
			return nil, nil
		},
	})
	if err := signUp(context.Background(), s, "a@example.com"); err != nil {
		t.Fatal(err)
	}
	j := jobschedtest.RequireEnqueued(t, s, "welcome-email", "default")
	jobschedtest.RequireFinished(t, s, j.ID, jobsched.StateSucceeded, 5*time.Second)
	if got := <-sent; got != `"a@example.com"` {
		t.Fatalf("sent to %s", got)
	}
}

func TestMain(m *testing.M) { leaktest.VerifyTestMain(m) }
