package jobsched_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jobsched/jobsched"
	"github.com/jobsched/jobsched/supervision"
	"github.com/stretchr/testify/require"
)

// start makes a started scheduler on cfg (an in-memory store unless cfg.Dir is set) with the
// handlers given, closed at the end of the test.
func start(t *testing.T, cfg jobsched.Config, handlers map[string]jobsched.Handler) *jobsched.Scheduler {
	t.Helper()
	if cfg.RetryBackoff == nil {
		cfg.RetryBackoff = func(int) time.Duration { return 5 * time.Millisecond }
	}
	s, err := jobsched.New(cfg)
	require.NoError(t, err)
	for k, h := range handlers {
		require.NoError(t, s.Register(k, h))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, s.Start(ctx))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, s.Close(ctx))
	})
	return s
}

func waitJob(t *testing.T, s *jobsched.Scheduler, id string) *jobsched.Job {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	j, err := s.Wait(ctx, id)
	require.NoError(t, err, "wait for job %s", id)
	return j
}

func noop(context.Context, *jobsched.Job) (any, error) { return nil, nil }

func TestTenThousandJobsOverThreeCategoriesRunExactlyOnce(t *testing.T) {
	var mu sync.Mutex
	runs := map[string]int{}
	s := start(t, jobsched.Config{Workers: 12, Categories: []jobsched.Category{
		{Name: "email", Priority: 3, MinWorkers: 2}, {Name: "sms", Priority: 2, MinWorkers: 2}, {Name: "reports", Priority: 1, MinWorkers: 2},
	}}, map[string]jobsched.Handler{"count": func(ctx context.Context, j *jobsched.Job) (any, error) {
		mu.Lock()
		runs[j.ID]++
		mu.Unlock()
		return map[string]string{"category": j.Category}, nil
	}})

	const n = 10_000
	cats := []string{"email", "sms", "reports"}
	ids := make([]string, 0, n)
	ctx := context.Background()
	// Half one by one from concurrent callers, half in batches.
	var wg sync.WaitGroup
	var idsMu sync.Mutex
	for g := 0; g < 10; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < n/20; i++ {
				j, err := s.Enqueue(ctx, jobsched.JobSpec{Kind: "count", Category: cats[(g+i)%3]})
				if !errors.Is(err, nil) {
					t.Errorf("enqueue: %v", err)
					return
				}
				idsMu.Lock()
				ids = append(ids, j.ID)
				idsMu.Unlock()
			}
		}(g)
	}
	for b := 0; b < 5; b++ {
		specs := make([]jobsched.JobSpec, n/10)
		for i := range specs {
			specs[i] = jobsched.JobSpec{Kind: "count", Category: cats[i%3]}
		}
		jobs, err := s.EnqueueBatch(ctx, specs)
		require.NoError(t, err)
		idsMu.Lock()
		for _, j := range jobs {
			ids = append(ids, j.ID)
		}
		idsMu.Unlock()
	}
	wg.Wait()
	require.Len(t, ids, n)
	for _, id := range ids {
		j := waitJob(t, s, id)
		require.Equal(t, jobsched.StateSucceeded, j.State)
		require.Equal(t, 1, j.Attempt)
		require.JSONEq(t, fmt.Sprintf(`{"category":%q}`, j.Category), string(j.Result))
	}
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, runs, n)
	for id, c := range runs {
		require.Equal(t, 1, c, "job %s ran %d times", id, c)
	}
	total := 0
	for _, c := range s.Categories() {
		require.Greater(t, c.Counts[jobsched.StateSucceeded], 3000, c.Name)
		total += c.Counts[jobsched.StateSucceeded]
		require.Zero(t, c.Counts[jobsched.StateQueued]+c.Counts[jobsched.StateRunning], c.Name)
	}
	require.Equal(t, n, total)
}

func TestRetriesThenDeadKeepsEachAttemptsError(t *testing.T) {
	var calls atomic.Int32
	s := start(t, jobsched.Config{}, map[string]jobsched.Handler{
		"flaky": func(ctx context.Context, j *jobsched.Job) (any, error) {
			if calls.Add(1) < 3 {
				return nil, fmt.Errorf("boom %d", j.Attempt)
			}
			return "ok", nil
		},
		"broken": func(ctx context.Context, j *jobsched.Job) (any, error) { return nil, errors.New("always") },
	})
	ctx := context.Background()
	flaky, err := s.Enqueue(ctx, jobsched.JobSpec{Kind: "flaky"})
	require.NoError(t, err)
	j := waitJob(t, s, flaky.ID)
	require.Equal(t, jobsched.StateSucceeded, j.State)
	require.Equal(t, 3, j.Attempt)
	require.Len(t, j.Errors, 2)
	require.Equal(t, "boom 1", j.Errors[0].Error)
	require.Equal(t, "boom 2", j.Errors[1].Error)
	require.JSONEq(t, `"ok"`, string(j.Result))

	broken, err := s.Enqueue(ctx, jobsched.JobSpec{Kind: "broken", MaxAttempts: 4})
	require.NoError(t, err)
	j = waitJob(t, s, broken.ID)
	require.Equal(t, jobsched.StateDead, j.State)
	require.Equal(t, 4, j.Attempt)
	require.Len(t, j.Errors, 4)
	require.NotNil(t, j.FinishedAt)
}

func TestBackoffIsExponentialWithJitter(t *testing.T) {
	for attempt := 1; attempt <= 5; attempt++ {
		base := time.Duration(1<<(attempt-1)) * time.Second
		for i := 0; i < 50; i++ {
			d := jobsched.DefaultBackoff(attempt)
			require.GreaterOrEqual(t, d, base*8/10)
			require.LessOrEqual(t, d, base*12/10)
		}
	}
	require.LessOrEqual(t, jobsched.DefaultBackoff(40), time.Hour*12/10)
}

func TestTimeoutCancelsTheHandlersContext(t *testing.T) {
	s := start(t, jobsched.Config{Kinds: []jobsched.Kind{{Name: "slow", Timeout: 50 * time.Millisecond, MaxAttempts: 2}}},
		map[string]jobsched.Handler{"slow": func(ctx context.Context, j *jobsched.Job) (any, error) {
			<-ctx.Done()
			require.ErrorIs(t, context.Cause(ctx), jobsched.ErrTimeout)
			return nil, ctx.Err()
		}})
	j, err := s.Enqueue(context.Background(), jobsched.JobSpec{Kind: "slow"})
	require.NoError(t, err)
	require.Equal(t, jobsched.Duration(50*time.Millisecond), j.Timeout, "the kind's default timeout")
	j = waitJob(t, s, j.ID)
	require.Equal(t, jobsched.StateDead, j.State)
	require.Len(t, j.Errors, 2)
	require.Contains(t, j.Errors[0].Error, "timed out after 50ms")
}

func TestCancel(t *testing.T) {
	started := make(chan string, 1)
	s := start(t, jobsched.Config{}, map[string]jobsched.Handler{
		"block": func(ctx context.Context, j *jobsched.Job) (any, error) {
			started <- j.ID
			<-ctx.Done()
			require.ErrorIs(t, context.Cause(ctx), jobsched.ErrCancelled)
			return nil, ctx.Err()
		},
		"never": func(context.Context, *jobsched.Job) (any, error) {
			t.Error("a cancelled job ran")
			return nil, nil
		},
	})
	ctx := context.Background()

	t.Run("running", func(t *testing.T) {
		j, err := s.Enqueue(ctx, jobsched.JobSpec{Kind: "block"})
		require.NoError(t, err)
		require.Equal(t, j.ID, <-started)
		c, err := s.Cancel(ctx, j.ID)
		require.NoError(t, err)
		require.True(t, c.CancelRequested)
		j = waitJob(t, s, j.ID)
		require.Equal(t, jobsched.StateCancelled, j.State)
		_, err = s.Cancel(ctx, j.ID)
		require.ErrorIs(t, err, jobsched.ErrFinished)
	})
	t.Run("scheduled", func(t *testing.T) {
		j, err := s.Enqueue(ctx, jobsched.JobSpec{Kind: "never", Delay: jobsched.Duration(100 * time.Millisecond)})
		require.NoError(t, err)
		require.Equal(t, jobsched.StateScheduled, j.State)
		c, err := s.Cancel(ctx, j.ID)
		require.NoError(t, err)
		require.Equal(t, jobsched.StateCancelled, c.State)
		time.Sleep(300 * time.Millisecond) // past its run_at: it must still not run
		j, err = s.Get(ctx, j.ID)
		require.NoError(t, err)
		require.Equal(t, jobsched.StateCancelled, j.State)
	})
	t.Run("queued", func(t *testing.T) {
		require.NoError(t, s.Pause("default"))
		j, err := s.Enqueue(ctx, jobsched.JobSpec{Kind: "never"})
		require.NoError(t, err)
		c, err := s.Cancel(ctx, j.ID)
		require.NoError(t, err)
		require.Equal(t, jobsched.StateCancelled, c.State)
		require.NoError(t, s.Resume("default"))
		// A later job runs, so the cancelled one had its chance to run and did not.
		k, err := s.Enqueue(ctx, jobsched.JobSpec{Kind: "block"})
		require.NoError(t, err)
		require.Equal(t, k.ID, <-started)
		_, err = s.Cancel(ctx, k.ID)
		require.NoError(t, err)
		waitJob(t, s, k.ID)
	})
	_, err := s.Cancel(ctx, "no-such-job")
	require.ErrorIs(t, err, jobsched.ErrNotFound)
}

func TestDelayedJobNeverRunsEarly(t *testing.T) {
	type run struct {
		id string
		at time.Time
	}
	ran := make(chan run, 10)
	s := start(t, jobsched.Config{}, map[string]jobsched.Handler{"at": func(ctx context.Context, j *jobsched.Job) (any, error) {
		ran <- run{j.ID, time.Now()}
		return nil, nil
	}})
	ctx := context.Background()
	delayed, err := s.Enqueue(ctx, jobsched.JobSpec{Kind: "at", Delay: jobsched.Duration(300 * time.Millisecond)})
	require.NoError(t, err)
	require.Equal(t, jobsched.StateScheduled, delayed.State)
	runAt := time.Now().Add(150 * time.Millisecond)
	at, err := s.Enqueue(ctx, jobsched.JobSpec{Kind: "at", RunAt: runAt})
	require.NoError(t, err)
	now, err := s.Enqueue(ctx, jobsched.JobSpec{Kind: "at"})
	require.NoError(t, err)
	order := []string{}
	for i := 0; i < 3; i++ {
		r := <-ran
		order = append(order, r.id)
		switch r.id {
		case delayed.ID:
			require.False(t, r.at.Before(delayed.RunAt), "ran %s before its run_at", delayed.RunAt.Sub(r.at))
		case at.ID:
			require.False(t, r.at.Before(runAt))
		}
	}
	require.Equal(t, []string{now.ID, at.ID, delayed.ID}, order)
}

func TestPanickingHandlerRestartsItsWorkerAndIsRetried(t *testing.T) {
	var calls atomic.Int32
	s := start(t, jobsched.Config{Categories: []jobsched.Category{{Name: "default", MinWorkers: 1, MaxWorkers: 1}}},
		map[string]jobsched.Handler{"panicky": func(ctx context.Context, j *jobsched.Job) (any, error) {
			if calls.Add(1) <= 2 {
				panic(fmt.Sprintf("kaboom %d", j.Attempt))
			}
			return "survived", nil
		}, "noop": noop})
	ctx := context.Background()
	j, err := s.Enqueue(ctx, jobsched.JobSpec{Kind: "panicky"})
	require.NoError(t, err)
	j = waitJob(t, s, j.ID)
	require.Equal(t, jobsched.StateSucceeded, j.State)
	require.Equal(t, 3, j.Attempt)
	require.Len(t, j.Errors, 2)
	require.True(t, j.Errors[0].Panic)
	require.Equal(t, "kaboom 1", j.Errors[0].Error)

	// The worker crashed twice and was restarted by its supervisor; the tree shows it.
	restarts := 0
	supervision.Walk(s.Tree(), func(n *supervision.Node, _ int) {
		if n.Role == "Worker" {
			restarts += n.Restarts
		}
	})
	require.Equal(t, 2, restarts)
	// And the scheduler keeps serving.
	k, err := s.Enqueue(ctx, jobsched.JobSpec{Kind: "noop"})
	require.NoError(t, err)
	require.Equal(t, jobsched.StateSucceeded, waitJob(t, s, k.ID).State)
}

func TestUniqueKeyReturnsTheUnfinishedJob(t *testing.T) {
	release := make(chan struct{})
	s := start(t, jobsched.Config{}, map[string]jobsched.Handler{"hold": func(ctx context.Context, j *jobsched.Job) (any, error) {
		<-release
		return nil, nil
	}})
	ctx := context.Background()
	first, err := s.Enqueue(ctx, jobsched.JobSpec{Kind: "hold", UniqueKey: "invoice-42"})
	require.NoError(t, err)
	second, err := s.Enqueue(ctx, jobsched.JobSpec{Kind: "hold", UniqueKey: "invoice-42"})
	require.ErrorIs(t, err, jobsched.ErrDuplicate)
	require.Equal(t, first.ID, second.ID)
	batch, err := s.EnqueueBatch(ctx, []jobsched.JobSpec{{Kind: "hold", UniqueKey: "invoice-42"}, {Kind: "hold", UniqueKey: "b"}, {Kind: "hold", UniqueKey: "b"}})
	require.NoError(t, err)
	require.Equal(t, first.ID, batch[0].ID)
	require.Equal(t, batch[1].ID, batch[2].ID, "a batch shares a key within itself too")
	close(release)
	waitJob(t, s, first.ID)
	waitJob(t, s, batch[1].ID)
	// Once the holder finished, the key is free again.
	third, err := s.Enqueue(ctx, jobsched.JobSpec{Kind: "hold", UniqueKey: "invoice-42"})
	require.NoError(t, err)
	require.NotEqual(t, first.ID, third.ID)
	waitJob(t, s, third.ID)
}

func TestProgressIsStoredAndVisible(t *testing.T) {
	reported := make(chan struct{})
	finish := make(chan struct{})
	s := start(t, jobsched.Config{}, map[string]jobsched.Handler{"long": func(ctx context.Context, j *jobsched.Job) (any, error) {
		require.NoError(t, jobsched.ReportProgress(ctx, 40, "step 2 of 5"))
		close(reported)
		<-finish
		require.NoError(t, jobsched.ReportProgress(ctx, 100, "done"))
		return nil, nil
	}})
	ctx := context.Background()
	j, err := s.Enqueue(ctx, jobsched.JobSpec{Kind: "long"})
	require.NoError(t, err)
	<-reported
	require.Eventually(t, func() bool {
		g, err := s.Get(ctx, j.ID)
		return err == nil && g.Progress != nil && g.Progress.Percent == 40 && g.Progress.Message == "step 2 of 5" && g.State == jobsched.StateRunning
	}, 5*time.Second, 5*time.Millisecond)
	close(finish)
	j = waitJob(t, s, j.ID)
	require.Equal(t, 100.0, j.Progress.Percent)
	require.Error(t, jobsched.ReportProgress(ctx, 1, "not a handler"))
}

func TestBadInputIsRefusedNamingTheFieldAndStoresNothing(t *testing.T) {
	s := start(t, jobsched.Config{MaxArgsBytes: 64}, map[string]jobsched.Handler{"k": noop})
	ctx := context.Background()
	cases := []struct {
		spec  jobsched.JobSpec
		field string
	}{
		{jobsched.JobSpec{}, "kind"},
		{jobsched.JobSpec{Kind: "k", Category: "nope"}, "category"},
		{jobsched.JobSpec{Kind: "k", Delay: jobsched.Duration(-time.Second)}, "delay"},
		{jobsched.JobSpec{Kind: "k", Delay: jobsched.Duration(time.Second), RunAt: time.Now()}, "run_at"},
		{jobsched.JobSpec{Kind: "k", MaxAttempts: -1}, "max_attempts"},
		{jobsched.JobSpec{Kind: "k", Timeout: jobsched.Duration(-1)}, "timeout"},
		{jobsched.JobSpec{Kind: "k", Args: json.RawMessage(`{"x":"` + string(make([]byte, 100)) + `"}`)}, "args"},
		{jobsched.JobSpec{Kind: "k", Args: json.RawMessage(`{not json`)}, "args"},
	}
	for _, tc := range cases {
		t.Run(tc.field, func(t *testing.T) {
			_, err := s.Enqueue(ctx, tc.spec)
			var inv *jobsched.InvalidError
			require.ErrorAs(t, err, &inv)
			require.ErrorIs(t, err, jobsched.ErrInvalid)
			require.Equal(t, tc.field, inv.Field)
			require.Contains(t, err.Error(), tc.field)
		})
	}
	_, err := s.Enqueue(ctx, jobsched.JobSpec{Kind: "k", Args: json.RawMessage(`"` + string(make([]byte, 100)) + `"`)})
	require.ErrorIs(t, err, jobsched.ErrTooLarge)
	// In a batch, the bad entry is named and nothing of the batch is stored.
	_, err = s.EnqueueBatch(ctx, []jobsched.JobSpec{{Kind: "k"}, {Kind: ""}})
	var inv *jobsched.InvalidError
	require.ErrorAs(t, err, &inv)
	require.Equal(t, "jobs[1].kind", inv.Field)
	jobs, _, err := s.List(ctx, jobsched.ListOptions{})
	require.NoError(t, err)
	require.Empty(t, jobs, "nothing was stored")
}

func TestQueueLimitRefusesWithErrQueueFull(t *testing.T) {
	s := start(t, jobsched.Config{Categories: []jobsched.Category{{Name: "default", QueueLimit: 3}}}, map[string]jobsched.Handler{"k": noop})
	require.NoError(t, s.Pause("default"))
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		_, err := s.Enqueue(ctx, jobsched.JobSpec{Kind: "k"})
		require.NoError(t, err)
	}
	_, err := s.Enqueue(ctx, jobsched.JobSpec{Kind: "k"})
	require.ErrorIs(t, err, jobsched.ErrQueueFull)
	_, err = s.EnqueueBatch(ctx, []jobsched.JobSpec{{Kind: "k"}})
	require.ErrorIs(t, err, jobsched.ErrQueueFull)
	jobs, _, err := s.List(ctx, jobsched.ListOptions{})
	require.NoError(t, err)
	require.Len(t, jobs, 3, "nothing refused is stored")
	require.NoError(t, s.Resume("default"))
	for _, j := range jobs {
		waitJob(t, s, j.ID)
	}
}

func TestGracefulCloseAndReopenFindsUnfinishedJobs(t *testing.T) {
	dir := t.TempDir()
	started := make(chan struct{}, 1)
	slow := func(ctx context.Context, j *jobsched.Job) (any, error) {
		started <- struct{}{}
		select {
		case <-time.After(200 * time.Millisecond):
			return "finished in time", nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	cfg := jobsched.Config{Dir: dir, Categories: []jobsched.Category{{Name: "default", MinWorkers: 1, MaxWorkers: 1}}}
	s, err := jobsched.New(cfg)
	require.NoError(t, err)
	require.NoError(t, s.Register("slow", slow))
	require.NoError(t, s.Register("later", noop))
	ctx := context.Background()
	require.NoError(t, s.Start(ctx))
	running, err := s.Enqueue(ctx, jobsched.JobSpec{Kind: "slow"})
	require.NoError(t, err)
	<-started
	queued, err := s.Enqueue(ctx, jobsched.JobSpec{Kind: "slow"})
	require.NoError(t, err)
	scheduled, err := s.Enqueue(ctx, jobsched.JobSpec{Kind: "later", Delay: jobsched.Duration(time.Hour)})
	require.NoError(t, err)

	// Close lets the running job finish (its 200 ms fit in the grace), starts nothing new.
	closeCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	require.NoError(t, s.Close(closeCtx))
	require.NoError(t, s.Close(closeCtx), "Close twice")
	_, err = s.Enqueue(ctx, jobsched.JobSpec{Kind: "slow"})
	require.ErrorIs(t, err, jobsched.ErrClosed)

	s2, err := jobsched.New(cfg)
	require.NoError(t, err)
	require.NoError(t, s2.Register("slow", slow))
	require.NoError(t, s2.Register("later", noop))
	require.NoError(t, s2.Start(ctx))
	defer func() { require.NoError(t, s2.Close(ctx)) }()
	j, err := s2.Get(ctx, running.ID)
	require.NoError(t, err)
	require.Equal(t, jobsched.StateSucceeded, j.State)
	require.JSONEq(t, `"finished in time"`, string(j.Result))
	j, err = s2.Get(ctx, scheduled.ID)
	require.NoError(t, err)
	require.Equal(t, jobsched.StateScheduled, j.State)
	j = waitJob(t, s2, queued.ID)
	require.Equal(t, jobsched.StateSucceeded, j.State)
	require.Equal(t, 1, j.Attempt)
}

func TestCloseCancelsJobsPastTheGraceAndKeepsThem(t *testing.T) {
	dir := t.TempDir()
	started := make(chan struct{}, 1)
	cfg := jobsched.Config{Dir: dir}
	s, err := jobsched.New(cfg)
	require.NoError(t, err)
	require.NoError(t, s.Register("stuck", func(ctx context.Context, j *jobsched.Job) (any, error) {
		started <- struct{}{}
		<-ctx.Done()
		require.ErrorIs(t, context.Cause(ctx), jobsched.ErrShutdown)
		return nil, ctx.Err()
	}))
	ctx := context.Background()
	require.NoError(t, s.Start(ctx))
	j, err := s.Enqueue(ctx, jobsched.JobSpec{Kind: "stuck"})
	require.NoError(t, err)
	<-started
	closeCtx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	require.NoError(t, s.Close(closeCtx))

	s2, err := jobsched.New(cfg)
	require.NoError(t, err)
	require.NoError(t, s2.Register("stuck", noop))
	require.NoError(t, s2.Start(ctx))
	defer func() { require.NoError(t, s2.Close(ctx)) }()
	j = waitJob(t, s2, j.ID)
	require.Equal(t, jobsched.StateSucceeded, j.State)
	require.Equal(t, 1, j.Attempt, "the attempt cut short by Close is given back")
}

func TestRegisterAfterStartIsRefused(t *testing.T) {
	s := start(t, jobsched.Config{}, nil)
	require.ErrorIs(t, s.Register("late", noop), jobsched.ErrStarted)
}

func TestTreeHasTheDesignedShape(t *testing.T) {
	s := start(t, jobsched.Config{Workers: 6, Categories: []jobsched.Category{{Name: "email", MinWorkers: 2}, {Name: "sms", MinWorkers: 1}}}, nil)
	require.Eventually(t, func() bool {
		roles := supervision.Roles(s.Tree())
		return roles["Worker"] == 3
	}, 5*time.Second, 5*time.Millisecond)
	roots := s.Tree()
	require.Len(t, roots, 1)
	root := roots[0]
	require.Equal(t, "RootSupervisor", root.Role)
	require.Equal(t, "rest_for_one", root.Strategy)
	var names []string
	for _, c := range root.Children {
		names = append(names, c.Role)
	}
	require.Equal(t, []string{"Categories", "Waiter", "Dispatcher", "WorkerBalancer"}, names)
	email := root.Children[0].Children[0]
	require.Equal(t, "email", email.Name)
	require.Equal(t, "rest_for_one", email.Strategy)
	var inner []string
	for _, c := range email.Children {
		inner = append(inner, c.Role)
	}
	require.Equal(t, []string{"Fifo", "WorkerRegistry", "Workers"}, inner)
	require.Len(t, email.Children[2].Children, 2)
}

func TestPeriodicJobsAreEnqueuedEachTick(t *testing.T) {
	ran := make(chan string, 10)
	s := start(t, jobsched.Config{Periodic: []jobsched.PeriodicJob{{Cron: "@every 1s", Kind: "tick"}}},
		map[string]jobsched.Handler{"tick": func(ctx context.Context, j *jobsched.Job) (any, error) {
			ran <- j.UniqueKey
			return nil, nil
		}})
	_ = s
	first := <-ran
	second := <-ran
	require.NotEqual(t, first, second)
	require.Contains(t, first, "periodic:tick@@every 1s:")
}
