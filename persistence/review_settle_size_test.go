package persistence

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Review: settle bounds the children one finish releases by count (maxSettle = 2,000), not by
// bytes, and a released child's whole record (args included) is rewritten in the parent's
// commit. With the 14 MiB memtable (1,981,808 bytes a commit) 2,000 children of ~1 KB args
// no longer fit: the parent's finish is refused with ErrTooLarge (permanent) and its children
// stay pending. (With MemTableSize 20 MiB, 2,831,155 bytes a commit, the same finish passes.)
func TestReviewAParentOfTwoThousandChildrenWithKilobyteArgsCanFinish(t *testing.T) {
	for _, mt := range []int64{20 << 20, 0} {
		t.Run(fmt.Sprintf("memtable=%d", mt), func(t *testing.T) {
			s, err := OpenBadger(BadgerOptions{MemTableSize: mt})
			require.NoError(t, err)
			defer func() { require.NoError(t, s.Close()) }()
			insertParentOfKilobyteChildren(t, s)
			require.Equal(t, 2000, s.Counts()["c"][StatePending])
			succeed(t, s, "p") // fails with ErrTooLarge at the 14 MiB default
			require.Eventually(t, func() bool { return s.Counts()["c"][StatePending] == 0 }, 10e9, 1e6)
		})
	}
}

// insertParentOfKilobyteChildren stores job p and 2,000 pending children of it, each with ~1 KB
// of args (in batches of 500, each of which fits one commit).
func insertParentOfKilobyteChildren(t *testing.T, s *Badger) {
	t.Helper()
	ctx := context.Background()
	_, err := s.Insert(ctx, []*Job{newJobFor("p")})
	require.NoError(t, err)
	args := []byte(`"` + string(bytes.Repeat([]byte("a"), 1000)) + `"`)
	for b := range 4 {
		kids := make([]*Job, 500)
		for i := range kids {
			kids[i] = newJobFor(fmt.Sprintf("c%d-%04d", b, i), "p")
			kids[i].Args = args
		}
		_, err = s.Insert(ctx, kids)
		require.NoError(t, err)
	}
}

// Review: the runner's fallback for a finish refused as too large (runner.go, tooLargeAttempt)
// stores a failed attempt; once the parent is dead, its cancel cascade rewrites the same 2,000
// children (each with an error appended): refused too, and the parent stays running.
func TestReviewADeadParentOfTwoThousandChildrenWithKilobyteArgsCanFinish(t *testing.T) {
	ctx := context.Background()
	s, err := OpenBadger(BadgerOptions{})
	require.NoError(t, err)
	defer func() { require.NoError(t, s.Close()) }()
	insertParentOfKilobyteChildren(t, s)
	now := time.Now().UTC()
	_, err = s.Update(ctx, "p", func(j *Job) error { j.State, j.FinishedAt = StateDead, &now; return nil }, true)
	require.NoError(t, err)
}

// Reviving the 2,000 children of ~1 KB args that a dead parent's cascade cancelled rewrites each
// record too: the revive's pages are bounded by weight as well as by count.
func TestReviewReviveOfTwoThousandChildrenWithKilobyteArgsFits(t *testing.T) {
	ctx := context.Background()
	s, err := OpenBadger(BadgerOptions{})
	require.NoError(t, err)
	defer func() { require.NoError(t, s.Close()) }()
	insertParentOfKilobyteChildren(t, s)
	now := time.Now().UTC()
	_, err = s.Update(ctx, "p", func(j *Job) error { j.State, j.FinishedAt = StateDead, &now; return nil }, true)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return s.Counts()["c"][StateCancelled] == 2000 }, 10e9, 1e6)
	n, _, err := s.ReviveDependents(ctx, "p")
	require.NoError(t, err)
	require.Equal(t, 2000, n)
	require.Equal(t, 2000, s.Counts()["c"][StatePending])
}
