// Package storetest is the conformance suite of persistence.Store: every store (badger,
// PostgreSQL) runs the same tests, so the scheduler can rely on one contract. It is River's
// driver suite in spirit: a store passes it or it is not a store.
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) persistence.Store { return openMyStore(t) })
//	}
package storetest

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/jobsched/jobsched/persistence"
	"github.com/stretchr/testify/require"
)

// Open returns a new, empty store for one test; it registers its own cleanup (Close twice is
// allowed by the contract).
type Open func(t *testing.T) persistence.Store

// Run runs the whole suite, each case on a fresh store from open.
func Run(t *testing.T, open Open) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.fn(t, open(t)) })
	}
}

var cases = []struct {
	name string
	fn   func(t *testing.T, s persistence.Store)
}{
	{"insert and get", testInsertGet},
	{"insert is all or nothing", testInsertAllOrNothing},
	{"queued in seq order from a cursor", testQueuedOrder},
	{"a requeued job goes to the back", testRequeue},
	{"updates keep the indexes true", testUpdateIndexes},
	{"mutator errors change nothing", testMutatorErrors},
	{"update async", testUpdateAsync},
	{"concurrent updates of one job serialise", testConcurrentUpdates},
	{"concurrent inserts", testConcurrentInserts},
	{"waiting in run_at order", testWaitingOrder},
	{"unique keys", testUniqueKeys},
	{"list pages newest first with filters", testList},
	{"backlog and counts", testCounts},
	{"close", testClose},
	{"delete removes a finished job only", testDeleteFinishedOnly},
	{"revive refused while another job holds the unique key", testReviveUniqueHeld},
	{"list filters by kind", testListKind},
	{"settings", testSettings},
	{"trace parent round-trips", testTraceParent},
	{"dependencies: release by the parents' success", testDependsRelease},
	{"dependencies: a failed parent cancels its dependents", testDependsFailure},
	{"dependencies: decided at insert", testDependsAtInsert},
	{"dependencies: concurrent finishes of the parents", testDependsConcurrentParents},
}

var ctx = context.Background()

// now is a base time at microsecond precision (what PostgreSQL keeps).
var now = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

func newJob(id, cat string, st persistence.State) *persistence.Job {
	return &persistence.Job{ID: id, Kind: "k", Category: cat, State: st, MaxAttempts: 3, CreatedAt: now, RunAt: now}
}

func ids(jobs []*persistence.Job) []string {
	out := make([]string, len(jobs))
	for i, j := range jobs {
		out[i] = j.ID
	}
	return out
}

func insert(t *testing.T, s persistence.Store, jobs ...*persistence.Job) []persistence.InsertResult {
	t.Helper()
	res, err := s.Insert(ctx, jobs)
	require.NoError(t, err)
	require.Len(t, res, len(jobs))
	return res
}

func set(st persistence.State) persistence.Mutator {
	return func(j *persistence.Job) error { j.State = st; return nil }
}

func running(t *testing.T, s persistence.Store) []string {
	t.Helper()
	var out []string
	require.NoError(t, s.Running(ctx, func(id string) error { out = append(out, id); return nil }))
	sort.Strings(out)
	return out
}

func waiting(t *testing.T, s persistence.Store) ([]string, []time.Time) {
	t.Helper()
	var out []string
	var at []time.Time
	require.NoError(t, s.Waiting(ctx, func(id string, runAt time.Time) error {
		out, at = append(out, id), append(at, runAt)
		return nil
	}))
	return out, at
}

func testInsertGet(t *testing.T, s persistence.Store) {
	in := newJob("a1", "a", persistence.StateQueued)
	in.Args = []byte(`{"n":1}`)
	in.Timeout = persistence.Duration(3 * time.Second)
	in.ConcurrencyKey = "ck"
	res := insert(t, s, in, newJob("a2", "a", persistence.StateQueued), newJob("b1", "b", persistence.StateScheduled))
	require.False(t, res[0].Duplicate)
	require.NotZero(t, res[0].Job.Seq, "a queued job is given its seq")
	require.Less(t, res[0].Job.Seq, res[1].Job.Seq)
	got, err := s.Get(ctx, "a1")
	require.NoError(t, err)
	require.Equal(t, "a", got.Category)
	require.Equal(t, persistence.StateQueued, got.State)
	require.JSONEq(t, `{"n":1}`, string(got.Args))
	require.Equal(t, 3*time.Second, time.Duration(got.Timeout))
	require.Equal(t, "ck", got.ConcurrencyKey)
	require.True(t, got.CreatedAt.Equal(now))
	require.Equal(t, res[0].Job.Seq, got.Seq)
	in.State = persistence.StateDead
	require.Equal(t, persistence.StateQueued, got.State, "the store keeps its own copy")
	_, err = s.Get(ctx, "nope")
	require.ErrorIs(t, err, persistence.ErrNotFound)
	_, err = s.Update(ctx, "nope", set(persistence.StateQueued), false)
	require.ErrorIs(t, err, persistence.ErrNotFound)
}

// A batch is stored whole or not at all: a store may refuse one too large for a commit
// (ErrTooLarge), but then nothing of it is stored.
func testInsertAllOrNothing(t *testing.T, s persistence.Store) {
	big := make([]*persistence.Job, 0, 5000)
	for i := 0; i < cap(big); i++ {
		j := newJob(fmt.Sprint("big", i), "c", persistence.StateQueued)
		j.Args = []byte(fmt.Sprintf(`{"pad":"%01000d"}`, i))
		big = append(big, j)
	}
	_, err := s.Insert(ctx, big)
	if err != nil {
		require.ErrorIs(t, err, persistence.ErrTooLarge)
		require.Zero(t, s.Backlog("c"), "nothing of a refused batch is stored")
		_, err = s.Get(ctx, "big0")
		require.ErrorIs(t, err, persistence.ErrNotFound)
		return
	}
	require.Equal(t, len(big), s.Backlog("c"))
	q, err := s.Queued(ctx, "c", 0, 10_000)
	require.NoError(t, err)
	require.Len(t, q, len(big))
	for i, j := range q {
		require.Equal(t, fmt.Sprint("big", i), j.ID, "a batch keeps its order in the queue")
	}
}

func testQueuedOrder(t *testing.T, s persistence.Store) {
	for i := 0; i < 5; i++ {
		insert(t, s, newJob(fmt.Sprint("q", i), "a", persistence.StateQueued), newJob(fmt.Sprint("o", i), "b", persistence.StateQueued))
	}
	q, err := s.Queued(ctx, "a", 0, 10)
	require.NoError(t, err)
	require.Equal(t, []string{"q0", "q1", "q2", "q3", "q4"}, ids(q))
	for i := 1; i < len(q); i++ {
		require.Less(t, q[i-1].Seq, q[i].Seq)
	}
	page, err := s.Queued(ctx, "a", q[1].Seq, 2)
	require.NoError(t, err)
	require.Equal(t, []string{"q2", "q3"}, ids(page), "from a cursor, up to limit")
	page, err = s.Queued(ctx, "a", q[4].Seq, 2)
	require.NoError(t, err)
	require.Empty(t, page)
	page, err = s.Queued(ctx, "nobody", 0, 10)
	require.NoError(t, err)
	require.Empty(t, page)
}

func testRequeue(t *testing.T, s persistence.Store) {
	insert(t, s, newJob("r1", "a", persistence.StateQueued), newJob("r2", "a", persistence.StateQueued))
	_, err := s.Update(ctx, "r1", set(persistence.StateRunning), false)
	require.NoError(t, err)
	j, err := s.Update(ctx, "r1", set(persistence.StateQueued), true)
	require.NoError(t, err)
	q, err := s.Queued(ctx, "a", 0, 10)
	require.NoError(t, err)
	require.Equal(t, []string{"r2", "r1"}, ids(q), "back into the queue means to its end")
	require.Equal(t, j.Seq, q[1].Seq, "Update returns the seq it gave")
	j2, err := s.Update(ctx, "r2", func(j *persistence.Job) error { j.Attempt = 7; return nil }, false)
	require.NoError(t, err)
	require.Equal(t, q[0].Seq, j2.Seq, "a queued job that stays queued keeps its place")
}

func testUpdateIndexes(t *testing.T, s persistence.Store) {
	insert(t, s, newJob("j", "c", persistence.StateQueued))
	j, err := s.Update(ctx, "j", func(j *persistence.Job) error {
		j.State = persistence.StateRunning
		j.Attempt++
		return nil
	}, false)
	require.NoError(t, err)
	require.Equal(t, 1, j.Attempt)
	q, err := s.Queued(ctx, "c", 0, 10)
	require.NoError(t, err)
	require.Empty(t, q, "a running job leaves the queue")
	require.Equal(t, []string{"j"}, running(t, s))
	later := now.Add(time.Hour)
	_, err = s.Update(ctx, "j", func(j *persistence.Job) error { j.State, j.RunAt = persistence.StateRetrying, later; return nil }, true)
	require.NoError(t, err)
	w, at := waiting(t, s)
	require.Equal(t, []string{"j"}, w)
	require.True(t, at[0].Equal(later), "run_at %v", at[0])
	require.Empty(t, running(t, s))
	_, err = s.Update(ctx, "j", func(j *persistence.Job) error {
		j.State = persistence.StateSucceeded
		j.Result = []byte(`{"ok":true}`)
		j.FinishedAt = &later
		return nil
	}, true)
	require.NoError(t, err)
	w, _ = waiting(t, s)
	require.Empty(t, w)
	got, err := s.Get(ctx, "j")
	require.NoError(t, err)
	require.Equal(t, persistence.StateSucceeded, got.State)
	require.JSONEq(t, `{"ok":true}`, string(got.Result))
	require.True(t, got.FinishedAt.Equal(later))
}

func testMutatorErrors(t *testing.T, s persistence.Store) {
	insert(t, s, newJob("m", "c", persistence.StateQueued))
	j, err := s.Update(ctx, "m", func(j *persistence.Job) error { j.Attempt = 5; return persistence.ErrSkip }, false)
	require.ErrorIs(t, err, persistence.ErrSkip)
	require.NotNil(t, j, "a skipped update returns the job as stored")
	require.Equal(t, 0, j.Attempt)
	custom := errors.New("no")
	j, err = s.Update(ctx, "m", func(j *persistence.Job) error { j.Attempt = 99; return custom }, true)
	require.ErrorIs(t, err, custom)
	require.NotNil(t, j)
	require.Equal(t, persistence.StateQueued, j.State)
	_, err = s.Update(ctx, "m", func(j *persistence.Job) error { j.ID = "other"; return nil }, false)
	require.Error(t, err, "a mutator may not change the id")
	got, err := s.Get(ctx, "m")
	require.NoError(t, err)
	require.Equal(t, 0, got.Attempt, "a refused mutation changes nothing")
	_, err = s.Get(ctx, "other")
	require.ErrorIs(t, err, persistence.ErrNotFound)
}

func testUpdateAsync(t *testing.T, s persistence.Store) {
	insert(t, s, newJob("a", "c", persistence.StateQueued))
	type res struct {
		j   *persistence.Job
		err error
	}
	call := func(id string, fn persistence.Mutator) res {
		ch := make(chan res, 1)
		s.UpdateAsync(id, fn, false, func(j *persistence.Job, err error) { ch <- res{j, err} })
		select {
		case r := <-ch:
			return r
		case <-time.After(10 * time.Second):
			t.Fatal("UpdateAsync never called done")
			return res{}
		}
	}
	r := call("a", set(persistence.StateRunning))
	require.NoError(t, r.err)
	require.Equal(t, persistence.StateRunning, r.j.State)
	r = call("a", func(*persistence.Job) error { return persistence.ErrSkip })
	require.ErrorIs(t, r.err, persistence.ErrSkip)
	r = call("missing", set(persistence.StateRunning))
	require.ErrorIs(t, r.err, persistence.ErrNotFound)
	s.UpdateAsync("a", set(persistence.StateQueued), true, nil) // done may be nil
	require.Eventually(t, func() bool {
		j, err := s.Get(ctx, "a")
		return err == nil && j.State == persistence.StateQueued
	}, 10*time.Second, 5*time.Millisecond)
}

// Updates of one job never lose each other's changes, however many callers race.
func testConcurrentUpdates(t *testing.T, s persistence.Store) {
	insert(t, s, newJob("c", "c", persistence.StateQueued))
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 5; i++ {
				_, err := s.Update(ctx, "c", func(j *persistence.Job) error { j.Attempt++; return nil }, false)
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	j, err := s.Get(ctx, "c")
	require.NoError(t, err)
	require.Equal(t, 40, j.Attempt)
}

func testConcurrentInserts(t *testing.T, s persistence.Store) {
	var wg sync.WaitGroup
	errs := make(chan error, 16*20)
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				_, err := s.Insert(ctx, []*persistence.Job{newJob(fmt.Sprintf("g%02d-%02d", g, i), "c", persistence.StateQueued)})
				errs <- err
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Equal(t, 320, s.Backlog("c"))
	q, err := s.Queued(ctx, "c", 0, 1000)
	require.NoError(t, err)
	require.Len(t, q, 320)
	seen := map[uint64]bool{}
	for _, j := range q {
		require.False(t, seen[j.Seq], "seq %d given twice", j.Seq)
		seen[j.Seq] = true
	}
	require.GreaterOrEqual(t, s.Stats().Writes, uint64(320))
}

func testWaitingOrder(t *testing.T, s persistence.Store) {
	var jobs []*persistence.Job
	for i, d := range []time.Duration{3, 1, 2} {
		j := newJob(fmt.Sprint("w", i), "c", persistence.StateScheduled)
		j.RunAt = now.Add(d * time.Minute)
		jobs = append(jobs, j)
	}
	r := newJob("r", "d", persistence.StateRetrying)
	r.RunAt = now.Add(90 * time.Second)
	jobs = append(jobs, r, newJob("q", "c", persistence.StateQueued))
	insert(t, s, jobs...)
	w, at := waiting(t, s)
	require.Equal(t, []string{"w1", "r", "w2", "w0"}, w, "scheduled and retrying, in run_at order; queued are not waiting")
	require.True(t, at[1].Equal(now.Add(90*time.Second)))
	stop := errors.New("enough")
	n := 0
	err := s.Waiting(ctx, func(string, time.Time) error { n++; return stop })
	require.ErrorIs(t, err, stop, "fn's error ends the walk and is returned")
	require.Equal(t, 1, n)
}

func testUniqueKeys(t *testing.T, s persistence.Store) {
	a := newJob("u1", "c", persistence.StateQueued)
	a.UniqueKey = "key"
	b := newJob("u2", "c", persistence.StateQueued)
	b.UniqueKey = "key"
	other := newJob("u3", "c", persistence.StateScheduled)
	other.UniqueKey = "other"
	res := insert(t, s, a, b, other)
	require.False(t, res[0].Duplicate)
	require.True(t, res[1].Duplicate, "within one batch, the first holds the key")
	require.Equal(t, "u1", res[1].Job.ID)
	require.False(t, res[2].Duplicate)
	_, err := s.Get(ctx, "u2")
	require.ErrorIs(t, err, persistence.ErrNotFound, "a duplicate is not stored")

	res = insert(t, s, b)
	require.True(t, res[0].Duplicate, "across batches")
	require.Equal(t, "u1", res[0].Job.ID)
	require.Equal(t, 2, s.Backlog("c"))

	for _, st := range []persistence.State{persistence.StateRunning, persistence.StateRetrying} {
		_, err = s.Update(ctx, "u1", set(st), false)
		require.NoError(t, err)
		res = insert(t, s, b)
		require.True(t, res[0].Duplicate, "a %s holder keeps its key", st)
	}
	_, err = s.Update(ctx, "u1", set(persistence.StateSucceeded), false)
	require.NoError(t, err)
	res = insert(t, s, b)
	require.False(t, res[0].Duplicate, "a finished holder frees its key")
	require.Equal(t, "u2", res[0].Job.ID)
	c := newJob("u4", "c", persistence.StateQueued)
	c.UniqueKey = "key"
	_, err = s.Update(ctx, "u2", set(persistence.StateCancelled), false)
	require.NoError(t, err)
	res = insert(t, s, c)
	require.False(t, res[0].Duplicate, "so does a cancelled one")
}

func testList(t *testing.T, s persistence.Store) {
	for i := 0; i < 5; i++ {
		st := persistence.StateQueued
		if i%2 == 0 {
			st = persistence.StateScheduled
		}
		insert(t, s, newJob(fmt.Sprintf("l%d", i), "c", st))
	}
	insert(t, s, newJob("l5", "d", persistence.StateQueued))
	page, next, err := s.List(ctx, persistence.ListOptions{Limit: 2, Category: "c"})
	require.NoError(t, err)
	require.Equal(t, []string{"l4", "l3"}, ids(page))
	page, next, err = s.List(ctx, persistence.ListOptions{Limit: 2, Category: "c", Cursor: next})
	require.NoError(t, err)
	require.Equal(t, []string{"l2", "l1"}, ids(page))
	page, next, err = s.List(ctx, persistence.ListOptions{Limit: 2, Category: "c", Cursor: next})
	require.NoError(t, err)
	require.Equal(t, []string{"l0"}, ids(page))
	require.Empty(t, next, "the last page has no cursor")
	page, _, err = s.List(ctx, persistence.ListOptions{State: persistence.StateScheduled})
	require.NoError(t, err)
	require.Equal(t, []string{"l4", "l2", "l0"}, ids(page))
	page, _, err = s.List(ctx, persistence.ListOptions{State: persistence.StateQueued, Category: "d"})
	require.NoError(t, err)
	require.Equal(t, []string{"l5"}, ids(page))
	page, next, err = s.List(ctx, persistence.ListOptions{})
	require.NoError(t, err)
	require.Equal(t, []string{"l5", "l4", "l3", "l2", "l1", "l0"}, ids(page), "no filter, default limit")
	require.Empty(t, next)
}

func testCounts(t *testing.T, s persistence.Store) {
	later := now.Add(time.Hour)
	w := newJob("s", "c", persistence.StateScheduled)
	w.RunAt = later
	insert(t, s, newJob("q1", "c", persistence.StateQueued), newJob("q2", "c", persistence.StateQueued), w,
		newJob("r", "c", persistence.StateRetrying), newJob("x", "d", persistence.StateQueued))
	require.Equal(t, 4, s.Backlog("c"), "queued + scheduled + retrying")
	require.Equal(t, 1, s.Backlog("d"))
	require.Zero(t, s.Backlog("none"))
	_, err := s.Update(ctx, "q1", set(persistence.StateRunning), false)
	require.NoError(t, err)
	_, err = s.Update(ctx, "q2", set(persistence.StateSucceeded), false)
	require.NoError(t, err)
	require.Equal(t, 2, s.Backlog("c"))
	c := s.Counts()
	require.Equal(t, 1, c["c"][persistence.StateRunning])
	require.Equal(t, 1, c["c"][persistence.StateScheduled])
	require.Equal(t, 1, c["c"][persistence.StateRetrying])
	require.Zero(t, c["c"][persistence.StateQueued])
	require.Equal(t, 1, c["c"][persistence.StateSucceeded], "finished since the store was opened")
	require.Equal(t, 1, c["d"][persistence.StateQueued])
	c["c"][persistence.StateRunning] = 100
	require.Equal(t, 1, s.Counts()["c"][persistence.StateRunning], "Counts returns a copy")
}

func testClose(t *testing.T, s persistence.Store) {
	insert(t, s, newJob("x", "c", persistence.StateQueued))
	require.NoError(t, s.Close())
	require.NoError(t, s.Close(), "twice")
	_, err := s.Insert(ctx, []*persistence.Job{newJob("y", "c", persistence.StateQueued)})
	require.ErrorIs(t, err, persistence.ErrClosed)
	_, err = s.Get(ctx, "x")
	require.ErrorIs(t, err, persistence.ErrClosed)
	_, err = s.Update(ctx, "x", set(persistence.StateRunning), false)
	require.ErrorIs(t, err, persistence.ErrClosed)
	done := make(chan error, 1)
	s.UpdateAsync("x", set(persistence.StateRunning), false, func(_ *persistence.Job, err error) { done <- err })
	select {
	case err := <-done:
		require.ErrorIs(t, err, persistence.ErrClosed)
	case <-time.After(10 * time.Second):
		t.Fatal("UpdateAsync after Close never called done")
	}
	_, err = s.Queued(ctx, "c", 0, 10)
	require.ErrorIs(t, err, persistence.ErrClosed)
}
