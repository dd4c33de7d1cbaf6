package persistence

import (
	"testing"

	"github.com/dgraph-io/badger/v4"
	"github.com/stretchr/testify/require"
)

// The counts a request stages are seen by it at once, by later requests once its writes are in
// the transaction, by later transactions only once it landed; those of a request refused after
// its plan, or of a transaction that was thrown away, are never seen; a job no longer pending
// is not held.
func TestWaitCountsFollowTheTransactions(t *testing.T) {
	db, err := badger.Open(badger.DefaultOptions("").WithInMemory(true).WithLogger(nil))
	require.NoError(t, err)
	defer db.Close()
	var w waitCounts

	t1 := &wtxn{db: db}
	defer t1.discard()
	w.begin(t1)
	w.stage("a", waitCount{n: 3, key: true})
	c, ok := w.get(t1, "a")
	require.True(t, ok, "a request sees what it staged")
	require.Equal(t, waitCount{n: 3, key: true}, c)
	w.stage("b", waitCount{n: 1})
	w.note()
	w.begin(t1) // the next request of the same transaction
	w.stage("z", waitCount{n: 2, key: true})
	w.begin(t1) // ...was refused after its plan: what it staged is dropped
	_, ok = w.get(t1, "z")
	require.False(t, ok, "a refused request's count is not seen")
	c, ok = w.get(t1, "b")
	require.True(t, ok)
	require.Equal(t, waitCount{n: 1}, c, "a count of one has no key")
	w.land() // t1 committed

	t2 := &wtxn{db: db}
	defer t2.discard()
	w.begin(t2)
	c, ok = w.get(t2, "a")
	require.True(t, ok, "a landed count is held")
	require.Equal(t, uint64(3), c.n)
	w.stage("a", waitCount{n: 2, key: true})
	w.stage("b", waitCount{})
	w.note()
	c, _ = w.get(t2, "a")
	require.Equal(t, uint64(2), c.n)
	// t2 is thrown away (abort, or a commit that failed): remember never runs for it.

	t3 := &wtxn{db: db}
	defer t3.discard()
	w.begin(t3)
	c, ok = w.get(t3, "a")
	require.True(t, ok)
	require.Equal(t, uint64(3), c.n, "the discarded transaction's count is not seen")
	c, ok = w.get(t3, "b")
	require.True(t, ok)
	require.Equal(t, uint64(1), c.n, "nor its release")
	w.stage("b", waitCount{})
	w.note()
	w.land()
	_, ok = w.get(nil, "b")
	require.False(t, ok, "a job no longer pending is not held")
	require.Len(t, w.committed, 1)
}
