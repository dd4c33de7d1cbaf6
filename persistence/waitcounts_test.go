package persistence

import (
	"encoding/binary"
	"testing"

	"github.com/dgraph-io/badger/v4"
	"github.com/stretchr/testify/require"
)

func countWrite(id string, n uint64) pendingWrite {
	if n == 0 {
		return pendingWrite{key: waitingKey(id), del: true}
	}
	return pendingWrite{key: waitingKey(id), value: binary.AppendUvarint(nil, n)}
}

// The counts of a transaction are seen by it at once, by later ones only once it landed; those
// of a transaction that was thrown away are never seen; a deleted count is not held.
func TestWaitCountsFollowTheTransactions(t *testing.T) {
	db, err := badger.Open(badger.DefaultOptions("").WithInMemory(true).WithLogger(nil))
	require.NoError(t, err)
	defer db.Close()
	var w waitCounts

	t1 := &wtxn{db: db}
	defer t1.discard()
	w.begin(t1)
	w.note([]pendingWrite{countWrite("a", 3), countWrite("b", 2), {key: dependKey("p", "a"), value: []byte{}}})
	n, ok := w.get(t1, "a")
	require.True(t, ok)
	require.Equal(t, uint64(3), n)
	w.land() // t1 committed

	t2 := &wtxn{db: db}
	defer t2.discard()
	w.begin(t2)
	n, ok = w.get(t2, "b")
	require.True(t, ok, "a landed count is held")
	require.Equal(t, uint64(2), n)
	w.note([]pendingWrite{countWrite("a", 2), countWrite("b", 0)})
	n, _ = w.get(t2, "a")
	require.Equal(t, uint64(2), n)
	// t2 is thrown away (abort, or a commit that failed): remember never runs for it.

	t3 := &wtxn{db: db}
	defer t3.discard()
	w.begin(t3)
	n, ok = w.get(t3, "a")
	require.True(t, ok)
	require.Equal(t, uint64(3), n, "the discarded transaction's count is not seen")
	n, ok = w.get(t3, "b")
	require.True(t, ok)
	require.Equal(t, uint64(2), n, "nor its delete")
	w.note([]pendingWrite{countWrite("b", 0)})
	w.land()
	_, ok = w.get(nil, "b")
	require.False(t, ok, "a deleted count is not held: it reads as absent from the store")
	require.Len(t, w.committed, 1)
}
