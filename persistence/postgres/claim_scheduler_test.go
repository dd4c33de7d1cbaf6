package postgres_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jobsched/jobsched"
	"github.com/jobsched/jobsched/internal/pgtest"
	"github.com/jobsched/jobsched/persistence/postgres"
	"github.com/stretchr/testify/require"
)

// Three schedulers on one database share 3,000 jobs enqueued on all three: every job runs
// exactly once, on one attempt, none is left behind, every node takes part, and the claims add
// up to the jobs (no job was claimed, or tried, twice).
func TestThreeSchedulersClaimEachJobOnce(t *testing.T) {
	dsn := pgtest.DSN(t)
	const total = 3000
	var (
		mu   sync.Mutex
		runs = map[string]int{}
	)
	type member struct {
		s   *jobsched.Scheduler
		st  *postgres.Store
		ran atomic.Int64
	}
	nodes := make([]*member, 3)
	for i := range nodes {
		m := &member{}
		m.st = open(t, dsn, postgres.Options{Node: fmt.Sprintf("n%d", i)})
		s, err := jobsched.New(jobsched.Config{Store: m.st, Workers: 8})
		require.NoError(t, err)
		require.NoError(t, s.Register("k", func(_ context.Context, j *jobsched.Job) (any, error) {
			mu.Lock()
			runs[j.ID]++
			mu.Unlock()
			m.ran.Add(1)
			return nil, nil
		}))
		require.NoError(t, s.Start(ctx))
		t.Cleanup(func() { require.NoError(t, s.Close(ctx)) })
		m.s = s
		nodes[i] = m
	}
	specs := make([]jobsched.JobSpec, 100)
	for i := range specs {
		specs[i] = jobsched.JobSpec{Kind: "k", MaxAttempts: 1}
	}
	for b := 0; b < total/len(specs); b++ {
		_, err := nodes[b%3].s.EnqueueBatch(ctx, specs)
		require.NoError(t, err)
	}
	pool := nodes[0].st.Pool()
	count := func(where string) int {
		var n int
		require.NoError(t, pool.QueryRow(ctx, "SELECT count(*) FROM jobsched_jobs WHERE "+where).Scan(&n))
		return n
	}
	require.Eventually(t, func() bool { return count("state = 'succeeded'") == total }, 60*time.Second, 20*time.Millisecond,
		"every job ran")
	require.Zero(t, count("state <> 'succeeded'"), "none stranded")
	require.Zero(t, count("attempt <> 1"), "each on its first attempt")
	mu.Lock()
	require.Len(t, runs, total)
	for id, n := range runs {
		require.Equal(t, 1, n, "job %s ran %d times", id, n)
	}
	mu.Unlock()
	var claimed uint64
	for i, m := range nodes {
		cs := m.st.ClusterStats()
		t.Logf("n%d ran %d jobs, claimed %d, fenced %d", i, m.ran.Load(), cs.Claimed, cs.Fenced)
		require.Positive(t, m.ran.Load(), "n%d took part", i)
		require.Equal(t, uint64(m.ran.Load()), cs.Claimed, "n%d ran what it claimed", i)
		require.Zero(t, cs.Fenced)
		claimed += cs.Claimed
	}
	require.Equal(t, uint64(total), claimed, "no job claimed twice: no wasted start")
}
