package postgres_test

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/jobsched/jobsched/internal/pgtest"
	"github.com/jobsched/jobsched/persistence"
	"github.com/jobsched/jobsched/persistence/postgres"
	"github.com/stretchr/testify/require"
)

var benchID atomic.Int64

func benchJobs(n int) []*persistence.Job {
	out := make([]*persistence.Job, n)
	for i := range out {
		out[i] = job(fmt.Sprintf("b%012d", benchID.Add(1)), "c")
		out[i].Args = []byte(`{"ms":1}`)
	}
	return out
}

// Jobs per second inserted in batches of 1,000 (one transaction, one WAL flush each).
func BenchmarkInsertBatch1000(b *testing.B) {
	s := open(b, pgtest.DSN(b), postgres.Options{Node: "bench"})
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_, err := s.Insert(ctx, benchJobs(1000))
		require.NoError(b, err)
	}
	b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "jobs/s")
}

// Single-job inserts from 32 goroutines (each its own durable commit; PostgreSQL groups the
// WAL flushes of concurrent commits).
func BenchmarkInsertOneParallel(b *testing.B) {
	s := open(b, pgtest.DSN(b), postgres.Options{Node: "bench", MaxConns: 32})
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_, err := s.Insert(ctx, benchJobs(1))
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "jobs/s")
}

// A start then a finish of one job (the work rate's store cost), from 32 goroutines.
func BenchmarkStartFinishParallel(b *testing.B) {
	s := open(b, pgtest.DSN(b), postgres.Options{Node: "bench", MaxConns: 32})
	jobs := benchJobs(b.N)
	for i := 0; i < len(jobs); i += 1000 {
		_, err := s.Insert(ctx, jobs[i:min(i+1000, len(jobs))])
		require.NoError(b, err)
	}
	var next atomic.Int64
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			id := jobs[next.Add(1)-1].ID
			if _, err := s.Update(ctx, id, start, false); err != nil {
				b.Error(err)
				return
			}
			if _, err := s.Update(ctx, id, finish(1), false); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "jobs/s")
}
