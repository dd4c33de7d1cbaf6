package persistence

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Review (issue 15): a batch entry that is a duplicate of an earlier one (same unique key) names
// its holder, so a child depending on both lists the holder twice among its parents. The holder's
// failure must cancel the child once (counts), and after a revive its success must release it.
func TestReviewAChildOfAParentAndItsDuplicateIsSettledOnce(t *testing.T) {
	ctx := context.Background()
	s, err := OpenBadger(BadgerOptions{})
	require.NoError(t, err)
	defer func() { require.NoError(t, s.Close()) }()
	p, dup := newJobFor("p"), newJobFor("p2")
	p.UniqueKey, dup.UniqueKey = "u", "u"
	res, err := s.Insert(ctx, []*Job{p, dup, newJobFor("c", "p", "p2")})
	require.NoError(t, err)
	require.True(t, res[1].Duplicate)
	require.Equal(t, StatePending, res[2].Job.State)
	require.Equal(t, 1, s.Counts()["c"][StatePending])

	now := time.Now().UTC()
	_, err = s.Update(ctx, "p", func(j *Job) error { j.State, j.FinishedAt = StateDead, &now; return nil }, true)
	require.NoError(t, err)
	c, err := s.Get(ctx, "c")
	require.NoError(t, err)
	require.Equal(t, StateCancelled, c.State)
	require.Len(t, c.Errors, 1, "cancelled once")
	require.Zero(t, s.Counts()["c"][StatePending])
	require.Equal(t, 1, s.Counts()["c"][StateCancelled], "one job cancelled")

	n, _, err := s.ReviveDependents(ctx, "p")
	require.NoError(t, err)
	require.Equal(t, 1, n)
	_, err = s.Update(ctx, "p", func(j *Job) error { j.State, j.FinishedAt = StateQueued, nil; return nil }, true)
	require.NoError(t, err)
	succeed(t, s, "p")
	c, err = s.Get(ctx, "c")
	require.NoError(t, err)
	require.Equal(t, StateQueued, c.State, "released by its only parent's success")
}

// Review (issue 15): a parent's failure and a revive that reopens a dependency on it, in one
// batch. The failure settles the parent's d/ keys (it is forgotten once the batch lands); the
// revive, after it, writes a new open d/ key on that parent for the revived child. The later
// SettleDependents of that parent must still find it and cancel the child again: the child must
// not stay pending for a parent that is dead.
func TestReviewARevivedDependencyOnAParentSettledInTheSameBatch(t *testing.T) {
	ctx := context.Background()
	h := openHeldCommit(t)
	s, release := h.s, h.release
	defer func() { require.NoError(t, s.Close()) }()
	defer release()
	_, err := s.Insert(ctx, []*Job{newJobFor("x"), newJobFor("p"), newJobFor("c", "x", "p")})
	require.NoError(t, err)
	now := time.Now().UTC()
	_, err = s.Update(ctx, "x", func(j *Job) error { j.State, j.FinishedAt = StateDead, &now; return nil }, true)
	require.NoError(t, err)
	first := h.holdInsert(t, newJobFor("f")) // after x's follow-up: the hold is for f's commit
	died := make(chan error, 1)
	s.UpdateAsync("p", func(j *Job) error { j.State, j.FinishedAt = StateDead, &now; return nil }, true,
		func(_ *Job, err error) { died <- err })
	require.Eventually(t, func() bool { return len(s.reqs) == 1 }, 10*time.Second, time.Millisecond)
	type revived struct {
		n      int
		failed []string
		err    error
	}
	rev := make(chan revived, 1)
	go func() { n, f, err := s.ReviveDependents(ctx, "x"); rev <- revived{n, f, err} }()
	require.Eventually(t, func() bool { return len(s.reqs) == 2 }, 10*time.Second, time.Millisecond)
	release()
	require.NoError(t, <-first)
	require.NoError(t, <-died)
	r := <-rev
	require.NoError(t, r.err)
	require.Equal(t, 1, r.n)
	require.Equal(t, []string{"p"}, r.failed)

	// x is retried; p, dead, is settled again: c waits for p, which will never succeed.
	_, err = s.Update(ctx, "x", func(j *Job) error { j.State, j.FinishedAt = StateQueued, nil; return nil }, true)
	require.NoError(t, err)
	require.NoError(t, s.SettleDependents(ctx, r.failed))
	c, err := s.Get(ctx, "c")
	require.NoError(t, err)
	require.Equal(t, StateCancelled, c.State, "p ended dead")
	require.Contains(t, c.LastError(), "parent p ended dead")
}

// Review (issue 15): a list of children is settled whole, but a failure rewrites each child's
// record with an error naming the parent's last error: a dead parent whose last error is a few
// kilobytes (a panic's stack) makes a full list weigh more than a commit. Its death must still
// be stored and its children cancelled (over follow-up writes), as before the lists.
func TestReviewADeadParentWithALongErrorCancelsAFullList(t *testing.T) {
	ctx := context.Background()
	s, err := OpenBadger(BadgerOptions{})
	require.NoError(t, err)
	defer func() { require.NoError(t, s.Close()) }()
	_, err = s.Insert(ctx, []*Job{newJobFor("p")})
	require.NoError(t, err)
	jobs := make([]*Job, maxListKids)
	for i := range jobs {
		jobs[i] = newJobFor(fmt.Sprintf("c%04d", i), "p")
	}
	_, err = s.Insert(ctx, jobs)
	require.NoError(t, err)
	require.Len(t, dependKeys(t, s, "p"), 1, "one list")
	long := strings.Repeat("x", 6000)
	now := time.Now().UTC()
	_, err = s.Update(ctx, "p", func(j *Job) error {
		j.State, j.FinishedAt = StateDead, &now
		j.Errors = append(j.Errors, AttemptError{Attempt: 1, At: now, Error: long})
		return nil
	}, true)
	require.NoError(t, err, "the parent's death is stored")
	require.Eventually(t, func() bool { return s.Counts()["c"][StatePending] == 0 }, 10*time.Second, time.Millisecond)
	require.Equal(t, maxListKids, s.Counts()["c"][StateCancelled])
	for k, open := range dependKeys(t, s, "p") {
		require.False(t, open, "%q", k)
	}
	p, err := s.Get(ctx, "p")
	require.NoError(t, err)
	require.Len(t, p.Children, maxListKids)
}

// Review (issue 15): a parent's success whose settle is split over follow-up writes (more
// children than one write takes), and, in the same batch, a revive of a child still named by one
// of its open lists: the revive must count that parent (its follow-up will count it done), or the
// child is released before the revived parent succeeds.
func TestReviewARevivedChildOfAParentWhoseSuccessIsStillBeingSettled(t *testing.T) {
	ctx := context.Background()
	h := openHeldCommit(t)
	s, release := h.s, h.release
	defer func() { require.NoError(t, s.Close()) }()
	defer release()
	_, err := s.Insert(ctx, []*Job{newJobFor("x"), newJobFor("q")})
	require.NoError(t, err)
	kids := make([]*Job, maxSettle+100)
	for i := range kids {
		kids[i] = newJobFor(fmt.Sprintf("a%04d", i), "q")
	}
	_, err = s.Insert(ctx, kids)
	require.NoError(t, err)
	_, err = s.Insert(ctx, []*Job{newJobFor("z", "x", "q")}) // q's last d/ key
	require.NoError(t, err)
	now := time.Now().UTC()
	_, err = s.Update(ctx, "x", func(j *Job) error { j.State, j.FinishedAt = StateDead, &now; return nil }, true)
	require.NoError(t, err)
	first := h.holdInsert(t, newJobFor("f")) // after x's follow-up: the hold is for f's commit
	done := make(chan error, 1)
	s.UpdateAsync("q", func(j *Job) error { j.State, j.FinishedAt = StateSucceeded, &now; return nil }, true,
		func(_ *Job, err error) { done <- err })
	require.Eventually(t, func() bool { return len(s.reqs) == 1 }, 10*time.Second, time.Millisecond)
	rev := make(chan error, 1)
	go func() {
		n, _, err := s.ReviveDependents(ctx, "x")
		if err == nil && n != 1 {
			err = fmt.Errorf("revived %d", n)
		}
		rev <- err
	}()
	require.Eventually(t, func() bool { return len(s.reqs) == 2 }, 10*time.Second, time.Millisecond)
	release()
	require.NoError(t, <-first)
	require.NoError(t, <-done)
	require.NoError(t, <-rev)
	_, err = s.Update(ctx, "x", func(j *Job) error { j.State, j.FinishedAt = StateQueued, nil; return nil }, true) // after q's follow-ups
	require.NoError(t, err)
	z, err := s.Get(ctx, "z")
	require.NoError(t, err)
	require.Equal(t, StatePending, z.State, "z waits for x, retried")
	succeed(t, s, "x")
	z, err = s.Get(ctx, "z")
	require.NoError(t, err)
	require.Equal(t, StateQueued, z.State)
}

// Review (issue 15): a dead parent deleted after a revive reopened a dependency on it (between
// ReviveDependents and SettleDependents, or after a SettleDependents that failed): its finish
// must still be applied to that child, or the child waits forever (the start-up scan skips a
// parent that is gone).
func TestReviewDeletingAParentSettlesItsOpenDependents(t *testing.T) {
	ctx := context.Background()
	s, err := OpenBadger(BadgerOptions{})
	require.NoError(t, err)
	defer func() { require.NoError(t, s.Close()) }()
	_, err = s.Insert(ctx, []*Job{newJobFor("x"), newJobFor("q"), newJobFor("c", "x", "q")})
	require.NoError(t, err)
	now := time.Now().UTC()
	for _, id := range []string{"x", "q"} {
		_, err = s.Update(ctx, id, func(j *Job) error { j.State, j.FinishedAt = StateDead, &now; return nil }, true)
		require.NoError(t, err)
	}
	_, failed, err := s.ReviveDependents(ctx, "x")
	require.NoError(t, err)
	require.Equal(t, []string{"q"}, failed)
	require.NoError(t, s.Delete(ctx, "q"))
	require.NoError(t, s.SettleDependents(ctx, failed))
	c, err := s.Get(ctx, "c")
	require.NoError(t, err)
	require.Equal(t, StateCancelled, c.State, "q ended dead")
	require.Contains(t, c.LastError(), "parent q ended dead")
	require.Zero(t, s.Counts()["c"][StatePending])
}

// afterFollowUps returns once the writer has committed the follow-up writes of every write
// answered before (a dead parent's cancelled child has one, settling the child's own
// dependents): a Queued read goes through the writer, which commits the follow-ups it holds
// before it takes a new request. A write is answered when its batch lands, while the writer
// goes on to its follow-ups, so a test that holds "the next commit" with commitHook right after
// such a write may otherwise hold the follow-up instead.
func afterFollowUps(t *testing.T, s *Badger) {
	t.Helper()
	_, err := s.Queued(context.Background(), "none", 0, 1)
	require.NoError(t, err)
}

// heldCommit is a Badger store whose writer can be held inside one commit (commitHook).
type heldCommit struct {
	s              *Badger
	hold, entered  chan struct{}
	held, released sync.Once
	holding        atomic.Bool
}

// openHeldCommit opens a store in memory whose writer holdInsert can hold.
func openHeldCommit(t *testing.T) *heldCommit {
	h := &heldCommit{hold: make(chan struct{}), entered: make(chan struct{})}
	s, err := OpenBadger(BadgerOptions{commitHook: func() error {
		if h.holding.Load() {
			h.held.Do(func() { close(h.entered); <-h.hold })
		}
		return nil
	}})
	require.NoError(t, err)
	h.s = s
	return h
}

// release lets the held commit go (more than once is fine).
func (h *heldCommit) release() { h.released.Do(func() { close(h.hold) }) }

// holdInsert inserts jobs once the follow-ups of the writes before are committed
// (afterFollowUps), and returns once the writer is held inside that insert's commit, with the
// channel the insert's error comes on after release.
func (h *heldCommit) holdInsert(t *testing.T, jobs ...*Job) chan error {
	t.Helper()
	afterFollowUps(t, h.s)
	h.holding.Store(true)
	first := make(chan error, 1)
	go func() { _, err := h.s.Insert(context.Background(), jobs); first <- err }()
	select {
	case <-h.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the held insert's commit did not start")
	}
	return first
}
