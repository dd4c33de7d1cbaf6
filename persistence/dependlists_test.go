package persistence

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/stretchr/testify/require"
)

// dependKeys returns the d/ keys of parent, after its prefix, with whether each is open.
func dependKeys(t *testing.T, s *Badger, parent string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	require.NoError(t, s.db.View(func(txn *badger.Txn) error {
		_, err := readDependGroups(txn, parent, func(g depGroup, open bool) bool {
			out[g.key] = open
			return false
		})
		return err
	}))
	return out
}

// The children of one parent in one insert share one d/ key, written once at the insert and
// once at the parent's finish; the API still lists each child.
func TestTheChildrenOfOneInsertShareOneDependKey(t *testing.T) {
	ctx := context.Background()
	s, err := OpenBadger(BadgerOptions{})
	require.NoError(t, err)
	defer func() { require.NoError(t, s.Close()) }()
	k0 := s.Stats().Keys
	_, err = s.Insert(ctx, []*Job{newJobFor("p"), newJobFor("a", "p"), newJobFor("b", "p"), newJobFor("c", "p")})
	require.NoError(t, err)
	require.Equal(t, uint64(2+3+1), s.Stats().Keys-k0, "p: record and q/; each child: its record (no w/ key: one parent); one d/ list")
	require.Equal(t, map[string]bool{"a\x00": true}, dependKeys(t, s, "p"))
	k0 = s.Stats().Keys
	succeed(t, s, "p")
	require.Equal(t, uint64(2+1+3*2), s.Stats().Keys-k0, "p: record and q/; the list marked done; each child: record and q/ (no w/ key to delete)")
	require.Equal(t, map[string]bool{"a\x00": false}, dependKeys(t, s, "p"))
	for _, id := range []string{"a", "b", "c"} {
		j, err := s.Get(ctx, id)
		require.NoError(t, err)
		require.Equal(t, StateQueued, j.State, id)
	}
	p, err := s.Get(ctx, "p")
	require.NoError(t, err)
	require.Equal(t, []string{"a", "b", "c"}, p.Children)
}

// A store written before the lists, one d/ key per dependency, is read: the start-up scan finds
// the open keys, a finish settles them (mixed with a list written since), the API lists them.
func TestAStoreWithOneDependKeyPerDependencyIsSettled(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	s, err := OpenBadger(BadgerOptions{Dir: dir})
	require.NoError(t, err)
	_, err = s.Insert(ctx, []*Job{newJobFor("p"), newJobFor("q"), newJobFor("a", "p"), newJobFor("b", "p", "q")})
	require.NoError(t, err)
	require.Equal(t, map[string]bool{"a\x00": true}, dependKeys(t, s, "p"))
	// Rewrite p's list the way the older binary wrote it: a key per dependency.
	txn := s.db.NewTransaction(true)
	require.NoError(t, txn.Delete(dependListKey("p", "a")))
	require.NoError(t, txn.Set(dependKey("p", "a"), []byte{}))
	require.NoError(t, txn.Set(dependKey("p", "b"), []byte{}))
	require.NoError(t, txn.Commit())
	require.NoError(t, s.Close())

	s, err = OpenBadger(BadgerOptions{Dir: dir})
	require.NoError(t, err)
	defer func() { require.NoError(t, s.Close()) }()
	require.Equal(t, map[string][]string{"a": {"a"}, "b": {"b"}}, s.kids.groups("p"))
	_, err = s.Insert(ctx, []*Job{newJobFor("c", "p"), newJobFor("d", "p")}) // a list, besides
	require.NoError(t, err)
	succeed(t, s, "p")
	require.Equal(t, map[string]bool{"a": false, "b": false, "c\x00": false}, dependKeys(t, s, "p"))
	for id, want := range map[string]State{"a": StateQueued, "b": StatePending, "c": StateQueued, "d": StateQueued} {
		j, err := s.Get(ctx, id)
		require.NoError(t, err)
		require.Equal(t, want, j.State, id)
	}
	succeed(t, s, "q")
	b, err := s.Get(ctx, "b")
	require.NoError(t, err)
	require.Equal(t, StateQueued, b.State)
	p, err := s.Get(ctx, "p")
	require.NoError(t, err)
	require.Equal(t, []string{"a", "b", "c", "d"}, p.Children)
}

// A parent with more children than a list holds has several lists; its finish settles them
// whole, over follow-up writes past maxSettle children, and releases each child once.
func TestAParentOfManyListsIsSettledListByList(t *testing.T) {
	ctx := context.Background()
	s, err := OpenBadger(BadgerOptions{})
	require.NoError(t, err)
	defer func() { require.NoError(t, s.Close()) }()
	_, err = s.Insert(ctx, []*Job{newJobFor("p")})
	require.NoError(t, err)
	const perInsert, inserts = 1250, 2
	for n := 0; n < inserts; n++ {
		var jobs []*Job
		for i := 0; i < perInsert; i++ {
			jobs = append(jobs, newJobFor(fmt.Sprintf("c%d-%04d", n, i), "p"))
		}
		_, err = s.Insert(ctx, jobs)
		require.NoError(t, err)
	}
	keys := dependKeys(t, s, "p")
	require.Len(t, keys, inserts*((perInsert+maxListKids-1)/maxListKids))
	require.Equal(t, inserts*perInsert, s.Counts()["c"][StatePending])
	commits := s.Stats().Commits
	succeed(t, s, "p")
	require.Eventually(t, func() bool { return s.Counts()["c"][StatePending] == 0 }, 10*time.Second, time.Millisecond)
	require.Greater(t, s.Stats().Commits-commits, uint64(1), "settled over follow-up writes")
	require.Equal(t, inserts*perInsert, s.Counts()["c"][StateQueued])
	queued, err := s.Queued(ctx, "c", 0, 2*inserts*perInsert)
	require.NoError(t, err)
	require.Len(t, queued, inserts*perInsert, "each child queued once")
	for k, open := range dependKeys(t, s, "p") {
		require.False(t, open, k)
	}
	require.NotContains(t, s.kids.by, "p")
}

// Reviving children of a list: the dead parent's dependencies reopen as keys of their own (its
// list stays done), the other parent's list, still open, is not written again, and each parent's
// finish counts once.
func TestRevivingTheChildrenOfAList(t *testing.T) {
	ctx := context.Background()
	s, err := OpenBadger(BadgerOptions{})
	require.NoError(t, err)
	defer func() { require.NoError(t, s.Close()) }()
	_, err = s.Insert(ctx, []*Job{newJobFor("x"), newJobFor("q"), newJobFor("a", "x", "q"), newJobFor("b", "x", "q")})
	require.NoError(t, err)
	now := time.Now().UTC()
	_, err = s.Update(ctx, "x", func(j *Job) error { j.State, j.FinishedAt = StateDead, &now; return nil }, true)
	require.NoError(t, err)
	for _, id := range []string{"a", "b"} {
		j, err := s.Get(ctx, id)
		require.NoError(t, err)
		require.Equal(t, StateCancelled, j.State, id)
	}
	n, failed, err := s.ReviveDependents(ctx, "x")
	require.NoError(t, err)
	require.Equal(t, 2, n)
	require.Empty(t, failed)
	require.Equal(t, map[string]bool{"a\x00": false, "a": true, "b": true}, dependKeys(t, s, "x"))
	require.Equal(t, map[string]bool{"a\x00": true}, dependKeys(t, s, "q"))
	_, err = s.Update(ctx, "x", func(j *Job) error { j.State, j.FinishedAt = StateQueued, nil; return nil }, true)
	require.NoError(t, err)
	succeed(t, s, "x")
	for _, id := range []string{"a", "b"} {
		j, err := s.Get(ctx, id)
		require.NoError(t, err)
		require.Equal(t, StatePending, j.State, "%s waits for q", id)
	}
	succeed(t, s, "q")
	for _, id := range []string{"a", "b"} {
		j, err := s.Get(ctx, id)
		require.NoError(t, err)
		require.Equal(t, StateQueued, j.State, id)
	}
	x, err := s.Get(ctx, "x")
	require.NoError(t, err)
	require.Equal(t, []string{"a", "b"}, x.Children)
}

func TestDependListCodec(t *testing.T) {
	for _, open := range []bool{true, false} {
		kids, o, err := decodeDependList(encodeDependList([]string{"a", "bb", "ccc"}, open))
		require.NoError(t, err)
		require.Equal(t, []string{"a", "bb", "ccc"}, kids)
		require.Equal(t, open, o)
	}
	for _, v := range [][]byte{nil, {0}, {2, 1, 'a'}, {0, 5, 'a'}} {
		_, _, err := decodeDependList(v)
		require.Error(t, err, "%q", v)
	}
}
