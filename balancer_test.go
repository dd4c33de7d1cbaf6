package jobsched_test

import (
	"context"
	"errors"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jobsched/jobsched"
	"github.com/jobsched/jobsched/internal/plot"
	"github.com/jobsched/jobsched/jobschedtest"
	"github.com/stretchr/testify/require"
)

// sleepFor is a handler that takes d.
func sleepFor(d time.Duration) jobsched.Handler {
	return func(ctx context.Context, j *jobsched.Job) (any, error) {
		select {
		case <-time.After(d):
			return nil, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func allocated(s *jobsched.Scheduler, cat string) int {
	for _, c := range s.Categories() {
		if c.Name == cat {
			return c.Allocated
		}
	}
	return -1
}

func TestFloodRaisesWorkersThenTheyFallBackWhileAQuietCategoryKeepsItsMinimum(t *testing.T) {
	s := start(t, jobsched.Config{Workers: 12, BalanceInterval: 50 * time.Millisecond, Categories: []jobsched.Category{
		{Name: "hot", MinWorkers: 1, MaxWorkers: 12}, {Name: "quiet", MinWorkers: 1, MaxWorkers: 12}}},
		map[string]jobsched.Handler{"work": sleepFor(5 * time.Millisecond)})
	ctx := context.Background()
	require.Equal(t, 1, allocated(s, "hot"))
	specs := make([]jobsched.JobSpec, 1500)
	for i := range specs {
		specs[i] = jobsched.JobSpec{Kind: "work", Category: "hot"}
	}
	jobs, err := s.EnqueueBatch(ctx, specs)
	require.NoError(t, err)
	// The hot category's workers rise toward the budget less the quiet one's minimum...
	peak := 0
	require.Eventually(t, func() bool {
		peak = max(peak, allocated(s, "hot"))
		return peak >= 10
	}, 10*time.Second, 5*time.Millisecond, "hot category got %d workers", peak)
	require.GreaterOrEqual(t, allocated(s, "quiet"), 1, "the quiet category keeps its minimum")
	// ...the quiet category still gets its job done during the flood...
	q, err := s.Enqueue(ctx, jobsched.JobSpec{Kind: "work", Category: "quiet"})
	require.NoError(t, err)
	require.Equal(t, jobsched.StateSucceeded, waitJob(t, s, q.ID).State)
	// ...and once the flood is drained the hot category falls back to its minimum.
	for _, j := range jobs {
		waitJob(t, s, j.ID)
	}
	require.Eventually(t, func() bool { return allocated(s, "hot") == 1 }, 10*time.Second, 10*time.Millisecond)
	for _, c := range s.Categories() {
		require.Equal(t, 1, c.Allocated, c.Name)
		if c.Name == "hot" {
			require.GreaterOrEqual(t, c.Resizes, 2, "resizes are counted (and sent as events)")
		}
	}
}

func TestACategoryKeepsIdleWorkersAheadOfItsWorkAndFallsBackWhenIdle(t *testing.T) {
	s := start(t, jobsched.Config{Workers: 8, BalanceInterval: 100 * time.Millisecond,
		Categories: []jobsched.Category{{Name: "default", MinWorkers: 1, MaxWorkers: 8}}},
		map[string]jobsched.Handler{"noop": noop})
	events, stop := s.Subscribe(10_000)
	defer stop()
	ctx := context.Background()
	// Jobs one after another: never more than one queued or running, so a worker per job
	// would keep the category at its minimum.
	for range 20 {
		j, err := s.Enqueue(ctx, jobsched.JobSpec{Kind: "noop"})
		require.NoError(t, err)
		require.Equal(t, jobsched.StateSucceeded, waitJob(t, s, j.ID).State)
	}
	// The work it had lately keeps workers waiting for more (up to the 8 of the budget), and
	// after an interval without work it falls back to its minimum.
	grew := false
	deadline := time.After(10 * time.Second)
	for {
		select {
		case ev := <-events:
			if ev.Resize == nil || ev.Resize.Category != "default" {
				continue
			}
			if ev.Resize.To > 1 {
				grew = true
			} else if grew && ev.Resize.To == 1 {
				return
			}
		case <-deadline:
			t.Fatalf("no headroom and fall back (grew: %v)", grew)
		}
	}
}

func TestACategoryWithNoFreeWorkerGetsMoreAtOnceFromSpareBudget(t *testing.T) {
	// The clock does not move: no balance tick comes, and no timer fires, so the workers come
	// from the Fifo's Backlogged alone, at once.
	clock := jobschedtest.NewClock(time.Date(2030, 1, 1, 9, 0, 0, 0, time.UTC))
	release := make(chan struct{})
	var running atomic.Int64
	s := start(t, jobsched.Config{Workers: 4, Clock: clock,
		Categories: []jobsched.Category{{Name: "default", MinWorkers: 1, MaxWorkers: 4}}},
		map[string]jobsched.Handler{"hold": func(ctx context.Context, j *jobsched.Job) (any, error) {
			running.Add(1)
			select {
			case <-release:
				return nil, nil
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}})
	defer close(release)
	for range 4 {
		_, err := s.Enqueue(context.Background(), jobsched.JobSpec{Kind: "hold"})
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool { return running.Load() == 4 }, 10*time.Second, time.Millisecond,
		"4 jobs run at once on the budget's 4 workers (%d running)", running.Load())
	require.Equal(t, 4, allocated(s, "default"))
}

func TestResizeEventsAreObservable(t *testing.T) {
	s := start(t, jobsched.Config{Workers: 8, BalanceInterval: 20 * time.Millisecond}, map[string]jobsched.Handler{"work": sleepFor(2 * time.Millisecond)})
	events, stop := s.Subscribe(10_000)
	defer stop()
	specs := make([]jobsched.JobSpec, 300)
	for i := range specs {
		specs[i] = jobsched.JobSpec{Kind: "work"}
	}
	_, err := s.EnqueueBatch(context.Background(), specs)
	require.NoError(t, err)
	deadline := time.After(10 * time.Second)
	for {
		select {
		case ev := <-events:
			if ev.Resize != nil && ev.Resize.To > ev.Resize.From {
				require.Equal(t, "default", ev.Resize.Category)
				return
			}
		case <-deadline:
			t.Fatal("no resize event")
		}
	}
}

func TestRateLimitPacesStarts(t *testing.T) {
	var mu sync.Mutex
	var starts []time.Time
	s := start(t, jobsched.Config{Workers: 4, Categories: []jobsched.Category{{Name: "default", MinWorkers: 4, RateLimit: 20, RateBurst: 1}}},
		map[string]jobsched.Handler{"tick": func(ctx context.Context, j *jobsched.Job) (any, error) {
			mu.Lock()
			starts = append(starts, time.Now())
			mu.Unlock()
			return nil, nil
		}})
	specs := make([]jobsched.JobSpec, 11)
	for i := range specs {
		specs[i] = jobsched.JobSpec{Kind: "tick"}
	}
	jobs, err := s.EnqueueBatch(context.Background(), specs)
	require.NoError(t, err)
	for _, j := range jobs {
		waitJob(t, s, j.ID)
	}
	mu.Lock()
	defer mu.Unlock()
	// 11 starts at 20/s with a burst of 1 need at least 10 intervals of 50 ms. (A lower bound
	// only: a slow machine can only be slower.)
	require.GreaterOrEqual(t, starts[len(starts)-1].Sub(starts[0]), 450*time.Millisecond)
}

func TestConcurrencyKeyLimitsRunningJobsPerKeyAndParkedJobsTakeNoWorker(t *testing.T) {
	var mu sync.Mutex
	running := map[string]int{}
	peak := map[string]int{}
	var order []int
	var freeRan atomic.Int64
	var keyedDone atomic.Int64
	s := start(t, jobsched.Config{Workers: 3, Kinds: []jobsched.Kind{{Name: "per-customer", KeyConcurrency: 1}},
		Categories: []jobsched.Category{{Name: "default", MinWorkers: 3, MaxWorkers: 3}}},
		map[string]jobsched.Handler{
			"per-customer": func(ctx context.Context, j *jobsched.Job) (any, error) {
				mu.Lock()
				running[j.ConcurrencyKey]++
				peak[j.ConcurrencyKey] = max(peak[j.ConcurrencyKey], running[j.ConcurrencyKey])
				if j.ConcurrencyKey == "a" {
					var n int
					_ = jsonUnmarshal(j.Args, &n)
					order = append(order, n)
				}
				mu.Unlock()
				time.Sleep(20 * time.Millisecond)
				mu.Lock()
				running[j.ConcurrencyKey]--
				mu.Unlock()
				keyedDone.Add(1)
				return nil, nil
			},
			"free": func(ctx context.Context, j *jobsched.Job) (any, error) {
				freeRan.Store(keyedDone.Load())
				return nil, nil
			},
		})
	ctx := context.Background()
	var specs []jobsched.JobSpec
	for i := 0; i < 10; i++ {
		specs = append(specs, jobsched.JobSpec{Kind: "per-customer", ConcurrencyKey: "a", Args: jobsched.Args(i)})
	}
	for i := 0; i < 4; i++ {
		specs = append(specs, jobsched.JobSpec{Kind: "per-customer", ConcurrencyKey: "b"})
	}
	specs = append(specs, jobsched.JobSpec{Kind: "free"})
	jobs, err := s.EnqueueBatch(ctx, specs)
	require.NoError(t, err)
	for _, j := range jobs {
		require.Equal(t, jobsched.StateSucceeded, waitJob(t, s, j.ID).State)
	}
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, 1, peak["a"], "one job of key a at a time")
	require.Equal(t, 1, peak["b"])
	require.Equal(t, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, order, "jobs of a key run in order")
	// The parked jobs of "a" took no worker: the free job, enqueued last, ran long before
	// the 14 keyed jobs were done.
	require.Less(t, freeRan.Load(), int64(8))
}

func TestEveryCategoryWithAMinimumProgressesUnderAHotOne(t *testing.T) {
	cats := []jobsched.Category{{Name: "hot", Priority: 10, MinWorkers: 1}, {Name: "low1", MinWorkers: 1}, {Name: "low2", MinWorkers: 1}, {Name: "low3", MinWorkers: 1}}
	s := start(t, jobsched.Config{Workers: 16, BalanceInterval: 50 * time.Millisecond, Categories: cats},
		map[string]jobsched.Handler{"work": sleepFor(2 * time.Millisecond)})
	ctx := context.Background()
	for _, c := range cats {
		specs := make([]jobsched.JobSpec, 3000)
		for i := range specs {
			specs[i] = jobsched.JobSpec{Kind: "work", Category: c.Name}
		}
		_, err := s.EnqueueBatch(ctx, specs)
		require.NoError(t, err)
	}
	time.Sleep(2 * time.Second)
	done := map[string]int{}
	for _, c := range s.Categories() {
		done[c.Name] = c.Counts[jobsched.StateSucceeded]
		require.Greater(t, done[c.Name], 0, "%s starved", c.Name)
	}
	require.Greater(t, done["hot"], done["low1"], "priority 10 gets more")
	t.Logf("jobs done in 2 s, 16 workers: %v", done)
}

func TestFloodLevelsAtTheQueueLimitAndTheSchedulerStaysResponsive(t *testing.T) {
	const limit = 2000
	s := start(t, jobsched.Config{Workers: 4, Categories: []jobsched.Category{{Name: "default", MinWorkers: 4, QueueLimit: limit}}},
		map[string]jobsched.Handler{"work": sleepFor(time.Millisecond)})
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	var accepted, refused atomic.Int64
	var wg sync.WaitGroup
	for g := 0; g < 32; g++ { // like the seed's flood(): enqueue far faster than 4 workers drain
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				_, err := s.Enqueue(ctx, jobsched.JobSpec{Kind: "work"})
				switch {
				case err == nil:
					accepted.Add(1)
				case errors.Is(err, jobsched.ErrQueueFull):
					refused.Add(1)
				case ctx.Err() != nil:
				default:
					t.Error(err)
					return
				}
			}
		}()
	}
	peak := 0
	for ctx.Err() == nil {
		c := s.Categories()[0]
		waiting := c.Counts[jobsched.StateQueued] + c.Counts[jobsched.StateScheduled] + c.Counts[jobsched.StateRetrying]
		peak = max(peak, waiting)
		require.LessOrEqual(t, waiting, limit, "the queue never grows past its limit")
		_, _, err := s.List(context.Background(), jobsched.ListOptions{Limit: 1}) // the API answers
		require.NoError(t, err)
		time.Sleep(10 * time.Millisecond)
	}
	wg.Wait()
	require.Greater(t, refused.Load(), int64(0), "the flood was refused in part")
	require.GreaterOrEqual(t, peak, limit*9/10, "the queue levelled at its limit")
	require.LessOrEqual(t, s.Categories()[0].InMemory, jobsched.DefaultFifoMemory)
	t.Logf("flood: %d accepted, %d refused with ErrQueueFull, queue peak %d (limit %d)", accepted.Load(), refused.Load(), peak, limit)
}

// TestBalancerPlot records the workers of each category during a real flood and draws them:
// JOBSCHED_PLOT=docs/balancer.png go test -run TestBalancerPlot . (a document, not a check).
func TestBalancerPlot(t *testing.T) {
	out := os.Getenv("JOBSCHED_PLOT")
	if out == "" {
		t.Skip("set JOBSCHED_PLOT=path.png to draw the plot")
	}
	cats := []jobsched.Category{{Name: "email", Priority: 3, MinWorkers: 2}, {Name: "sms", Priority: 1, MinWorkers: 2}, {Name: "reports", Priority: 1, MinWorkers: 2}}
	s := start(t, jobsched.Config{Workers: 24, BalanceInterval: 100 * time.Millisecond, Categories: cats},
		map[string]jobsched.Handler{"work": sleepFor(20 * time.Millisecond)})
	ctx := context.Background()
	flood := func(cat string, n int) {
		specs := make([]jobsched.JobSpec, n)
		for i := range specs {
			specs[i] = jobsched.JobSpec{Kind: "work", Category: cat}
		}
		_, err := s.EnqueueBatch(ctx, specs)
		require.NoError(t, err)
	}
	series := make([]plot.Series, len(cats)*2)
	began := time.Now()
	for tick := 0; time.Since(began) < 12*time.Second; tick++ {
		switch tick {
		case 10:
			flood("email", 4000) // at 0.5 s
		case 60:
			flood("sms", 2000) // at 3 s
		}
		at := time.Since(began).Seconds()
		for i, c := range s.Categories() {
			series[i].Name = c.Name + " workers"
			series[i].X = append(series[i].X, at)
			series[i].Y = append(series[i].Y, float64(c.Allocated))
			series[len(cats)+i].Name = c.Name + " queued / 100"
			series[len(cats)+i].X = append(series[len(cats)+i].X, at)
			series[len(cats)+i].Y = append(series[len(cats)+i].Y, float64(c.Counts[jobsched.StateQueued])/100)
		}
		time.Sleep(50 * time.Millisecond)
	}
	require.NoError(t, plot.Lines(out, "Workers per category during a flood (budget 24; email priority 3)", "seconds", "workers", series))
}

// TestWorkersDrainedWhileTheirAttemptsRunEndEveryHandOff: a flood grows a category's workers,
// and a flood of another category makes the balancer drain them while their attempts run. An
// attempt's end goes from the worker's goroutine to the WorkerRegistry, or, when its worker
// drains, through the Worker: either way every hand-off ends once, so no concurrency-key slot
// leaks (a job of each key still runs afterwards, one at a time) and no worker stays busy.
func TestWorkersDrainedWhileTheirAttemptsRunEndEveryHandOff(t *testing.T) {
	var mu sync.Mutex
	running, peak := map[string]int{}, map[string]int{}
	keyed := func(ctx context.Context, j *jobsched.Job) (any, error) {
		mu.Lock()
		running[j.ConcurrencyKey]++
		peak[j.ConcurrencyKey] = max(peak[j.ConcurrencyKey], running[j.ConcurrencyKey])
		mu.Unlock()
		time.Sleep(3 * time.Millisecond) // the job's own work: a delay under test, so that attempts of one key would overlap if its slot leaked
		mu.Lock()
		running[j.ConcurrencyKey]--
		mu.Unlock()
		return nil, nil
	}
	s := start(t, jobsched.Config{Workers: 16, BalanceInterval: 10 * time.Millisecond,
		Kinds:      []jobsched.Kind{{Name: "keyed", KeyConcurrency: 1}},
		Categories: []jobsched.Category{{Name: "hot", MinWorkers: 1, MaxWorkers: 16}, {Name: "other", MinWorkers: 1, MaxWorkers: 16}}},
		map[string]jobsched.Handler{"keyed": keyed, "work": sleepFor(3 * time.Millisecond)})
	ctx := context.Background()
	keys := []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l"}
	flood := func(cat string) []*jobsched.Job {
		specs := make([]jobsched.JobSpec, 1200)
		for i := range specs {
			specs[i] = jobsched.JobSpec{Kind: "work", Category: cat}
			if cat == "hot" && i%2 == 0 {
				specs[i] = jobsched.JobSpec{Kind: "keyed", Category: cat, ConcurrencyKey: keys[i/2%len(keys)]}
			}
		}
		jobs, err := s.EnqueueBatch(ctx, specs)
		require.NoError(t, err)
		return jobs
	}
	var resizes int
	for round := 0; round < 3; round++ {
		hot := flood("hot")
		require.Eventually(t, func() bool { return allocated(s, "hot") >= 8 }, 10*time.Second, time.Millisecond)
		other := flood("other") // the balancer takes workers from hot, busy ones among them
		for _, j := range append(hot, other...) {
			require.Equal(t, jobsched.StateSucceeded, waitJob(t, s, j.ID).State)
		}
	}
	require.Eventually(t, func() bool { return allocated(s, "hot") == 1 && allocated(s, "other") == 1 }, 10*time.Second, 10*time.Millisecond)
	require.Eventually(t, func() bool {
		busy := 0
		for _, c := range s.Categories() {
			busy += c.Busy
			if c.Name == "hot" {
				resizes = c.Resizes
			}
		}
		return busy == 0
	}, 10*time.Second, 10*time.Millisecond, "no worker stays counted busy")
	require.GreaterOrEqual(t, resizes, 6)
	// Every key's slot is free: one more job of each runs.
	var last []jobsched.JobSpec
	for _, k := range keys {
		last = append(last, jobsched.JobSpec{Kind: "keyed", Category: "hot", ConcurrencyKey: k})
	}
	jobs, err := s.EnqueueBatch(ctx, last)
	require.NoError(t, err)
	for _, j := range jobs {
		require.Equal(t, jobsched.StateSucceeded, waitJob(t, s, j.ID).State)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, k := range keys {
		require.Equal(t, 1, peak[k], "one job of key %s at a time", k)
	}
}
