package persistence

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// syncedBuffer is a bytes.Buffer safe for the writer goroutine and the test.
type syncedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// How long a test waits for a condition, and how often it looks.
const (
	testWait = 5 * time.Second
	testTick = time.Millisecond
)

func queuedJob(id string) *Job { return &Job{ID: id, Kind: "k", Category: "c", State: StateQueued} }

// A failed fsync fails the store, as PostgreSQL does: the write it covered is told failed,
// every later write too (even once the disk would sync again), one error line is logged; the
// job committed before the failed sync may be found after a restart (at-least-once).
func TestAFailedSyncFailsTheStore(t *testing.T) {
	dir := t.TempDir()
	var failSync atomic.Bool
	var log syncedBuffer
	opt := BadgerOptions{Dir: dir, Logger: slog.New(slog.NewTextHandler(&log, nil)),
		syncHook: func() error {
			if failSync.Load() {
				return errors.New("input/output error")
			}
			return nil
		}}
	s, err := OpenBadger(opt)
	require.NoError(t, err)
	ctx := context.Background()
	_, err = s.Insert(ctx, []*Job{queuedJob("before")})
	require.NoError(t, err)
	require.NoError(t, s.Err())

	failSync.Store(true)
	_, err = s.Insert(ctx, []*Job{queuedJob("phantom")})
	require.ErrorIs(t, err, ErrStoreFailed)
	require.True(t, strings.HasPrefix(err.Error(), "store failed: sync after commit: input/output error"), err.Error())
	require.ErrorIs(t, s.Err(), ErrStoreFailed)
	require.Equal(t, s.Err(), err, "the sticky error")
	require.True(t, Permanent(err))
	failSync.Store(false) // the disk would sync again: too late, nothing is trusted

	_, err = s.Insert(ctx, []*Job{queuedJob("after")})
	require.ErrorIs(t, err, ErrStoreFailed)
	_, err = s.Update(ctx, "before", func(j *Job) error { j.State = StateRunning; return nil }, false)
	require.ErrorIs(t, err, ErrStoreFailed, "non-durable writes too")
	done := make(chan error, 1)
	s.UpdateAsync("before", func(j *Job) error { j.State = StateRunning; return nil }, true, func(_ *Job, err error) { done <- err })
	require.ErrorIs(t, <-done, ErrStoreFailed)
	got, err := s.Get(ctx, "before")
	require.NoError(t, err, "reads keep working")
	require.Equal(t, StateQueued, got.State)
	q, err := s.Queued(ctx, "c", 0, 10)
	require.NoError(t, err, "Queued too, though the writer answers it")
	require.NotEmpty(t, q)
	require.Equal(t, "before", q[0].ID)
	_, err = s.Get(ctx, "after")
	require.ErrorIs(t, err, ErrNotFound, "nothing is written once failed")
	require.Equal(t, 1, strings.Count(log.String(), "level=ERROR"), "one error line: %s", log.String())
	require.Contains(t, log.String(), "store failed")
	require.NoError(t, s.Close())

	// A restart reads what is really on disk: the write told "failed" may be there.
	opt.syncHook = nil
	s, err = OpenBadger(opt)
	require.NoError(t, err)
	defer s.Close()
	require.NoError(t, s.Err())
	_, err = s.Get(ctx, "phantom")
	require.NoError(t, err, "committed before the failed sync: kept, though its caller was told it failed")
	_, err = s.Insert(ctx, []*Job{queuedJob("later")})
	require.NoError(t, err)
}

// Writes waiting for the writer while the sync fails are refused too, never acknowledged.
func TestWritesPendingDuringAFailedSyncFail(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	var calls atomic.Int32
	s, err := OpenBadger(BadgerOptions{Dir: t.TempDir(), Logger: slog.New(slog.DiscardHandler), syncHook: func() error {
		if calls.Add(1) == 1 {
			close(entered)
			<-release
			return errors.New("no space left on device")
		}
		return nil
	}})
	require.NoError(t, err)
	defer s.Close()
	ctx := context.Background()

	const n = 20
	errs := make(chan error, n+1)
	go func() {
		_, err := s.Insert(ctx, []*Job{queuedJob("first")})
		errs <- err
	}()
	<-entered // the writer is in the first sync
	for i := 0; i < n; i++ {
		go func() {
			_, err := s.Insert(ctx, []*Job{queuedJob(fmt.Sprint("pending-", i))})
			errs <- err
		}()
	}
	// Each is either waiting for the writer or committed and waiting for the syncer, held up
	// behind the first one's sync.
	require.Eventually(t, func() bool { return len(s.reqs)+int(s.pipe.held.Load()) == n+1 }, testWait, testTick, "all pending")
	close(release)
	for i := 0; i < n+1; i++ {
		require.ErrorIs(t, <-errs, ErrStoreFailed)
	}
	require.Equal(t, int32(1), calls.Load(), "no sync after the failure")
	require.Zero(t, s.Stats().Writes, "nothing acknowledged")
}

// A failed commit fails the store like a failed sync.
func TestAFailedCommitFailsTheStore(t *testing.T) {
	var failCommit atomic.Bool
	s, err := OpenBadger(BadgerOptions{Dir: t.TempDir(), Logger: slog.New(slog.DiscardHandler), commitHook: func() error {
		if failCommit.Load() {
			return errors.New("write vlog: input/output error")
		}
		return nil
	}})
	require.NoError(t, err)
	defer s.Close()
	ctx := context.Background()
	_, err = s.Insert(ctx, []*Job{queuedJob("a")})
	require.NoError(t, err)
	failCommit.Store(true)
	_, err = s.Update(ctx, "a", func(j *Job) error { j.State = StateRunning; return nil }, false)
	require.ErrorIs(t, err, ErrStoreFailed)
	require.Contains(t, err.Error(), "store failed: commit: write vlog")
	require.ErrorIs(t, s.Err(), ErrStoreFailed)
	failCommit.Store(false)
	_, err = s.Insert(ctx, []*Job{queuedJob("b")})
	require.ErrorIs(t, err, ErrStoreFailed)
	require.Equal(t, map[State]int{StateQueued: 1}, map[State]int(s.Counts()["c"]), "a failed write moves no count")
}

// A caller whose ctx ended before the call writes nothing; one whose ctx ends while its write is
// in the writer gets ctx's error, and the write completes all the same (the outcome is unknown
// to the caller, so the scheduler finds such jobs in the store, not in the answer).
func TestAWriteOutlivesItsCallersContext(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	var calls atomic.Int32
	s, err := OpenBadger(BadgerOptions{Dir: t.TempDir(), syncHook: func() error {
		if calls.Add(1) == 1 {
			close(entered)
			<-release
		}
		return nil
	}})
	require.NoError(t, err)
	defer s.Close()

	gone, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = s.Insert(gone, []*Job{queuedJob("never")})
	require.ErrorIs(t, err, context.Canceled)
	_, err = s.Update(gone, "never", func(*Job) error { return nil }, true)
	require.ErrorIs(t, err, context.Canceled)

	ctx, leave := context.WithCancel(context.Background())
	res := make(chan error, 1)
	go func() {
		_, err := s.Insert(ctx, []*Job{queuedJob("left")})
		res <- err
	}()
	<-entered // committed, syncing
	leave()
	require.ErrorIs(t, <-res, context.Canceled)
	close(release)
	require.Eventually(t, func() bool { return s.Stats().Writes == 1 }, testWait, testTick)
	_, err = s.Get(context.Background(), "left")
	require.NoError(t, err, "the write completed after its caller left")
	_, err = s.Get(context.Background(), "never")
	require.ErrorIs(t, err, ErrNotFound)
	require.NoError(t, s.Err())
}

func TestPermanentErrors(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{fmt.Errorf("%w: x", ErrNotFound), true},
		{ErrSkip, true},
		{ErrClosed, true},
		{fmt.Errorf("%w: sync: %w", ErrStoreFailed, errors.New("eio")), true},
		{fmt.Errorf("%w: big", ErrTooLarge), true},
		{fmt.Errorf("%w: 10 bytes free", ErrDiskFull), false},
		{errors.New("read job a: transient"), false},
		{context.Canceled, false},
		{nil, false},
	} {
		require.Equal(t, tc.want, Permanent(tc.err), "%v", tc.err)
	}
}
