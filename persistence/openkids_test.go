package persistence

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/stretchr/testify/require"
)

// storedOpenKids scans the store's open d/ keys, by parent and key, with their children.
func storedOpenKids(t *testing.T, s *Badger) map[string]map[string][]string {
	t.Helper()
	out := map[string]map[string][]string{}
	require.NoError(t, s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(prefixDepends)})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			item := it.Item()
			p, g, open, err := parseDepend(item.Key()[len(prefixDepends):], func() ([]byte, error) { return item.ValueCopy(nil) }, int(item.ValueSize()))
			require.NoError(t, err)
			if !open {
				continue
			}
			if out[p] == nil {
				out[p] = map[string][]string{}
			}
			out[p][g.key] = g.kids
		}
		return nil
	}))
	return out
}

// The writer's in-memory open dependencies are exactly the store's open d/ keys: after inserts,
// after each parent's finish, and after the store is opened again.
func TestOpenKidsMatchTheStore(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	s, err := OpenBadger(BadgerOptions{Dir: dir})
	require.NoError(t, err)
	jobs := []*Job{newJobFor("r0"), newJobFor("r1")}
	for i := 0; i < 20; i++ {
		jobs = append(jobs, newJobFor(fmt.Sprintf("c%02d", i), "r0", "r1"))
	}
	for i := 0; i < 10; i++ {
		jobs = append(jobs, newJobFor(fmt.Sprintf("g%02d", i), fmt.Sprintf("c%02d", i), fmt.Sprintf("c%02d", i+10)))
	}
	_, err = s.Insert(ctx, jobs)
	require.NoError(t, err)
	check := func(s *Badger) {
		t.Helper()
		want := storedOpenKids(t, s)
		got := s.kids.all()
		require.False(t, s.kids.off)
		require.Equal(t, want, got)
		n := 0
		for _, m := range want {
			for _, kids := range m {
				n += len(kids)
			}
		}
		require.Equal(t, n, s.kids.n)
	}
	check(s)
	require.Len(t, s.kids.groups("r0"), 1, "one list of the 20 children of one insert")
	require.Len(t, s.kids.groups("r0")["c00\x00"], 20)

	finish := func(s *Badger, id string) {
		t.Helper()
		now := time.Now().UTC()
		_, err := s.Update(ctx, id, func(j *Job) error {
			j.State, j.FinishedAt = StateSucceeded, &now
			return nil
		}, true)
		require.NoError(t, err)
		check(s)
	}
	finish(s, "r0")
	require.NotContains(t, s.kids.by, "r0")
	for i := 0; i < 5; i++ {
		finish(s, fmt.Sprintf("c%02d", i)) // still pending: c's parent r1 is not done
	}
	require.NoError(t, s.Close())

	s, err = OpenBadger(BadgerOptions{Dir: dir})
	require.NoError(t, err)
	defer func() { require.NoError(t, s.Close()) }()
	check(s)
	require.Len(t, s.kids.groups("r1")["c00\x00"], 20)
	finish(s, "r1")
	c, err := s.Get(ctx, "c07")
	require.NoError(t, err)
	require.Equal(t, StateQueued, c.State)
}

func TestOpenKidsOpenMergesTheTransactionsWrites(t *testing.T) {
	var o openKids
	one := func(c string) depGroup { return depGroup{key: c, kids: []string{c}} }
	o.add("p", one("b"))
	o.add("p", one("d"))
	o.add("p", depGroup{key: "a\x00", kids: []string{"a", "a1", "a2"}})
	require.Equal(t, 5, o.n)
	out, more, ok := o.open("p", pendingOf(map[string]depWrite{"d": {kids: []string{"d"}}, "c": {kids: []string{"c"}, open: true}}), 10)
	require.True(t, ok)
	require.False(t, more)
	require.Equal(t, []depGroup{{key: "a\x00", kids: []string{"a", "a1", "a2"}}, one("b"), one("c")}, out)
	out, more, _ = o.open("p", keyed[depWrite]{}, 2) // whole lists, at least one
	require.True(t, more)
	require.Equal(t, []depGroup{{key: "a\x00", kids: []string{"a", "a1", "a2"}}}, out)
	out, more, _ = o.open("p", keyed[depWrite]{}, 4)
	require.True(t, more)
	require.Equal(t, []depGroup{{key: "a\x00", kids: []string{"a", "a1", "a2"}}, one("b")}, out)
	o.land(map[string]keyed[depWrite]{"p": pendingOf(map[string]depWrite{"a\x00": {}, "b": {}, "d": {}})})
	require.Empty(t, o.by)
	require.Zero(t, o.n)
}

// pendingOf is the keyed form of a parent's d/ writes in a transaction.
func pendingOf(m map[string]depWrite) keyed[depWrite] {
	var k keyed[depWrite]
	for key, w := range m {
		k.set(key, w)
	}
	return k
}
