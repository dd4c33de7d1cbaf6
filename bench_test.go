package jobsched_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jobsched/jobsched"
)

// benchScheduler starts a scheduler on a temp dir (a durable, synced store) for a benchmark.
func benchScheduler(b *testing.B, workers int, h jobsched.Handler) *jobsched.Scheduler {
	b.Helper()
	s, err := jobsched.New(jobsched.Config{Dir: b.TempDir(), Workers: workers,
		Categories: []jobsched.Category{{Name: "default", MinWorkers: workers, QueueLimit: 100_000_000}}})
	if err != nil {
		b.Fatal(err)
	}
	if h == nil {
		h = noop
	}
	if err := s.Register("noop", h); err != nil {
		b.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}

// BenchmarkEnqueue measures durable enqueues (each synced before it returns) from 1, 16 and 256
// concurrent callers, one job per call. The workers are paused so only the store is measured.
func BenchmarkEnqueue(b *testing.B) {
	for _, callers := range []int{1, 16, 256} {
		b.Run(fmt.Sprintf("callers=%d", callers), func(b *testing.B) {
			s := benchScheduler(b, 1, nil)
			if err := s.Pause("default"); err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			var next atomic.Int64
			b.ResetTimer()
			var wg sync.WaitGroup
			for c := 0; c < callers; c++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for next.Add(1) <= int64(b.N) {
						if _, err := s.Enqueue(ctx, jobsched.JobSpec{Kind: "noop"}); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "jobs/s")
			b.ReportMetric(float64(s.StoreStats().Syncs)/float64(b.N), "syncs/job")
		})
	}
}

// BenchmarkEnqueueBatch measures durable batched enqueues of 1,000 jobs per call.
func BenchmarkEnqueueBatch(b *testing.B) {
	s := benchScheduler(b, 1, nil)
	if err := s.Pause("default"); err != nil {
		b.Fatal(err)
	}
	specs := make([]jobsched.JobSpec, 1000)
	for i := range specs {
		specs[i] = jobsched.JobSpec{Kind: "noop"}
	}
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := s.EnqueueBatch(ctx, specs); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N*len(specs))/b.Elapsed().Seconds(), "jobs/s")
	b.ReportMetric(float64(s.StoreStats().Syncs)/float64(b.N*len(specs)), "syncs/job")
}

// BenchmarkThroughput measures no-op jobs worked end to end by 100 workers on a durable store:
// enqueued in batches of 1,000, each start and finish stored.
func BenchmarkThroughput(b *testing.B) {
	var done atomic.Int64
	all := make(chan struct{})
	var target int64
	s := benchScheduler(b, 100, func(context.Context, *jobsched.Job) (any, error) {
		if done.Add(1) == atomic.LoadInt64(&target) {
			close(all)
		}
		return nil, nil
	})
	n := max(b.N, 1000)
	atomic.StoreInt64(&target, int64(n))
	ctx := context.Background()
	cpu0 := processCPU(b)
	b.ResetTimer()
	for sent := 0; sent < n; sent += 1000 {
		specs := make([]jobsched.JobSpec, min(1000, n-sent))
		for i := range specs {
			specs[i] = jobsched.JobSpec{Kind: "noop"}
		}
		if _, err := s.EnqueueBatch(ctx, specs); err != nil {
			b.Fatal(err)
		}
	}
	select {
	case <-all:
	case <-time.After(5 * time.Minute):
		b.Fatalf("only %d of %d jobs ran", done.Load(), n)
	}
	b.StopTimer()
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "jobs/s")
	b.ReportMetric(float64(s.StoreStats().Syncs)/float64(n), "syncs/job")
	// CPU per job (the whole process, user and system): on a shared machine it moves far less
	// than the rate, which other programs' load slows down.
	b.ReportMetric(float64((processCPU(b)-cpu0).Microseconds())/float64(n), "cpu-µs/job")
}

// processCPU is the CPU time (user and system) the process used so far.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkDispatchLatency measures one job at a time from Enqueue to its handler's start: the
// durable insert plus the hops Dispatcher → Fifo → WorkerRegistry → Worker → the start write.
// "nosync" leaves out the disk sync, leaving the actor hops and the store's writer.
func BenchmarkDispatchLatency(b *testing.B) {
	for _, noSync := range []bool{false, true} {
		name := "durable"
		if noSync {
			name = "nosync"
		}
		b.Run(name, func(b *testing.B) {
			started := make(chan struct{})
			s, err := jobsched.New(jobsched.Config{Dir: b.TempDir(), Workers: 4, NoSync: noSync})
			if err != nil {
				b.Fatal(err)
			}
			_ = s.Register("ping", func(context.Context, *jobsched.Job) (any, error) {
				started <- struct{}{}
				return nil, nil
			})
			ctx := context.Background()
			if err := s.Start(ctx); err != nil {
				b.Fatal(err)
			}
			defer s.Close(ctx)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := s.Enqueue(ctx, jobsched.JobSpec{Kind: "ping"}); err != nil {
					b.Fatal(err)
				}
				<-started
			}
		})
	}
}
