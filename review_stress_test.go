package jobsched_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jobsched/jobsched"
	"github.com/stretchr/testify/require"
)

// The admin operations (Retry, Cancel, Delete) racing the store-driven queue, the Waiter and
// crashes of the Fifo and the Waiter: every job ends finished, none succeeds twice, and a key
// with key_concurrency 1 never runs two jobs at once.
func TestAdminOperationsRacingTheQueueStrandNothing(t *testing.T) {
	var mu sync.Mutex
	succeeded := map[string]int{}
	var keyRunning [3]atomic.Int32
	var keyOver atomic.Int32
	var failing atomic.Bool
	failing.Store(true)
	s := start(t, jobsched.Config{Workers: 4, PollInterval: fastPoll, FifoMemory: 64,
		Categories:   []jobsched.Category{{Name: "default", MinWorkers: 4, MaxWorkers: 4}},
		Kinds:        []jobsched.Kind{{Name: "keyed", KeyConcurrency: 1, MaxAttempts: 3}, {Name: "k", MaxAttempts: 3}},
		RetryBackoff: func(int) time.Duration { return time.Millisecond }},
		map[string]jobsched.Handler{
			"k": func(_ context.Context, j *jobsched.Job) (any, error) {
				if failing.Load() && rand.IntN(4) == 0 {
					return nil, errors.New("fail")
				}
				mu.Lock()
				succeeded[j.ID]++
				mu.Unlock()
				return "ok", nil
			},
			"keyed": func(_ context.Context, j *jobsched.Job) (any, error) {
				k := &keyRunning[j.ConcurrencyKey[1]-'0']
				if k.Add(1) > 1 {
					keyOver.Add(1)
				}
				defer k.Add(-1)
				time.Sleep(100 * time.Microsecond) // the job's work: attempts of one key overlap if its limit leaks
				if failing.Load() && rand.IntN(4) == 0 {
					return nil, errors.New("fail")
				}
				mu.Lock()
				succeeded[j.ID]++
				mu.Unlock()
				return "ok", nil
			},
		})
	ctx := context.Background()
	var ids []string
	var idsMu sync.Mutex
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() { // the operator
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			idsMu.Lock()
			if len(ids) == 0 {
				idsMu.Unlock()
				continue
			}
			id := ids[rand.IntN(len(ids))]
			idsMu.Unlock()
			switch rand.IntN(3) {
			case 0:
				_, _ = s.Retry(ctx, id)
			case 1:
				_, _ = s.Cancel(ctx, id)
			case 2:
				if err := s.Delete(ctx, id); err == nil {
					idsMu.Lock()
					for i, x := range ids {
						if x == id {
							ids = append(ids[:i], ids[i+1:]...)
							break
						}
					}
					idsMu.Unlock()
				}
			}
			switch i { // within the restart intensities (the category's 5, the root's 3 in 10 s)
			case 300, 900, 1500:
				crashFifo(s, "default")
			case 600, 1200:
				crashWaiter(s)
			}
			time.Sleep(200 * time.Microsecond) // pacing of the operator, not a wait for an event
		}
	}()
	for i := 0; i < 3000; i++ {
		spec := jobsched.JobSpec{Kind: "k"}
		if i%3 == 0 {
			spec = jobsched.JobSpec{Kind: "keyed", ConcurrencyKey: fmt.Sprint("k", i%9/3)}
		}
		if i%2 == 0 {
			spec.Delay = jobsched.Duration(time.Duration(rand.IntN(20)) * time.Millisecond)
		}
		j, err := s.Enqueue(ctx, spec)
		require.NoError(t, err)
		idsMu.Lock()
		ids = append(ids, j.ID)
		idsMu.Unlock()
	}
	close(stop)
	wg.Wait()
	failing.Store(false)
	requireAllFinished(t, s)
	mu.Lock()
	defer mu.Unlock()
	for id, n := range succeeded {
		require.LessOrEqual(t, n, 1, "job %s succeeded %d times", id, n)
	}
	t.Logf("key limit exceeded %d times", keyOver.Load())
}
