package jobsched_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jobsched/jobsched"
	"github.com/stretchr/testify/require"
)

// Tenant A enqueues 20,000 jobs while the 4 workers are held by A's first jobs; then tenant B
// enqueues one. Once the workers are let go, B's job starts among the first jobs handed out,
// not after A's backlog — with A's backlog all in memory, and when the Fifo holds only 64 jobs
// in memory, so that A's backlog spills to the store and B's job arrives behind it there.
//
// The bound is exact: the Fifo hands B's job out second, after the one job of A's turn in
// progress. The jobs handed out together may still start in any order (each goes through its
// worker's mailbox, its attempt goroutine and its start write; on a loaded machine one of these
// can lag a few milliseconds), and a job of A's that takes no time would let its worker start
// more of A's meanwhile: with A's jobs returning at once, B's job was handed out second every
// time and still started as late as the 52nd start after the release. So each of A's jobs started after the release holds its worker until B's
// starts: at most workers-1 of A's can start before B's, and if B's were not among the first
// jobs handed out, every worker would hold one of A's and B's would never start.
func TestATenantsBacklogDoesNotStarveAnotherTenant(t *testing.T) {
	for _, mem := range []int{30_000, 64} {
		t.Run(fmt.Sprintf("FifoMemory=%d", mem), func(t *testing.T) {
			const workers, backlog = 4, 20_000
			release := make(chan struct{})  // closed: A's first jobs end
			bStarted := make(chan struct{}) // closed by B's job: A's later jobs end
			var mu sync.Mutex
			var order []string // the fairness keys of the jobs started, in start order
			s := start(t, jobsched.Config{Workers: workers, FifoMemory: mem}, map[string]jobsched.Handler{
				"work": func(ctx context.Context, j *jobsched.Job) (any, error) {
					mu.Lock()
					order = append(order, j.FairnessKey)
					n := len(order)
					mu.Unlock()
					if j.FairnessKey == "B" {
						close(bStarted)
						return nil, nil
					}
					hold := bStarted
					if n <= workers {
						hold = release
					}
					select {
					case <-hold:
						return nil, nil
					case <-ctx.Done():
						return nil, ctx.Err()
					}
				},
			})
			started := func() []string {
				mu.Lock()
				defer mu.Unlock()
				return slices.Clone(order)
			}
			ctx := context.Background()
			specs := make([]jobsched.JobSpec, 1000)
			for i := range specs {
				specs[i] = jobsched.JobSpec{Kind: "work", FairnessKey: "A"}
			}
			for i := 0; i < backlog/len(specs); i++ {
				_, err := s.EnqueueBatch(ctx, specs)
				require.NoError(t, err)
			}
			require.Eventually(t, func() bool { return len(started()) == workers }, 10*time.Second, time.Millisecond,
				"A's first jobs hold every worker")
			// The Fifo has taken all of A's jobs in: in memory less the workers' (or, spilled, the
			// first mem of them), the rest left in the store.
			inMem := func() int { return s.Categories()[0].InMemory }
			held := min(backlog, mem) - workers
			require.Eventually(t, func() bool { return inMem() == held }, 10*time.Second, time.Millisecond)
			b, err := s.Enqueue(ctx, jobsched.JobSpec{Kind: "work", FairnessKey: "B"})
			require.NoError(t, err)
			require.Equal(t, "B", b.FairnessKey)
			// B's job reaches the Fifo's memory, spilled or not (its message travels after
			// Enqueue returns: the count is taken once it is there).
			require.Eventually(t, func() bool { return inMem() == held+1 }, 10*time.Second, time.Millisecond)
			close(release)
			// B's job starts, or every worker holds one of A's jobs started after the release.
			require.Eventually(t, func() bool {
				o := started()
				return slices.Contains(o, "B") || len(o) == 2*workers
			}, 20*time.Second, time.Millisecond)
			after := started()[workers:]
			ahead := slices.Index(after, "B")
			require.GreaterOrEqual(t, ahead, 0, "every worker holds one of A's jobs handed out before B's: %v", after)
			t.Logf("B started after %d of A's jobs started after the release (%d workers)", ahead, workers)
			require.LessOrEqual(t, ahead, workers-1, "B waits at most one job per busy worker")
			got := waitJob(t, s, b.ID)
			require.Equal(t, jobsched.StateSucceeded, got.State)
			require.Equal(t, "B", got.FairnessKey, "the key is stored")
		})
	}
}

// A fairness key longer than 200 bytes is refused naming the field, and nothing is stored.
func TestAFairnessKeyTooLongIsRefused(t *testing.T) {
	s := start(t, jobsched.Config{Workers: 1}, map[string]jobsched.Handler{"work": noop})
	_, err := s.Enqueue(context.Background(), jobsched.JobSpec{Kind: "work", FairnessKey: strings.Repeat("k", 201)})
	var inv *jobsched.InvalidError
	require.True(t, errors.As(err, &inv), "%v", err)
	require.Equal(t, "fairness_key", inv.Field)
	require.Zero(t, s.Categories()[0].Counts[jobsched.StateQueued], "nothing stored")
	_, err = s.Enqueue(context.Background(), jobsched.JobSpec{Kind: "work", FairnessKey: strings.Repeat("k", 200)})
	require.NoError(t, err)
}

// Fairness keys work with a kind's concurrency-key limit: tenant A's jobs, all on one
// concurrency key limited to 1, park without taking the workers, and B's jobs run meanwhile.
func TestFairnessKeysWithConcurrencyKeys(t *testing.T) {
	release := make(chan struct{})
	var mu sync.Mutex
	var order []string
	s := start(t, jobsched.Config{Workers: 2, FifoMemory: 16, Kinds: []jobsched.Kind{{Name: "keyed", KeyConcurrency: 1}}},
		map[string]jobsched.Handler{"keyed": func(ctx context.Context, j *jobsched.Job) (any, error) {
			mu.Lock()
			order = append(order, j.FairnessKey)
			first := len(order) == 1
			mu.Unlock()
			if first {
				select {
				case <-release:
				case <-ctx.Done():
					return nil, ctx.Err()
				}
			}
			return nil, nil
		}})
	ctx := context.Background()
	var ids []string
	for i := 0; i < 100; i++ {
		j, err := s.Enqueue(ctx, jobsched.JobSpec{Kind: "keyed", FairnessKey: "A", ConcurrencyKey: "a"})
		require.NoError(t, err)
		ids = append(ids, j.ID)
	}
	for i := 0; i < 3; i++ {
		j, err := s.Enqueue(ctx, jobsched.JobSpec{Kind: "keyed", FairnessKey: "B", ConcurrencyKey: fmt.Sprint("b", i)})
		require.NoError(t, err)
		ids = append(ids, j.ID)
	}
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(order) == 4
	}, 10*time.Second, time.Millisecond, "B's three jobs run while A's first holds its key")
	close(release)
	for _, id := range ids {
		require.Equal(t, jobsched.StateSucceeded, waitJob(t, s, id).State)
	}
}

// Under spill, a key's jobs still start in the order they were enqueued: B's first jobs are
// admitted to memory past A's spilled backlog, and once one of B's jobs is left in the store,
// B's later ones wait there behind it rather than overtake it.
func TestAKeysJobsKeepTheirOrderUnderSpill(t *testing.T) {
	tokens := make(chan struct{}) // each of A's jobs takes one; closed: A's jobs run freely
	var mu sync.Mutex
	var order []string // "A" or the index of B's job, in start order
	started := func(b string) bool {
		mu.Lock()
		defer mu.Unlock()
		for _, o := range order {
			if o == b {
				return true
			}
		}
		return false
	}
	s := start(t, jobsched.Config{Workers: 1, FifoMemory: 8}, map[string]jobsched.Handler{
		"work": func(ctx context.Context, j *jobsched.Job) (any, error) {
			mu.Lock()
			if j.FairnessKey == "B" {
				order = append(order, string(j.Args))
				mu.Unlock()
				return nil, nil
			}
			order = append(order, "A")
			mu.Unlock()
			select {
			case <-tokens:
				return nil, nil
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		},
	})
	ctx := context.Background()
	specs := make([]jobsched.JobSpec, 500)
	for i := range specs {
		specs[i] = jobsched.JobSpec{Kind: "work", FairnessKey: "A"}
	}
	jobs, err := s.EnqueueBatch(ctx, specs)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return started("A") }, 10*time.Second, time.Millisecond)
	enqueueB := func(i int) string {
		j, err := s.Enqueue(ctx, jobsched.JobSpec{Kind: "work", FairnessKey: "B", Args: jobsched.Args(i)})
		require.NoError(t, err)
		return j.ID
	}
	for i := 0; i < 20; i++ {
		enqueueB(i) // the first few are admitted to memory, the rest stay in the store
	}
	// In memory: A's first 8 less the one running, and B's first 4 (its share of the 8 among
	// two keys, at least 4); the rest of both are in the store.
	require.Eventually(t, func() bool { return s.Categories()[0].InMemory == 7+4 }, 10*time.Second, time.Millisecond)
	for !started("3") {
		tokens <- struct{}{} // one more of A's jobs ends; B's turn comes next
	}
	last := enqueueB(20) // B's jobs 4..19 are still in the store, behind A's backlog
	close(tokens)
	waitJob(t, s, last)
	waitJob(t, s, jobs[len(jobs)-1].ID)
	mu.Lock()
	defer mu.Unlock()
	var bs []string
	firstB := -1
	for i, o := range order {
		if o != "A" {
			bs = append(bs, o)
			if firstB < 0 {
				firstB = i
			}
		}
	}
	want := make([]string, 21)
	for i := range want {
		want[i] = fmt.Sprint(i)
	}
	require.Equal(t, want, bs, "B's jobs start in their order")
	require.LessOrEqual(t, firstB, 3, "B's first job is admitted past A's spilled backlog")
}
