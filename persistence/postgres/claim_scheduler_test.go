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

// A queue resumed with a backlog runs on every worker of the budget at once: a claim that
// takes all it asked for and leaves no worker free tells the balancer, which grows the
// category without waiting for its tick (an hour here).
func TestResumedBacklogGetsEveryWorker(t *testing.T) {
	const workers = 12
	st := open(t, pgtest.DSN(t), postgres.Options{Node: "n"})
	s, err := jobsched.New(jobsched.Config{Store: st, Workers: workers, BalanceInterval: time.Hour})
	require.NoError(t, err)
	release := make(chan struct{})
	var running, most atomic.Int64
	require.NoError(t, s.Register("k", func(ctx context.Context, _ *jobsched.Job) (any, error) {
		n := running.Add(1)
		defer running.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		select {
		case <-release:
		case <-ctx.Done():
		}
		return nil, nil
	}))
	require.NoError(t, s.Start(ctx))
	t.Cleanup(func() { require.NoError(t, s.Close(ctx)) })
	t.Cleanup(func() { close(release) }) // first: Close then waits for no handler
	require.NoError(t, s.Pause("default"))
	specs := make([]jobsched.JobSpec, 5*workers)
	for i := range specs {
		specs[i] = jobsched.JobSpec{Kind: "k"}
	}
	_, err = s.EnqueueBatch(ctx, specs)
	require.NoError(t, err)
	require.NoError(t, s.Resume("default"))
	require.Eventually(t, func() bool { return most.Load() == workers }, 10*time.Second, 5*time.Millisecond,
		"every worker runs a job (most at once: %d)", most.Load())
}
