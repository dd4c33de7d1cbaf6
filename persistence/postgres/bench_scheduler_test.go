package postgres_test

import (
	"context"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jobsched/jobsched"
	"github.com/jobsched/jobsched/internal/pgtest"
	"github.com/jobsched/jobsched/persistence/postgres"
	"github.com/stretchr/testify/require"
)

// benchEnv reads a positive integer from the environment variable name, or def.
func benchEnv(b *testing.B, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	require.NoError(b, err, name)
	require.Positive(b, n, name)
	return n
}

// Work rate of one scheduler on PostgreSQL, measured as ../shared/anchors measures River's: the
// jobs are enqueued in batches of 500 before the clock starts (their queue paused), then run by
// the workers with a handler that does nothing. Two rates: "jobs/s" to the last handler call
// (River's "work" figure: its anchor counts calls of Work), and "stored-jobs/s" to the last
// finish stored in the database. Short: run
// with -benchtime=1x. BENCH_JOBS (default 5,000) and BENCH_WORKERS (default 32) size it;
// BENCH_PG_DSN runs it on that (empty) database instead of a server of the test's own, so that
// it runs on the same server as River's anchor.
func BenchmarkSchedulerWorkRate(b *testing.B) {
	total := benchEnv(b, "BENCH_JOBS", 5000)
	workers := benchEnv(b, "BENCH_WORKERS", 32)
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		dsn := os.Getenv("BENCH_PG_DSN")
		if dsn == "" {
			dsn = pgtest.DSN(b)
		}
		st := open(b, dsn, postgres.Options{Node: "bench", MaxConns: 16})
		pool := st.Pool()
		s, err := jobsched.New(jobsched.Config{Store: st, Workers: workers})
		require.NoError(b, err)
		var ran atomic.Int64
		lastRun := make(chan time.Time, 1)
		require.NoError(b, s.Register("k", func(context.Context, *jobsched.Job) (any, error) {
			if ran.Add(1) == int64(total) {
				lastRun <- time.Now()
			}
			return nil, nil
		}))
		require.NoError(b, s.Start(ctx))
		require.NoError(b, s.Pause("default"))
		specs := make([]jobsched.JobSpec, 500)
		for i := range specs {
			specs[i] = jobsched.JobSpec{Kind: "k"}
		}
		for n := 0; n < total; n += len(specs) {
			_, err := s.EnqueueBatch(ctx, specs[:min(len(specs), total-n)])
			require.NoError(b, err)
		}
		b.StartTimer()
		at := time.Now()
		require.NoError(b, s.Resume("default"))
		var last time.Time
		select {
		case last = <-lastRun:
		case <-time.After(5 * time.Minute):
			b.Fatalf("%d of %d jobs ran in 5 minutes", ran.Load(), total)
		}
		for { // the database is read only once every job ran: its reads would slow the run
			var n int
			require.NoError(b, pool.QueryRow(ctx, `SELECT count(*) FROM jobsched_jobs WHERE state = 'succeeded'`).Scan(&n))
			if n == total {
				break
			}
			time.Sleep(5 * time.Millisecond) // a poll of the database: no event tells the test
		}
		stored := time.Since(at)
		b.ReportMetric(float64(total)/last.Sub(at).Seconds(), "jobs/s")
		b.ReportMetric(float64(total)/stored.Seconds(), "stored-jobs/s")
		b.StopTimer()
		require.NoError(b, s.Close(ctx))
	}
}
