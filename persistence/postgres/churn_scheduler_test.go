package postgres_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/jobsched/jobsched"
	"github.com/jobsched/jobsched/internal/pgtest"
	"github.com/jobsched/jobsched/persistence/postgres"
	"github.com/stretchr/testify/require"
)

// Claims given back while jobs flow: three schedulers run 1,500 jobs while pauses and resumes
// (each gives back what its node claimed and had not handed out) and rate-limit changes (each
// restarts the category's actors on every node: the new Fifo gives back the old one's claims,
// and an attempt interrupted before its handler returns to its queue uncounted) go to random
// nodes. In the end every job succeeded on its first counted attempt, its handler ran once, and
// none is left queued or running.
func TestClaimsGivenBackUnderChurn(t *testing.T) {
	dsn := pgtest.DSN(t)
	const total = 1500
	var (
		mu   sync.Mutex
		runs = map[string]int{}
	)
	var nodes []*jobsched.Scheduler
	var stores []*postgres.Store
	for i := 0; i < 3; i++ {
		st := open(t, dsn, postgres.Options{Node: fmt.Sprintf("n%d", i)})
		stores = append(stores, st)
		s, err := jobsched.New(jobsched.Config{Store: st, Workers: 6, PollInterval: 200 * time.Millisecond})
		require.NoError(t, err)
		require.NoError(t, s.Register("k", func(_ context.Context, j *jobsched.Job) (any, error) {
			mu.Lock()
			runs[j.ID]++
			mu.Unlock()
			return nil, nil
		}))
		require.NoError(t, s.Start(ctx))
		t.Cleanup(func() { require.NoError(t, s.Close(ctx)) })
		nodes = append(nodes, s)
	}
	count := func(where string) int {
		var n int
		require.NoError(t, stores[0].Pool().QueryRow(ctx, "SELECT count(*) FROM jobsched_jobs WHERE "+where).Scan(&n))
		return n
	}

	stop := make(chan struct{})
	churned := make(chan int)
	go func() {
		n := 0
		defer func() { churned <- n }()
		for rate := 10000.0; ; rate++ {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond): // the pace of the churn
			}
			s := nodes[rand.IntN(len(nodes))]
			switch rand.IntN(4) {
			case 0, 1:
				if s.Pause("default") == nil {
					n++
				}
			case 2:
				if s.Resume("default") == nil {
					n++
				}
			case 3:
				if _, _, err := s.PutCategory(ctx, jobsched.Category{Name: "default", RateLimit: rate}); err == nil {
					n++
				}
			}
		}
	}()
	specs := make([]jobsched.JobSpec, 100)
	for i := range specs {
		specs[i] = jobsched.JobSpec{Kind: "k", MaxAttempts: 1}
	}
	for b := 0; b < total/len(specs); b++ {
		_, err := nodes[b%3].EnqueueBatch(ctx, specs)
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool { return count("state = 'succeeded'") > total/2 }, 60*time.Second, 20*time.Millisecond,
		"half the jobs ran through the churn")
	close(stop)
	t.Logf("%d pauses, resumes and rate changes", <-churned)
	require.NoError(t, nodes[0].Resume("default"))
	require.Eventually(t, func() bool { return count("state = 'succeeded'") == total }, 60*time.Second, 20*time.Millisecond,
		"every job ran: %d left", total-count("state = 'succeeded'"))
	require.Zero(t, count("state <> 'succeeded'"), "none stranded")
	require.Zero(t, count("attempt <> 1"), "one counted attempt each (given-back starts are not counted)")
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, runs, total)
	twice := 0
	for _, n := range runs {
		if n > 1 {
			twice++
		}
	}
	require.Zero(t, twice, "a handler that ran is never run again: a claim is run or given back")
	var claimed uint64
	for _, st := range stores {
		claimed += st.ClusterStats().Claimed
	}
	t.Logf("%d claims for %d jobs: %d given back (or interrupted before their handler) and claimed again", claimed, total, claimed-total)
}
