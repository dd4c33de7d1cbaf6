package jobsched_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/jobsched/jobsched"
	"github.com/stretchr/testify/require"
)

// Issue 15: retrying a dead parent lets its cancelled dependents run again only if asked.
func TestRetryRevivesTheCancelledDependentsOnlyIfAsked(t *testing.T) {
	var fail atomic.Bool
	fail.Store(true)
	o := newOrder()
	s := start(t, jobsched.Config{Workers: 4, PollInterval: slowPoll}, map[string]jobsched.Handler{
		"flaky": o.wrap(flaky(&fail)), "step": o.wrap(noop)})
	ctx := context.Background()
	dag := func() []*jobsched.Job {
		jobs, err := s.EnqueueBatch(ctx, []jobsched.JobSpec{
			{Kind: "flaky", MaxAttempts: 1},
			{Kind: "step", DependsOn: []string{"#0"}},
			{Kind: "step", DependsOn: []string{"#1"}},
			{Kind: "step", DependsOn: []string{"#0"}, OnParentFailure: jobsched.ParentFailureRun},
			{Kind: "step", DependsOn: []string{"#0", "#1"}}, // a diamond
		})
		require.NoError(t, err)
		for _, j := range jobs {
			waitJob(t, s, j.ID)
		}
		return jobs
	}
	stateOf := func(jobs []*jobsched.Job) []jobsched.State {
		var out []jobsched.State
		for _, j := range jobs {
			got, err := s.Get(ctx, j.ID)
			require.NoError(t, err)
			out = append(out, got.State)
		}
		return out
	}
	failed := []jobsched.State{jobsched.StateDead, jobsched.StateCancelled, jobsched.StateCancelled, jobsched.StateSucceeded, jobsched.StateCancelled}
	plain, revived := dag(), dag()
	require.Equal(t, failed, stateOf(plain))
	require.Equal(t, failed, stateOf(revived))
	fail.Store(false)

	// Without the option, the dependents stay cancelled.
	_, err := s.RetryWith(ctx, plain[0].ID, jobsched.RetryOptions{})
	require.NoError(t, err)
	waitJob(t, s, plain[0].ID)
	require.Equal(t, []jobsched.State{jobsched.StateSucceeded, jobsched.StateCancelled, jobsched.StateCancelled, jobsched.StateSucceeded, jobsched.StateCancelled}, stateOf(plain))

	// With it, the child and the grandchild run again, after their parents.
	j, err := s.RetryWith(ctx, revived[0].ID, jobsched.RetryOptions{Dependents: true})
	require.NoError(t, err)
	require.Equal(t, jobsched.StateQueued, j.State)
	for _, j := range revived {
		waitJob(t, s, j.ID)
	}
	require.Equal(t, []jobsched.State{jobsched.StateSucceeded, jobsched.StateSucceeded, jobsched.StateSucceeded, jobsched.StateSucceeded, jobsched.StateSucceeded}, stateOf(revived))
	// The 4th ran when its parent died (on_parent_failure "run"): its start is the earlier one.
	o.checkAfterParents(t, []*jobsched.Job{revived[0], revived[1], revived[2], revived[4]})

	_, err = s.RetryWith(ctx, revived[0].ID, jobsched.RetryOptions{Dependents: true})
	require.ErrorIs(t, err, jobsched.ErrNotRetryable, "a succeeded job is not retried")
	_, err = s.RetryWith(ctx, "no-such-job", jobsched.RetryOptions{Dependents: true})
	require.ErrorIs(t, err, jobsched.ErrNotFound)
}

// A fan-out wider than one page of the store is revived whole.
func TestRetryRevivesABigFanOut(t *testing.T) {
	var fail atomic.Bool
	fail.Store(true)
	var ran atomic.Int64
	s := start(t, jobsched.Config{Workers: 8}, map[string]jobsched.Handler{"flaky": flaky(&fail),
		"child": func(context.Context, *jobsched.Job) (any, error) { ran.Add(1); return nil, nil }})
	ctx := context.Background()
	p, err := s.Enqueue(ctx, jobsched.JobSpec{Kind: "flaky", MaxAttempts: 1})
	require.NoError(t, err)
	const n = 3000
	specs := make([]jobsched.JobSpec, n)
	for i := range specs {
		specs[i] = jobsched.JobSpec{Kind: "child", DependsOn: []string{p.ID}}
	}
	children, err := s.EnqueueBatch(ctx, specs)
	require.NoError(t, err)
	for _, c := range children {
		require.Equal(t, jobsched.StateCancelled, waitJob(t, s, c.ID).State)
	}
	fail.Store(false)
	_, err = s.RetryWith(ctx, p.ID, jobsched.RetryOptions{Dependents: true})
	require.NoError(t, err)
	for i, c := range children {
		require.Equal(t, jobsched.StateSucceeded, waitJob(t, s, c.ID).State, fmt.Sprint("child ", i))
	}
	require.EqualValues(t, n, ran.Load())
}
