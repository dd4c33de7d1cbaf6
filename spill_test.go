package jobsched_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/jobsched/jobsched"
	"github.com/stretchr/testify/require"
)

// With a Fifo that holds only 8 jobs in memory, thousands of jobs arriving from concurrent
// callers, in batches, delayed, and failing once (so they come back through the Waiter), all run
// exactly once to success: the queue spills to the store and is read back without losing or
// repeating a job.
func TestASpillingQueueLosesAndRepeatsNothing(t *testing.T) {
	var mu sync.Mutex
	runs := map[string]int{}
	failed := map[string]bool{}
	s := start(t, jobsched.Config{Workers: 6, FifoMemory: 8, Dir: t.TempDir(),
		Kinds:      []jobsched.Kind{{Name: "keyed", KeyConcurrency: 1}},
		Categories: []jobsched.Category{{Name: "a", MinWorkers: 3}, {Name: "b", MinWorkers: 3}}},
		map[string]jobsched.Handler{
			"work": func(ctx context.Context, j *jobsched.Job) (any, error) {
				mu.Lock()
				defer mu.Unlock()
				runs[j.ID]++
				if j.Attempt == 1 && len(failed) < 300 && !failed[j.ID] {
					failed[j.ID] = true
					return nil, errors.New("first attempt fails")
				}
				return nil, nil
			},
			"keyed": func(ctx context.Context, j *jobsched.Job) (any, error) {
				mu.Lock()
				runs[j.ID]++
				mu.Unlock()
				time.Sleep(100 * time.Microsecond)
				return nil, nil
			},
		})
	ctx := context.Background()
	var idsMu sync.Mutex
	var ids []string
	add := func(jobs ...*jobsched.Job) {
		idsMu.Lock()
		defer idsMu.Unlock()
		for _, j := range jobs {
			ids = append(ids, j.ID)
		}
	}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			cat := []string{"a", "b"}[g%2]
			for i := 0; i < 150; i++ {
				spec := jobsched.JobSpec{Kind: "work", Category: cat}
				switch i % 5 {
				case 1:
					spec.Delay = jobsched.Duration(time.Duration(i%7) * time.Millisecond)
				case 2:
					spec = jobsched.JobSpec{Kind: "keyed", Category: cat, ConcurrencyKey: []string{"x", "y"}[i%2]}
				}
				j, err := s.Enqueue(ctx, spec)
				require.NoError(t, err)
				add(j)
			}
			specs := make([]jobsched.JobSpec, 200)
			for i := range specs {
				specs[i] = jobsched.JobSpec{Kind: "work", Category: cat}
			}
			jobs, err := s.EnqueueBatch(ctx, specs)
			require.NoError(t, err)
			add(jobs...)
		}(g)
	}
	wg.Wait()
	require.Len(t, ids, 8*350)
	for _, id := range ids {
		require.Equal(t, jobsched.StateSucceeded, waitJob(t, s, id).State)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, id := range ids {
		want := 1
		if failed[id] {
			want = 2
		}
		require.Equal(t, want, runs[id], "job %s", id)
	}
}
