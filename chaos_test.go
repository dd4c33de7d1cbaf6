package jobsched_test

import (
	"context"
	"encoding/json"
	"errors"
	"hash/fnv"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/jobsched/jobsched"
	"github.com/jobsched/jobsched/actors"
	"github.com/jobsched/jobsched/persistence"
	"github.com/jobsched/jobsched/persistence/faulty"
	"github.com/jobsched/jobsched/supervision"
	"github.com/stretchr/testify/require"
)

// TestChaos combines every fault at once, on one badger directory: a store that fails, slows
// and phantoms writes and fails reads (persistence/faulty), callers that leave during their
// commit, handlers that panic or fail, crashes of Fifos, WorkerRegistries, Workers and the
// Waiter, and Close (with short deadlines) and reopen. Then the faults stop, and every job that
// was acknowledged (Enqueue returned nil) must reach a final state, none may succeed twice
// unless an attempt was interrupted (at-least-once), and nothing may stay queued, scheduled,
// running or retrying.
//
// JOBSCHED_CHAOS_OPS sets the number of operations (enqueues and crashes; default 3,000, a few
// seconds); JOBSCHED_CHAOS_SEED repeats a run.
func TestChaos(t *testing.T) {
	ops := 3000
	if v := os.Getenv("JOBSCHED_CHAOS_OPS"); v != "" {
		n, err := strconv.Atoi(v)
		require.NoError(t, err, "JOBSCHED_CHAOS_OPS")
		ops = n
	}
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("JOBSCHED_CHAOS_SEED"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		require.NoError(t, err, "JOBSCHED_CHAOS_SEED")
		seed = n
	}
	t.Logf("chaos: %d operations, JOBSCHED_CHAOS_SEED=%d", ops, seed)
	rng := rand.New(rand.NewPCG(seed, 10))
	dir := filepath.Join(t.TempDir(), "store")

	var faults atomic.Bool // handlers panic and fail only while the faults are on
	faults.Store(true)
	var mu sync.Mutex
	acked := map[string]bool{}
	succeeded := map[string]int{}
	handler := func(ctx context.Context, j *jobsched.Job) (any, error) {
		h := fnv.New32a()
		h.Write([]byte(j.ID))
		switch roll := h.Sum32() % 20; {
		case !faults.Load():
		case roll == 0 && j.Attempt == 1:
			panic("chaos: a handler panics")
		case roll == 1 && j.Attempt == 1:
			return nil, errors.New("chaos: a handler fails")
		case roll == 2:
			select { // a slow one, so crashes and closes find attempts running
			case <-time.After(20 * time.Millisecond):
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		mu.Lock()
		succeeded[j.ID]++
		mu.Unlock()
		return "ok", nil
	}
	cats := []jobsched.Category{{Name: "a", MinWorkers: 2}, {Name: "b", MinWorkers: 1, Priority: 2}}
	logs := &ringLog{}
	newScheduler := func(store persistence.Store) *jobsched.Scheduler {
		s, err := jobsched.New(jobsched.Config{Store: store, Workers: 8, PollInterval: fastPoll, FifoMemory: 64,
			Logger:     slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn})),
			Categories: cats, Kinds: []jobsched.Kind{{Name: "keyed", KeyConcurrency: 1}},
			RetryBackoff: func(int) time.Duration { return time.Duration(1+rand.IntN(10)) * time.Millisecond }})
		require.NoError(t, err)
		require.NoError(t, s.Register("work", handler))
		require.NoError(t, s.Register("keyed", handler))
		return s
	}

	var done atomic.Int64
	var enqueued, leftCallers, crashes, closes, gaveUp int64
	for round := 0; done.Load() < int64(ops); round++ {
		b, err := persistence.OpenBadger(persistence.BadgerOptions{Dir: dir})
		require.NoError(t, err)
		fs := faulty.New(b, faulty.Options{Seed: seed + uint64(round), FailBefore: 0.02, FailAfter: 0.02,
			Slow: 0.02, SlowFor: 5 * time.Millisecond, Leave: 0.02, FailRead: 0.05})
		s := newScheduler(fs)
		startCtx, cancel := context.WithTimeout(context.Background(), time.Minute)
		if err := s.Start(startCtx); err != nil {
			tree, _ := json.Marshal(s.Tree())
			t.Fatalf("round %d: start: %v\ntree: %s\nlast log lines:\n%s", round, err, tree, logs.String())
		}
		cancel()

		roundStart := time.Now()
		roundOps := int64(min(ops/3+1, 20_000))
		end := done.Load() + roundOps
		var wg, enqueuers sync.WaitGroup
		enqueuersDone := make(chan struct{})
		for g := 0; g < 6; g++ {
			grng := rand.New(rand.NewPCG(rng.Uint64(), uint64(g)))
			wg.Add(1)
			enqueuers.Add(1)
			go func() {
				defer wg.Done()
				defer enqueuers.Done()
				for done.Add(1) <= end {
					spec := jobsched.JobSpec{Kind: "work", Category: cats[grng.IntN(len(cats))].Name}
					if grng.IntN(4) == 0 {
						spec.Kind, spec.ConcurrencyKey = "keyed", "key"+strconv.Itoa(grng.IntN(3))
					}
					if grng.IntN(5) == 0 {
						spec.Delay = jobsched.Duration(time.Duration(grng.IntN(30)) * time.Millisecond)
					}
					ctx, cancel := context.Background(), context.CancelFunc(func() {})
					if grng.IntN(3) == 0 { // a caller that may leave during the commit
						ctx, cancel = context.WithTimeout(ctx, time.Duration(50+grng.IntN(2000))*time.Microsecond)
					}
					j, err := s.Enqueue(ctx, spec)
					cancel()
					mu.Lock()
					switch {
					case err == nil:
						acked[j.ID] = true
						enqueued++
					case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled):
						leftCallers++
					case errors.Is(err, faulty.ErrInjected):
					case errors.Is(err, jobsched.ErrStopped):
						// The tree gave up (crashes past its restart intensity): the round ends
						// and the scheduler is started again, as a service manager would.
						mu.Unlock()
						return
					default:
						mu.Unlock()
						t.Errorf("enqueue: %v", err)
						return
					}
					mu.Unlock()
				}
			}()
		}
		go func() { enqueuers.Wait(); close(enqueuersDone) }()
		// The crasher: one crash per 50 operations, of a random actor, while enqueuers run. In
		// calm rounds (every other one) each kind of crash happens at most twice, within every
		// supervisor's intensity, so the tree does not give up and the round ends with a Close
		// while jobs run (the drain); in the others the tree gives up, as under a crash loop.
		calm := round%2 == 1
		wg.Add(1)
		go func() {
			defer wg.Done()
			crng := rand.New(rand.NewPCG(rng.Uint64(), 99))
			var kinds [4]int
			next := done.Load() + 50
			for done.Load() < end {
				if done.Load() < next {
					select { // pace the crashes by the enqueues' progress
					case <-enqueuersDone:
						return
					case <-time.After(time.Millisecond):
					}
					continue
				}
				next += 50
				cat := cats[crng.IntN(len(cats))].Name
				kind := crng.IntN(4)
				if calm && kinds[kind] >= 2 {
					continue
				}
				kinds[kind]++
				switch kind {
				case 0:
					crashFifo(s, cat)
				case 1:
					crashRegistry(s, cat)
				case 2:
					crashWaiter(s)
				case 3:
					crashWorkers(s, cat)
				}
				mu.Lock()
				crashes++
				mu.Unlock()
			}
		}()
		wg.Wait()
		if s.Err() != nil {
			gaveUp++
		}
		t.Logf("round %d: %s (stopped on its own: %v)", round, time.Since(roundStart), s.Err())
		closeCtx, cancel := context.WithTimeout(context.Background(), time.Duration(rng.IntN(300))*time.Millisecond)
		require.NoError(t, s.Close(closeCtx))
		cancel()
		require.NoError(t, b.Close())
		closes++
	}

	// The faults stop: a last scheduler works everything off.
	faults.Store(false)
	b, err := persistence.OpenBadger(persistence.BadgerOptions{Dir: dir})
	require.NoError(t, err)
	defer func() { require.NoError(t, b.Close()) }()
	s := newScheduler(b)
	require.NoError(t, s.Start(context.Background()))
	defer func() { require.NoError(t, s.Close(context.Background())) }()
	mu.Lock()
	ids := make([]string, 0, len(acked))
	for id := range acked {
		ids = append(ids, id)
	}
	mu.Unlock()
	require.NotEmpty(t, ids)
	ctx, cancel := context.WithTimeout(context.Background(), max(2*time.Minute, time.Duration(ops)*time.Millisecond))
	defer cancel()
	drainStart := time.Now()
	defer func() { t.Logf("drain: %s", time.Since(drainStart)) }()
	t.Logf("chaos: %d acknowledged jobs; at the start of the drain: %s", len(ids), countsOf(s))
	dup := 0
	for _, id := range ids {
		j, err := s.Wait(ctx, id)
		if err != nil {
			stuck, gerr := s.Get(context.Background(), id)
			require.NoError(t, gerr)
			require.NoError(t, err, "acknowledged job %s never finished: %+v; now %s", id, stuck, countsOf(s))
		}
		require.True(t, j.State.Finished())
		interrupted := 0
		for _, e := range j.Errors {
			if strings.HasPrefix(e.Error, "interrupted") {
				interrupted++
			}
		}
		mu.Lock()
		n := succeeded[id]
		mu.Unlock()
		if j.State == jobsched.StateSucceeded {
			require.GreaterOrEqual(t, n, 1, "job %s succeeded without its handler succeeding", id)
		}
		require.LessOrEqual(t, n, 1+interrupted, "job %s succeeded %d times with %d interrupted attempts", id, n, interrupted)
		if n > 1 {
			dup++
		}
	}
	requireAllFinished(t, s)
	require.Empty(t, s.RestartsByRole(), "the last scheduler, without faults, restarts nothing")
	summary, _ := json.Marshal(map[string]int64{"operations": done.Load(), "acknowledged": int64(len(ids)),
		"enqueued": enqueued, "callers_left": leftCallers, "crashes": crashes, "closes": closes, "gave_up": gaveUp,
		"succeeded_again_after_interruption": int64(dup)})
	t.Logf("chaos: %s", summary)
}

// ringLog keeps the last 64 KiB of log text, for a failure to show.
type ringLog struct {
	mu  sync.Mutex
	buf []byte
}

func (r *ringLog) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.buf = append(r.buf, p...)
	if len(r.buf) > 64<<10 {
		r.buf = append([]byte(nil), r.buf[len(r.buf)-(64<<10):]...)
	}
	return len(p), nil
}

func (r *ringLog) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return string(r.buf)
}

// countsOf sums the unfinished jobs of every category by state, and the jobs in memory.
func countsOf(s *jobsched.Scheduler) string {
	var b strings.Builder
	for _, c := range s.Categories() {
		b.WriteString(c.Name + ":")
		for _, st := range []jobsched.State{jobsched.StateQueued, jobsched.StateScheduled, jobsched.StateRunning, jobsched.StateRetrying} {
			b.WriteString(" " + string(st) + "=" + strconv.Itoa(c.Counts[st]))
		}
		b.WriteString(" in_memory=" + strconv.Itoa(c.InMemory) + " busy=" + strconv.Itoa(c.Busy) + "; ")
	}
	return b.String()
}

// crashWorkers makes every idle worker of a category panic at once (a JobDone for no job).
func crashWorkers(s *jobsched.Scheduler, cat string) {
	prefix := actors.RootName + "/categories/" + cat + "/workers/"
	supervision.Walk(s.Tree(), func(n *supervision.Node, _ int) {
		if n.Role == "Worker" && strings.HasPrefix(n.PID, prefix) {
			s.ActorSystem().Root.Send(actor.NewPID(s.ActorSystem().Address(), n.PID), &actors.JobDone{})
		}
	})
}
