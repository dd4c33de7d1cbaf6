package jobsched_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/jobsched/jobsched"
)

// A fan-in: two "fetch" jobs and a "sum" job that depends on both ("#0" and "#1" name entries of
// the same batch). The sum stays pending until both fetches succeeded, then reads their results.
func Example_dependencies() {
	s, err := jobsched.New(jobsched.Config{})
	if err != nil {
		panic(err)
	}
	_ = s.Register("fetch", func(ctx context.Context, j *jobsched.Job) (any, error) {
		var n int
		err := json.Unmarshal(j.Args, &n)
		return n * 10, err
	})
	_ = s.Register("sum", func(ctx context.Context, j *jobsched.Job) (any, error) {
		results, err := jobsched.ParentResults(ctx) // parent id → its result
		if err != nil {
			return nil, err
		}
		total := 0
		for _, r := range results {
			if r == nil {
				continue // a parent that failed (on_parent_failure "run") has no result
			}
			var n int
			if err := json.Unmarshal(r, &n); err != nil {
				return nil, err
			}
			total += n
		}
		return total, nil
	})
	_ = s.Register("fail", func(context.Context, *jobsched.Job) (any, error) { return nil, fmt.Errorf("no luck") })
	ctx := context.Background()
	if err := s.Start(ctx); err != nil {
		panic(err)
	}
	defer s.Close(ctx)

	jobs, err := s.EnqueueBatch(ctx, []jobsched.JobSpec{
		{Kind: "fetch", Args: jobsched.Args(1)},
		{Kind: "fetch", Args: jobsched.Args(2)},
		{Kind: "sum", DependsOn: []string{"#0", "#1"}},
	})
	if err != nil {
		panic(err)
	}
	fmt.Println("sum is", jobs[2].State, "on", len(jobs[2].Parents), "parents")
	done, err := s.Wait(ctx, jobs[2].ID)
	if err != nil {
		panic(err)
	}
	fmt.Println("sum", done.State, string(done.Result))

	// A parent that fails cancels its dependents, unless they say OnParentFailure "run".
	jobs, err = s.EnqueueBatch(ctx, []jobsched.JobSpec{
		{Kind: "fail", MaxAttempts: 1},
		{Kind: "sum", DependsOn: []string{"#0"}},
		{Kind: "sum", DependsOn: []string{"#0"}, OnParentFailure: jobsched.ParentFailureRun},
	})
	if err != nil {
		panic(err)
	}
	var states []string
	for _, j := range jobs[1:] {
		done, err := s.Wait(ctx, j.ID)
		if err != nil {
			panic(err)
		}
		states = append(states, string(done.State))
	}
	sort.Strings(states)
	fmt.Println(states)
	// Output:
	// sum is pending on 2 parents
	// sum succeeded 30
	// [cancelled succeeded]
}
