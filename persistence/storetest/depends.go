package storetest

import (
	"sort"
	"testing"
	"time"

	"github.com/jobsched/jobsched/persistence"
	"github.com/stretchr/testify/require"
)

// Dependencies (depends_on): what every store must do with Job.Parents.

func child(id, cat string, parents ...string) *persistence.Job {
	j := newJob(id, cat, persistence.StateQueued)
	j.Parents = parents
	return j
}

// finish ends a job in state st (with an error when it fails), as a worker's finish does.
func finish(t *testing.T, s persistence.Store, id string, st persistence.State) {
	t.Helper()
	_, err := s.Update(ctx, id, func(j *persistence.Job) error {
		at := time.Now().UTC().Truncate(time.Microsecond)
		j.State, j.FinishedAt = st, &at
		if st == persistence.StateDead {
			j.Errors = append(j.Errors, persistence.AttemptError{Attempt: 1, At: at, Error: "boom"})
		}
		return nil
	}, true)
	require.NoError(t, err)
}

func stateOf(t *testing.T, s persistence.Store, id string) persistence.State {
	t.Helper()
	j, err := s.Get(ctx, id)
	require.NoError(t, err)
	return j.State
}

func queuedIDs(t *testing.T, s persistence.Store, cat string) []string {
	t.Helper()
	q, err := s.Queued(ctx, cat, 0, 100)
	require.NoError(t, err)
	return ids(q)
}

// A child waits pending until every parent succeeded; the last parent's finish releases it, in
// the same write, to the back of its queue; Get shows a parent's children.
func testDependsRelease(t *testing.T, s persistence.Store) {
	res := insert(t, s, newJob("p1", "a", persistence.StateQueued), newJob("p2", "a", persistence.StateQueued),
		child("c", "a", "p1", "p2"), child("d", "a", "p1"))
	require.Equal(t, persistence.StatePending, res[2].Job.State)
	require.Zero(t, res[2].Job.Seq, "a pending job has no place in the queue")
	require.Equal(t, []string{"p1", "p2"}, queuedIDs(t, s, "a"))
	require.Eventually(t, func() bool { return s.Counts()["a"][persistence.StatePending] == 2 }, 10*time.Second, time.Millisecond)

	finish(t, s, "p1", persistence.StateSucceeded)
	require.Equal(t, persistence.StatePending, stateOf(t, s, "c"), "c still waits for p2")
	require.Equal(t, persistence.StateQueued, stateOf(t, s, "d"), "d's only parent succeeded")
	require.Equal(t, []string{"p2", "d"}, queuedIDs(t, s, "a"))
	finish(t, s, "p2", persistence.StateSucceeded)
	require.Equal(t, persistence.StateQueued, stateOf(t, s, "c"))
	require.Equal(t, []string{"d", "c"}, queuedIDs(t, s, "a"), "a released job goes to the back")
	require.Eventually(t, func() bool { return s.Counts()["a"][persistence.StatePending] == 0 }, 10*time.Second, time.Millisecond)

	p, err := s.Get(ctx, "p1")
	require.NoError(t, err)
	kids := append([]string(nil), p.Children...)
	sort.Strings(kids)
	require.Equal(t, []string{"c", "d"}, kids)
	c, err := s.Get(ctx, "c")
	require.NoError(t, err)
	require.Equal(t, []string{"p1", "p2"}, c.Parents)
}

// A failed parent cancels its dependents, naming itself, and theirs in turn; a dependent with
// on_parent_failure "run" counts it done. Cancelling a pending job cancels its dependents.
func testDependsFailure(t *testing.T, s persistence.Store) {
	run := child("r", "a", "p")
	run.OnParentFailure = persistence.ParentFailureRun
	insert(t, s, newJob("p", "a", persistence.StateQueued), child("c", "a", "p"), child("g", "a", "c"), run,
		child("x", "a", "r"))
	finish(t, s, "p", persistence.StateDead)
	c, err := s.Get(ctx, "c")
	require.NoError(t, err)
	require.Equal(t, persistence.StateCancelled, c.State)
	require.NotNil(t, c.FinishedAt)
	require.Equal(t, "parent p ended dead: boom", c.LastError())
	require.Eventually(t, func() bool { return stateOf(t, s, "g") == persistence.StateCancelled }, 10*time.Second, time.Millisecond,
		"the grandchild is cancelled in turn")
	g, err := s.Get(ctx, "g")
	require.NoError(t, err)
	require.Equal(t, "parent c ended cancelled: parent p ended dead: boom", g.LastError())
	require.Equal(t, persistence.StateQueued, stateOf(t, s, "r"), "on_parent_failure run")
	require.Equal(t, persistence.StatePending, stateOf(t, s, "x"))

	finish(t, s, "x", persistence.StateCancelled) // an operator cancels a pending job
	require.Equal(t, persistence.StateCancelled, stateOf(t, s, "x"))
	require.Eventually(t, func() bool {
		n := s.Counts()["a"]
		return n[persistence.StatePending] == 0 && n[persistence.StateQueued] == 1
	}, 10*time.Second, time.Millisecond)
}

// A job whose parents are already finished is decided at insert; an unknown parent refuses the
// whole insert; a released job whose run_at is ahead becomes scheduled.
func testDependsAtInsert(t *testing.T, s persistence.Store) {
	insert(t, s, newJob("ok", "a", persistence.StateQueued), newJob("bad", "a", persistence.StateQueued))
	finish(t, s, "ok", persistence.StateSucceeded)
	finish(t, s, "bad", persistence.StateDead)
	res := insert(t, s, child("c1", "a", "ok"), child("c2", "a", "ok", "bad"))
	require.Equal(t, persistence.StateQueued, res[0].Job.State)
	require.NotZero(t, res[0].Job.Seq)
	require.Equal(t, persistence.StateCancelled, res[1].Job.State)
	require.Equal(t, "parent bad ended dead: boom", res[1].Job.LastError())

	_, err := s.Insert(ctx, []*persistence.Job{newJob("y", "a", persistence.StateQueued), child("z", "a", "y", "nope")})
	var pe *persistence.ParentError
	require.ErrorAs(t, err, &pe)
	require.Equal(t, persistence.ParentError{Job: 1, Parent: 1, ID: "nope"}, *pe)
	require.ErrorIs(t, err, persistence.ErrNotFound)
	_, err = s.Get(ctx, "y")
	require.ErrorIs(t, err, persistence.ErrNotFound, "nothing stored")

	later := child("later", "a", "p")
	later.RunAt = time.Now().Add(time.Hour).UTC().Truncate(time.Microsecond)
	insert(t, s, newJob("p", "a", persistence.StateQueued), later)
	finish(t, s, "p", persistence.StateSucceeded)
	require.Equal(t, persistence.StateScheduled, stateOf(t, s, "later"))
	w, _ := waiting(t, s)
	require.Contains(t, w, "later")
}

// Concurrent finishes of the parents of many shared children release each exactly once, after
// the last of them (and, on a store with row locks, without deadlocking on the children).
func testDependsConcurrentParents(t *testing.T, s persistence.Store) {
	const n, kids = 20, 20
	jobs := make([]*persistence.Job, 0, n+kids)
	var parents, children []string
	for i := 0; i < n; i++ {
		id := string(rune('A'+i)) + "p"
		jobs = append(jobs, newJob(id, "a", persistence.StateQueued))
		parents = append(parents, id)
	}
	for i := 0; i < kids; i++ {
		id := "c" + string(rune('a'+i))
		jobs = append(jobs, child(id, "a", parents...))
		children = append(children, id)
	}
	insert(t, s, jobs...)
	done := make(chan struct{}, n)
	for _, id := range parents {
		go func() {
			defer func() { done <- struct{}{} }()
			at := time.Now().UTC()
			_, err := s.Update(ctx, id, func(j *persistence.Job) error {
				j.State, j.FinishedAt = persistence.StateSucceeded, &at
				return nil
			}, true)
			if err != nil {
				t.Error(err)
			}
		}()
	}
	for i := 0; i < n; i++ {
		<-done
	}
	for _, c := range children {
		require.Eventually(t, func() bool { return stateOf(t, s, c) == persistence.StateQueued }, 10*time.Second, time.Millisecond)
	}
	q := queuedIDs(t, s, "a")
	sort.Strings(q)
	require.Equal(t, children, q, "each child queued once")
}
