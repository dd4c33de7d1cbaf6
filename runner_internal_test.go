package jobsched

import (
	"testing"
	"time"

	"github.com/jobsched/jobsched/persistence"
	"github.com/stretchr/testify/require"
)

// A finish tried again after the store made it but reported it failed must not land on the
// next attempt, even when that attempt has the same number (a shutdown gives the number back).
func TestAFinishLandsOnlyOnItsOwnAttempt(t *testing.T) {
	s := &Scheduler{cfg: Config{RetryBackoff: DefaultBackoff}}
	first := time.Unix(100, 1)
	second := time.Unix(200, 2)
	// Attempt 1 was given back by a shutdown and started again: same number, later start.
	j := &Job{State: StateRunning, Attempt: 1, StartedAt: &second, MaxAttempts: 3}
	shutdownOfFirst := s.finishAttempt(1, first, time.Unix(150, 0), outcome{shutdown: true})
	require.ErrorIs(t, shutdownOfFirst(j), persistence.ErrSkip)
	require.Equal(t, StateRunning, j.State)
	successOfSecond := s.finishAttempt(1, second, time.Unix(250, 0), outcome{result: []byte(`"ok"`)})
	require.NoError(t, successOfSecond(j))
	require.Equal(t, StateSucceeded, j.State)
}

// A start tried again after the store made it but reported it failed takes the job as it is;
// another start of the same job is refused.
func TestAStartAcceptsOnlyItsOwnEarlierWrite(t *testing.T) {
	at := time.Unix(100, 1)
	j := &Job{State: StateQueued}
	require.NoError(t, startAttempt(at)(j))
	require.Equal(t, 1, j.Attempt)
	require.NoError(t, startAttempt(at)(j), "its own start, tried again")
	require.Equal(t, 1, j.Attempt, "counted once")
	require.ErrorIs(t, startAttempt(time.Unix(100, 2))(j), persistence.ErrSkip, "another start")
}
