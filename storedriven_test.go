package jobsched_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jobsched/jobsched"
	"github.com/jobsched/jobsched/persistence"
	"github.com/jobsched/jobsched/persistence/faulty"
	"github.com/stretchr/testify/require"
)

// Regression tests of issue 10, one per point: the store drives the queue, and no fault
// strands a job.

const fastPoll = 20 * time.Millisecond

// faultyStore wraps an in-memory badger store, closed at the end of the test (after the
// scheduler, which t.Cleanup closes first).
func faultyStore(t *testing.T, opt faulty.Options) *faulty.Store {
	t.Helper()
	b, err := persistence.OpenBadger(persistence.BadgerOptions{})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, b.Close()) })
	return faulty.New(b, opt)
}

// Point 1: a caller that leaves during the commit. The job is stored but Enqueue reported an
// error, so no message told an actor; the Fifo finds it in the store, and its unique key is not
// held forever.
func TestAJobStoredAfterItsCallerLeftRuns(t *testing.T) {
	t.Run("the caller leaves during a slow commit", func(t *testing.T) {
		fs := faultyStore(t, faulty.Options{Seed: 1, Slow: 1, SlowFor: 50 * time.Millisecond})
		s := start(t, jobsched.Config{Store: fs, PollInterval: fastPoll}, map[string]jobsched.Handler{"k": noop})
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
		defer cancel()
		_, err := s.Enqueue(ctx, jobsched.JobSpec{Kind: "k", UniqueKey: "left"})
		require.ErrorIs(t, err, context.DeadlineExceeded)
		fs.Disable()
		j := waitStored(t, s, "left")
		require.Equal(t, jobsched.StateSucceeded, waitJob(t, s, j.ID).State)
	})
	t.Run("the store reports a commit it made as failed", func(t *testing.T) {
		fs := faultyStore(t, faulty.Options{Seed: 1, FailAfter: 1})
		s := start(t, jobsched.Config{Store: fs, PollInterval: fastPoll}, map[string]jobsched.Handler{"k": noop})
		_, err := s.Enqueue(context.Background(), jobsched.JobSpec{Kind: "k", UniqueKey: "phantom"})
		require.ErrorIs(t, err, faulty.ErrInjected)
		fs.Disable()
		j := waitStored(t, s, "phantom")
		require.Equal(t, jobsched.StateSucceeded, waitJob(t, s, j.ID).State)
		require.GreaterOrEqual(t, jobsched.Rescued(s, "default"), int64(1), "the rescan found it, no message did")
		// The key is free again once the job finished.
		again, err := s.Enqueue(context.Background(), jobsched.JobSpec{Kind: "k", UniqueKey: "phantom"})
		require.NoError(t, err)
		require.NotEqual(t, j.ID, again.ID)
	})
}

// waitStored waits for the unfinished or finished job holding a unique key to be in the store
// (found through List), and returns it.
func waitStored(t *testing.T, s *jobsched.Scheduler, uniqueKey string) *jobsched.Job {
	t.Helper()
	var found *jobsched.Job
	require.Eventually(t, func() bool {
		jobs, _, err := s.List(context.Background(), jobsched.ListOptions{Limit: 1000})
		require.NoError(t, err)
		for _, j := range jobs {
			if j.UniqueKey == uniqueKey {
				found = j
				return true
			}
		}
		return false
	}, 10*time.Second, 5*time.Millisecond)
	return found
}

// Point 2: failed start, finish and promote writes are tried again; writes the store made but
// reported failed (phantoms) neither strand a job nor run it twice.
func TestFailedLifecycleWritesAreRetried(t *testing.T) {
	for _, tc := range []struct {
		name string
		opt  faulty.Options
	}{
		{"writes fail before they are made", faulty.Options{Seed: 2, FailBefore: 0.3}},
		{"writes are made and reported failed", faulty.Options{Seed: 3, FailAfter: 0.3}},
		{"reads fail", faulty.Options{Seed: 4, FailRead: 0.3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := faultyStore(t, tc.opt)
			var mu sync.Mutex
			succeeded := map[string]int{}
			s := start(t, jobsched.Config{Store: fs, PollInterval: fastPoll, Workers: 4},
				map[string]jobsched.Handler{"k": func(_ context.Context, j *jobsched.Job) (any, error) {
					mu.Lock()
					succeeded[j.ID]++
					mu.Unlock()
					return "ok", nil
				}})
			ctx := context.Background()
			var ids []string
			for i := 0; len(ids) < 200; i++ {
				spec := jobsched.JobSpec{Kind: "k", UniqueKey: fmt.Sprint("job-", len(ids))}
				if i%2 == 0 {
					spec.Delay = jobsched.Duration(10 * time.Millisecond) // through the Waiter's Promote
				}
				j, err := s.Enqueue(ctx, spec)
				switch {
				case err == nil:
					ids = append(ids, j.ID)
				case errors.Is(err, faulty.ErrInjected):
					// Maybe stored anyway: the same unique key then returns the stored job.
				case errors.Is(err, jobsched.ErrDuplicate):
					ids = append(ids, j.ID)
				default:
					require.NoError(t, err)
				}
			}
			for _, id := range ids {
				require.Equal(t, jobsched.StateSucceeded, waitThroughFaults(t, s, id).State)
			}
			fs.Disable()
			requireAllFinished(t, s)
			mu.Lock()
			defer mu.Unlock()
			for _, id := range ids {
				require.Equal(t, 1, succeeded[id], "job %s succeeded once", id)
			}
			t.Logf("faults injected: %+v", fs.Injected())
		})
	}
}

// waitThroughFaults waits for a job to finish, asking again when an injected fault fails the
// read.
func waitThroughFaults(t *testing.T, s *jobsched.Scheduler, id string) *jobsched.Job {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		j, err := s.Wait(ctx, id)
		if errors.Is(err, faulty.ErrInjected) {
			continue
		}
		require.NoError(t, err, "wait for job %s", id)
		return j
	}
}

// requireAllFinished waits until no job is queued, scheduled, running or retrying.
func requireAllFinished(t *testing.T, s *jobsched.Scheduler) {
	t.Helper()
	require.Eventually(t, func() bool {
		for _, c := range s.Categories() {
			for _, st := range []jobsched.State{jobsched.StateQueued, jobsched.StateScheduled, jobsched.StateRunning, jobsched.StateRetrying} {
				if c.Counts[st] != 0 {
					return false
				}
			}
		}
		return true
	}, 20*time.Second, 10*time.Millisecond, "every job reaches a final state: %+v", s.Categories())
}

// Point 4 (the scheduler's side): when the root supervisor gives up, the scheduler stops:
// Done closes, Err says why, Enqueue is refused, Get still works, Close is clean.
func TestTheSchedulerStopsWhenTheRootGivesUp(t *testing.T) {
	s := start(t, jobsched.Config{}, map[string]jobsched.Handler{"k": noop})
	ctx := context.Background()
	j, err := s.Enqueue(ctx, jobsched.JobSpec{Kind: "k"})
	require.NoError(t, err)
	waitJob(t, s, j.ID)
	select {
	case <-s.Done():
		t.Fatal("Done closed while running")
	default:
	}
	jobsched.RootGaveUp(s, "too many restarts")
	<-s.Done()
	require.ErrorIs(t, s.Err(), jobsched.ErrStopped)
	require.Contains(t, s.Err().Error(), "too many restarts")
	require.False(t, s.Ready())
	_, err = s.Enqueue(ctx, jobsched.JobSpec{Kind: "k"})
	require.ErrorIs(t, err, jobsched.ErrStopped)
	got, err := s.Get(ctx, j.ID)
	require.NoError(t, err)
	require.Equal(t, jobsched.StateSucceeded, got.State)
}

// A store that failed for good (a failed sync) stops acknowledging: Enqueue returns an error
// and the scheduler stops.
func TestAFailedStoreStopsAcknowledging(t *testing.T) {
	fs := faultyStore(t, faulty.Options{})
	s := start(t, jobsched.Config{Store: fs, PollInterval: fastPoll}, map[string]jobsched.Handler{"k": noop})
	fs.Fail(errors.New("fsync: input/output error"))
	_, err := s.Enqueue(context.Background(), jobsched.JobSpec{Kind: "k"})
	require.ErrorIs(t, err, jobsched.ErrStopped)
	<-s.Done()
	require.ErrorIs(t, s.Err(), jobsched.ErrStopped)
	require.Contains(t, s.Err().Error(), "fsync")
}

// A normal Close closes Done with no error.
func TestCloseClosesDoneWithoutError(t *testing.T) {
	s, err := jobsched.New(jobsched.Config{})
	require.NoError(t, err)
	require.NoError(t, s.Start(context.Background()))
	require.NoError(t, s.Close(context.Background()))
	<-s.Done()
	require.NoError(t, s.Err())
}

// Point 5: when the workers die past their restart intensity, the jobs handed to them return to
// their Fifo and no concurrency-key slot leaks: a key with key_concurrency 1 is not blocked.
func TestJobsHandedToDeadWorkersComeBackAndFreeTheirKey(t *testing.T) {
	var running, maxRunning atomic.Int32
	s := start(t, jobsched.Config{Workers: 2, PollInterval: fastPoll,
		Categories: []jobsched.Category{{Name: "default", MinWorkers: 2, MaxWorkers: 2}},
		Kinds:      []jobsched.Kind{{Name: "keyed", KeyConcurrency: 1}, {Name: "boom", MaxAttempts: 1}}},
		map[string]jobsched.Handler{
			"boom": func(context.Context, *jobsched.Job) (any, error) { panic("boom") },
			"keyed": func(context.Context, *jobsched.Job) (any, error) {
				n := running.Add(1)
				defer running.Add(-1)
				for m := maxRunning.Load(); n > m && !maxRunning.CompareAndSwap(m, n); m = maxRunning.Load() {
				}
				time.Sleep(time.Millisecond) // the job's work, so keyed attempts overlap if the limit leaks
				return nil, nil
			},
		})
	ctx := context.Background()
	// Enough panics to take the Workers supervisor past its intensity, among keyed jobs.
	specs := make([]jobsched.JobSpec, 0, 400)
	for i := 0; i < 200; i++ {
		specs = append(specs, jobsched.JobSpec{Kind: "boom"}, jobsched.JobSpec{Kind: "keyed", ConcurrencyKey: "k"})
	}
	jobs, err := s.EnqueueBatch(ctx, specs)
	require.NoError(t, err)
	for _, j := range jobs {
		got := waitJob(t, s, j.ID)
		if j.Kind == "keyed" {
			require.Equal(t, jobsched.StateSucceeded, got.State)
		}
	}
	require.Equal(t, int32(1), maxRunning.Load(), "never two jobs of one key at once")
	require.Positive(t, restartsOf(s, "jobsched/categories/default/workers"), "the Workers supervisor gave up and was restarted")
	// The key is free: one more runs.
	j, err := s.Enqueue(ctx, jobsched.JobSpec{Kind: "keyed", ConcurrencyKey: "k"})
	require.NoError(t, err)
	require.Equal(t, jobsched.StateSucceeded, waitJob(t, s, j.ID).State)
}

// A hand-off whose start write is slow (it outlasts the audit's age, as on a loaded machine)
// is not taken back while its attempt may still begin: the job is not handed out a second
// time, its concurrency-key slot stays held, and the next job of its key waits for it.
func TestASlowStartWriteKeepsItsKeySlot(t *testing.T) {
	fs := faultyStore(t, faulty.Options{Seed: 1, Slow: 1, SlowFor: 300 * time.Millisecond})
	var running, maxRunning atomic.Int32
	overlap := make(chan struct{})
	var once sync.Once
	s := start(t, jobsched.Config{Store: fs, Workers: 2, PollInterval: fastPoll,
		Categories: []jobsched.Category{{Name: "default", MinWorkers: 2, MaxWorkers: 2}},
		Kinds:      []jobsched.Kind{{Name: "keyed", KeyConcurrency: 1}}},
		map[string]jobsched.Handler{"keyed": func(context.Context, *jobsched.Job) (any, error) {
			n := running.Add(1)
			defer running.Add(-1)
			for m := maxRunning.Load(); n > m && !maxRunning.CompareAndSwap(m, n); m = maxRunning.Load() {
			}
			if n > 1 {
				once.Do(func() { close(overlap) })
			}
			select { // the job's work: long enough for a second start write to land meanwhile
			case <-overlap:
			case <-time.After(time.Second):
			}
			return nil, nil
		}})
	ctx := context.Background()
	jobs, err := s.EnqueueBatch(ctx, []jobsched.JobSpec{{Kind: "keyed", ConcurrencyKey: "k"}, {Kind: "keyed", ConcurrencyKey: "k"}})
	require.NoError(t, err)
	for _, j := range jobs {
		got := waitJob(t, s, j.ID)
		require.Equal(t, jobsched.StateSucceeded, got.State)
		require.Equal(t, 1, got.Attempt)
	}
	require.Equal(t, int32(1), maxRunning.Load(), "never two jobs of one key at once")
}

// Point 6: a Fifo that crashes again and again while its queue spills from the store never
// skips a job nor runs one twice: a read started by an earlier incarnation is not trusted.
func TestARestartedFifoTrustsNoReadOfTheOneBefore(t *testing.T) {
	var mu sync.Mutex
	ran := map[string]int{}
	s := start(t, jobsched.Config{Workers: 4, FifoMemory: 16, PollInterval: fastPoll,
		Categories: []jobsched.Category{{Name: "default", MinWorkers: 4}}},
		map[string]jobsched.Handler{"k": func(_ context.Context, j *jobsched.Job) (any, error) {
			mu.Lock()
			ran[j.ID]++
			mu.Unlock()
			return nil, nil
		}})
	ctx := context.Background()
	specs := make([]jobsched.JobSpec, 2000)
	for i := range specs {
		specs[i] = jobsched.JobSpec{Kind: "k"}
	}
	jobs, err := s.EnqueueBatch(ctx, specs)
	require.NoError(t, err)
	for i := 0; i < 5; i++ {
		crashFifo(s, "default")
		time.Sleep(5 * time.Millisecond) // spread the crashes over the drain (not a wait for an event)
	}
	for _, j := range jobs {
		require.Equal(t, jobsched.StateSucceeded, waitJob(t, s, j.ID).State)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, j := range jobs {
		require.Equal(t, 1, ran[j.ID], "job %s", j.ID)
	}
}

// Point 7: a clean stop. A job handed out when the drain begins does not start and keeps its
// attempts (a max_attempts 1 job survives the stop and runs at the next start).
func TestAJobNotStartedWhenTheDrainBeganIsNotCharged(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	s, err := jobsched.New(jobsched.Config{Dir: dir, Workers: 1, PollInterval: fastPoll,
		Categories: []jobsched.Category{{Name: "default", MinWorkers: 1, MaxWorkers: 1}}})
	require.NoError(t, err)
	started := make(chan struct{})
	var secondRan atomic.Bool
	require.NoError(t, s.Register("first", func(context.Context, *jobsched.Job) (any, error) {
		close(started)
		for s.Ready() { // returns once Close has begun (Ready offers no channel to wait on)
			time.Sleep(time.Millisecond)
		}
		return nil, nil
	}))
	require.NoError(t, s.Register("second", func(context.Context, *jobsched.Job) (any, error) {
		secondRan.Store(true)
		return nil, nil
	}))
	require.NoError(t, s.Start(ctx))
	first, err := s.Enqueue(ctx, jobsched.JobSpec{Kind: "first"})
	require.NoError(t, err)
	<-started
	second, err := s.Enqueue(ctx, jobsched.JobSpec{Kind: "second", MaxAttempts: 1})
	require.NoError(t, err)
	require.NoError(t, s.Close(ctx))
	require.False(t, secondRan.Load(), "nothing starts once the drain began")

	s2 := start(t, jobsched.Config{Dir: dir, PollInterval: fastPoll}, map[string]jobsched.Handler{"first": noop, "second": noop})
	require.Equal(t, jobsched.StateSucceeded, waitJob(t, s2, first.ID).State)
	got := waitJob(t, s2, second.ID)
	require.Equal(t, jobsched.StateSucceeded, got.State)
	require.Equal(t, 1, got.Attempt, "the stop did not use its only attempt")
}

// Point 7: Close returns when its ctx ends, even if a handler ignores its context; the job of
// the abandoned handler runs again at the next start.
func TestCloseReturnsWhenItsContextEnds(t *testing.T) {
	dir := t.TempDir()
	s, err := jobsched.New(jobsched.Config{Dir: dir})
	require.NoError(t, err)
	release := make(chan struct{})
	started := make(chan struct{})
	var once sync.Once
	require.NoError(t, s.Register("stubborn", func(context.Context, *jobsched.Job) (any, error) {
		once.Do(func() { close(started) })
		<-release // ignores its context
		return nil, nil
	}))
	ctx := context.Background()
	require.NoError(t, s.Start(ctx))
	j, err := s.Enqueue(ctx, jobsched.JobSpec{Kind: "stubborn"})
	require.NoError(t, err)
	<-started
	cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	begin := time.Now()
	require.NoError(t, s.Close(cctx))
	require.Less(t, time.Since(begin), 2*time.Second, "Close is bounded by its ctx")
	close(release) // the abandoned handler returns; its finish write finds the store closed

	s2 := start(t, jobsched.Config{Dir: dir}, map[string]jobsched.Handler{"stubborn": noop})
	require.Equal(t, jobsched.StateSucceeded, waitJob(t, s2, j.ID).State)
}

// Point 7: a Cancel that lands between the start write and the handler's start still cancels
// the attempt.
func TestACancelBeforeTheHandlerStartsCancelsTheAttempt(t *testing.T) {
	s, err := jobsched.New(jobsched.Config{RetryBackoff: func(int) time.Duration { return time.Millisecond }})
	require.NoError(t, err)
	var target atomic.Value
	target.Store("")
	cancelled := make(chan struct{})
	jobsched.SetStartedHook(s, func(id string) {
		if id == target.Load().(string) {
			_, err := s.Cancel(context.Background(), id)
			require.NoError(t, err)
			close(cancelled)
		}
	})
	var sawDone atomic.Bool
	require.NoError(t, s.Register("k", func(ctx context.Context, _ *jobsched.Job) (any, error) {
		select {
		case <-ctx.Done():
			sawDone.Store(true)
			return nil, ctx.Err()
		case <-time.After(10 * time.Second):
			return nil, nil
		}
	}))
	ctx := context.Background()
	require.NoError(t, s.Start(ctx))
	defer func() { require.NoError(t, s.Close(ctx)) }()
	require.NoError(t, s.Pause("default"))
	j, err := s.Enqueue(ctx, jobsched.JobSpec{Kind: "k"})
	require.NoError(t, err)
	target.Store(j.ID)
	require.NoError(t, s.Resume("default"))
	<-cancelled
	got := waitJob(t, s, j.ID)
	require.Equal(t, jobsched.StateCancelled, got.State)
}

// Point 8: Start publishes what it builds under the lock; Get, List and Categories may run
// meanwhile (the race detector checks it).
func TestReadsDuringStartAreRaceFree(t *testing.T) {
	s, err := jobsched.New(jobsched.Config{})
	require.NoError(t, err)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		ctx := context.Background()
		for {
			select {
			case <-stop:
				return
			default:
			}
			_, _ = s.Get(ctx, "00000000-0000-0000-0000-000000000000")
			_, _, _ = s.List(ctx, jobsched.ListOptions{})
			_ = s.Categories()
			_ = s.StoreStats()
		}
	}()
	require.NoError(t, s.Start(context.Background()))
	close(stop)
	wg.Wait()
	require.NoError(t, s.Close(context.Background()))
}

// Point 9: jobs parked on a concurrency key are bounded in memory; the rest wait in the store
// and all still run, one at a time.
func TestParkedJobsAreBounded(t *testing.T) {
	var running, maxRunning atomic.Int32
	s := start(t, jobsched.Config{Workers: 4, PollInterval: fastPoll, FifoMemory: 10_000,
		Categories: []jobsched.Category{{Name: "default", MinWorkers: 4}},
		Kinds:      []jobsched.Kind{{Name: "keyed", KeyConcurrency: 1}}},
		map[string]jobsched.Handler{"keyed": func(context.Context, *jobsched.Job) (any, error) {
			n := running.Add(1)
			defer running.Add(-1)
			for m := maxRunning.Load(); n > m && !maxRunning.CompareAndSwap(m, n); m = maxRunning.Load() {
			}
			return nil, nil
		}})
	ctx := context.Background()
	require.NoError(t, s.Pause("default"))
	specs := make([]jobsched.JobSpec, 6000)
	for i := range specs {
		specs[i] = jobsched.JobSpec{Kind: "keyed", ConcurrencyKey: "one"}
	}
	var jobs []*jobsched.Job
	for i := 0; i < len(specs); i += 1000 {
		batch, err := s.EnqueueBatch(ctx, specs[i:i+1000])
		require.NoError(t, err)
		jobs = append(jobs, batch...)
	}
	require.NoError(t, s.Resume("default"))
	peak := int64(0)
	for _, j := range jobs {
		peak = max(peak, jobsched.Parked(s, "default"))
		require.Equal(t, jobsched.StateSucceeded, waitJob(t, s, j.ID).State)
	}
	require.LessOrEqual(t, peak, int64(4096), "parked jobs are capped")
	require.Equal(t, int32(1), maxRunning.Load())
}

// Point 11: a periodic tick the store refuses (here: the queue is full) is not lost: it is
// counted, logged and tried again until it is stored.
func TestARefusedPeriodicTickIsTriedAgain(t *testing.T) {
	s := start(t, jobsched.Config{PollInterval: fastPoll,
		Categories: []jobsched.Category{{Name: "default", QueueLimit: 1}},
		Periodic:   []jobsched.PeriodicJob{{Name: "tick", Cron: "@every 1s", Kind: "periodic"}}},
		map[string]jobsched.Handler{"periodic": noop, "filler": noop})
	ctx := context.Background()
	require.NoError(t, s.Pause("default"))
	filler, err := s.Enqueue(ctx, jobsched.JobSpec{Kind: "filler"})
	require.NoError(t, err)
	require.Eventually(t, func() bool { return jobsched.PeriodicRetries(s) > 0 }, 5*time.Second, 5*time.Millisecond)
	refusedBy := time.Now()
	require.NoError(t, s.Resume("default"))
	waitJob(t, s, filler.ID)
	require.Eventually(t, func() bool {
		jobs, _, err := s.List(ctx, jobsched.ListOptions{Limit: 1000})
		require.NoError(t, err)
		for _, j := range jobs {
			if j.Kind == "periodic" && strings.HasPrefix(j.UniqueKey, "periodic:tick:") {
				var tick int64
				_, err := fmt.Sscanf(strings.TrimPrefix(j.UniqueKey, "periodic:tick:"), "%d", &tick)
				require.NoError(t, err)
				if !time.Unix(tick, 0).After(refusedBy) {
					return true // the refused tick, stored once the queue had room
				}
			}
		}
		return false
	}, 5*time.Second, 10*time.Millisecond)
}
