package postgres_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/jobsched/jobsched"
	"github.com/jobsched/jobsched/internal/pgtest"
	"github.com/jobsched/jobsched/persistence/postgres"
	"github.com/stretchr/testify/require"
)

// node starts a scheduler on its own PostgreSQL store of the shared database dsn.
func node(t *testing.T, dsn, name string) (*jobsched.Scheduler, *postgres.Store) {
	t.Helper()
	st := open(t, dsn, postgres.Options{Node: name})
	s, err := jobsched.New(jobsched.Config{Store: st, Workers: 4})
	require.NoError(t, err)
	require.NoError(t, s.Register("block", func(ctx context.Context, _ *jobsched.Job) (any, error) {
		<-ctx.Done()
		return nil, context.Cause(ctx)
	}))
	require.NoError(t, s.Register("quick", func(context.Context, *jobsched.Job) (any, error) { return "ok", nil }))
	require.NoError(t, s.Start(ctx))
	// Cleanups run last-in first-out: the scheduler closes before its store.
	t.Cleanup(func() {
		c, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		require.NoError(t, s.Close(c))
	})
	return s, st
}

// Two schedulers on one database: either reads the other's jobs, cancels a job the other runs
// (its context is cancelled within a second), waits for a job the other runs, and unique keys
// hold across both.
func TestSchedulersShareOneDatabase(t *testing.T) {
	dsn := pgtest.DSN(t)
	a, stA := node(t, dsn, "a")
	b, stB := node(t, dsn, "b")

	j, err := a.Enqueue(ctx, jobsched.JobSpec{Kind: "quick"})
	require.NoError(t, err)
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	done, err := b.Wait(wctx, j.ID)
	require.NoError(t, err, "b waits for a job a runs")
	require.Equal(t, jobsched.StateSucceeded, done.State)
	require.JSONEq(t, `"ok"`, string(done.Result))

	blocked, err := a.Enqueue(ctx, jobsched.JobSpec{Kind: "block"})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		got, err := b.Get(ctx, blocked.ID)
		return err == nil && got.State == jobsched.StateRunning
	}, 10*time.Second, 5*time.Millisecond, "b sees a's running job")
	// Either node may have started it (both are woken for it): cancel from the other one.
	other := b
	if contains(runningOn(t, stB), blocked.ID) {
		other = a
	} else {
		require.Equal(t, []string{blocked.ID}, runningOn(t, stA))
	}
	asked := time.Now()
	_, err = other.Cancel(ctx, blocked.ID)
	require.NoError(t, err)
	done, err = other.Wait(wctx, blocked.ID)
	require.NoError(t, err)
	require.Equal(t, jobsched.StateCancelled, done.State)
	require.Less(t, time.Since(asked), time.Second, "the cancel reached a's handler within a second")

	_, err = a.Enqueue(ctx, jobsched.JobSpec{Kind: "block", UniqueKey: "one"})
	require.NoError(t, err)
	_, err = b.Enqueue(ctx, jobsched.JobSpec{Kind: "block", UniqueKey: "one"})
	require.ErrorIs(t, err, jobsched.ErrDuplicate, "a unique key holds across nodes")
}

// EnqueueTx stores jobs only when the caller's transaction commits; a store that cannot join a
// transaction refuses it.
func TestEnqueueTx(t *testing.T) {
	dsn := pgtest.DSN(t)
	st := open(t, dsn, postgres.Options{Node: "a"})
	s, err := jobsched.New(jobsched.Config{Store: st})
	require.NoError(t, err)
	require.NoError(t, s.Register("k", func(context.Context, *jobsched.Job) (any, error) { return "ran", nil }))
	require.NoError(t, s.Start(ctx))
	defer s.Close(ctx)

	tx, err := st.Pool().Begin(ctx)
	require.NoError(t, err)
	jobs, err := s.EnqueueTx(ctx, tx, []jobsched.JobSpec{{Kind: "k"}})
	require.NoError(t, err)
	require.NoError(t, tx.Rollback(ctx))
	_, err = s.Get(ctx, jobs[0].ID)
	require.ErrorIs(t, err, jobsched.ErrNotFound, "rolled back: no job")

	tx, err = st.Pool().Begin(ctx)
	require.NoError(t, err)
	_, err = s.EnqueueTx(ctx, tx, []jobsched.JobSpec{{Kind: ""}})
	var inv *jobsched.InvalidError
	require.True(t, errors.As(err, &inv))
	require.Equal(t, "jobs[0].kind", inv.Field)
	jobs, err = s.EnqueueTx(ctx, tx, []jobsched.JobSpec{{Kind: "k"}})
	require.NoError(t, err)
	require.NoError(t, tx.Commit(ctx))
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	got, err := s.Wait(wctx, jobs[0].ID)
	require.NoError(t, err, "committed: it runs (the commit's NOTIFY wakes the node)")
	require.Equal(t, jobsched.StateSucceeded, got.State)

	mem, err := jobsched.New(jobsched.Config{})
	require.NoError(t, err)
	require.NoError(t, mem.Start(ctx))
	defer mem.Close(ctx)
	_, err = mem.EnqueueTx(ctx, nil, []jobsched.JobSpec{{Kind: "k"}})
	require.ErrorIs(t, err, jobsched.ErrNoTx)
}

// A category's queue limit counts the whole cluster's waiting jobs: exactly this node's own,
// and the other nodes' as of the store's last count (CountsEvery).
func TestQueueLimitAcrossNodes(t *testing.T) {
	dsn := pgtest.DSN(t)
	mk := func(name string) *jobsched.Scheduler {
		st := open(t, dsn, postgres.Options{Node: name, CountsEvery: 100 * time.Millisecond})
		s, err := jobsched.New(jobsched.Config{Store: st, Categories: []jobsched.Category{{Name: "default", QueueLimit: 3}}})
		require.NoError(t, err)
		require.NoError(t, s.Start(ctx))
		t.Cleanup(func() { require.NoError(t, s.Close(ctx)) })
		return s
	}
	a, b := mk("a"), mk("b")
	later := jobsched.JobSpec{Kind: "k", Delay: jobsched.Duration(time.Hour)}
	for i := 0; i < 3; i++ {
		_, err := b.Enqueue(ctx, later)
		require.NoError(t, err)
	}
	_, err := b.Enqueue(ctx, later)
	require.ErrorIs(t, err, jobsched.ErrQueueFull, "at once on the node that enqueued")
	require.Eventually(t, func() bool {
		_, err := a.Enqueue(ctx, later)
		require.True(t, err == nil || errors.Is(err, jobsched.ErrQueueFull), "%v", err)
		return errors.Is(err, jobsched.ErrQueueFull)
	}, 5*time.Second, 20*time.Millisecond, "the other node once it counted again")
}

// Two nodes with the same periodic job: each tick runs once in the cluster.
func TestPeriodicOncePerCluster(t *testing.T) {
	dsn := pgtest.DSN(t)
	var mu sync.Mutex
	runs := 0
	mk := func(name string) *jobsched.Scheduler {
		st := open(t, dsn, postgres.Options{Node: name})
		s, err := jobsched.New(jobsched.Config{Store: st, Periodic: []jobsched.PeriodicJob{{Name: "tick", Cron: "@every 1s", Kind: "tick"}}})
		require.NoError(t, err)
		require.NoError(t, s.Register("tick", func(context.Context, *jobsched.Job) (any, error) {
			mu.Lock()
			runs++
			mu.Unlock()
			return nil, nil
		}))
		require.NoError(t, s.Start(ctx))
		t.Cleanup(func() { require.NoError(t, s.Close(ctx)) })
		return s
	}
	a, _ := mk("a"), mk("b")
	var page []*jobsched.Job
	require.Eventually(t, func() bool {
		var err error
		page, _, err = a.List(ctx, jobsched.ListOptions{State: jobsched.StateSucceeded})
		require.NoError(t, err)
		return len(page) >= 3
	}, 20*time.Second, 50*time.Millisecond)
	keys := map[string]int{}
	all, _, err := a.List(ctx, jobsched.ListOptions{})
	require.NoError(t, err)
	for _, j := range all {
		keys[j.UniqueKey]++
	}
	for k, n := range keys {
		require.Equal(t, 1, n, "tick %s stored %d times", k, n)
	}
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, len(all), runs, "one run per stored tick")
}

// When a node's lease runs out, another node rescues its running job and runs it.
func TestFailoverRunsTheJobElsewhere(t *testing.T) {
	dsn := pgtest.DSN(t)
	type member struct {
		s  *jobsched.Scheduler
		st *postgres.Store
	}
	var nodes []member
	for _, name := range []string{"a", "b"} {
		st := open(t, dsn, postgres.Options{Node: name, Lease: time.Minute}) // no renewal during the test
		s, err := jobsched.New(jobsched.Config{Store: st, Workers: 2})
		require.NoError(t, err)
		require.NoError(t, s.Register("block", func(ctx context.Context, _ *jobsched.Job) (any, error) {
			<-ctx.Done()
			return nil, context.Cause(ctx)
		}))
		require.NoError(t, s.Start(ctx))
		t.Cleanup(func() {
			// A handler still runs the attempt its node lost: Close's grace ends it.
			c, cancel := context.WithTimeout(ctx, time.Second)
			defer cancel()
			require.NoError(t, s.Close(c))
		})
		nodes = append(nodes, member{s, st})
	}
	j, err := nodes[0].s.Enqueue(ctx, jobsched.JobSpec{Kind: "block", MaxAttempts: 3})
	require.NoError(t, err)
	// Either node may start it (both are woken for it); the other is the survivor.
	var dead, alive member
	require.Eventually(t, func() bool {
		for i, n := range nodes {
			if contains(runningOn(t, n.st), j.ID) {
				dead, alive = n, nodes[1-i]
				return true
			}
		}
		return false
	}, 10*time.Second, 5*time.Millisecond)
	expire(t, dsn, dead.st.Node()) // as if it had stopped renewing
	expired := time.Now()
	require.Eventually(t, func() bool {
		got, err := alive.s.Get(ctx, j.ID)
		return err == nil && got.State == jobsched.StateRunning && got.Attempt == 2 && contains(runningOn(t, alive.st), j.ID)
	}, 10*time.Second, 5*time.Millisecond, "the survivor runs the rescued job")
	t.Logf("lease ran out to running on the survivor: %s", time.Since(expired).Round(time.Millisecond))
	require.Less(t, time.Since(expired), 2*time.Second, "a maintenance round and a wake-up")
	c, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	require.NoError(t, dead.s.Close(c)) // ends the attempt it lost; its finish must be refused
	require.Eventually(t, func() bool { return dead.st.ClusterStats().Fenced >= 1 }, 10*time.Second, 5*time.Millisecond,
		"the dead node's late finish was refused")
	got, err := alive.s.Get(ctx, j.ID)
	require.NoError(t, err)
	require.Equal(t, jobsched.StateRunning, got.State, "still the survivor's")
	require.Equal(t, 2, got.Attempt)
}

func contains(ids []string, id string) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

// A scheduler whose node name another process took (its lease is lost for good: ErrNodeTaken)
// stops on its own: Done closes, Err says why, and it takes no more jobs.
func TestSchedulerStopsWhenItsNodeIsTaken(t *testing.T) {
	dsn := pgtest.DSN(t)
	st := open(t, dsn, postgres.Options{Node: "same", Lease: time.Second})
	s, err := jobsched.New(jobsched.Config{Store: st, PollInterval: 100 * time.Millisecond})
	require.NoError(t, err)
	require.NoError(t, s.Start(ctx))
	t.Cleanup(func() { require.NoError(t, s.Close(ctx)) })
	require.NoError(t, st.Err())

	open(t, dsn, postgres.Options{Node: "same", Lease: time.Second}) // another process takes the name
	select {
	case <-s.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the scheduler still runs on a lease it lost for good")
	}
	require.ErrorIs(t, s.Err(), jobsched.ErrStopped)
	require.ErrorIs(t, s.Err(), postgres.ErrNodeTaken)
	require.False(t, s.Ready())
	_, err = s.Enqueue(ctx, jobsched.JobSpec{Kind: "k"})
	require.ErrorIs(t, err, postgres.ErrNodeTaken, "no more jobs")
}
