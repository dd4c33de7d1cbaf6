package postgres_test

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/jobsched/jobsched"
	"github.com/jobsched/jobsched/internal/pgtest"
	"github.com/jobsched/jobsched/persistence/postgres"
	"github.com/stretchr/testify/require"
)

// A category's rate_limit holds across nodes: three schedulers share one token bucket, so 60
// jobs at 20/s (burst 1) take about 3 s, not the 1 s three separate limits would allow, and no
// second holds more than the rate plus the burst (and a little slack for the time between a
// claim and its handler).
func TestRateLimitAcrossNodes(t *testing.T) {
	dsn := pgtest.DSN(t)
	const total, rate = 60, 20
	var (
		mu     sync.Mutex
		starts []time.Time
	)
	var nodes []*jobsched.Scheduler
	for i := 0; i < 3; i++ {
		st := open(t, dsn, postgres.Options{Node: fmt.Sprintf("n%d", i)})
		s, err := jobsched.New(jobsched.Config{Store: st, Workers: 4,
			Categories: []jobsched.Category{{Name: "default", RateLimit: rate, RateBurst: 1}}})
		require.NoError(t, err)
		require.NoError(t, s.Register("k", func(context.Context, *jobsched.Job) (any, error) {
			mu.Lock()
			starts = append(starts, time.Now())
			mu.Unlock()
			return nil, nil
		}))
		require.NoError(t, s.Start(ctx))
		t.Cleanup(func() { require.NoError(t, s.Close(ctx)) })
		nodes = append(nodes, s)
	}
	specs := make([]jobsched.JobSpec, total/3)
	for i := range specs {
		specs[i] = jobsched.JobSpec{Kind: "k"}
	}
	var ids []string
	for _, s := range nodes {
		jobs, err := s.EnqueueBatch(ctx, specs)
		require.NoError(t, err)
		for _, j := range jobs {
			ids = append(ids, j.ID)
		}
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for _, id := range ids {
		_, err := nodes[0].Wait(wctx, id)
		require.NoError(t, err)
	}
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, starts, total)
	sort.Slice(starts, func(i, j int) bool { return starts[i].Before(starts[j]) })
	took := starts[len(starts)-1].Sub(starts[0])
	worst := 0
	for i := range starts {
		n := sort.Search(len(starts), func(k int) bool { return !starts[k].Before(starts[i].Add(time.Second)) }) - i
		worst = max(worst, n)
	}
	t.Logf("%d starts in %s; at most %d in one second", total, took.Round(time.Millisecond), worst)
	require.Greater(t, took, 2500*time.Millisecond, "one rate for the cluster: (60-1)/20 s at least, less some slack")
	require.LessOrEqual(t, worst, rate+1+3, "no second over the rate plus the burst (and slack)")
}
