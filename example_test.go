package jobsched_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jobsched/jobsched"
	"github.com/jobsched/jobsched/supervision"
)

// A scheduler on an in-memory store (Config.Dir empty): register a handler, start, enqueue,
// wait for the result.
func Example() {
	s, err := jobsched.New(jobsched.Config{})
	if err != nil {
		panic(err)
	}
	_ = s.Register("greet", func(ctx context.Context, j *jobsched.Job) (any, error) {
		var name string
		if err := jsonUnmarshal(j.Args, &name); err != nil {
			return nil, err
		}
		return "hello, " + name, nil
	})
	ctx := context.Background()
	if err := s.Start(ctx); err != nil {
		panic(err)
	}
	defer s.Close(ctx)

	job, err := s.Enqueue(ctx, jobsched.JobSpec{Kind: "greet", Args: jobsched.Args("world")})
	if err != nil {
		panic(err)
	}
	done, err := s.Wait(ctx, job.ID)
	if err != nil {
		panic(err)
	}
	fmt.Println(done.State, string(done.Result))
	// Output: succeeded "hello, world"
}

// EnqueueBatch stores many jobs in one commit, all or nothing.
func ExampleScheduler_EnqueueBatch() {
	s := exampleScheduler()
	defer s.Close(context.Background())
	specs := make([]jobsched.JobSpec, 3)
	for i := range specs {
		specs[i] = jobsched.JobSpec{Kind: "noop", Args: jobsched.Args(i)}
	}
	jobs, err := s.EnqueueBatch(context.Background(), specs)
	fmt.Println(len(jobs), err)
	_, err = s.EnqueueBatch(context.Background(), []jobsched.JobSpec{{Kind: "noop"}, {Kind: ""}})
	fmt.Println(err)
	// Output:
	// 3 <nil>
	// invalid jobs[1].kind: must be set
}

// A unique key makes a second enqueue return the unfinished first job.
func ExampleScheduler_Enqueue_uniqueKey() {
	s := exampleScheduler()
	defer s.Close(context.Background())
	ctx := context.Background()
	_ = s.Pause("default") // keep the first job unfinished
	first, _ := s.Enqueue(ctx, jobsched.JobSpec{Kind: "noop", UniqueKey: "invoice-42"})
	second, err := s.Enqueue(ctx, jobsched.JobSpec{Kind: "noop", UniqueKey: "invoice-42"})
	fmt.Println(errors.Is(err, jobsched.ErrDuplicate), second.ID == first.ID)
	// Output: true true
}

// Cancel stops a running job: its handler's context is cancelled with cause ErrCancelled.
func ExampleScheduler_Cancel() {
	started := make(chan struct{})
	s, _ := jobsched.New(jobsched.Config{})
	_ = s.Register("long", func(ctx context.Context, j *jobsched.Job) (any, error) {
		close(started)
		<-ctx.Done()
		return nil, context.Cause(ctx)
	})
	ctx := context.Background()
	_ = s.Start(ctx)
	defer s.Close(ctx)
	job, _ := s.Enqueue(ctx, jobsched.JobSpec{Kind: "long"})
	<-started
	_, _ = s.Cancel(ctx, job.ID)
	done, _ := s.Wait(ctx, job.ID)
	fmt.Println(done.State)
	// Output: cancelled
}

// A failing job is retried with backoff until MaxAttempts; each attempt's error is kept.
func ExampleHandler_retries() {
	s, _ := jobsched.New(jobsched.Config{RetryBackoff: func(int) time.Duration { return time.Millisecond }})
	_ = s.Register("flaky", func(ctx context.Context, j *jobsched.Job) (any, error) {
		if j.Attempt < 3 {
			return nil, fmt.Errorf("attempt %d failed", j.Attempt)
		}
		return "ok", nil
	})
	ctx := context.Background()
	_ = s.Start(ctx)
	defer s.Close(ctx)
	job, _ := s.Enqueue(ctx, jobsched.JobSpec{Kind: "flaky", MaxAttempts: 5})
	done, _ := s.Wait(ctx, job.ID)
	fmt.Println(done.State, done.Attempt, done.Errors[0].Error, done.Errors[1].Error)
	// Output: succeeded 3 attempt 1 failed attempt 2 failed
}

// The live supervision tree, as the API and the dashboard show it.
func ExampleScheduler_Tree() {
	s := exampleScheduler()
	defer s.Close(context.Background())
	supervision.Walk(s.Tree(), func(n *supervision.Node, depth int) {
		if n.Role != "Worker" {
			fmt.Println(strings.TrimRight(fmt.Sprintf("%*s%s %s", 2*depth, "", n.Role, n.Strategy), " "))
		}
	})
	// Output:
	// RootSupervisor rest_for_one
	//   Categories one_for_one
	//     CategorySupervisor rest_for_one
	//       Fifo
	//       WorkerRegistry
	//       Workers one_for_one
	//   Waiter
	//   Dispatcher
	//   WorkerBalancer
}

func exampleScheduler() *jobsched.Scheduler {
	s, err := jobsched.New(jobsched.Config{})
	if err != nil {
		panic(err)
	}
	_ = s.Register("noop", func(context.Context, *jobsched.Job) (any, error) { return nil, nil })
	if err := s.Start(context.Background()); err != nil {
		panic(err)
	}
	return s
}
