package tester

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jobsched/jobsched"
	"github.com/jobsched/jobsched/persistence"
)

// prefillBatch is the size of the pre-fill's enqueue calls (a fast path, not what is measured).
const prefillBatch = 1000

// storeDir is the badger directory of the scheduler the run drives: --data itself when embedded,
// its "store" subdirectory for a spawned daemon (whose config file sits beside it).
func storeDir(o Options) string {
	if o.Spawn {
		return filepath.Join(o.Data, "store")
	}
	return o.Data
}

// schedulerConfig is the configuration of the embedded scheduler, and of the pre-fill on the
// same store: the same categories, so the queued jobs are found again.
func schedulerConfig(o Options, dir string) jobsched.Config {
	var cats []jobsched.Category
	for _, c := range o.Categories {
		cats = append(cats, jobsched.Category{Name: c.Name, Priority: max(1, int(c.Weight)), MinWorkers: 1, QueueLimit: 10_000_000})
	}
	return jobsched.Config{Dir: dir, Workers: o.Workers, Categories: cats}
}

// prefill queues o.Backlog jobs in the store before the measured run: a scheduler with every
// category paused takes them, and is closed. The run then opens the store again, so the jobs
// are waiting when its workers start, and its start-up reads them all back.
func prefill(ctx context.Context, o Options) error {
	// The store is the pre-fill's own, so that the pauses (stored by Pause) can be forgotten
	// after the scheduler closed: the run must find every category running.
	store, err := persistence.OpenBadger(persistence.BadgerOptions{Dir: storeDir(o), Retention: jobsched.DefaultRetention})
	if err != nil {
		return fmt.Errorf("backlog: %w", err)
	}
	defer func() {
		if cerr := store.Close(); cerr != nil {
			o.Logf("backlog: close the store: %v", cerr)
		}
	}()
	cfg := schedulerConfig(o, storeDir(o))
	cfg.Store = store
	s, err := jobsched.New(cfg)
	if err != nil {
		return fmt.Errorf("backlog: %w", err)
	}
	if err := s.Start(ctx); err != nil {
		return fmt.Errorf("backlog: %w", err)
	}
	for _, c := range o.Categories {
		if err := s.Pause(c.Name); err != nil {
			_ = s.Close(context.Background())
			return fmt.Errorf("backlog: pause %s: %w", c.Name, err)
		}
	}
	began := time.Now()
	err = prefillJobs(ctx, o, func(specs []jobsched.JobSpec) error {
		_, err := s.EnqueueBatch(ctx, specs)
		return err
	})
	o.Logf("backlog: %d jobs queued in %.1f s", o.Backlog, time.Since(began).Seconds())
	closeCtx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if cerr := s.Close(closeCtx); err == nil && cerr != nil {
		err = cerr
	}
	if err == nil {
		err = jobsched.ForgetPauses(closeCtx, store)
	}
	if err != nil {
		return fmt.Errorf("backlog: %w", err)
	}
	return nil
}

// prefillJobs hands o.Backlog jobs, in batches, to enqueue from four goroutines. The backlog's
// jobs are numbered after the run's (o.Jobs on), so the two sets differ.
func prefillJobs(ctx context.Context, o Options, enqueue func([]jobsched.JobSpec) error) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	errc := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				first := int(next.Add(prefillBatch)) - prefillBatch
				if first >= o.Backlog {
					return
				}
				if err := enqueue(makeSpecs(o, o.Jobs+first, min(prefillBatch, o.Backlog-first))); err != nil {
					errc <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	if err := <-errc; err != nil {
		return err
	}
	return ctx.Err()
}
