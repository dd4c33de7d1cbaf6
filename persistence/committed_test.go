package persistence

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// holdFirstSync opens a store whose first sync waits until release is called; entered is
// closed when it begins. syncs counts the syncs.
func holdFirstSync(t *testing.T, syncs *atomic.Int32) (s *Badger, entered chan struct{}, release func()) {
	t.Helper()
	entered, held := make(chan struct{}), make(chan struct{})
	release = sync.OnceFunc(func() { close(held) })
	s, err := OpenBadger(BadgerOptions{Dir: t.TempDir(), Logger: slog.New(slog.DiscardHandler), syncHook: func() error {
		if syncs.Add(1) == 1 {
			close(entered)
			<-held
		}
		return nil
	}})
	require.NoError(t, err)
	t.Cleanup(func() {
		release() // a test that failed while the sync was held
		require.NoError(t, s.Close())
	})
	return s, entered, release
}

// InsertCommitted tells of the jobs once committed, while the sync that acknowledges the insert
// is still running; a start (not durable) of such a job is answered before that sync ends.
func TestInsertCommittedTellsBeforeTheSync(t *testing.T) {
	var syncs atomic.Int32
	s, entered, release := holdFirstSync(t, &syncs)
	ctx := context.Background()

	told := make(chan []InsertResult, 1)
	done := make(chan error, 1)
	go func() {
		_, err := s.InsertCommitted(ctx, []*Job{queuedJob("early")}, func(res []InsertResult) { told <- res })
		done <- err
	}()
	res := <-told
	require.Len(t, res, 1)
	require.Equal(t, "early", res[0].Job.ID)
	require.Equal(t, StateQueued, res[0].Job.State)
	<-entered // the insert's sync is held
	select {
	case err := <-done:
		t.Fatalf("the insert was answered before its sync: %v", err)
	default:
	}

	j, err := s.Update(ctx, "early", func(j *Job) error { j.State = StateRunning; return nil }, false)
	require.NoError(t, err, "a start is answered while the insert's sync runs")
	require.Equal(t, StateRunning, j.State)
	select {
	case err := <-done:
		t.Fatalf("the insert was answered before its sync: %v", err)
	default:
	}
	release()
	require.NoError(t, <-done)
	require.Equal(t, int32(1), syncs.Load())
}

// Batches committed while the syncer syncs wait for it together (the writer goes on committing)
// and are synced once.
func TestBatchesWaitingForTheSyncerShareOneSync(t *testing.T) {
	var syncs atomic.Int32
	s, entered, release := holdFirstSync(t, &syncs)
	ctx := context.Background()

	const n = 5 // more batches than the syncer held before (two)
	done := make(chan error, n+1)
	insert := func(id string) {
		told := make(chan struct{})
		go func() {
			_, err := s.InsertCommitted(ctx, []*Job{queuedJob(id)}, func([]InsertResult) { close(told) })
			done <- err
		}()
		select { // committed: the next insert is a batch of its own
		case <-told:
		case <-time.After(testWait):
			t.Fatalf("insert %s not committed: the writer waits for the syncer", id)
		}
	}
	insert("first")
	<-entered
	for i := range n {
		insert(string(rune('a' + i)))
	}
	release()
	for range n + 1 {
		require.NoError(t, <-done)
	}
	require.Equal(t, int32(2), syncs.Load(), "the first sync, then one for the batches that waited")
}

// A commit that fails tells nobody: the hook runs only for a committed insert.
func TestInsertCommittedTellsNothingOfAFailedCommit(t *testing.T) {
	s, err := OpenBadger(BadgerOptions{Dir: t.TempDir(), Logger: slog.New(slog.DiscardHandler), commitHook: func() error {
		return errors.New("write vlog: input/output error")
	}})
	require.NoError(t, err)
	defer func() { require.NoError(t, s.Close()) }()
	var told atomic.Bool
	_, err = s.InsertCommitted(context.Background(), []*Job{queuedJob("a")}, func([]InsertResult) { told.Store(true) })
	require.ErrorIs(t, err, ErrStoreFailed)
	require.False(t, told.Load())
}
