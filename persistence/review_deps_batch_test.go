package persistence

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Review (issue 15, children without a w/ key): in one group commit, a child inserted waiting
// for one parent is released by that parent's success; a child inserted after its parent's
// success is queued at once; a child of two parents is settled by both and changed between
// them; a child whose count fell to one is cancelled. None keeps a w/ key, and the pending
// count, also as the store opened again counts it, is right.
func TestReviewDepsOneBatchInsertsSettlesAndChangesAChild(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	h := &heldCommit{hold: make(chan struct{}), entered: make(chan struct{})}
	s, err := OpenBadger(BadgerOptions{Dir: dir, commitHook: func() error {
		if h.holding.Load() {
			h.held.Do(func() { close(h.entered); <-h.hold })
		}
		return nil
	}})
	require.NoError(t, err)
	h.s = s
	release := h.release
	defer func() { require.NoError(t, s.Close()) }()
	defer release()
	_, err = s.Insert(ctx, []*Job{newJobFor("p"), newJobFor("p2"), newJobFor("q"), newJobFor("r"), newJobFor("s"), newJobFor("t"),
		newJobFor("e", "q", "r"), newJobFor("f", "s", "t"), newJobFor("g", "s", "t")})
	require.NoError(t, err)
	first := h.holdInsert(t, newJobFor("hold"))
	now := time.Now().UTC()
	var answers []chan error
	queue := func(do func(done func(error))) {
		t.Helper()
		ch := make(chan error, 1)
		answers = append(answers, ch)
		n := len(s.reqs)
		do(func(err error) { ch <- err })
		require.Eventually(t, func() bool { return len(s.reqs) == n+1 }, 10*time.Second, time.Millisecond)
	}
	update := func(id string, fn Mutator) {
		queue(func(done func(error)) { s.UpdateAsync(id, fn, true, func(_ *Job, err error) { done(err) }) })
	}
	insert := func(jobs ...*Job) {
		queue(func(done func(error)) { go func() { _, err := s.Insert(ctx, jobs); done(err) }() })
	}
	succeeded := func(j *Job) error { j.State, j.FinishedAt = StateSucceeded, &now; return nil }
	insert(newJobFor("c", "p"))
	update("p", succeeded)
	update("p2", succeeded)
	insert(newJobFor("d", "p2"))
	update("q", succeeded)
	update("e", func(j *Job) error { j.FairnessKey = "x"; return nil })
	update("r", succeeded)
	update("s", succeeded)
	update("f", func(j *Job) error { j.State, j.FinishedAt = StateCancelled, &now; return nil })
	update("g", func(j *Job) error { j.FairnessKey = "x"; return nil })
	release()
	require.NoError(t, <-first)
	for _, ch := range answers {
		require.NoError(t, <-ch)
	}
	afterFollowUps(t, s)
	want := map[string]State{"c": StateQueued, "d": StateQueued, "e": StateQueued, "f": StateCancelled, "g": StatePending}
	check := func(when string) {
		t.Helper()
		for id, st := range want {
			j, err := s.Get(ctx, id)
			require.NoError(t, err)
			require.Equal(t, st, j.State, "%s: %s", when, id)
			n, hasW := storedWaitCount(t, s, id)
			if st == StatePending {
				require.Equal(t, uint64(1), n, "%s: %s", when, id)
			} else {
				require.False(t, hasW, "%s: %s keeps a w/ key", when, id)
			}
		}
		require.Equal(t, 1, s.Counts()["c"][StatePending], "%s: g", when)
	}
	check("after the batch")
	require.NoError(t, s.Close())
	s, err = OpenBadger(BadgerOptions{Dir: dir})
	require.NoError(t, err)
	check("opened again")
	succeed(t, s, "t")
	g, err := s.Get(ctx, "g")
	require.NoError(t, err)
	require.Equal(t, StateQueued, g.State)
	require.Zero(t, s.Counts()["c"][StatePending])
}
