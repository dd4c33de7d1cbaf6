package postgres_test

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jobsched/jobsched"
	"github.com/jobsched/jobsched/internal/pgtest"
	"github.com/jobsched/jobsched/persistence/postgres"
	"github.com/stretchr/testify/require"
)

// depNode starts a scheduler on the shared database with a quick kind and a failing one.
func depNode(t *testing.T, dsn, name string) *jobsched.Scheduler {
	t.Helper()
	st := open(t, dsn, postgres.Options{Node: name})
	s, err := jobsched.New(jobsched.Config{Store: st, Workers: 4})
	require.NoError(t, err)
	require.NoError(t, s.Register("step", func(ctx context.Context, _ *jobsched.Job) (any, error) {
		res, err := jobsched.ParentResults(ctx)
		return len(res), err
	}))
	require.NoError(t, s.Register("fail", func(context.Context, *jobsched.Job) (any, error) { return nil, errors.New("boom") }))
	require.NoError(t, s.Start(ctx))
	t.Cleanup(func() {
		c, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		require.NoError(t, s.Close(c))
	})
	return s
}

// Issue 15 on PostgreSQL, two nodes on one database: a fan-in and a chain run after their
// parents (started after each parent's finish, by the stored timestamps), a failed parent
// cancels its dependents (Wait sees them end on either node), "run" lets one run anyway.
func TestDependenciesAcrossTwoNodes(t *testing.T) {
	dsn := pgtest.DSN(t)
	a := depNode(t, dsn, "a")
	b := depNode(t, dsn, "b")
	specs := []jobsched.JobSpec{}
	var all []string
	for i := 0; i < 30; i++ {
		specs = append(specs, jobsched.JobSpec{Kind: "step", MaxAttempts: 1})
		all = append(all, "#"+strconv.Itoa(i))
	}
	specs = append(specs,
		jobsched.JobSpec{Kind: "step", DependsOn: all},                                                         // 30: the fan-in
		jobsched.JobSpec{Kind: "step", DependsOn: []string{"#30"}},                                             // 31: a chain
		jobsched.JobSpec{Kind: "step", DependsOn: []string{"#31"}},                                             // 32
		jobsched.JobSpec{Kind: "fail", MaxAttempts: 1},                                                         // 33
		jobsched.JobSpec{Kind: "step", DependsOn: []string{"#33"}},                                             // 34: cancelled
		jobsched.JobSpec{Kind: "step", DependsOn: []string{"#34"}},                                             // 35: cancelled in turn
		jobsched.JobSpec{Kind: "step", DependsOn: []string{"#33"}, OnParentFailure: jobsched.ParentFailureRun}, // 36
	)
	jobs, err := a.EnqueueBatch(ctx, specs)
	require.NoError(t, err)
	require.Equal(t, jobsched.StatePending, jobs[30].State)
	wait := func(s *jobsched.Scheduler, id string) *jobsched.Job {
		t.Helper()
		wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		j, err := s.Wait(wctx, id)
		require.NoError(t, err, id)
		return j
	}
	fanIn := wait(b, jobs[30].ID)
	require.Equal(t, jobsched.StateSucceeded, fanIn.State)
	require.JSONEq(t, "30", string(fanIn.Result), "ParentResults gave the 30 parents")
	for _, p := range jobs[:30] {
		got := wait(a, p.ID)
		require.False(t, fanIn.StartedAt.Before(*got.FinishedAt), "the fan-in started after each parent finished")
	}
	last := wait(a, jobs[32].ID)
	mid := wait(b, jobs[31].ID)
	require.Equal(t, jobsched.StateSucceeded, last.State)
	require.False(t, last.StartedAt.Before(*mid.FinishedAt))
	require.False(t, mid.StartedAt.Before(*fanIn.FinishedAt))

	c := wait(b, jobs[34].ID)
	require.Equal(t, jobsched.StateCancelled, c.State)
	require.Contains(t, c.LastError(), "parent "+jobs[33].ID+" ended dead: boom")
	require.Equal(t, jobsched.StateCancelled, wait(a, jobs[35].ID).State)
	require.Equal(t, jobsched.StateSucceeded, wait(a, jobs[36].ID).State)
	p, err := b.Get(ctx, jobs[33].ID)
	require.NoError(t, err)
	require.ElementsMatch(t, []string{jobs[34].ID, jobs[36].ID}, p.Children)

	_, err = a.Enqueue(ctx, jobsched.JobSpec{Kind: "step", DependsOn: []string{"0190a0a0-0000-7000-8000-000000000000"}})
	require.ErrorIs(t, err, jobsched.ErrInvalid, "an unknown parent is refused")
}

// Retrying a dead parent with dependents on PostgreSQL: its cancelled dependents (and theirs,
// and a diamond's) run again, revived in one transaction with the retry; without the option
// they stay cancelled.
func TestRetryRevivesDependentsOnPostgres(t *testing.T) {
	dsn := pgtest.DSN(t)
	st := open(t, dsn, postgres.Options{Node: "n1"})
	s, err := jobsched.New(jobsched.Config{Store: st, Workers: 4})
	require.NoError(t, err)
	var fail atomic.Bool
	fail.Store(true)
	require.NoError(t, s.Register("flaky", func(context.Context, *jobsched.Job) (any, error) {
		if fail.Load() {
			return nil, errors.New("down")
		}
		return nil, nil
	}))
	require.NoError(t, s.Register("step", func(context.Context, *jobsched.Job) (any, error) { return nil, nil }))
	require.NoError(t, s.Start(ctx))
	t.Cleanup(func() {
		c, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		require.NoError(t, s.Close(c))
	})
	wait := func(id string) *jobsched.Job {
		t.Helper()
		wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		j, err := s.Wait(wctx, id)
		require.NoError(t, err, id)
		return j
	}
	dag := func() []*jobsched.Job {
		jobs, err := s.EnqueueBatch(ctx, []jobsched.JobSpec{
			{Kind: "flaky", MaxAttempts: 1},                 // 0
			{Kind: "step", DependsOn: []string{"#0"}},       // 1
			{Kind: "step", DependsOn: []string{"#1"}},       // 2: cancelled because 1 was
			{Kind: "step", DependsOn: []string{"#0"}},       // 3
			{Kind: "step", DependsOn: []string{"#0", "#3"}}, // 4: a diamond
		})
		require.NoError(t, err)
		for _, j := range jobs {
			require.NotEqual(t, jobsched.StateSucceeded, wait(j.ID).State)
		}
		return jobs
	}
	plain, revived := dag(), dag()
	fail.Store(false)
	_, err = s.RetryWith(ctx, plain[0].ID, jobsched.RetryOptions{})
	require.NoError(t, err)
	require.Equal(t, jobsched.StateSucceeded, wait(plain[0].ID).State)
	got, err := s.Get(ctx, plain[1].ID)
	require.NoError(t, err)
	require.Equal(t, jobsched.StateCancelled, got.State, "without the option")

	j, err := s.RetryWith(ctx, revived[0].ID, jobsched.RetryOptions{Dependents: true})
	require.NoError(t, err)
	require.Equal(t, jobsched.StateQueued, j.State)
	for _, j := range revived {
		require.Equal(t, jobsched.StateSucceeded, wait(j.ID).State, "every dependent ran again: %s", j.ID)
	}
	p, err := s.Get(ctx, revived[0].ID)
	require.NoError(t, err)
	for _, c := range revived[1:] {
		if slices.Contains(c.Parents, p.ID) {
			got, err := s.Get(ctx, c.ID)
			require.NoError(t, err)
			require.False(t, got.StartedAt.Before(*p.FinishedAt), "%s started after its parent's retry finished", c.ID)
		}
	}
	_, err = s.RetryWith(ctx, revived[0].ID, jobsched.RetryOptions{Dependents: true})
	require.ErrorIs(t, err, jobsched.ErrNotRetryable)
}

// Finishes written in batches (the store's async workers take every finish waiting) settle
// their dependents too: 300 parent → child pairs on 32 workers, every child released after its
// parent, none left pending.
func TestBatchedFinishesReleaseDependents(t *testing.T) {
	st := open(t, pgtest.DSN(t), postgres.Options{Node: "a"})
	s, err := jobsched.New(jobsched.Config{Store: st, Workers: 32})
	require.NoError(t, err)
	require.NoError(t, s.Register("step", func(context.Context, *jobsched.Job) (any, error) { return nil, nil }))
	require.NoError(t, s.Start(ctx))
	t.Cleanup(func() {
		c, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		require.NoError(t, s.Close(c))
	})
	specs := make([]jobsched.JobSpec, 0, 600)
	for i := 0; i < 300; i++ {
		specs = append(specs, jobsched.JobSpec{Kind: "step"}, jobsched.JobSpec{Kind: "step", DependsOn: []string{"#" + strconv.Itoa(2*i)}})
	}
	jobs, err := s.EnqueueBatch(ctx, specs)
	require.NoError(t, err)
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for i := 0; i < len(jobs); i += 2 {
		child, err := s.Wait(wctx, jobs[i+1].ID)
		require.NoError(t, err, "child %d", i+1)
		require.Equal(t, jobsched.StateSucceeded, child.State)
		parent, err := s.Get(ctx, jobs[i].ID)
		require.NoError(t, err)
		require.False(t, child.StartedAt.Before(*parent.FinishedAt), "a child started after its parent finished")
	}
}
