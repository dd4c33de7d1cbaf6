package persistence

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/jobsched/jobsched/internal/leaktest"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) {
	leaktest.VerifyTestMain(m)
}

// storeSuite is the contract every Store must meet; a second store later runs the same suite.
func storeSuite(t *testing.T, open func(t *testing.T) Store) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Microsecond)
	newJob := func(id, cat string, st State) *Job {
		return &Job{ID: id, Kind: "k", Category: cat, State: st, MaxAttempts: 3, CreatedAt: now, RunAt: now}
	}

	t.Run("insert, get and FIFO order", func(t *testing.T) {
		s := open(t)
		res, err := s.Insert(ctx, []*Job{newJob("a1", "a", StateQueued), newJob("a2", "a", StateQueued), newJob("b1", "b", StateQueued)})
		require.NoError(t, err)
		require.Len(t, res, 3)
		require.Less(t, res[0].Job.Seq, res[1].Job.Seq)
		got, err := s.Get(ctx, "a2")
		require.NoError(t, err)
		require.Equal(t, "a", got.Category)
		_, err = s.Get(ctx, "nope")
		require.ErrorIs(t, err, ErrNotFound)
		q, err := s.Queued(ctx, "a", 0, 10)
		require.NoError(t, err)
		require.Equal(t, []string{"a1", "a2"}, ids(q))
		q, err = s.Queued(ctx, "a", q[0].Seq, 10)
		require.NoError(t, err)
		require.Equal(t, []string{"a2"}, ids(q), "from a cursor")
		require.Equal(t, 2, s.Backlog("a"))
		require.Equal(t, 1, s.Counts()["b"][StateQueued])
	})

	t.Run("updates keep the indexes true", func(t *testing.T) {
		s := open(t)
		_, err := s.Insert(ctx, []*Job{newJob("j", "c", StateQueued)})
		require.NoError(t, err)
		j, err := s.Update(ctx, "j", func(j *Job) error { j.State = StateRunning; j.Attempt++; return nil }, false)
		require.NoError(t, err)
		require.Equal(t, 1, j.Attempt)
		q, _ := s.Queued(ctx, "c", 0, 10)
		require.Empty(t, q, "a running job leaves the queue")
		var running []string
		require.NoError(t, s.Running(ctx, func(id string) error { running = append(running, id); return nil }))
		require.Equal(t, []string{"j"}, running)
		later := now.Add(time.Hour)
		_, err = s.Update(ctx, "j", func(j *Job) error { j.State, j.RunAt = StateRetrying, later; return nil }, true)
		require.NoError(t, err)
		var waiting []string
		var at time.Time
		require.NoError(t, s.Waiting(ctx, func(id string, runAt time.Time) error { waiting, at = append(waiting, id), runAt; return nil }))
		require.Equal(t, []string{"j"}, waiting)
		require.True(t, at.Equal(later))
		running = nil
		require.NoError(t, s.Running(ctx, func(id string) error { running = append(running, id); return nil }))
		require.Empty(t, running)
		_, err = s.Update(ctx, "j", func(j *Job) error { return ErrSkip }, false)
		require.ErrorIs(t, err, ErrSkip)
		custom := errors.New("no")
		_, err = s.Update(ctx, "j", func(j *Job) error { j.Attempt = 99; return custom }, false)
		require.ErrorIs(t, err, custom)
		got, _ := s.Get(ctx, "j")
		require.Equal(t, 1, got.Attempt, "a refused mutation changes nothing")
		c := s.Counts()["c"]
		require.Equal(t, 1, c[StateRetrying])
		require.Zero(t, c[StateQueued]+c[StateRunning])
	})

	t.Run("waiting jobs in time order", func(t *testing.T) {
		s := open(t)
		var jobs []*Job
		for i, d := range []time.Duration{3, 1, 2} {
			j := newJob(fmt.Sprint("w", i), "c", StateScheduled)
			j.RunAt = now.Add(d * time.Minute)
			jobs = append(jobs, j)
		}
		_, err := s.Insert(ctx, jobs)
		require.NoError(t, err)
		var order []string
		require.NoError(t, s.Waiting(ctx, func(id string, _ time.Time) error { order = append(order, id); return nil }))
		require.Equal(t, []string{"w1", "w2", "w0"}, order)
	})

	t.Run("unique keys", func(t *testing.T) {
		s := open(t)
		a := newJob("u1", "c", StateQueued)
		a.UniqueKey = "key"
		b := newJob("u2", "c", StateQueued)
		b.UniqueKey = "key"
		res, err := s.Insert(ctx, []*Job{a, b})
		require.NoError(t, err)
		require.False(t, res[0].Duplicate)
		require.True(t, res[1].Duplicate)
		require.Equal(t, "u1", res[1].Job.ID)
		_, err = s.Update(ctx, "u1", func(j *Job) error { j.State = StateSucceeded; return nil }, false)
		require.NoError(t, err)
		res, err = s.Insert(ctx, []*Job{b})
		require.NoError(t, err)
		require.False(t, res[0].Duplicate, "a finished holder frees its key")
	})

	t.Run("list pages newest first with filters", func(t *testing.T) {
		s := open(t)
		for i := 0; i < 5; i++ {
			st := StateQueued
			if i%2 == 0 {
				st = StateScheduled
			}
			_, err := s.Insert(ctx, []*Job{newJob(fmt.Sprintf("l%d", i), "c", st)})
			require.NoError(t, err)
		}
		page, next, err := s.List(ctx, ListOptions{Limit: 2})
		require.NoError(t, err)
		require.Equal(t, []string{"l4", "l3"}, ids(page))
		page, next, err = s.List(ctx, ListOptions{Limit: 2, Cursor: next})
		require.NoError(t, err)
		require.Equal(t, []string{"l2", "l1"}, ids(page))
		page, next, err = s.List(ctx, ListOptions{Limit: 2, Cursor: next})
		require.NoError(t, err)
		require.Equal(t, []string{"l0"}, ids(page))
		require.Empty(t, next)
		page, _, err = s.List(ctx, ListOptions{State: StateScheduled})
		require.NoError(t, err)
		require.Equal(t, []string{"l4", "l2", "l0"}, ids(page))
	})

	t.Run("concurrent inserts share syncs", func(t *testing.T) {
		s := open(t)
		var wg sync.WaitGroup
		for g := 0; g < 64; g++ {
			wg.Add(1)
			go func(g int) {
				defer wg.Done()
				for i := 0; i < 20; i++ {
					_, err := s.Insert(ctx, []*Job{newJob(fmt.Sprintf("g%d-%d", g, i), "c", StateQueued)})
					require.NoError(t, err)
				}
			}(g)
		}
		wg.Wait()
		require.Equal(t, 1280, s.Backlog("c"))
		st := s.Stats()
		require.Equal(t, uint64(1280), st.Writes)
		require.Less(t, st.Commits, uint64(1280), "the writer groups concurrent requests")
	})

	t.Run("too large for one commit", func(t *testing.T) {
		s := open(t)
		big := make([]*Job, 0, 20000)
		for i := 0; i < cap(big); i++ {
			j := newJob(fmt.Sprint("big", i), "c", StateQueued)
			j.Args = make([]byte, 1000)
			big = append(big, j)
		}
		_, err := s.Insert(ctx, big)
		require.ErrorIs(t, err, ErrTooLarge)
		require.Zero(t, s.Backlog("c"), "nothing of it is stored")
	})

	t.Run("closed", func(t *testing.T) {
		s := open(t)
		require.NoError(t, s.Close())
		require.NoError(t, s.Close(), "twice")
		_, err := s.Insert(ctx, []*Job{newJob("x", "c", StateQueued)})
		require.ErrorIs(t, err, ErrClosed)
		_, err = s.Get(ctx, "x")
		require.ErrorIs(t, err, ErrClosed)
	})
}

func ids(jobs []*Job) []string {
	out := make([]string, len(jobs))
	for i, j := range jobs {
		out[i] = j.ID
	}
	return out
}

func TestBadgerInMemory(t *testing.T) {
	storeSuite(t, func(t *testing.T) Store {
		s, err := OpenBadger(BadgerOptions{})
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
}

func TestBadgerOnDisk(t *testing.T) {
	storeSuite(t, func(t *testing.T) Store {
		s, err := OpenBadger(BadgerOptions{Dir: t.TempDir()})
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
}

func TestBadgerReopenKeepsJobsCountsAndSequence(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	s, err := OpenBadger(BadgerOptions{Dir: dir})
	require.NoError(t, err)
	res, err := s.Insert(ctx, []*Job{{ID: "a", Kind: "k", Category: "c", State: StateQueued}, {ID: "b", Kind: "k", Category: "c", State: StateRunning}})
	require.NoError(t, err)
	require.NoError(t, s.Close())
	s, err = OpenBadger(BadgerOptions{Dir: dir})
	require.NoError(t, err)
	defer s.Close()
	c := s.Counts()["c"]
	require.Equal(t, 1, c[StateQueued])
	require.Equal(t, 1, c[StateRunning])
	res2, err := s.Insert(ctx, []*Job{{ID: "z", Kind: "k", Category: "c", State: StateQueued}})
	require.NoError(t, err)
	require.Greater(t, res2[0].Job.Seq, res[0].Job.Seq, "the sequence goes on after a reopen")
}

// A started job keeps its q/ key, marked running (keys.go): after a reopen, Running finds it
// from the index alone, Queued skips it, and the counts and the finish stay true.
func TestBadgerReopenFindsRunningJobsInTheQueueIndex(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	s, err := OpenBadger(BadgerOptions{Dir: dir})
	require.NoError(t, err)
	var jobs []*Job
	for _, id := range []string{"a", "b", "c", "d"} {
		jobs = append(jobs, &Job{ID: id, Kind: "k", Category: "cat", State: StateQueued})
	}
	_, err = s.Insert(ctx, jobs)
	require.NoError(t, err)
	for _, id := range []string{"c", "a"} {
		_, err := s.Update(ctx, id, func(j *Job) error { j.State = StateRunning; return nil }, false)
		require.NoError(t, err)
	}
	// A job stored as scheduled and then started directly gets a q/ key all the same.
	_, err = s.Insert(ctx, []*Job{{ID: "e", Kind: "k", Category: "cat", State: StateScheduled, RunAt: time.Now()}})
	require.NoError(t, err)
	e, err := s.Update(ctx, "e", func(j *Job) error { j.State = StateRunning; return nil }, false)
	require.NoError(t, err)
	require.NotZero(t, e.Seq)
	require.NoError(t, s.Close())

	s, err = OpenBadger(BadgerOptions{Dir: dir})
	require.NoError(t, err)
	defer s.Close()
	running := func() []string {
		var ids []string
		require.NoError(t, s.Running(ctx, func(id string) error { ids = append(ids, id); return nil }))
		return ids
	}
	require.Equal(t, []string{"a", "c", "e"}, running())
	c := s.Counts()["cat"]
	require.Equal(t, 2, c[StateQueued])
	require.Equal(t, 3, c[StateRunning])
	q, err := s.Queued(ctx, "cat", 0, 10)
	require.NoError(t, err)
	require.Len(t, q, 2)
	require.Equal(t, "b", q[0].ID)
	require.Equal(t, "d", q[1].ID)

	// The finish removes the job's q/ key; back to the queue gives it a new place at the end.
	_, err = s.Update(ctx, "a", func(j *Job) error { j.State = StateSucceeded; return nil }, false)
	require.NoError(t, err)
	_, err = s.Update(ctx, "c", func(j *Job) error { j.State = StateQueued; return nil }, false)
	require.NoError(t, err)
	require.Equal(t, []string{"e"}, running())
	q, err = s.Queued(ctx, "cat", 0, 10)
	require.NoError(t, err)
	var ids []string
	for _, j := range q {
		ids = append(ids, j.ID)
	}
	require.Equal(t, []string{"b", "d", "c"}, ids)
	c = s.Counts()["cat"]
	require.Equal(t, 3, c[StateQueued])
	require.Equal(t, 1, c[StateRunning])
}

// A start that changes only what a start changes leaves the stored record as it is and writes
// the job's q/ key alone; every reader sees the job running all the same, before and after a
// reopen. A start that changes more rewrites the record.
func TestAStartRewritesOnlyTheQueueKey(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	s, err := OpenBadger(BadgerOptions{Dir: dir, CacheBytes: -1}) // no cache: readers go to the store
	require.NoError(t, err)
	now := time.Now().UTC().Truncate(time.Microsecond)
	_, err = s.Insert(ctx, []*Job{
		{ID: "plain", Kind: "k", Category: "c", State: StateQueued, MaxAttempts: 3, CreatedAt: now, RunAt: now},
		{ID: "more", Kind: "k", Category: "c", State: StateQueued, MaxAttempts: 3, CreatedAt: now, RunAt: now},
	})
	require.NoError(t, err)
	started := now.Add(time.Second)
	start := func(extra func(j *Job)) Mutator {
		return func(j *Job) error {
			j.State, j.Attempt, j.StartedAt, j.CancelRequested = StateRunning, j.Attempt+1, &started, false
			extra(j)
			return nil
		}
	}
	_, err = s.Update(ctx, "plain", start(func(*Job) {}), false)
	require.NoError(t, err)
	_, err = s.Update(ctx, "more", start(func(j *Job) { j.Progress = &Progress{Percent: 1, At: started} }), false)
	require.NoError(t, err)
	stored := func(id string) State { // the state the record itself holds
		var st State
		require.NoError(t, s.db.View(func(txn *badger.Txn) error {
			item, err := txn.Get(jobKey(id))
			if err != nil {
				return err
			}
			return item.Value(func(v []byte) error {
				var j Job
				err := decodeJob(id, v, &j)
				st = j.State
				return err
			})
		}))
		return st
	}
	require.Equal(t, StateQueued, stored("plain"), "the start wrote the q/ key alone")
	require.Equal(t, StateRunning, stored("more"), "a start with a progress rewrote the record")

	check := func() {
		for _, id := range []string{"plain", "more"} {
			j, err := s.Get(ctx, id)
			require.NoError(t, err)
			require.Equal(t, StateRunning, j.State, id)
			require.Equal(t, 1, j.Attempt)
			require.True(t, started.Equal(*j.StartedAt))
		}
		list, _, err := s.List(ctx, ListOptions{State: StateRunning})
		require.NoError(t, err)
		require.Len(t, list, 2)
		q, err := s.Queued(ctx, "c", 0, 10)
		require.NoError(t, err)
		require.Empty(t, q)
	}
	check()
	require.NoError(t, s.Close())
	s, err = OpenBadger(BadgerOptions{Dir: dir, CacheBytes: -1})
	require.NoError(t, err)
	defer s.Close()
	check()
	// The finish reads the started job back from the store and writes the whole record.
	j, err := s.Update(ctx, "plain", func(j *Job) error {
		if j.State != StateRunning || j.Attempt != 1 {
			return fmt.Errorf("finish saw %s attempt %d", j.State, j.Attempt)
		}
		j.State = StateSucceeded
		return nil
	}, false)
	require.NoError(t, err)
	require.Equal(t, StateSucceeded, j.State)
	require.Equal(t, StateSucceeded, stored("plain"))
	got, err := s.Get(ctx, "plain")
	require.NoError(t, err)
	require.Equal(t, 1, got.Attempt)
	require.True(t, started.Equal(*got.StartedAt))
}
