package postgres_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jobsched/jobsched"
	"github.com/jobsched/jobsched/internal/pgtest"
	"github.com/jobsched/jobsched/persistence/postgres"
	"github.com/stretchr/testify/require"
)

// key_concurrency holds across nodes: three schedulers with 6 workers each run jobs of two
// keys limited to 2 at once; at no moment do more than 2 jobs of a key run in the cluster, and
// the limit is reached (the keys do run 2 at a time). Jobs without a key are not held back.
func TestKeyConcurrencyAcrossNodes(t *testing.T) {
	dsn := pgtest.DSN(t)
	var (
		mu      sync.Mutex
		running = map[string]int{}
		peak    = map[string]int{}
		runs    = map[string]int{}
	)
	work := func(_ context.Context, j *jobsched.Job) (any, error) {
		k := j.ConcurrencyKey
		mu.Lock()
		running[k]++
		peak[k] = max(peak[k], running[k])
		runs[j.ID]++
		mu.Unlock()
		// The job's work, so that attempts overlap (longer without a key, to show they run
		// side by side).
		if k == "" {
			time.Sleep(100 * time.Millisecond)
		} else {
			time.Sleep(20 * time.Millisecond)
		}
		mu.Lock()
		running[k]--
		mu.Unlock()
		return nil, nil
	}
	var nodes []*jobsched.Scheduler
	for i := 0; i < 3; i++ {
		st := open(t, dsn, postgres.Options{Node: fmt.Sprintf("n%d", i)})
		s, err := jobsched.New(jobsched.Config{Store: st, Workers: 6, Kinds: []jobsched.Kind{{Name: "keyed", KeyConcurrency: 2}}})
		require.NoError(t, err)
		require.NoError(t, s.Register("keyed", work))
		require.NoError(t, s.Start(ctx))
		t.Cleanup(func() { require.NoError(t, s.Close(ctx)) })
		nodes = append(nodes, s)
	}
	var specs []jobsched.JobSpec
	for i := 0; i < 40; i++ {
		specs = append(specs, jobsched.JobSpec{Kind: "keyed", ConcurrencyKey: "k1"},
			jobsched.JobSpec{Kind: "keyed", ConcurrencyKey: "k2"}, jobsched.JobSpec{Kind: "keyed"})
	}
	var ids []string
	for i := 0; i < len(specs); i += 20 {
		jobs, err := nodes[(i/20)%3].EnqueueBatch(ctx, specs[i:i+20])
		require.NoError(t, err)
		for _, j := range jobs {
			ids = append(ids, j.ID)
		}
	}
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for _, id := range ids {
		j, err := nodes[0].Wait(wctx, id)
		require.NoError(t, err)
		require.Equal(t, jobsched.StateSucceeded, j.State)
	}
	mu.Lock()
	defer mu.Unlock()
	t.Logf("peak running per key: %v", peak)
	require.Equal(t, 2, peak["k1"], "k1: at most 2 at once across the cluster, and 2 reached")
	require.Equal(t, 2, peak["k2"])
	require.Greater(t, peak[""], 2, "jobs without a key run side by side")
	require.Len(t, runs, len(specs))
	for id, n := range runs {
		require.Equal(t, 1, n, "job %s", id)
	}
}
