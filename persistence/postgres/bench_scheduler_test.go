package postgres_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jobsched/jobsched"
	"github.com/jobsched/jobsched/internal/pgtest"
	"github.com/jobsched/jobsched/persistence/postgres"
	"github.com/stretchr/testify/require"
)

// Work rate of one scheduler on PostgreSQL: 5,000 jobs enqueued in batches of 500 before the
// clock starts, run by 32 workers with a handler that does nothing; jobs/s from the first start
// to the last finish stored, and the most jobs seen stored as running at once. Short: run with
// -benchtime=1x.
func BenchmarkSchedulerWorkRate(b *testing.B) {
	const total = 5000
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		st := open(b, pgtest.DSN(b), postgres.Options{Node: "bench", MaxConns: 16})
		s, err := jobsched.New(jobsched.Config{Store: st, Workers: 32})
		require.NoError(b, err)
		var ran atomic.Int64
		require.NoError(b, s.Register("k", func(context.Context, *jobsched.Job) (any, error) { ran.Add(1); return nil, nil }))
		require.NoError(b, s.Start(ctx))
		require.NoError(b, s.Pause("default"))
		specs := make([]jobsched.JobSpec, 500)
		for i := range specs {
			specs[i] = jobsched.JobSpec{Kind: "k"}
		}
		for n := 0; n < total; n += len(specs) {
			_, err := s.EnqueueBatch(ctx, specs)
			require.NoError(b, err)
		}
		pool := st.Pool()
		b.StartTimer()
		at := time.Now()
		require.NoError(b, s.Resume("default"))
		maxRunning := 0
		for {
			var n, running int
			require.NoError(b, pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE state = 'succeeded'),
				count(*) FILTER (WHERE state = 'running') FROM jobsched_jobs`).Scan(&n, &running))
			maxRunning = max(maxRunning, running)
			if n == total {
				break
			}
			time.Sleep(5 * time.Millisecond) // a poll of the database: no event tells the test
		}
		b.ReportMetric(total/time.Since(at).Seconds(), "jobs/s")
		// Jobs stored as running at once (seen by the polls), against 32 workers: a finish
		// not yet written keeps its job running while its worker already runs the next one.
		b.ReportMetric(float64(maxRunning), "max-running")
		b.StopTimer()
		require.NoError(b, s.Close(ctx))
	}
}
