package postgres

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jobsched/jobsched/internal/pgtest"
	"github.com/jobsched/jobsched/persistence"
	"github.com/stretchr/testify/require"
)

// A refresh of the counts neither loses nor counts twice an insert of this node made while it
// counts (in a snapshot taken while no write was in flight): it applies those writes again to
// what it read.
func TestCountsRefreshKeepsTheWritesMadeWhileItCounts(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := Open(ctx, Options{DSN: pgtest.DSN(t), Node: "n1", CountsEvery: time.Hour})
	require.NoError(t, err)
	defer func() { require.NoError(t, s.Close()) }()
	batch := func(prefix string, n int) []*persistence.Job {
		now := time.Now()
		jobs := make([]*persistence.Job, n)
		for i := range jobs {
			jobs[i] = &persistence.Job{ID: fmt.Sprintf("%s-%02d", prefix, i), Kind: "k", Category: "c",
				State: persistence.StateQueued, MaxAttempts: 3, CreatedAt: now, RunAt: now}
		}
		return jobs
	}
	_, err = s.Insert(ctx, batch("before", 3))
	require.NoError(t, err)
	s.counts.counting = func() { // an insert of this node commits while the refresh counts
		_, err := s.Insert(ctx, batch("during", 5))
		require.NoError(t, err)
	}
	require.NoError(t, s.refreshCounts(ctx))
	s.counts.counting = nil
	require.Equal(t, 8, s.Counts()["c"][persistence.StateQueued], "3 in the snapshot, 5 applied again")
	_, err = s.Insert(ctx, batch("after", 2))
	require.NoError(t, err)
	require.Equal(t, 10, s.Counts()["c"][persistence.StateQueued])
	require.NoError(t, s.refreshCounts(ctx))
	require.Equal(t, 10, s.Counts()["c"][persistence.StateQueued], "read again")
}

// Refreshes of the counts running while this node inserts neither lose nor count twice an
// insert: a refresh counts in a snapshot taken while no write is in flight and applies again
// the writes made while it counted.
func TestCountsRefreshDuringWrites(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := Open(ctx, Options{DSN: pgtest.DSN(t), Node: "n1", CountsEvery: time.Hour})
	require.NoError(t, err)
	defer func() { require.NoError(t, s.Close()) }()
	const writers, batches, size = 4, 40, 10
	var wg sync.WaitGroup
	done := make(chan struct{})
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range batches {
				jobs := make([]*persistence.Job, size)
				now := time.Now()
				for i := range jobs {
					jobs[i] = &persistence.Job{ID: fmt.Sprintf("%d-%03d-%02d", w, b, i), Kind: "k", Category: "c",
						State: persistence.StateQueued, MaxAttempts: 3, CreatedAt: now, RunAt: now}
				}
				if _, err := s.Insert(ctx, jobs); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	go func() { wg.Wait(); close(done) }()
	refreshes := 0
	for running := true; running; {
		select {
		case <-done:
			running = false
		default:
			require.NoError(t, s.refreshCounts(ctx)) // back to back: inserts commit while each counts
			refreshes++
		}
	}
	require.Positive(t, refreshes)
	require.Equal(t, writers*batches*size, s.Counts()["c"][persistence.StateQueued],
		"the refreshes' reads and this node's writes since, after %d refreshes", refreshes)
	require.NoError(t, s.refreshCounts(ctx))
	require.Equal(t, writers*batches*size, s.Counts()["c"][persistence.StateQueued], "read again")
}

// A counts refresh waiting for the writes in flight holds no connection meanwhile: every write
// takes its share of the lock before its connection, so a refresh that took a connection first
// and then waited for a write that waits for a connection would never end (with a small pool,
// or one all of whose connections are so held), and the writes queued behind it neither.
func TestCountsRefreshHoldsNoConnectionWhileItWaitsForTheWrites(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := Open(ctx, Options{DSN: pgtest.DSN(t), Node: "n1", CountsEvery: time.Hour, MaxConns: 1})
	require.NoError(t, err)
	defer func() { require.NoError(t, s.Close()) }()

	s.counts.writing.RLock() // a write in flight, about to take its connection
	refreshed := make(chan error, 1)
	go func() { refreshed <- s.refreshCounts(ctx) }()
	require.Eventually(t, func() bool { // the refresh waits for the write
		if s.counts.writing.TryRLock() {
			s.counts.writing.RUnlock()
			return false
		}
		return true
	}, 10*time.Second, time.Millisecond)
	actx, acancel := context.WithTimeout(ctx, 2*time.Second)
	conn, err := s.pool.Acquire(actx) // the write takes its connection
	acancel()
	if err == nil {
		conn.Release()
	}
	s.counts.writing.RUnlock()
	require.NoError(t, err, "the refresh held the only connection while it waited for the write")
	require.NoError(t, <-refreshed)
}
