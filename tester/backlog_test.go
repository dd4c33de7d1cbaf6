package tester

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/jobsched/jobsched"
	"github.com/stretchr/testify/require"
)

func TestSpreadCategories(t *testing.T) {
	c, err := SpreadCategories(3)
	require.NoError(t, err)
	require.Equal(t, []CategoryWeight{{"c0001", 1}, {"c0002", 1}, {"c0003", 1}}, c)
	for _, bad := range []int{0, -1, 100_001} {
		_, err := SpreadCategories(bad)
		require.Error(t, err, bad)
	}
}

func TestPrefillHandsEveryBacklogJobOnce(t *testing.T) {
	o := Options{Jobs: 50, Backlog: 2500, Seed: 3, Categories: []CategoryWeight{{"a", 1}, {"b", 1}}}
	var mu sync.Mutex
	var got []jobsched.JobSpec
	batches := 0
	require.NoError(t, prefillJobs(context.Background(), o, func(specs []jobsched.JobSpec) error {
		mu.Lock()
		defer mu.Unlock()
		require.LessOrEqual(t, len(specs), prefillBatch)
		got = append(got, specs...)
		batches++
		return nil
	}))
	require.Len(t, got, 2500)
	require.Equal(t, 3, batches)
	seeds := map[string]bool{}
	for _, s := range got {
		seeds[string(s.Args)] = true
	}
	require.Len(t, seeds, 2500, "every backlog job is a different one")
	for _, s := range makeSpecs(o, 0, o.Jobs) {
		require.False(t, seeds[string(s.Args)], "the run's jobs are not the backlog's")
	}
}

func TestBacklogIsQueuedBeforeTheStartAndDrained(t *testing.T) {
	dir := t.TempDir()
	cats, err := SpreadCategories(3)
	require.NoError(t, err)
	o := Options{Embedded: true, Data: dir, Jobs: 400, Backlog: 3000, Batch: 100, Concurrency: 4, Workers: 20,
		Categories: cats, MaxAttempts: 1, Seed: 5}
	rep, err := Run(context.Background(), o)
	require.NoError(t, err)
	require.Equal(t, 3000, rep.Backlog)
	require.Zero(t, rep.BacklogUnfinished)
	require.Equal(t, 400, rep.Enqueued)
	require.Equal(t, 400, rep.Succeeded)
	require.Zero(t, rep.Lost)
	require.Positive(t, rep.StartupS)
	require.Positive(t, rep.CompletePerS)
	require.Positive(t, rep.RssAnonStartMiB)
	require.GreaterOrEqual(t, rep.RssAnonMaxMiB, rep.RssAnonStartMiB)

	// The store holds the backlog and the run's jobs, all succeeded, spread over the categories.
	s, err := jobsched.New(schedulerConfig(Options{Workers: 20, Categories: cats}, dir))
	require.NoError(t, err)
	require.NoError(t, s.Start(context.Background()))
	perCat := map[string]int{}
	cursor := ""
	for {
		jobs, next, err := s.List(context.Background(), jobsched.ListOptions{Limit: 1000, Cursor: cursor})
		require.NoError(t, err)
		for _, j := range jobs {
			require.Equal(t, jobsched.StateSucceeded, j.State, j.ID)
			perCat[j.Category]++
		}
		if next == "" {
			break
		}
		cursor = next
	}
	require.Len(t, perCat, 3)
	require.Equal(t, 3400, perCat["c0001"]+perCat["c0002"]+perCat["c0003"])
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, s.Close(ctx))
}

func TestBacklogAloneIsDrained(t *testing.T) {
	rep, err := Run(context.Background(), Options{Embedded: true, Data: t.TempDir(), Backlog: 1500, Workers: 10, Seed: 9})
	require.NoError(t, err)
	require.Zero(t, rep.Enqueued)
	require.Zero(t, rep.EnqueuePerS)
	require.Zero(t, rep.BacklogUnfinished)
	require.Positive(t, rep.CompletePerS)
}

func TestDrainRateCountsFromTheStart(t *testing.T) {
	began := time.Unix(100, 0)
	require.InDelta(t, 500.0, drainRate(1000, began, began.Add(2*time.Second), &remote{}), 1e-9)
	require.Zero(t, drainRate(0, began, began.Add(time.Second), &remote{}))
	e := &embedded{fin: &finishes{}}
	e.fin.last.Store(began.Add(time.Second).UnixNano())
	require.InDelta(t, 1000.0, drainRate(1000, began, began.Add(5*time.Second), e), 1e-9, "the Observer's last finish wins over the poll")
}
