package jobsched_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/jobsched/jobsched"
)

// A job that died because a dependency was down runs again once it is fixed: Retry keeps its
// attempts and errors and gives it one more attempt. Delete removes it once it has finished.
func ExampleScheduler_Retry() {
	var fixed atomic.Bool
	s, err := jobsched.New(jobsched.Config{})
	if err != nil {
		panic(err)
	}
	_ = s.Register("report", func(context.Context, *jobsched.Job) (any, error) {
		if !fixed.Load() {
			return nil, errors.New("database down")
		}
		return "done", nil
	})
	ctx := context.Background()
	if err := s.Start(ctx); err != nil {
		panic(err)
	}
	defer s.Close(ctx)

	job, _ := s.Enqueue(ctx, jobsched.JobSpec{Kind: "report", MaxAttempts: 1})
	dead, _ := s.Wait(ctx, job.ID)
	fmt.Println(dead.State, dead.LastError())

	fixed.Store(true)
	if _, err := s.Retry(ctx, job.ID); err != nil {
		panic(err)
	}
	done, _ := s.Wait(ctx, job.ID)
	fmt.Println(done.State, done.Attempt, "of", done.MaxAttempts)

	_, err = s.Retry(ctx, job.ID)
	fmt.Println(errors.Is(err, jobsched.ErrNotRetryable))
	fmt.Println(s.Delete(ctx, job.ID))
	// Output:
	// dead database down
	// succeeded 2 of 2
	// true
	// <nil>
}

// RetryWhere and CancelWhere act on every job a filter selects, a page of jobs at a time, and
// say how many they changed.
func ExampleScheduler_CancelWhere() {
	s := exampleScheduler()
	defer s.Close(context.Background())
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		_, _ = s.Enqueue(ctx, jobsched.JobSpec{Kind: "noop", Delay: jobsched.Duration(time.Hour)})
	}
	n, err := s.CancelWhere(ctx, jobsched.Filter{Kind: "noop", State: jobsched.StateScheduled})
	fmt.Println(n, err)
	n, err = s.RetryWhere(ctx, jobsched.Filter{Kind: "noop", State: jobsched.StateCancelled})
	fmt.Println(n, err)
	_, err = s.RetryWhere(ctx, jobsched.Filter{})
	fmt.Println(err)
	// Output:
	// 3 <nil>
	// 3 <nil>
	// invalid filter: name at least one of category, kind, state
}
