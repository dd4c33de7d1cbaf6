package jobsched_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jobsched/jobsched"
	"github.com/stretchr/testify/require"
)

// Issue 15, dependencies: depends_on, on_parent_failure, pending, ParentResults.

// order records when each job started and finished, to check no child starts before its
// parents finished.
type order struct {
	mu       sync.Mutex
	n        int
	started  map[string]int
	finished map[string]int
}

func newOrder() *order { return &order{started: map[string]int{}, finished: map[string]int{}} }

// wrap records the start and the end of h's runs.
func (o *order) wrap(h jobsched.Handler) jobsched.Handler {
	return func(ctx context.Context, j *jobsched.Job) (any, error) {
		o.mu.Lock()
		o.n++
		o.started[j.ID] = o.n
		o.mu.Unlock()
		res, err := h(ctx, j)
		o.mu.Lock()
		o.n++
		o.finished[j.ID] = o.n
		o.mu.Unlock()
		return res, err
	}
}

// checkAfterParents fails unless every started job started after each of its parents that ran
// finished.
func (o *order) checkAfterParents(t *testing.T, jobs []*jobsched.Job) {
	t.Helper()
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, j := range jobs {
		st, ok := o.started[j.ID]
		if !ok {
			continue
		}
		for _, p := range j.Parents {
			f, ok := o.finished[p]
			if _, ran := o.started[p]; !ran {
				continue // a parent cancelled before it ran, and on_parent_failure "run"
			}
			require.True(t, ok, "job %s started while its parent %s ran", j.ID, p)
			require.Greater(t, st, f, "job %s started before its parent %s finished", j.ID, p)
		}
	}
}

// slowPoll makes the Fifos' rescan of the store too rare to matter: a released child must
// reach its Fifo by the store's hint.
const slowPoll = time.Minute

func TestAChainRunsInOrderAndPassesResults(t *testing.T) {
	o := newOrder()
	s := start(t, jobsched.Config{Workers: 4, PollInterval: slowPoll}, map[string]jobsched.Handler{
		"step": o.wrap(func(ctx context.Context, j *jobsched.Job) (any, error) {
			res, err := jobsched.ParentResults(ctx)
			if err != nil {
				return nil, err
			}
			sum := 1
			for _, r := range res {
				var n int
				if err := json.Unmarshal(r, &n); err != nil {
					return nil, fmt.Errorf("parent result %s: %w", r, err)
				}
				sum += n
			}
			return sum, nil
		}),
	})
	ctx := context.Background()
	jobs, err := s.EnqueueBatch(ctx, []jobsched.JobSpec{
		{Kind: "step"},
		{Kind: "step", DependsOn: []string{"#0"}},
		{Kind: "step", DependsOn: []string{"#1"}},
	})
	require.NoError(t, err)
	require.Equal(t, jobsched.StatePending, jobs[2].State)
	require.Equal(t, []string{jobs[1].ID}, jobs[2].Parents)
	c := waitJob(t, s, jobs[2].ID)
	require.Equal(t, jobsched.StateSucceeded, c.State)
	require.JSONEq(t, "3", string(c.Result), "A returns 1, B 1+1, C 2+1")
	var all []*jobsched.Job
	for _, j := range jobs {
		got, err := s.Get(ctx, j.ID)
		require.NoError(t, err)
		all = append(all, got)
	}
	require.Equal(t, []string{jobs[1].ID}, all[0].Children)
	o.checkAfterParents(t, all)

	_, err = jobsched.ParentResults(ctx)
	require.ErrorIs(t, err, jobsched.ErrNoAttempt)
}

func TestFanInAThousandParentsToOneChild(t *testing.T) {
	o := newOrder()
	s := start(t, jobsched.Config{Workers: 8, PollInterval: slowPoll}, map[string]jobsched.Handler{
		"k": o.wrap(func(ctx context.Context, j *jobsched.Job) (any, error) {
			res, err := jobsched.ParentResults(ctx)
			return len(res), err
		}),
	})
	const n = 1000
	specs := make([]jobsched.JobSpec, n+1)
	specs[n] = jobsched.JobSpec{Kind: "k"}
	for i := range n {
		specs[i] = jobsched.JobSpec{Kind: "k"}
		specs[n].DependsOn = append(specs[n].DependsOn, fmt.Sprintf("#%d", i))
	}
	jobs, err := s.EnqueueBatch(context.Background(), specs)
	require.NoError(t, err)
	c := waitJob(t, s, jobs[n].ID)
	require.Equal(t, jobsched.StateSucceeded, c.State)
	require.JSONEq(t, fmt.Sprint(n), string(c.Result))
	o.checkAfterParents(t, []*jobsched.Job{c})
}

func TestFanOutOneParentToAThousandChildren(t *testing.T) {
	o := newOrder()
	gate := make(chan struct{})
	s := start(t, jobsched.Config{Workers: 8, PollInterval: slowPoll}, map[string]jobsched.Handler{
		"parent": o.wrap(func(ctx context.Context, j *jobsched.Job) (any, error) {
			select {
			case <-gate:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			return "p", nil
		}),
		"child": o.wrap(noop),
	})
	ctx := context.Background()
	p, err := s.Enqueue(ctx, jobsched.JobSpec{Kind: "parent"})
	require.NoError(t, err)
	const n = 1000
	specs := make([]jobsched.JobSpec, n)
	for i := range specs {
		specs[i] = jobsched.JobSpec{Kind: "child", DependsOn: []string{p.ID}}
	}
	children, err := s.EnqueueBatch(ctx, specs)
	require.NoError(t, err)
	for _, c := range children {
		require.Equal(t, jobsched.StatePending, c.State)
	}
	require.Equal(t, n, s.Categories()[0].Counts[jobsched.StatePending])
	close(gate)
	var done []*jobsched.Job
	for _, c := range children {
		done = append(done, waitJob(t, s, c.ID))
		require.Equal(t, jobsched.StateSucceeded, done[len(done)-1].State)
	}
	o.checkAfterParents(t, done)
	require.Zero(t, s.Categories()[0].Counts[jobsched.StatePending])
	got, err := s.Get(ctx, p.ID)
	require.NoError(t, err)
	require.Len(t, got.Children, n)
}

func TestAFailedParentCancelsOrLetsRunItsChildren(t *testing.T) {
	o := newOrder()
	s := start(t, jobsched.Config{Workers: 4, PollInterval: slowPoll}, map[string]jobsched.Handler{
		"fail": o.wrap(func(context.Context, *jobsched.Job) (any, error) { return nil, errors.New("boom") }),
		"ok": o.wrap(func(ctx context.Context, j *jobsched.Job) (any, error) {
			res, err := jobsched.ParentResults(ctx)
			return len(res), err
		}),
	})
	ctx := context.Background()
	jobs, err := s.EnqueueBatch(ctx, []jobsched.JobSpec{
		{Kind: "fail", MaxAttempts: 1},
		{Kind: "ok", DependsOn: []string{"#0"}},                                  // cancelled
		{Kind: "ok", DependsOn: []string{"#1"}},                                  // cancelled in turn
		{Kind: "ok", DependsOn: []string{"#0"}, OnParentFailure: "run"},          // runs
		{Kind: "ok", DependsOn: []string{"#1"}, OnParentFailure: "run"},          // runs after #1's cancel
		{Kind: "ok", DependsOn: []string{"#3", "#2"}, OnParentFailure: "cancel"}, // #2 is cancelled
	})
	require.NoError(t, err)
	var got []*jobsched.Job
	for _, j := range jobs {
		got = append(got, waitJob(t, s, j.ID))
	}
	require.Equal(t, jobsched.StateDead, got[0].State)
	require.Equal(t, jobsched.StateCancelled, got[1].State)
	require.Contains(t, got[1].LastError(), "parent "+jobs[0].ID+" ended dead: ")
	require.Contains(t, got[1].LastError(), "boom")
	require.Equal(t, jobsched.StateCancelled, got[2].State)
	require.Contains(t, got[2].LastError(), "parent "+jobs[1].ID+" ended cancelled")
	require.Equal(t, jobsched.StateSucceeded, got[3].State)
	require.JSONEq(t, "1", string(got[3].Result), "the dead parent is in the map, without a result")
	require.Equal(t, jobsched.StateSucceeded, got[4].State)
	require.Equal(t, jobsched.StateCancelled, got[5].State)
	o.checkAfterParents(t, got)

	// Parents already finished when the child is enqueued decide at once.
	late, err := s.Enqueue(ctx, jobsched.JobSpec{Kind: "ok", DependsOn: []string{jobs[0].ID}})
	require.NoError(t, err)
	require.Equal(t, jobsched.StateCancelled, late.State)
	late, err = s.Enqueue(ctx, jobsched.JobSpec{Kind: "ok", DependsOn: []string{jobs[3].ID}})
	require.NoError(t, err)
	require.Equal(t, jobsched.StateQueued, late.State)
	require.Equal(t, jobsched.StateSucceeded, waitJob(t, s, late.ID).State)
}

func TestCancellingAPendingJobCancelsItsDependents(t *testing.T) {
	gate := make(chan struct{})
	s := start(t, jobsched.Config{Workers: 2, PollInterval: slowPoll}, map[string]jobsched.Handler{
		"block": func(ctx context.Context, j *jobsched.Job) (any, error) {
			select {
			case <-gate:
			case <-ctx.Done():
			}
			return nil, nil
		},
		"ok": noop,
	})
	defer close(gate)
	ctx := context.Background()
	jobs, err := s.EnqueueBatch(ctx, []jobsched.JobSpec{
		{Kind: "block"}, {Kind: "ok", DependsOn: []string{"#0"}}, {Kind: "ok", DependsOn: []string{"#1"}},
	})
	require.NoError(t, err)
	c, err := s.Cancel(ctx, jobs[1].ID)
	require.NoError(t, err)
	require.Equal(t, jobsched.StateCancelled, c.State)
	g := waitJob(t, s, jobs[2].ID)
	require.Equal(t, jobsched.StateCancelled, g.State)
	require.Contains(t, g.LastError(), jobs[1].ID)
}

func TestBadDependenciesAreRefusedNamingTheField(t *testing.T) {
	s := start(t, jobsched.Config{PollInterval: slowPoll}, map[string]jobsched.Handler{"k": noop})
	ctx := context.Background()
	existing, err := s.Enqueue(ctx, jobsched.JobSpec{Kind: "k", Delay: jobsched.Duration(time.Hour)})
	require.NoError(t, err)
	before := s.Categories()[0].Counts
	const unknown = "0190a0a0-0000-7000-8000-000000000000"
	for _, tc := range []struct {
		name  string
		specs []jobsched.JobSpec
		batch bool
		field string
	}{
		{"unknown id", []jobsched.JobSpec{{Kind: "k", DependsOn: []string{existing.ID, unknown}}}, false, "depends_on[1]"},
		{"unknown id in a batch", []jobsched.JobSpec{{Kind: "k"}, {Kind: "k"}, {Kind: "k"}, {Kind: "k", DependsOn: []string{"#0", unknown}}}, true, "jobs[3].depends_on[1]"},
		{"self", []jobsched.JobSpec{{Kind: "k"}, {Kind: "k", DependsOn: []string{"#1"}}}, true, "jobs[1].depends_on[0]"},
		{"forward (a cycle)", []jobsched.JobSpec{{Kind: "k", DependsOn: []string{"#1"}}, {Kind: "k", DependsOn: []string{"#0"}}}, true, "jobs[0].depends_on[0]"},
		{"out of range", []jobsched.JobSpec{{Kind: "k"}, {Kind: "k", DependsOn: []string{"#7"}}}, true, "jobs[1].depends_on[0]"},
		{"not a number", []jobsched.JobSpec{{Kind: "k"}, {Kind: "k", DependsOn: []string{"#x"}}}, true, "jobs[1].depends_on[0]"},
		{"#N outside a batch", []jobsched.JobSpec{{Kind: "k", DependsOn: []string{"#0"}}}, false, "depends_on[0]"},
		{"empty", []jobsched.JobSpec{{Kind: "k", DependsOn: []string{""}}}, false, "depends_on[0]"},
		{"twice", []jobsched.JobSpec{{Kind: "k", DependsOn: []string{existing.ID, existing.ID}}}, false, "depends_on[1]"},
		{"bad on_parent_failure", []jobsched.JobSpec{{Kind: "k"}, {Kind: "k", DependsOn: []string{"#0"}, OnParentFailure: "ignore"}}, true, "jobs[1].on_parent_failure"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			if tc.batch {
				_, err = s.EnqueueBatch(ctx, tc.specs)
			} else {
				_, err = s.Enqueue(ctx, tc.specs[0])
			}
			var inv *jobsched.InvalidError
			require.ErrorAs(t, err, &inv)
			require.ErrorIs(t, err, jobsched.ErrInvalid)
			require.Equal(t, tc.field, inv.Field, "%v", err)
			require.Equal(t, before, s.Categories()[0].Counts, "nothing stored")
		})
	}
}

func TestPendingJobsSurviveARestart(t *testing.T) {
	dir := t.TempDir()
	gate := make(chan struct{})
	s, err := jobsched.New(jobsched.Config{Dir: dir, PollInterval: slowPoll})
	require.NoError(t, err)
	require.NoError(t, s.Register("p", func(ctx context.Context, j *jobsched.Job) (any, error) {
		select {
		case <-gate:
			return "ok", nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}))
	require.NoError(t, s.Register("c", noop))
	ctx := context.Background()
	require.NoError(t, s.Start(ctx))
	jobs, err := s.EnqueueBatch(ctx, []jobsched.JobSpec{{Kind: "p"}, {Kind: "c", DependsOn: []string{"#0"}}})
	require.NoError(t, err)
	require.Eventually(t, func() bool { return s.Categories()[0].Counts[jobsched.StateRunning] == 1 }, 10*time.Second, time.Millisecond)
	closeCtx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := s.Close(closeCtx); err != nil { // the parent is interrupted: it runs again
		require.ErrorIs(t, err, context.DeadlineExceeded)
	}

	close(gate)
	s2 := start(t, jobsched.Config{Dir: dir, PollInterval: fastPoll}, map[string]jobsched.Handler{
		"p": func(context.Context, *jobsched.Job) (any, error) { return "ok", nil }, "c": noop})
	require.Equal(t, jobsched.StateSucceeded, waitJob(t, s2, jobs[1].ID).State)
	require.Zero(t, s2.Categories()[0].Counts[jobsched.StatePending])
}

// Issue 15 point 2 at full size, on disk: 10,000 parents → 1 child, and 1 parent → 10,000
// children (the parent's finish settles them over several commits).
func TestTenThousandWideFanInAndFanOut(t *testing.T) {
	if testing.Short() {
		t.Skip("20,000 jobs")
	}
	s := start(t, jobsched.Config{Dir: t.TempDir(), Workers: 8, PollInterval: slowPoll}, map[string]jobsched.Handler{"k": noop})
	const n = 10_000
	ctx := context.Background()
	specs := make([]jobsched.JobSpec, n)
	for i := range specs {
		specs[i] = jobsched.JobSpec{Kind: "k"}
	}
	parents, err := s.EnqueueBatch(ctx, specs)
	require.NoError(t, err)
	ids := make([]string, n)
	for i, p := range parents {
		ids[i] = p.ID
	}
	c, err := s.Enqueue(ctx, jobsched.JobSpec{Kind: "k", DependsOn: ids})
	require.NoError(t, err)
	// This one wait covers the whole drain of 10,000 parents (about 12 s under -race at a load
	// of 7 on 2 cores), more than waitJob's bound for one job on a busier machine.
	require.Equal(t, jobsched.StateSucceeded, waitDrain(t, s, c.ID).State)

	p, err := s.Enqueue(ctx, jobsched.JobSpec{Kind: "k", Delay: jobsched.Duration(100 * time.Millisecond)})
	require.NoError(t, err)
	for i := range specs {
		specs[i] = jobsched.JobSpec{Kind: "k", DependsOn: []string{p.ID}}
	}
	var kids []*jobsched.Job
	for i := 0; i < n; i += n / 4 { // a batch of 10,000 dependent jobs is more than one commit holds
		part, err := s.EnqueueBatch(ctx, specs[i:i+n/4])
		require.NoError(t, err)
		kids = append(kids, part...)
	}
	for _, k := range kids {
		require.Equal(t, jobsched.StateSucceeded, waitDrain(t, s, k.ID).State)
	}
	require.Zero(t, s.Categories()[0].Counts[jobsched.StatePending])
}

// waitDrain waits for a job whose end comes after thousands of others: its bound is the whole
// drain's on a loaded machine, not one job's.
func waitDrain(t *testing.T, s *jobsched.Scheduler, id string) *jobsched.Job {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	j, err := s.Wait(ctx, id)
	require.NoError(t, err, "wait for job %s", id)
	return j
}

// A "#N" naming an entry whose unique key is held depends on the holder, the job returned for it.
func TestDependingOnADuplicateEntryDependsOnItsHolder(t *testing.T) {
	s := start(t, jobsched.Config{PollInterval: slowPoll}, map[string]jobsched.Handler{"k": noop})
	ctx := context.Background()
	holder, err := s.Enqueue(ctx, jobsched.JobSpec{Kind: "k", UniqueKey: "u", Delay: jobsched.Duration(time.Hour)})
	require.NoError(t, err)
	jobs, err := s.EnqueueBatch(ctx, []jobsched.JobSpec{{Kind: "k", UniqueKey: "u"}, {Kind: "k", DependsOn: []string{"#0"}}})
	require.NoError(t, err)
	require.Equal(t, holder.ID, jobs[0].ID)
	require.Equal(t, []string{holder.ID}, jobs[1].Parents)
	require.Equal(t, jobsched.StatePending, jobs[1].State)
	_, err = s.Cancel(ctx, holder.ID)
	require.NoError(t, err)
	require.Equal(t, jobsched.StateCancelled, waitJob(t, s, jobs[1].ID).State)
}
