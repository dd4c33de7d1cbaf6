package jobsched_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jobsched/jobsched"
	"github.com/jobsched/jobsched/persistence/faulty"
	"github.com/stretchr/testify/require"
)

// Review of issue 10's merged pieces: the interplay of the store-driven Fifo, the retried
// lifecycle writes, supervision and the store's faults.

// A start write the store made but reported failed, whose worker stops before a retry could
// recognise it, leaves the job running in the store with no attempt behind it. The Fifo's
// audit trusts "running" (its end will come), so without the give-back the job was stranded
// until a restart, and a key slot of its kind with it.
func TestAStartWriteMadeThenAbandonedIsNotStranded(t *testing.T) {
	fs := faultyStore(t, faulty.Options{Seed: 1, FailAfter: 1})
	fs.Disable()
	var runs atomic.Int32
	s := start(t, jobsched.Config{Store: fs, Workers: 1, PollInterval: fastPoll,
		Categories: []jobsched.Category{{Name: "default", MinWorkers: 1, MaxWorkers: 1}},
		Kinds:      []jobsched.Kind{{Name: "k", KeyConcurrency: 1}}},
		map[string]jobsched.Handler{"k": func(context.Context, *jobsched.Job) (any, error) {
			runs.Add(1)
			return "ok", nil
		}})
	ctx := context.Background()
	fs.Enable() // every write is made, then reported failed: the start is retried, never known
	_, err := s.Enqueue(ctx, jobsched.JobSpec{Kind: "k", ConcurrencyKey: "c"})
	require.ErrorIs(t, err, faulty.ErrInjected)
	var id string
	require.Eventually(t, func() bool {
		jobs, _, err := s.List(ctx, jobsched.ListOptions{State: jobsched.StateRunning})
		if err != nil || len(jobs) != 1 {
			return false
		}
		id = jobs[0].ID
		return true
	}, 5*time.Second, time.Millisecond, "the start write lands (and is reported failed)")
	// The worker stops while it tries the start again: it gives the start up.
	before := restartsOf(s, "jobsched/categories/default/workers")
	crashRegistry(s, "default")
	require.Eventually(t, func() bool { return restartsOf(s, "jobsched/categories/default/workers") > before },
		5*time.Second, time.Millisecond)
	fs.Disable()
	require.Equal(t, jobsched.StateSucceeded, waitJob(t, s, id).State)
	require.Equal(t, int32(1), runs.Load())
	// The key's slot is free: one more job of the key runs.
	j, err := s.Enqueue(ctx, jobsched.JobSpec{Kind: "k", ConcurrencyKey: "c"})
	require.NoError(t, err)
	require.Equal(t, jobsched.StateSucceeded, waitJob(t, s, j.ID).State)
}

// A restarted Fifo knows nothing of the hand-offs of the one before it. The attempts those
// started go on (a handler that ignores its context runs past its worker's stop), so the new
// Fifo must count them against their concurrency key, or a key with key_concurrency 1 runs two
// jobs at once.
func TestARestartedFifoCountsTheAttemptsStillRunningAgainstTheirKey(t *testing.T) {
	started := make(chan string, 2)
	release := make(chan struct{})
	s := start(t, jobsched.Config{Workers: 2, PollInterval: fastPoll,
		Categories: []jobsched.Category{{Name: "default", MinWorkers: 2, MaxWorkers: 2}},
		Kinds:      []jobsched.Kind{{Name: "k", KeyConcurrency: 1}}},
		map[string]jobsched.Handler{"k": func(_ context.Context, j *jobsched.Job) (any, error) {
			started <- j.ID
			<-release // ignores its context: it outlives its worker
			return "ok", nil
		}})
	ctx := context.Background()
	a, err := s.Enqueue(ctx, jobsched.JobSpec{Kind: "k", ConcurrencyKey: "c"})
	require.NoError(t, err)
	require.Equal(t, a.ID, <-started)
	before := restartsOf(s, "jobsched/categories/default/fifo")
	crashFifo(s, "default")
	require.Eventually(t, func() bool { return restartsOf(s, "jobsched/categories/default/fifo") > before },
		5*time.Second, time.Millisecond)
	b, err := s.Enqueue(ctx, jobsched.JobSpec{Kind: "k", ConcurrencyKey: "c"})
	require.NoError(t, err)
	select {
	case id := <-started:
		close(release)
		t.Fatalf("job %s started while job %s of the same key (limit 1) still ran", id, a.ID)
	case <-time.After(20 * fastPoll): // rescans and an audit happen within this
	}
	close(release)
	require.Equal(t, b.ID, <-started)
	require.Equal(t, jobsched.StateSucceeded, waitJob(t, s, a.ID).State)
	require.Equal(t, jobsched.StateSucceeded, waitJob(t, s, b.ID).State)
}

// An outcome the store cannot take in one commit (a result over the commit limit) is refused
// for good (ErrTooLarge). The job must still end, with an error that says why, and not stay
// running with its key slot held until a restart.
func TestAnOutcomeTooLargeToStoreStillEndsTheJob(t *testing.T) {
	big := strings.Repeat("x", 4<<20) // over the default commit limit of badger (about 2.7 MiB)
	s := start(t, jobsched.Config{Workers: 1, PollInterval: fastPoll,
		Kinds: []jobsched.Kind{{Name: "k", KeyConcurrency: 1, MaxAttempts: 1}}},
		map[string]jobsched.Handler{
			"k":   func(context.Context, *jobsched.Job) (any, error) { return big, nil },
			"err": func(context.Context, *jobsched.Job) (any, error) { return nil, errors.New(big) },
		})
	ctx := context.Background()
	for _, kind := range []string{"k", "err"} {
		j, err := s.Enqueue(ctx, jobsched.JobSpec{Kind: kind, ConcurrencyKey: "c", MaxAttempts: 1})
		require.NoError(t, err)
		got := waitJob(t, s, j.ID)
		require.Equal(t, jobsched.StateDead, got.State, kind)
		require.Len(t, got.Errors, 1)
		require.Contains(t, got.Errors[0].Error, "too large", kind)
	}
}
