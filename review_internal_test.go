package jobsched

import (
	"testing"
	"time"

	"github.com/jobsched/jobsched/actors"
	"github.com/jobsched/jobsched/persistence"
	"github.com/stretchr/testify/require"
)

// stillClock is a clock that does not move (a fake clock, or a coarse one between two ticks).
type stillClock struct{ at time.Time }

func (c stillClock) Now() time.Time { return c.at }
func (c stillClock) AfterFunc(d time.Duration, f func()) actors.Timer {
	return time.AfterFunc(d, f)
}

// A start time names its attempt: a start tried again accepts the job running with its own
// start time. Two hand-offs of one job starting in the same clock instant (a lost hand-off
// taken back by the audit, a restarted Fifo) must still be two attempts, or both would run
// the handler.
func TestTwoStartsInOneClockInstantAreTwoAttempts(t *testing.T) {
	s := &Scheduler{cfg: Config{clock: stillClock{at: time.Unix(100, 0)}}}
	first, second := s.startStamp(), s.startStamp()
	require.False(t, first.Equal(second), "two starts, two start times")
	j := &Job{State: StateQueued}
	require.NoError(t, startAttempt(first)(j))
	require.ErrorIs(t, startAttempt(second)(j), persistence.ErrSkip, "the second hand-off is refused")
	// A give-back names the attempt by its start time too.
	later := time.Unix(101, 0)
	require.ErrorIs(t, giveBackStart(second, later)(j), persistence.ErrSkip, "not the second's start")
	require.NoError(t, giveBackStart(first, later)(j))
	require.Equal(t, StateQueued, j.State)
	require.Zero(t, j.Attempt, "the attempt given back is not counted")
}

// A cancel asked for while an abandoned start was in the store is not lost by the give-back:
// the job ends cancelled instead of going back to its queue.
func TestAGiveBackKeepsACancelAskedForMeanwhile(t *testing.T) {
	at := time.Unix(100, 0)
	j := &Job{State: StateQueued, MaxAttempts: 3}
	require.NoError(t, startAttempt(at)(j))
	j.CancelRequested = true // Cancel found it running
	require.NoError(t, giveBackStart(at, time.Unix(101, 0))(j))
	require.Equal(t, StateCancelled, j.State)
	require.NotNil(t, j.FinishedAt)
}

// Progress names its attempt as a finish does: by number and start time. A handler left running
// past Close reports on while the next start (same number: the shutdown gave it back) runs.
func TestProgressLandsOnlyOnItsOwnAttempt(t *testing.T) {
	first, second := time.Unix(100, 1), time.Unix(200, 2)
	j := &Job{State: StateRunning, Attempt: 1, StartedAt: &second}
	stale := attemptInfo{id: "j", attempt: 1, startedAt: first}
	require.ErrorIs(t, stale.progress(50, "old", time.Unix(210, 0))(j), persistence.ErrSkip)
	require.Nil(t, j.Progress)
	own := attemptInfo{id: "j", attempt: 1, startedAt: second}
	require.NoError(t, own.progress(50, "mine", time.Unix(210, 0))(j))
	require.Equal(t, "mine", j.Progress.Message)
}
