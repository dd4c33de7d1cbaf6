package persistence

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/stretchr/testify/require"
)

func TestOpenBadgerSyncsTheLogsItself(t *testing.T) {
	if !ownLogSync {
		t.Skip("DB.Sync on this system")
	}
	s, err := OpenBadger(BadgerOptions{Dir: t.TempDir()})
	require.NoError(t, err)
	require.NotNil(t, s.wal, "a store on disk syncs badger's logs through its own descriptors")
	require.NoError(t, s.Close())

	mem, err := OpenBadger(BadgerOptions{})
	require.NoError(t, err)
	require.Nil(t, mem.wal, "in memory there is nothing to sync")
	require.NoError(t, mem.Close())
}

func TestNewWALSyncRefusesADirectoryWithoutBadgersLogs(t *testing.T) {
	_, err := newWALSync(t.TempDir())
	require.ErrorContains(t, err, "logs not found")
}

// The syncer follows badger as it moves to new memtable logs and value log files, syncs them,
// and lets go of the memtable logs badger deleted and of the value log files it finished.
func TestWALSyncFollowsBadgersNewLogsAndDropsTheDeletedOnes(t *testing.T) {
	dir := t.TempDir()
	db, err := badger.Open(badger.DefaultOptions(dir).WithLogger(nil).
		WithMemTableSize(1 << 20).WithNumMemtables(1).WithValueLogFileSize(1 << 20).
		WithValueThreshold(64 << 10).WithBaseTableSize(1 << 20))
	require.NoError(t, err)
	defer func() { require.NoError(t, db.Close()) }()
	w, err := newWALSync(dir)
	require.NoError(t, err)
	defer w.close()
	firstMem, firstVlog := w.nextMem, w.nextVlog

	small := make([]byte, 1000)
	big := make([]byte, 100<<10) // to the value log
	for i := range 12_000 {
		require.NoError(t, db.Update(func(txn *badger.Txn) error {
			v := small
			if i%400 == 0 {
				v = big
			}
			return txn.Set([]byte(fmt.Sprintf("k%06d", i)), v)
		}))
		if i%100 == 0 {
			require.NoError(t, w.sync())
		}
	}
	require.NoError(t, w.sync())
	require.GreaterOrEqual(t, w.nextMem-firstMem, uint64(5), "12 MB through 1 MiB memtables: new logs found")
	require.Greater(t, w.nextVlog, firstVlog, "the value log moved to a new file: found")
	require.Len(t, w.vlogs, 1, "only the value log file badger writes stays open")
	require.Contains(t, w.vlogs, w.nextVlog-1)
	// Badger deletes a memtable's log once its table is written: at most the current memtable,
	// one waiting and one flushing stay open.
	require.Eventually(t, func() bool {
		return w.sync() == nil && len(w.mems) <= 3
	}, 10*time.Second, 10*time.Millisecond)
}

// If badger ever numbers a new memtable log other than next, the syncer finds it when the one it
// knew as the newest is gone, instead of syncing nothing from then on.
func TestWALSyncFindsANewestLogOutOfSequence(t *testing.T) {
	dir := t.TempDir()
	touch := func(name string) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o600))
	}
	touch("00001.mem")
	touch("000002.vlog")
	w, err := newWALSync(dir)
	require.NoError(t, err)
	defer w.close()
	require.NoError(t, w.sync())
	require.Equal(t, uint64(2), w.nextMem)

	touch("00005.mem")
	require.NoError(t, os.Remove(filepath.Join(dir, "00001.mem")))
	require.NoError(t, w.sync())
	require.Equal(t, uint64(6), w.nextMem)
	require.Contains(t, w.mems, uint64(5))
	require.NotContains(t, w.mems, uint64(1), "the deleted log is let go")

	require.NoError(t, os.Remove(filepath.Join(dir, "00005.mem")))
	require.ErrorContains(t, w.sync(), "current memtable log not found")
}

// A reader holding an old memtable keeps its log on disk while badger flushes and deletes the
// next one: the newest log the syncer knows is still there, the one after it is gone, and the
// current log is numbered past the gap. The syncer must still find and sync it.
func TestWALSyncFindsTheCurrentLogPastADeletedOneWhileAnOlderStays(t *testing.T) {
	dir := t.TempDir()
	db, err := badger.Open(badger.DefaultOptions(dir).WithLogger(nil).
		WithMemTableSize(1 << 20).WithNumMemtables(1).WithValueThreshold(64 << 10).WithBaseTableSize(1 << 20))
	require.NoError(t, err)
	defer func() { require.NoError(t, db.Close()) }()
	w, err := newWALSync(dir)
	require.NoError(t, err)
	defer w.close()
	held := w.nextMem - 1

	// An iterator holds a reference on the current memtable (and keeps its log on disk).
	txn := db.NewTransaction(false)
	defer txn.Discard()
	it := txn.NewIterator(badger.DefaultIteratorOptions)
	defer it.Close()
	small := make([]byte, 1000)
	next := w.nextMem
	seen := false
	for i := 0; ; i++ {
		require.NoError(t, db.Update(func(txn *badger.Txn) error {
			return txn.Set([]byte(fmt.Sprintf("k%06d", i)), small)
		}))
		_, err := os.Stat(w.memPath(next))
		if err == nil {
			seen = true
		} else if seen {
			break // created, flushed and deleted between two syncs
		}
		require.Less(t, i, 20_000, "memtable log %d never created and deleted", next)
	}
	_, err = os.Stat(w.memPath(held))
	require.NoError(t, err, "the iterator keeps the older log on disk")

	require.NoError(t, w.sync())
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var newest uint64
	for _, e := range entries {
		if fid, ok := logNumber(e.Name(), ".mem"); ok {
			newest = max(newest, fid)
		}
	}
	require.Greater(t, newest, next)
	require.Contains(t, w.mems, newest, "the current memtable log is synced")
}
