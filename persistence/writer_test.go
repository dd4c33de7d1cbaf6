package persistence

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/stretchr/testify/require"
)

// A start and a finish of the same job can share one batch. When the batch outgrows one
// transaction exactly at the finish, the writer commits what it has and plans the finish again:
// it must then see the start it just committed, not an older cached record (a bug once left such
// jobs "running" forever).
func TestWriterSplitsABatchAndKeepsItsCacheTrue(t *testing.T) {
	s, err := OpenBadger(BadgerOptions{})
	require.NoError(t, err)
	defer s.Close()
	ctx := context.Background()
	_, err = s.Insert(ctx, []*Job{{ID: "a", Kind: "k", Category: "c", State: StateQueued}}) // cached as queued
	require.NoError(t, err)

	start := &request{id: "a", fn: func(j *Job) error {
		if j.State != StateQueued {
			return ErrSkip
		}
		j.State = StateRunning
		return nil
	}}
	var big []*Job
	for i := 0; i < 50; i++ {
		big = append(big, &Job{ID: fmt.Sprint("big", i), Kind: "k", Category: "c", State: StateScheduled, Args: make([]byte, 100)})
	}
	filler := &request{inserts: big, encoded: make([][]byte, len(big))}
	for i, j := range big {
		filler.encoded[i] = encodeJob(j)
	}
	finish := &request{id: "a", fn: func(j *Job) error {
		if j.State != StateRunning {
			return ErrSkip
		}
		j.State = StateSucceeded
		return nil
	}}
	// Size the transaction cap so that start and filler fit and the finish does not.
	size := func(r *request) int64 {
		txn := s.newWtxn()
		defer txn.discard()
		w, err := s.plan(txn, r)
		require.NoError(t, err)
		n, _, err := s.weigh(w)
		require.NoError(t, err)
		return n
	}
	s.maxTxnBytes = size(start) + size(filler) + 10 // every write weighs more than 10 bytes

	done := 0
	for _, r := range []*request{start, filler, finish} {
		r.done = func(*request) { done++ }
	}
	// Stop the writer goroutine's own use of commit: it is idle; we call commit as it would.
	s.commit([]*request{start, filler, finish})
	s.pipe.drain() // the syncer answers them
	require.Equal(t, 3, done)
	require.NoError(t, start.err)
	require.NoError(t, filler.err)
	require.NoError(t, finish.err, "the finish saw the start committed just before it")
	j, err := s.Get(ctx, "a")
	require.NoError(t, err)
	require.Equal(t, StateSucceeded, j.State)
	require.Equal(t, uint64(3), s.Stats().Commits, "the first insert, then the batch in two transactions")
}

// A finished job's record carries the retention TTL (setAll), an unfinished one's none.
func TestAFinishedRecordExpiresAfterTheRetention(t *testing.T) {
	s, err := OpenBadger(BadgerOptions{Retention: time.Hour})
	require.NoError(t, err)
	defer s.Close()
	ctx := context.Background()
	_, err = s.Insert(ctx, []*Job{
		{ID: "done", Kind: "k", Category: "c", State: StateQueued},
		{ID: "open", Kind: "k", Category: "c", State: StateQueued},
	})
	require.NoError(t, err)
	_, err = s.Update(ctx, "done", func(j *Job) error { j.State = StateSucceeded; return nil }, false)
	require.NoError(t, err)
	expires := func(id string) uint64 {
		var at uint64
		require.NoError(t, s.db.View(func(txn *badger.Txn) error {
			item, err := txn.Get(jobKey(id))
			if err == nil {
				at = item.ExpiresAt()
			}
			return err
		}))
		return at
	}
	want := uint64(time.Now().Add(time.Hour).Unix())
	require.InDelta(t, want, expires("done"), 5)
	require.Zero(t, expires("open"))
}
