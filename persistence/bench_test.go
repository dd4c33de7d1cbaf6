package persistence

import (
	"context"
	"encoding/json"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
)

// BenchmarkJobLife models what the scheduler asks of the store for a burst of no-op jobs (issue
// 13): a producer inserts batches of 1,000 (durable); a loader reads them back in FIFO order with
// Queued, up to 10,000 ahead of the workers (the Fifo's memory); 100 workers start each job with
// a non-durable Update and finish it with a non-durable UpdateAsync, as the runner does. The
// backlog (50,000 jobs per op) is larger than the writer's cache (4 MiB here), so spilled jobs are
// read back. It reports jobs/s and the process's CPU time per job (user + system), the figure
// to read on a shared machine.
func BenchmarkJobLife(b *testing.B) {
	const (
		jobs    = 50_000
		batch   = 1_000
		ahead   = 10_000
		workers = 100
	)
	s, err := OpenBadger(BadgerOptions{Dir: b.TempDir(), CacheBytes: 4 << 20})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	var cpu time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		before := cpuTime()
		benchJobLife(b, ctx, s, jobs, batch, ahead, workers)
		cpu += cpuTime() - before
	}
	b.StopTimer()
	n := float64(b.N * jobs)
	b.ReportMetric(n/b.Elapsed().Seconds(), "jobs/s")
	b.ReportMetric(float64(cpu.Microseconds())/n, "cpu-µs/job")
}

func benchJobLife(b *testing.B, ctx context.Context, s *Badger, jobs, batch, ahead, workers int) {
	cat := uuid.NewString() // a fresh queue per op
	inserted := make(chan int, jobs/batch+1)
	go func() {
		defer close(inserted)
		now := time.Now()
		for sent := 0; sent < jobs; sent += batch {
			in := make([]*Job, batch)
			for i := range in {
				in[i] = &Job{ID: uuid.Must(uuid.NewV7()).String(), Kind: "noop", Category: cat,
					Args: json.RawMessage(`{}`), State: StateQueued, MaxAttempts: 25, CreatedAt: now, RunAt: now}
			}
			if _, err := s.Insert(ctx, in); err != nil {
				b.Error(err)
				return
			}
			inserted <- batch
		}
	}()
	work := make(chan *Job, ahead)
	go func() { // the Fifo: reads what was inserted, at most `ahead` beyond the workers
		defer close(work)
		var after uint64
		avail := 0
		for read := 0; read < jobs; {
			for avail == 0 || (avail < batch && read+avail < jobs) {
				n, ok := <-inserted
				if !ok {
					break
				}
				avail += n
			}
			// Reads of 1,000 at most; the channel holds `ahead`, and a full one blocks the loader.
			got, err := s.Queued(ctx, cat, after, min(avail, 1000))
			if err != nil {
				b.Error(err)
				return
			}
			for _, j := range got {
				work <- j
				after = j.Seq
			}
			read += len(got)
			avail -= len(got)
		}
	}()
	var wg sync.WaitGroup
	var finished sync.WaitGroup
	finished.Add(jobs)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for q := range work {
				now := time.Now()
				j, err := s.Update(ctx, q.ID, func(j *Job) error {
					if j.State != StateQueued {
						return ErrSkip
					}
					j.State, j.Attempt, j.StartedAt = StateRunning, j.Attempt+1, &now
					return nil
				}, false)
				if err != nil {
					b.Error(err)
					finished.Done()
					continue
				}
				attempt := j.Attempt
				done := time.Now()
				s.UpdateAsync(j.ID, func(j *Job) error {
					if j.State != StateRunning || j.Attempt != attempt {
						return ErrSkip
					}
					j.State, j.Result, j.FinishedAt = StateSucceeded, json.RawMessage("null"), &done
					return nil
				}, false, func(_ *Job, err error) {
					if err != nil {
						b.Error(err)
					}
					finished.Done()
				})
			}
		}()
	}
	wg.Wait()
	finished.Wait()
}

// cpuTime is the CPU time the process used so far, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
