package postgres_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jobsched/jobsched/internal/pgtest"
	"github.com/jobsched/jobsched/persistence"
	"github.com/jobsched/jobsched/persistence/postgres"
	"github.com/stretchr/testify/require"
)

var ctx = context.Background()

func job(id, cat string) *persistence.Job {
	now := time.Now()
	return &persistence.Job{ID: id, Kind: "k", Category: cat, State: persistence.StateQueued, MaxAttempts: 3, CreatedAt: now, RunAt: now}
}

// start and finish are the scheduler's own start and finish mutations, reduced to their checks.
func start(j *persistence.Job) error {
	if j.State != persistence.StateQueued {
		return persistence.ErrSkip
	}
	j.State = persistence.StateRunning
	j.Attempt++
	return nil
}

func finish(attempt int) persistence.Mutator {
	return func(j *persistence.Job) error {
		if j.State != persistence.StateRunning || j.Attempt != attempt {
			return persistence.ErrSkip
		}
		j.State, j.Result = persistence.StateSucceeded, json.RawMessage(`"late"`)
		return nil
	}
}

// expire makes a node's lease run out now, as if it had missed its renewals.
func expire(t *testing.T, dsn, node string) {
	t.Helper()
	c, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err)
	defer c.Close(ctx)
	tag, err := c.Exec(ctx, "UPDATE jobsched_nodes SET expires_at = clock_timestamp() - interval '1 second' WHERE name = $1", node)
	require.NoError(t, err)
	require.EqualValues(t, 1, tag.RowsAffected())
}

func runningOn(t *testing.T, s *postgres.Store) []string {
	t.Helper()
	var ids []string
	require.NoError(t, s.Running(ctx, func(id string) error { ids = append(ids, id); return nil }))
	return ids
}

// Each node lists only the jobs it runs, so one node's start-up recovery never takes another's.
func TestRunningIsPerNode(t *testing.T) {
	dsn := pgtest.DSN(t)
	a := open(t, dsn, postgres.Options{Node: "a"})
	b := open(t, dsn, postgres.Options{Node: "b"})
	_, err := a.Insert(ctx, []*persistence.Job{job("1", "c"), job("2", "c")})
	require.NoError(t, err)
	_, err = a.Update(ctx, "1", start, false)
	require.NoError(t, err)
	_, err = b.Update(ctx, "2", start, false)
	require.NoError(t, err)
	require.Equal(t, []string{"1"}, runningOn(t, a))
	require.Equal(t, []string{"2"}, runningOn(t, b))
	_, err = b.Update(ctx, "1", finish(1), false)
	require.ErrorIs(t, err, postgres.ErrFenced, "b may not finish a's job")
	require.EqualValues(t, 1, b.ClusterStats().Fenced)
}

// A node whose lease ran out has its running jobs rescued; its late finish is refused, before
// and after the job runs again elsewhere.
func TestRescueAndFencing(t *testing.T) {
	dsn := pgtest.DSN(t)
	// a's lease is long, so it never renews during the test: expire stands for its pause.
	a := open(t, dsn, postgres.Options{Node: "a", Lease: time.Minute})
	b := open(t, dsn, postgres.Options{Node: "b", Lease: time.Minute})
	last := job("last", "c")
	last.MaxAttempts = 1
	cancelled := job("cancelled", "c")
	_, err := a.Insert(ctx, []*persistence.Job{job("j", "c"), last, cancelled, job("other", "c")})
	require.NoError(t, err)
	for _, id := range []string{"j", "last", "cancelled"} {
		_, err = a.Update(ctx, id, start, false)
		require.NoError(t, err)
	}
	_, err = b.Update(ctx, "other", start, false)
	require.NoError(t, err)
	_, err = b.Update(ctx, "cancelled", func(j *persistence.Job) error { j.CancelRequested = true; return nil }, true)
	require.NoError(t, err, "any node may ask a running job to stop")

	n, err := b.Maintain(ctx)
	require.NoError(t, err)
	require.Zero(t, n, "a live lease keeps its jobs")

	expire(t, dsn, "a")
	n, err = b.Maintain(ctx)
	require.NoError(t, err)
	require.Equal(t, 3, n)
	require.EqualValues(t, 3, b.ClusterStats().Rescued)
	got, err := b.Get(ctx, "j")
	require.NoError(t, err)
	require.Equal(t, persistence.StateQueued, got.State, "back to its queue")
	require.Len(t, got.Errors, 1)
	require.Contains(t, got.Errors[0].Error, `node "a" lost its lease`)
	got, err = b.Get(ctx, "last")
	require.NoError(t, err)
	require.Equal(t, persistence.StateDead, got.State, "its last attempt")
	got, err = b.Get(ctx, "cancelled")
	require.NoError(t, err)
	require.Equal(t, persistence.StateCancelled, got.State)
	got, err = b.Get(ctx, "other")
	require.NoError(t, err)
	require.Equal(t, persistence.StateRunning, got.State, "b's own job is untouched")
	nodes, err := b.Nodes(ctx)
	require.NoError(t, err)
	require.Len(t, nodes, 1, "the dead node is removed")
	require.Equal(t, "b", nodes[0].Name)

	// a comes back: its late finish is refused while the job waits in the queue (and counted,
	// though the scheduler's own attempt check would skip it too)...
	_, err = a.Update(ctx, "j", finish(1), false)
	require.ErrorIs(t, err, postgres.ErrFenced)
	require.ErrorIs(t, err, persistence.ErrSkip, "callers that skip quietly still do")
	// ...and while b runs it again; a start of a's is refused too until a joins again.
	_, err = a.Insert(ctx, []*persistence.Job{job("new", "c")})
	require.NoError(t, err)
	_, err = a.Update(ctx, "new", start, false)
	require.ErrorIs(t, err, postgres.ErrFenced, "no start without a lease")
	_, err = a.Claim(ctx, "c", 10, persistence.ClaimOptions{}, start)
	require.ErrorIs(t, err, postgres.ErrFenced)
	_, err = b.Update(ctx, "j", start, false)
	require.NoError(t, err)
	_, err = a.Update(ctx, "j", func(j *persistence.Job) error {
		j.State = persistence.StateSucceeded // a finish that does not check the attempt
		return nil
	}, false)
	require.ErrorIs(t, err, postgres.ErrFenced, "the job is b's now")
	require.GreaterOrEqual(t, a.ClusterStats().Fenced, uint64(3))
	got, err = b.Update(ctx, "j", finish(2), true)
	require.NoError(t, err)
	require.Equal(t, persistence.StateSucceeded, got.State)
	require.Equal(t, 2, got.Attempt)
}

// A node that lost its lease joins again at its next renewal, under a new epoch.
func TestRejoinAfterRescue(t *testing.T) {
	dsn := pgtest.DSN(t)
	a := open(t, dsn, postgres.Options{Node: "a", Lease: time.Second, MaintainEvery: time.Hour})
	b := open(t, dsn, postgres.Options{Node: "b", MaintainEvery: time.Hour})
	_, err := a.Insert(ctx, []*persistence.Job{job("j", "c")})
	require.NoError(t, err)
	// Remove a's row as a rescue would; a's renewal then finds it gone and joins again.
	expire(t, dsn, "a")
	_, err = b.Maintain(ctx)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		_, err := a.Update(ctx, "j", start, false)
		return err == nil
	}, 10*time.Second, 20*time.Millisecond)
	require.NoError(t, a.Err())
}

// Two live processes under one name: the earlier one stops writing (its Err says why).
func TestNodeNameTakenOver(t *testing.T) {
	dsn := pgtest.DSN(t)
	a := open(t, dsn, postgres.Options{Node: "same", Lease: time.Second})
	require.NoError(t, a.Err())
	open(t, dsn, postgres.Options{Node: "same", Lease: time.Second})
	require.Eventually(t, func() bool { return a.Err() != nil }, 10*time.Second, 20*time.Millisecond)
	require.ErrorIs(t, a.Err(), postgres.ErrNodeTaken)
}

// Nodes claiming from one queue at once never take a job twice, and take them all.
func TestClaimSkipLocked(t *testing.T) {
	dsn := pgtest.DSN(t)
	nodes := []*postgres.Store{open(t, dsn, postgres.Options{Node: "a"}), open(t, dsn, postgres.Options{Node: "b"}), open(t, dsn, postgres.Options{Node: "c"})}
	var jobs []*persistence.Job
	for i := 0; i < 600; i++ {
		jobs = append(jobs, job(fmt.Sprintf("j%04d", i), "c"))
	}
	_, err := nodes[0].Insert(ctx, jobs)
	require.NoError(t, err)
	var mu sync.Mutex
	claimed := map[string]string{}
	var wg sync.WaitGroup
	for _, n := range nodes {
		wg.Add(1)
		go func(n *postgres.Store) {
			defer wg.Done()
			for {
				got, err := n.Claim(ctx, "c", 25, persistence.ClaimOptions{}, start)
				if err != nil {
					t.Error(err)
					return
				}
				if len(got) == 0 {
					return
				}
				mu.Lock()
				for _, j := range got {
					if prev, ok := claimed[j.ID]; ok {
						t.Errorf("%s claimed by %s and %s", j.ID, prev, n.Node())
					}
					claimed[j.ID] = n.Node()
					if j.State != persistence.StateRunning || j.Attempt != 1 {
						t.Errorf("claimed %s is %s attempt %d", j.ID, j.State, j.Attempt)
					}
				}
				mu.Unlock()
			}
		}(n)
	}
	wg.Wait()
	require.Len(t, claimed, 600)
	total := 0
	for _, n := range nodes {
		total += len(runningOn(t, n))
	}
	require.Equal(t, 600, total, "each claimed job is held by the node that claimed it")
}

// A unique key holds across nodes inserting at the same time.
func TestUniqueKeyAcrossNodes(t *testing.T) {
	dsn := pgtest.DSN(t)
	a := open(t, dsn, postgres.Options{Node: "a"})
	b := open(t, dsn, postgres.Options{Node: "b"})
	for round := 0; round < 20; round++ {
		key := fmt.Sprint("key", round)
		var wg sync.WaitGroup
		res := make([]persistence.InsertResult, 2)
		for i, s := range []*postgres.Store{a, b} {
			wg.Add(1)
			go func(i int, s *postgres.Store) {
				defer wg.Done()
				j := job(fmt.Sprintf("r%d-%d", round, i), "c")
				j.UniqueKey = key
				r, err := s.Insert(ctx, []*persistence.Job{j})
				if err != nil {
					t.Error(err)
					return
				}
				res[i] = r[0]
			}(i, s)
		}
		wg.Wait()
		require.NotEqual(t, res[0].Duplicate, res[1].Duplicate, "round %d: exactly one is stored", round)
		require.Equal(t, res[0].Job.ID, res[1].Job.ID, "both name the holder")
	}
}

// An insert wakes the other nodes; a cancel asked on one node reaches the node running the job.
func TestNotify(t *testing.T) {
	dsn := pgtest.DSN(t)
	a := open(t, dsn, postgres.Options{Node: "a"})
	b := open(t, dsn, postgres.Options{Node: "b"})
	woken := make(chan string, 100)
	b.OnQueued(func(cat string) { woken <- cat })
	cancels := make(chan string, 10)
	a.OnCancel(func(id string) { cancels <- id })
	heardByA := make(chan string, 100)
	a.OnQueued(func(cat string) { heardByA <- cat })
	// The listeners connect in the background: insert until each node hears the other.
	hear := func(from *postgres.Store, cat string, ch chan string) {
		i := 0
		require.Eventually(t, func() bool {
			i++
			_, err := from.Insert(ctx, []*persistence.Job{job(fmt.Sprint(cat, i), cat)})
			require.NoError(t, err)
			for {
				select {
				case got := <-ch:
					if got == cat {
						return true
					}
				case <-time.After(100 * time.Millisecond):
					return false
				}
			}
		}, 10*time.Second, time.Millisecond)
	}
	hear(a, "mail", woken)
	hear(b, "sms", heardByA)
	_, err := a.Update(ctx, "mail1", start, false)
	require.NoError(t, err)
	_, err = b.Update(ctx, "mail1", func(j *persistence.Job) error { j.CancelRequested = true; return nil }, true)
	require.NoError(t, err)
	select {
	case id := <-cancels:
		require.Equal(t, "mail1", id)
	case <-time.After(10 * time.Second):
		t.Fatal("the cancel never reached the node running the job")
	}
	// a's own insert, then b's: notifications come in commit order, so a's own would come first.
	_, err = a.Insert(ctx, []*persistence.Job{job("own", "mail")})
	require.NoError(t, err)
	_, err = b.Insert(ctx, []*persistence.Job{job("theirs", "sms")})
	require.NoError(t, err)
	for {
		select {
		case cat := <-heardByA:
			require.NotEqual(t, "mail", cat, "a node is not woken by its own inserts")
			if cat == "sms" {
				return
			}
		case <-time.After(10 * time.Second):
			t.Fatal("a never heard b's insert")
		}
	}
}

// Jobs inserted in the caller's transaction exist only if it commits.
func TestInsertTx(t *testing.T) {
	dsn := pgtest.DSN(t)
	s := open(t, dsn, postgres.Options{Node: "a"})
	tx, err := s.Pool().Begin(ctx)
	require.NoError(t, err)
	_, err = s.InsertTx(ctx, tx, []*persistence.Job{job("rolled-back", "c")})
	require.NoError(t, err)
	require.NoError(t, tx.Rollback(ctx))
	_, err = s.Get(ctx, "rolled-back")
	require.ErrorIs(t, err, persistence.ErrNotFound)

	tx, err = s.Pool().Begin(ctx)
	require.NoError(t, err)
	res, err := s.InsertTx(ctx, tx, []*persistence.Job{job("committed", "c")})
	require.NoError(t, err)
	require.NotZero(t, res[0].Job.Seq)
	_, err = s.Get(ctx, "committed")
	require.ErrorIs(t, err, persistence.ErrNotFound, "invisible before the commit")
	require.NoError(t, tx.Commit(ctx))
	got, err := s.Get(ctx, "committed")
	require.NoError(t, err)
	require.Equal(t, persistence.StateQueued, got.State)
}

// Finished jobs past their retention are deleted by the maintenance; unfinished ones never.
func TestRetention(t *testing.T) {
	dsn := pgtest.DSN(t)
	s := open(t, dsn, postgres.Options{Node: "a", Retention: time.Hour, MaintainEvery: time.Hour})
	old := time.Now().Add(-2 * time.Hour)
	fresh := time.Now()
	a, b, c := job("old", "c"), job("fresh", "c"), job("unfinished", "c")
	a.State, a.FinishedAt = persistence.StateSucceeded, &old
	b.State, b.FinishedAt = persistence.StateDead, &fresh
	_, err := s.Insert(ctx, []*persistence.Job{a, b, c})
	require.NoError(t, err)
	_, err = s.Maintain(ctx)
	require.NoError(t, err)
	page, _, err := s.List(ctx, persistence.ListOptions{})
	require.NoError(t, err)
	var ids []string
	for _, j := range page {
		ids = append(ids, j.ID)
	}
	sort.Strings(ids)
	require.Equal(t, []string{"fresh", "unfinished"}, ids)
}

// Counts are the cluster's: another node's inserts show within CountsEvery.
func TestCountsAcrossNodes(t *testing.T) {
	dsn := pgtest.DSN(t)
	a := open(t, dsn, postgres.Options{Node: "a", CountsEvery: 50 * time.Millisecond})
	b := open(t, dsn, postgres.Options{Node: "b", CountsEvery: 50 * time.Millisecond})
	_, err := a.Insert(ctx, []*persistence.Job{job("1", "c"), job("2", "c")})
	require.NoError(t, err)
	require.Equal(t, 2, a.Backlog("c"), "at once on the inserting node")
	require.Eventually(t, func() bool { return b.Backlog("c") == 2 }, 5*time.Second, 10*time.Millisecond)
}

// A node restarted under the same name does not inherit its earlier incarnation's running jobs:
// they are rescued, and the earlier incarnation's late finish is refused.
func TestEarlierIncarnationsJobsAreRescued(t *testing.T) {
	dsn := pgtest.DSN(t)
	old := open(t, dsn, postgres.Options{Node: "a", MaintainEvery: time.Hour})
	_, err := old.Insert(ctx, []*persistence.Job{job("j", "c")})
	require.NoError(t, err)
	_, err = old.Update(ctx, "j", start, false)
	require.NoError(t, err)
	restarted := open(t, dsn, postgres.Options{Node: "a", MaintainEvery: time.Hour})
	require.Empty(t, runningOn(t, restarted), "not the new incarnation's")
	n, err := restarted.Maintain(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	got, err := restarted.Get(ctx, "j")
	require.NoError(t, err)
	require.Equal(t, persistence.StateQueued, got.State)
	_, err = old.Update(ctx, "j", finish(1), false)
	require.ErrorIs(t, err, postgres.ErrFenced)
	_, err = restarted.Update(ctx, "j", start, false)
	require.NoError(t, err)
	_, err = old.Update(ctx, "j", func(j *persistence.Job) error { j.State = persistence.StateSucceeded; return nil }, false)
	require.ErrorIs(t, err, postgres.ErrFenced, "the job is the new incarnation's")
}

// A finish is written durably even when asked for a non-durable write; a start is not.
func TestFinishesAreDurable(t *testing.T) {
	s := open(t, pgtest.DSN(t), postgres.Options{Node: "a"})
	_, err := s.Insert(ctx, []*persistence.Job{job("j", "c")})
	require.NoError(t, err)
	before := s.Stats().Syncs
	_, err = s.Update(ctx, "j", start, false)
	require.NoError(t, err)
	require.Equal(t, before, s.Stats().Syncs, "a start commits without waiting for the WAL flush")
	_, err = s.Update(ctx, "j", finish(1), false)
	require.NoError(t, err)
	require.Equal(t, before+1, s.Stats().Syncs, "a finish waits for it")
}

// An insert racing the finish of its unique key's holder either names the holder or is stored;
// it never fails.
func TestUniqueKeyHolderFinishingDuringInsert(t *testing.T) {
	dsn := pgtest.DSN(t)
	a := open(t, dsn, postgres.Options{Node: "a"})
	b := open(t, dsn, postgres.Options{Node: "b"})
	holder := "h0"
	h := job(holder, "c")
	h.UniqueKey = "k"
	_, err := a.Insert(ctx, []*persistence.Job{h})
	require.NoError(t, err)
	for round := 1; round <= 30; round++ {
		done := make(chan error, 1)
		go func(id string) {
			_, err := a.Update(ctx, id, func(j *persistence.Job) error { j.State = persistence.StateSucceeded; return nil }, false)
			done <- err
		}(holder)
		j := job(fmt.Sprint("h", round), "c")
		j.UniqueKey = "k"
		res, err := b.Insert(ctx, []*persistence.Job{j})
		require.NoError(t, err)
		require.NoError(t, <-done)
		if res[0].Duplicate {
			require.Equal(t, holder, res[0].Job.ID)
			res, err = b.Insert(ctx, []*persistence.Job{j})
			require.NoError(t, err)
			require.False(t, res[0].Duplicate, "the holder has finished by now")
		}
		holder = j.ID
	}
}

// A periodic tick's key stays taken after its job finished, so a second node reaching the same
// tick stores nothing; other unique keys are freed by the finish as usual.
func TestPeriodicTickOncePerCluster(t *testing.T) {
	dsn := pgtest.DSN(t)
	a := open(t, dsn, postgres.Options{Node: "a"})
	b := open(t, dsn, postgres.Options{Node: "b"})
	tick := job("t1", "c")
	tick.UniqueKey = postgres.OncePrefix + "report:1700000000"
	res, err := a.Insert(ctx, []*persistence.Job{tick})
	require.NoError(t, err)
	require.False(t, res[0].Duplicate)
	_, err = a.Update(ctx, "t1", start, false)
	require.NoError(t, err)
	_, err = a.Update(ctx, "t1", finish(1), true)
	require.NoError(t, err)
	again := job("t2", "c")
	again.UniqueKey = tick.UniqueKey
	res, err = b.Insert(ctx, []*persistence.Job{again, job("plain", "c")})
	require.NoError(t, err)
	require.True(t, res[0].Duplicate, "the tick ran already")
	require.Equal(t, "t1", res[0].Job.ID)
	require.Equal(t, persistence.StateSucceeded, res[0].Job.State)
	require.False(t, res[1].Duplicate)
	_, err = b.Get(ctx, "t2")
	require.ErrorIs(t, err, persistence.ErrNotFound)
}
