package jobsched_test

import (
	"context"
	"testing"
	"time"

	"github.com/jobsched/jobsched"
	"github.com/jobsched/jobsched/supervision"
	"github.com/stretchr/testify/require"
)

// categoryNode finds a CategorySupervisor in the tree.
func categoryNode(s *jobsched.Scheduler, name string) *supervision.Node {
	var found *supervision.Node
	supervision.Walk(s.Tree(), func(n *supervision.Node, _ int) {
		if n.Role == "CategorySupervisor" && n.Name == name {
			found = n
		}
	})
	return found
}

func categoryInfo(t *testing.T, s *jobsched.Scheduler, name string) (jobsched.CategoryInfo, bool) {
	t.Helper()
	for _, c := range s.Categories() {
		if c.Name == name {
			return c, true
		}
	}
	return jobsched.CategoryInfo{}, false
}

func TestPutCategoryGrowsTheTreeRunsJobsAndSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	cfg := jobsched.Config{Dir: dir, Workers: 4, Categories: []jobsched.Category{{Name: "default"}}}
	s, err := jobsched.New(cfg)
	require.NoError(t, err)
	require.NoError(t, s.Register("noop", noop))
	require.NoError(t, s.Start(ctx))

	_, err = s.Enqueue(ctx, jobsched.JobSpec{Kind: "noop", Category: "reports"})
	require.ErrorIs(t, err, jobsched.ErrInvalid, "unknown before PutCategory")
	c, created, err := s.PutCategory(ctx, jobsched.Category{Name: "reports", Priority: 3, MaxWorkers: 2})
	require.NoError(t, err)
	require.True(t, created)
	require.Equal(t, 3, c.Priority)
	require.Equal(t, 1, c.MinWorkers, "defaults filled in")
	node := categoryNode(s, "reports")
	require.NotNil(t, node, "its supervisor is in the tree")
	j, err := s.Enqueue(ctx, jobsched.JobSpec{Kind: "noop", Category: "reports"})
	require.NoError(t, err)
	require.Equal(t, jobsched.StateSucceeded, waitJob(t, s, j.ID).State)

	// Change it: the balancer uses the new bounds, no restart of its actors.
	c, created, err = s.PutCategory(ctx, jobsched.Category{Name: "reports", Priority: 5, MinWorkers: 2, MaxWorkers: 3})
	require.NoError(t, err)
	require.False(t, created)
	require.Eventually(t, func() bool {
		info, ok := categoryInfo(t, s, "reports")
		return ok && info.Allocated == 2
	}, 5*time.Second, 5*time.Millisecond, "the new minimum reaches the registry")

	// Bad input changes nothing and names the field.
	_, _, err = s.PutCategory(ctx, jobsched.Category{Name: "reports", MinWorkers: 4})
	var inv *jobsched.InvalidError
	require.ErrorAs(t, err, &inv)
	require.Equal(t, "category.min_workers", inv.Field)
	_, _, err = s.PutCategory(ctx, jobsched.Category{Name: "bad/name"})
	require.ErrorAs(t, err, &inv)
	require.Equal(t, "category.name", inv.Field)
	info, _ := categoryInfo(t, s, "reports")
	require.Equal(t, 5, info.Priority)
	require.NoError(t, s.Close(ctx))

	s2, err := jobsched.New(cfg)
	require.NoError(t, err)
	require.NoError(t, s2.Register("noop", noop))
	require.NoError(t, s2.Start(ctx))
	defer func() { require.NoError(t, s2.Close(ctx)) }()
	info, ok := categoryInfo(t, s2, "reports")
	require.True(t, ok, "the category survives the restart")
	require.Equal(t, 5, info.Priority)
	require.Equal(t, 2, info.MinWorkers)
	require.NotNil(t, categoryNode(s2, "reports"))
	j, err = s2.Enqueue(ctx, jobsched.JobSpec{Kind: "noop", Category: "reports"})
	require.NoError(t, err)
	require.Equal(t, jobsched.StateSucceeded, waitJob(t, s2, j.ID).State)
}

func TestDeleteCategoryRefusesUnfinishedJobsThenShrinksTheTree(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	cfg := jobsched.Config{Dir: dir, Workers: 4, Categories: []jobsched.Category{{Name: "default"}, {Name: "old"}}}
	s, err := jobsched.New(cfg)
	require.NoError(t, err)
	require.NoError(t, s.Register("noop", noop))
	require.NoError(t, s.Start(ctx))

	later, err := s.Enqueue(ctx, jobsched.JobSpec{Kind: "noop", Category: "old", Delay: jobsched.Duration(time.Hour)})
	require.NoError(t, err)
	require.ErrorIs(t, s.DeleteCategory(ctx, "old"), jobsched.ErrCategoryInUse)
	require.NotNil(t, categoryNode(s, "old"), "a refused delete changes nothing")
	_, err = s.Cancel(ctx, later.ID)
	require.NoError(t, err)
	require.NoError(t, s.DeleteCategory(ctx, "old"))
	require.Nil(t, categoryNode(s, "old"))
	_, ok := categoryInfo(t, s, "old")
	require.False(t, ok)
	_, err = s.Enqueue(ctx, jobsched.JobSpec{Kind: "noop", Category: "old"})
	require.ErrorIs(t, err, jobsched.ErrInvalid)
	require.ErrorIs(t, s.DeleteCategory(ctx, "old"), jobsched.ErrNotFound)
	require.ErrorIs(t, s.DeleteCategory(ctx, "default"), jobsched.ErrCategoryInUse, "the default category stays")
	require.NoError(t, s.Close(ctx))

	// The configuration still names it; the stored deletion wins.
	s2, err := jobsched.New(cfg)
	require.NoError(t, err)
	require.NoError(t, s2.Start(ctx))
	_, ok = categoryInfo(t, s2, "old")
	require.False(t, ok, "a deleted category stays deleted")
	// And it can come back.
	_, created, err := s2.PutCategory(ctx, jobsched.Category{Name: "old"})
	require.NoError(t, err)
	require.True(t, created)
	require.NotNil(t, categoryNode(s2, "old"))
	require.NoError(t, s2.Close(ctx))
}

func TestChangedRateLimitRestartsTheCategory(t *testing.T) {
	s := start(t, jobsched.Config{Workers: 2}, map[string]jobsched.Handler{"noop": noop})
	ctx := context.Background()
	_, _, err := s.PutCategory(ctx, jobsched.Category{Name: "default", RateLimit: 1000})
	require.NoError(t, err)
	require.NotNil(t, categoryNode(s, "default"))
	j, err := s.Enqueue(ctx, jobsched.JobSpec{Kind: "noop"})
	require.NoError(t, err)
	require.Equal(t, jobsched.StateSucceeded, waitJob(t, s, j.ID).State)
}

func TestPauseSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	cfg := jobsched.Config{Dir: dir}
	s, err := jobsched.New(cfg)
	require.NoError(t, err)
	require.NoError(t, s.Start(ctx))
	require.NoError(t, s.Pause("default"))
	require.NoError(t, s.Close(ctx))

	ran := make(chan struct{}, 1)
	s2, err := jobsched.New(cfg)
	require.NoError(t, err)
	require.NoError(t, s2.Register("noop", func(context.Context, *jobsched.Job) (any, error) { ran <- struct{}{}; return nil, nil }))
	require.NoError(t, s2.Start(ctx))
	defer func() { require.NoError(t, s2.Close(ctx)) }()
	info, _ := categoryInfo(t, s2, "default")
	require.True(t, info.Paused)
	j, err := s2.Enqueue(ctx, jobsched.JobSpec{Kind: "noop"})
	require.NoError(t, err)
	require.Never(t, func() bool { return len(ran) > 0 }, 300*time.Millisecond, 10*time.Millisecond, "paused: nothing runs")
	require.NoError(t, s2.Resume("default"))
	require.Equal(t, jobsched.StateSucceeded, waitJob(t, s2, j.ID).State)
}

func TestMinWorkersNoneKeepsNoWorkerWhileIdleAndStillRunsJobs(t *testing.T) {
	s := start(t, jobsched.Config{Workers: 2, BalanceInterval: 20 * time.Millisecond, Categories: []jobsched.Category{
		{Name: "default"}, {Name: "rare", MinWorkers: jobsched.NoWorkers}}}, map[string]jobsched.Handler{"noop": noop})
	ctx := context.Background()
	info, ok := categoryInfo(t, s, "rare")
	require.True(t, ok)
	require.Equal(t, 0, info.MinWorkers, "NoWorkers is a minimum of 0")
	workers := func() int {
		n := categoryNode(s, "rare")
		if n == nil || len(n.Children) < 3 {
			return -1
		}
		return len(n.Children[2].Children)
	}
	require.Equal(t, 0, workers(), "idle: no worker")
	for range 3 {
		j, err := s.Enqueue(ctx, jobsched.JobSpec{Kind: "noop", Category: "rare"})
		require.NoError(t, err)
		require.Equal(t, jobsched.StateSucceeded, waitJob(t, s, j.ID).State)
	}
	require.Eventually(t, func() bool { return workers() == 0 }, 5*time.Second, 5*time.Millisecond,
		"idle again: its workers go")

	// A category set at runtime with min_workers 0 keeps it through the store.
	c, _, err := s.PutCategory(ctx, jobsched.Category{Name: "later", MinWorkers: jobsched.NoWorkers})
	require.NoError(t, err)
	require.Equal(t, 0, c.MinWorkers)
}

// When the root restarts the Categories supervisor, the categories come back as they are in
// force: those added at runtime with their settings, not those deleted.
func TestRuntimeCategoriesOutliveARestartOfCategories(t *testing.T) {
	s := start(t, jobsched.Config{Workers: 4, Categories: []jobsched.Category{{Name: "default"}, {Name: "gone"}}},
		map[string]jobsched.Handler{"noop": noop})
	ctx := context.Background()
	_, _, err := s.PutCategory(ctx, jobsched.Category{Name: "added", Priority: 7})
	require.NoError(t, err)
	require.NoError(t, s.DeleteCategory(ctx, "gone"))
	require.Eventually(t, func() bool {
		crashFifo(s, "default")
		return restartsOf(s, "jobsched/categories") > 0
	}, 20*time.Second, 2*time.Millisecond, "the Categories supervisor restarted")
	require.Eventually(t, func() bool { return categoryNode(s, "added") != nil && categoryNode(s, "default") != nil },
		5*time.Second, 5*time.Millisecond)
	require.Nil(t, categoryNode(s, "gone"), "a deleted category does not come back")
	j, err := s.Enqueue(ctx, jobsched.JobSpec{Kind: "noop", Category: "added"})
	require.NoError(t, err)
	require.Equal(t, jobsched.StateSucceeded, waitJob(t, s, j.ID).State)
}

func TestReloadRefusesWhatCannotApplyAndChangesNothing(t *testing.T) {
	base := jobsched.Config{Workers: 4, Categories: []jobsched.Category{{Name: "default"}, {Name: "busy"}}}
	s := start(t, base, map[string]jobsched.Handler{"noop": noop})
	ctx := context.Background()
	_, err := s.Enqueue(ctx, jobsched.JobSpec{Kind: "noop", Category: "busy", Delay: jobsched.Duration(time.Hour)})
	require.NoError(t, err)

	var inv *jobsched.InvalidError
	_, err = s.Reload(ctx, jobsched.Config{Workers: 4, Categories: []jobsched.Category{{Name: "default"}}})
	require.ErrorAs(t, err, &inv, "busy holds a job")
	require.Equal(t, "categories", inv.Field)
	_, err = s.Reload(ctx, jobsched.Config{Workers: 4, Categories: []jobsched.Category{{Name: "other"}, {Name: "busy"}}})
	require.ErrorAs(t, err, &inv)
	require.Equal(t, "categories[0].name", inv.Field)
	_, err = s.Reload(ctx, jobsched.Config{Workers: 4, Categories: []jobsched.Category{{Name: "default"}, {Name: "busy", MinWorkers: 9}}})
	require.ErrorAs(t, err, &inv)
	_, err = s.Reload(ctx, jobsched.Config{Workers: 4, Categories: []jobsched.Category{{Name: "default"}, {Name: "busy"}},
		Kinds: []jobsched.Kind{{Name: "noop", MaxAttempts: -1}}})
	require.ErrorAs(t, err, &inv)
	require.Equal(t, "kinds[0].max_attempts", inv.Field)
	require.Len(t, s.Categories(), 2)
	info, _ := categoryInfo(t, s, "busy")
	require.Equal(t, 1, info.MinWorkers)

	// A good one applies: the kind's max_attempts reaches new jobs.
	changes, err := s.Reload(ctx, jobsched.Config{Workers: 4, Categories: []jobsched.Category{{Name: "default"}, {Name: "busy", Priority: 2}},
		Kinds: []jobsched.Kind{{Name: "noop", MaxAttempts: 3}}})
	require.NoError(t, err)
	require.Len(t, changes, 2, "%q", changes)
	j, err := s.Enqueue(ctx, jobsched.JobSpec{Kind: "noop"})
	require.NoError(t, err)
	require.Equal(t, 3, j.MaxAttempts)
	changes, err = s.Reload(ctx, jobsched.Config{Workers: 4, Categories: []jobsched.Category{{Name: "default"}, {Name: "busy", Priority: 2}},
		Kinds: []jobsched.Kind{{Name: "noop", MaxAttempts: 3}}})
	require.NoError(t, err)
	require.Empty(t, changes, "the same file again changes nothing")
}

func TestRetryRefusesAJobOfADeletedCategory(t *testing.T) {
	s := start(t, jobsched.Config{Workers: 2, Categories: []jobsched.Category{{Name: "default"}, {Name: "temp"}}},
		map[string]jobsched.Handler{"noop": noop})
	ctx := context.Background()
	j, err := s.Enqueue(ctx, jobsched.JobSpec{Kind: "noop", Category: "temp", Delay: jobsched.Duration(time.Hour)})
	require.NoError(t, err)
	_, err = s.Cancel(ctx, j.ID)
	require.NoError(t, err)
	require.NoError(t, s.DeleteCategory(ctx, "temp"))
	_, err = s.Retry(ctx, j.ID)
	require.ErrorIs(t, err, jobsched.ErrNotRetryable)
	n, err := s.RetryWhere(ctx, jobsched.Filter{State: jobsched.StateCancelled})
	require.NoError(t, err)
	require.Zero(t, n)
	_, _, err = s.PutCategory(ctx, jobsched.Category{Name: "temp"})
	require.NoError(t, err)
	_, err = s.Retry(ctx, j.ID)
	require.NoError(t, err)
	require.Equal(t, jobsched.StateSucceeded, waitJob(t, s, j.ID).State)
}
