package jobschedtest_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jobsched/jobsched"
	"github.com/jobsched/jobsched/jobschedtest"
)

// A fake clock runs a reminder due tomorrow, and the retries of a failing job, without waiting:
// the test moves the clock.
func ExampleClock() {
	clock := jobschedtest.NewClock(time.Date(2030, 1, 1, 9, 0, 0, 0, time.UTC))
	s, err := jobsched.New(jobsched.Config{Clock: clock, RetryBackoff: func(int) time.Duration { return 10 * time.Minute }})
	must(err)
	must(s.Register("remind", func(context.Context, *jobsched.Job) (any, error) { return "reminded", nil }))
	must(s.Register("charge", func(_ context.Context, j *jobsched.Job) (any, error) {
		if j.Attempt == 1 {
			return nil, errors.New("card declined")
		}
		return "charged", nil
	}))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	must(s.Start(ctx))
	defer func() { must(s.Close(context.Background())) }()

	remind, err := s.Enqueue(ctx, jobsched.JobSpec{Kind: "remind", Delay: jobsched.Duration(24 * time.Hour)})
	must(err)
	clock.Advance(24 * time.Hour)
	j, err := s.Wait(ctx, remind.ID)
	must(err)
	fmt.Println(j.State, j.StartedAt.Format(time.DateTime))

	charge, err := s.Enqueue(ctx, jobsched.JobSpec{Kind: "charge", MaxAttempts: 2})
	must(err)
	r, err := jobschedtest.WaitState(ctx, s, charge.ID, jobsched.StateRetrying) // the backoff counts from here
	must(err)
	fmt.Println(r.State, r.LastError(), "until", r.RunAt.Format(time.TimeOnly))
	clock.Advance(10 * time.Minute)
	j, err = s.Wait(ctx, charge.ID)
	must(err)
	fmt.Println(j.State, "at attempt", j.Attempt, j.FinishedAt.Format(time.TimeOnly))
	// Output:
	// succeeded 2030-01-02 09:00:00
	// retrying card declined until 09:10:00
	// succeeded at attempt 2 09:10:00
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}
