package persistence

import (
	"context"
	"encoding/binary"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/stretchr/testify/require"
)

func newJobFor(id string, parents ...string) *Job {
	now := time.Now().UTC()
	return &Job{ID: id, Kind: "k", Category: "c", State: StateQueued, MaxAttempts: 1, CreatedAt: now, RunAt: now, Parents: parents}
}

// A parent whose finish was committed but whose children were not settled yet (the process died
// between the commit and the follow-up writes) has them settled when the store is opened again.
func TestOpeningTheStoreSettlesTheChildrenOfAFinishedParent(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	s, err := OpenBadger(BadgerOptions{Dir: dir})
	require.NoError(t, err)
	res, err := s.Insert(ctx, []*Job{newJobFor("p"), newJobFor("a", "p"), newJobFor("b", "p"), newJobFor("x", "p", "b")})
	require.NoError(t, err)
	for _, r := range res[1:] {
		require.Equal(t, StatePending, r.Job.State)
	}
	require.Equal(t, 3, s.Counts()["c"][StatePending])

	// Finish p behind the writer's back: its record and index keys, not its children.
	old, err := s.Get(ctx, "p")
	require.NoError(t, err)
	done := old.Clone()
	now := time.Now().UTC()
	done.State, done.FinishedAt, done.Children = StateSucceeded, &now, nil
	writes, err := s.jobWrites(nil, old, done, nil)
	require.NoError(t, err)
	txn := s.db.NewTransaction(true)
	require.NoError(t, setAll(txn, writes))
	require.NoError(t, txn.Commit())
	require.NoError(t, s.Close())

	s, err = OpenBadger(BadgerOptions{Dir: dir})
	require.NoError(t, err)
	defer func() { require.NoError(t, s.Close()) }()
	require.Eventually(t, func() bool {
		a, errA := s.Get(ctx, "a")
		b, errB := s.Get(ctx, "b")
		return errA == nil && errB == nil && a.State == StateQueued && b.State == StateQueued
	}, 10*time.Second, time.Millisecond)
	x, err := s.Get(ctx, "x")
	require.NoError(t, err)
	require.Equal(t, StatePending, x.State, "x still waits for b")
	// The counts move when the start-up settle's commit lands, a moment after its records can
	// be read.
	require.Eventually(t, func() bool { return s.Counts()["c"][StatePending] == 1 }, 10*time.Second, time.Millisecond)

	// b dies: x, whose on_parent_failure is the default, is cancelled naming b.
	_, err = s.Update(ctx, "b", func(j *Job) error {
		j.State, j.FinishedAt = StateDead, &now
		return nil
	}, true)
	require.NoError(t, err)
	x, err = s.Get(ctx, "x")
	require.NoError(t, err)
	require.Equal(t, StateCancelled, x.State)
	require.Contains(t, x.LastError(), "parent b ended dead")
	require.Zero(t, s.Counts()["c"][StatePending])

	// An unknown parent refuses the whole insert.
	_, err = s.Insert(ctx, []*Job{newJobFor("y"), newJobFor("z", "y", "nope")})
	var pe *ParentError
	require.ErrorAs(t, err, &pe)
	require.Equal(t, ParentError{Job: 1, Parent: 1, ID: "nope"}, *pe)
	require.ErrorIs(t, err, ErrNotFound)
	_, err = s.Get(ctx, "y")
	require.ErrorIs(t, err, ErrNotFound, "nothing stored")
}

// A child inserted and its parent finished in the same group commit: the parent's settle finds
// the child's d/ key among the transaction's own writes (pendingDeps), not yet committed.
func TestAParentFinishedInTheCommitThatInsertedItsChild(t *testing.T) {
	ctx := context.Background()
	hold, entered := make(chan struct{}), make(chan struct{})
	var held, released sync.Once
	release := func() { released.Do(func() { close(hold) }) }
	s, err := OpenBadger(BadgerOptions{commitHook: func() error {
		held.Do(func() { close(entered); <-hold }) // the first commit waits: the next requests gather behind it
		return nil
	}})
	require.NoError(t, err)
	defer func() { require.NoError(t, s.Close()) }()
	defer release() // before Close, should the test fail early: the writer must not stay held
	first := make(chan error, 1)
	go func() { _, err := s.Insert(ctx, []*Job{newJobFor("x")}); first <- err }()
	select {
	case <-entered: // the writer holds x's commit
	case <-time.After(10 * time.Second):
		t.Fatal("x's commit did not start")
	}
	inserted := make(chan error, 1)
	go func() {
		_, err := s.Insert(ctx, []*Job{newJobFor("p"), newJobFor("c", "p"), newJobFor("c2", "p")}) // a d/ list
		inserted <- err
	}()
	require.Eventually(t, func() bool { return len(s.reqs) == 1 }, 10*time.Second, time.Millisecond)
	finished := make(chan error, 1)
	now := time.Now().UTC()
	s.UpdateAsync("p", func(j *Job) error { j.State, j.FinishedAt = StateSucceeded, &now; return nil }, true,
		func(_ *Job, err error) { finished <- err })
	require.Eventually(t, func() bool { return len(s.reqs) == 2 }, 10*time.Second, time.Millisecond)
	commits := s.Stats().Commits
	release()
	require.NoError(t, <-first)
	require.NoError(t, <-inserted)
	require.NoError(t, <-finished)
	require.LessOrEqual(t, s.Stats().Commits-commits, uint64(2), "x's commit, then p and c with p's finish in one")
	for _, id := range []string{"c", "c2"} {
		c, err := s.Get(ctx, id)
		require.NoError(t, err)
		require.Equal(t, StateQueued, c.State, "released by the finish in the same transaction")
	}
}

// hasWaitingKey tells whether the store holds the n/ key of id.
func hasWaitingKey(t *testing.T, s *Badger, id string) bool {
	t.Helper()
	err := s.db.View(func(txn *badger.Txn) error {
		_, err := txn.Get(waitingKey(id))
		return err
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return false
	}
	require.NoError(t, err)
	return true
}

// succeed finishes id as succeeded.
func succeed(t *testing.T, s *Badger, id string) {
	t.Helper()
	now := time.Now().UTC()
	_, err := s.Update(context.Background(), id, func(j *Job) error { j.State, j.FinishedAt = StateSucceeded, &now; return nil }, true)
	require.NoError(t, err)
}

// storedCount returns the parents count the w/ key of id holds: 0 without the key, 1 when it
// holds no count.
func storedCount(t *testing.T, s *Badger, id string) uint64 {
	t.Helper()
	var n uint64
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(pendingKey(id))
		if err != nil {
			return err
		}
		return item.Value(func(v []byte) (err error) {
			_, n, err = parsePendingValue(v)
			return err
		})
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return 0
	}
	require.NoError(t, err)
	return n
}

// A child's count of unfinished parents is in its w/ key's value, only while above one: a child
// of one parent has none, and no n/ key is written; the child is released by its last parent's
// finish either way.
func TestTheParentsCountIsInThePendingKey(t *testing.T) {
	ctx := context.Background()
	s, err := OpenBadger(BadgerOptions{})
	require.NoError(t, err)
	defer func() { require.NoError(t, s.Close()) }()
	_, err = s.Insert(ctx, []*Job{newJobFor("p"), newJobFor("q"), newJobFor("r"), newJobFor("one", "p"), newJobFor("three", "p", "q", "r")})
	require.NoError(t, err)
	require.Zero(t, storedCount(t, s, "one"), "a child of one parent has no w/ key (countInsert)")
	require.Equal(t, 2, s.Counts()["c"][StatePending])
	require.Equal(t, uint64(3), storedCount(t, s, "three"))

	succeed(t, s, "p")
	one, err := s.Get(ctx, "one")
	require.NoError(t, err)
	require.Equal(t, StateQueued, one.State)
	require.Zero(t, storedCount(t, s, "one"), "released: no w/ key")
	require.Equal(t, uint64(2), storedCount(t, s, "three"), "two left")
	succeed(t, s, "q")
	require.Zero(t, storedCount(t, s, "three"), "one left: no w/ key (setWaiting)")
	three, err := s.Get(ctx, "three")
	require.NoError(t, err)
	require.Equal(t, StatePending, three.State, "still waits for r")
	require.Equal(t, 1, s.Counts()["c"][StatePending])
	succeed(t, s, "r")
	three, err = s.Get(ctx, "three")
	require.NoError(t, err)
	require.Equal(t, StateQueued, three.State)
	require.Zero(t, s.Counts()["c"][StatePending])
	for _, id := range []string{"one", "three"} {
		require.False(t, hasWaitingKey(t, s, id), "no n/ key written")
	}
}

// A data directory written before the count was stored only above one holds n/ keys of one (a
// child of one parent, or one whose other parents finished): opened by this binary, such a child
// is released by its last parent's finish, and its key deleted.
func TestACountOfOneStoredByAnOlderBinaryIsRead(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	s, err := OpenBadger(BadgerOptions{Dir: dir})
	require.NoError(t, err)
	_, err = s.Insert(ctx, []*Job{newJobFor("p"), newJobFor("c", "p"), newJobFor("q"), newJobFor("d", "p", "q")})
	require.NoError(t, err)
	// What the older binary wrote: a count of one for c, and, for d, q's finish applied (its d/
	// key marked done, the count down from two to one) with p left.
	old, err := s.Get(ctx, "q")
	require.NoError(t, err)
	done := old.Clone()
	now := time.Now().UTC()
	done.State, done.FinishedAt, done.Children = StateSucceeded, &now, nil
	writes, err := s.jobWrites(nil, old, done, nil)
	require.NoError(t, err)
	writes = append(writes,
		pendingWrite{key: pendingKey("c"), value: []byte("c")}, // the category alone
		pendingWrite{key: pendingKey("d"), value: []byte("c")},
		pendingWrite{key: waitingKey("c"), value: binary.AppendUvarint(nil, 1)},
		pendingWrite{key: waitingKey("d"), value: binary.AppendUvarint(nil, 1)},
		pendingWrite{key: dependKey("q", "d"), value: dependDone})
	txn := s.db.NewTransaction(true)
	require.NoError(t, setAll(txn, writes))
	require.NoError(t, txn.Commit())
	require.NoError(t, s.Close())

	s, err = OpenBadger(BadgerOptions{Dir: dir})
	require.NoError(t, err)
	defer func() { require.NoError(t, s.Close()) }()
	require.Equal(t, 2, s.Counts()["c"][StatePending])
	succeed(t, s, "p")
	for _, id := range []string{"c", "d"} {
		j, err := s.Get(ctx, id)
		require.NoError(t, err)
		require.Equal(t, StateQueued, j.State, id)
		require.False(t, hasWaitingKey(t, s, id), "the release deleted the older binary's count of %s", id)
	}
	require.Zero(t, s.Counts()["c"][StatePending])
}

// A child cancelled while it waits for three parents is left alone by their finishes: the
// count the writer held for it went with the cancel, so no finish writes it a count again.
func TestAFinishLeavesACancelledChildsCountAlone(t *testing.T) {
	ctx := context.Background()
	s, err := OpenBadger(BadgerOptions{})
	require.NoError(t, err)
	defer func() { require.NoError(t, s.Close()) }()
	_, err = s.Insert(ctx, []*Job{newJobFor("p"), newJobFor("q"), newJobFor("r"), newJobFor("c", "p", "q", "r")})
	require.NoError(t, err)
	require.Equal(t, uint64(3), storedCount(t, s, "c"))
	now := time.Now().UTC()
	_, err = s.Update(ctx, "c", func(j *Job) error { j.State, j.FinishedAt = StateCancelled, &now; return nil }, true)
	require.NoError(t, err)
	require.Zero(t, storedCount(t, s, "c"), "the cancel deleted the w/ key and its count")
	succeed(t, s, "p")
	require.Zero(t, storedCount(t, s, "c"), "the finish wrote no count for a cancelled child")
	succeed(t, s, "q")
	succeed(t, s, "r")
	c, err := s.Get(ctx, "c")
	require.NoError(t, err)
	require.Equal(t, StateCancelled, c.State)
	require.Zero(t, s.Counts()["c"][StatePending])
}

// Stats.Keys counts the keys the committed requests set or deleted: a plain job writes its record
// and q/ key; a child its record, w/ (with its count, if two or more) and d/ keys. The parent's finish marks the d/ key done and releases the child: record, w/ deleted
// and q/ set, besides its own record and q/ delete.
func TestStatsCountTheKeysWritten(t *testing.T) {
	ctx := context.Background()
	s, err := OpenBadger(BadgerOptions{})
	require.NoError(t, err)
	defer func() { require.NoError(t, s.Close()) }()
	keys := func() uint64 { return s.Stats().Keys }
	k0 := keys()
	_, err = s.Insert(ctx, []*Job{newJobFor("p"), newJobFor("q")})
	require.NoError(t, err)
	require.Equal(t, uint64(4), keys()-k0, "two plain jobs")
	k0 = keys()
	_, err = s.Insert(ctx, []*Job{newJobFor("one", "p")})
	require.NoError(t, err)
	require.Equal(t, uint64(2), keys()-k0, "a child of one parent: record, d/ (no w/ key)")
	k0 = keys()
	_, err = s.Insert(ctx, []*Job{newJobFor("two", "p", "q")})
	require.NoError(t, err)
	require.Equal(t, uint64(4), keys()-k0, "a child of two: record, w/ with its count, two d/")
	k0 = keys()
	succeed(t, s, "q")
	// q: record, q/ deleted; two: d/ done, w/ deleted (one left: a missing w/ key reads as one).
	require.Equal(t, uint64(4), keys()-k0)
	k0 = keys()
	succeed(t, s, "p")
	// p: record, q/ deleted; one and two: d/ done, record, q/ set (neither has a w/ key left).
	require.Equal(t, uint64(8), keys()-k0)
}

// A store written before the count moved into the w/ key holds it as an n/ key (the w/ key's
// value the category alone): the first finish moves it into w/ and deletes the n/ key, the
// last releases the child.
func TestACountAboveOneStoredByAnOlderBinaryIsRead(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	s, err := OpenBadger(BadgerOptions{Dir: dir})
	require.NoError(t, err)
	_, err = s.Insert(ctx, []*Job{newJobFor("p"), newJobFor("q"), newJobFor("r"), newJobFor("e", "p", "q", "r")})
	require.NoError(t, err)
	txn := s.db.NewTransaction(true)
	require.NoError(t, setAll(txn, []pendingWrite{
		{key: pendingKey("e"), value: []byte("c")},
		{key: waitingKey("e"), value: binary.AppendUvarint(nil, 3)},
	}))
	require.NoError(t, txn.Commit())
	require.NoError(t, s.Close())

	s, err = OpenBadger(BadgerOptions{Dir: dir})
	require.NoError(t, err)
	defer func() { require.NoError(t, s.Close()) }()
	require.Equal(t, 1, s.Counts()["c"][StatePending])
	succeed(t, s, "p")
	require.False(t, hasWaitingKey(t, s, "e"), "moved into w/")
	require.Equal(t, uint64(2), storedCount(t, s, "e"))
	succeed(t, s, "q")
	require.Zero(t, storedCount(t, s, "e"), "one left: no w/ key")
	e, err := s.Get(ctx, "e")
	require.NoError(t, err)
	require.Equal(t, StatePending, e.State)
	succeed(t, s, "r")
	e, err = s.Get(ctx, "e")
	require.NoError(t, err)
	require.Equal(t, StateQueued, e.State)
	require.Zero(t, s.Counts()["c"][StatePending])
}

// A pending job changed while it waits (here its fairness key) keeps its count of parents, which
// its w/ key, written anew, holds.
func TestAPendingJobChangedKeepsItsCount(t *testing.T) {
	ctx := context.Background()
	s, err := OpenBadger(BadgerOptions{})
	require.NoError(t, err)
	defer func() { require.NoError(t, s.Close()) }()
	_, err = s.Insert(ctx, []*Job{newJobFor("p"), newJobFor("q"), newJobFor("c", "p", "q")})
	require.NoError(t, err)
	_, err = s.Update(ctx, "c", func(j *Job) error { j.FairnessKey = "t2"; return nil }, true)
	require.NoError(t, err)
	require.Equal(t, uint64(2), storedCount(t, s, "c"))
	succeed(t, s, "p")
	c, err := s.Get(ctx, "c")
	require.NoError(t, err)
	require.Equal(t, StatePending, c.State, "still waits for q")
	succeed(t, s, "q")
	c, err = s.Get(ctx, "c")
	require.NoError(t, err)
	require.Equal(t, StateQueued, c.State)
}

// hasPendingKey tells whether id has a w/ key.
func hasPendingKey(t *testing.T, s *Badger, id string) bool {
	t.Helper()
	err := s.db.View(func(txn *badger.Txn) error {
		_, err := txn.Get(pendingKey(id))
		return err
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return false
	}
	require.NoError(t, err)
	return true
}

// A child inserted waiting for one parent has no w/ key (session 6): the store opened again
// counts it pending from its parent's open d/ key, and its release deletes no w/ key. A child of
// one parent that has a w/ key (a store written before) is counted once, and its release
// deletes the key. A child whose count falls to one has its w/ key deleted, and is counted the
// same way.
func TestAChildOfOneParentHasNoPendingKeyAndIsCountedAtStartUp(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	s, err := OpenBadger(BadgerOptions{Dir: dir})
	require.NoError(t, err)
	_, err = s.Insert(ctx, []*Job{newJobFor("p"), newJobFor("q"), newJobFor("a", "p"), newJobFor("b", "p"), newJobFor("c", "p", "q")})
	require.NoError(t, err)
	require.False(t, hasPendingKey(t, s, "a"))
	require.False(t, hasPendingKey(t, s, "b"))
	require.True(t, hasPendingKey(t, s, "c"), "two parents: the count is in w/")
	require.Equal(t, 3, s.Counts()["c"][StatePending])
	// b as a store written before session 6 holds it: with its w/ key.
	require.NoError(t, s.db.Update(func(txn *badger.Txn) error { return txn.Set(pendingKey("b"), []byte("c")) }))
	require.NoError(t, s.Close())

	reopen := func() {
		t.Helper()
		s, err = OpenBadger(BadgerOptions{Dir: dir})
		require.NoError(t, err)
	}
	reopen()
	require.Equal(t, 3, s.Counts()["c"][StatePending], "a from p's d/ list, b and c from their w/ keys: each once")
	require.Equal(t, 2, s.Counts()["c"][StateQueued])
	k0 := s.Stats().Keys
	succeed(t, s, "p")
	// p: record, q/ deleted; its list marked done; a, b, c: ...
	//   a: record and q/ (no w/ key: the count read from the store after the restart);
	//   b: record, q/ and its w/ key deleted; c: its w/ key deleted (one left reads as one).
	require.Equal(t, uint64(2+1+2+3+1), s.Stats().Keys-k0)
	require.False(t, hasPendingKey(t, s, "c"))
	for _, id := range []string{"a", "b"} {
		j, err := s.Get(ctx, id)
		require.NoError(t, err)
		require.Equal(t, StateQueued, j.State, id)
		require.False(t, hasPendingKey(t, s, id), id)
	}
	require.Equal(t, 1, s.Counts()["c"][StatePending])
	require.NoError(t, s.Close())

	reopen()
	defer func() { require.NoError(t, s.Close()) }()
	require.Equal(t, 1, s.Counts()["c"][StatePending], "c, waiting for q")
	require.Equal(t, 3, s.Counts()["c"][StateQueued], "q, a, b")
	succeed(t, s, "q")
	c, err := s.Get(ctx, "c")
	require.NoError(t, err)
	require.Equal(t, StateQueued, c.State)
	require.False(t, hasPendingKey(t, s, "c"))
	require.Zero(t, s.Counts()["c"][StatePending])
}
