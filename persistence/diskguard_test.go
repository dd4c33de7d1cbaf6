package persistence

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A disk below the reserve refuses inserts from the first commit on.
func TestADiskBelowTheReserveRefusesInserts(t *testing.T) {
	s, err := OpenBadger(BadgerOptions{Dir: t.TempDir(), MinFreeBytes: 1 << 62})
	require.NoError(t, err)
	defer s.Close()
	_, err = s.Insert(context.Background(), []*Job{{ID: "a", Kind: "k", Category: "c", State: StateQueued}})
	require.ErrorIs(t, err, ErrDiskFull)
	require.Empty(t, s.Counts()["c"])
}

// freeBytes trusts its last statfs for a while, less what was committed since, and asks again
// once that is an eighth of the reserve.
func TestFreeBytesCountsWhatWasCommittedSinceItsStatfs(t *testing.T) {
	s := &Badger{opt: BadgerOptions{Dir: t.TempDir(), MinFreeBytes: 1 << 30}}
	free := s.freeBytes()
	require.Positive(t, free)
	require.Equal(t, free, s.free.bytes)
	s.free.at = time.Now().Add(time.Hour) // no statfs due for an hour
	s.free.spent = 1000
	require.Equal(t, free-1000, s.freeBytes())
	s.free.spent = s.opt.MinFreeBytes / 8
	require.Greater(t, s.freeBytes(), free-s.opt.MinFreeBytes/8, "a new statfs")
	require.Zero(t, s.free.spent)
	require.Equal(t, int64(-1), (&Badger{}).freeBytes(), "in memory")
}
