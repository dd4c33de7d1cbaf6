package tester

import (
	"testing"
	"time"

	"github.com/jobsched/jobsched"
	"github.com/stretchr/testify/require"
)

// A rescue belongs to the latest fault of its node before it; the figures are the first rescue
// and the first start again after each fault. Errors that are not a lost lease are ignored.
func TestFaultFigures(t *testing.T) {
	began := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(s float64) time.Time { return began.Add(time.Duration(s * float64(time.Second))) }
	ptr := func(t time.Time) *time.Time { return &t }
	lost := func(node string, attempt int, s float64) jobsched.AttemptError {
		return jobsched.AttemptError{Attempt: attempt, At: at(s), Error: `interrupted: node "` + node + `" lost its lease while this attempt ran`}
	}
	jobs := []*jobsched.Job{
		{State: jobsched.StateSucceeded, Attempt: 2, StartedAt: ptr(at(3.1)), Errors: []jobsched.AttemptError{lost("n1", 1, 3)}},
		{State: jobsched.StateSucceeded, Attempt: 2, StartedAt: ptr(at(3.5)), Errors: []jobsched.AttemptError{lost("n1", 1, 3.4)}},
		{State: jobsched.StateSucceeded, Attempt: 3, StartedAt: ptr(at(12.2)),
			Errors: []jobsched.AttemptError{{Attempt: 1, At: at(2), Error: "boom"}, lost("n2", 2, 12)}},
		{State: jobsched.StateDead, Attempt: 1, StartedAt: ptr(at(20)), Errors: []jobsched.AttemptError{lost("n3", 1, 21)}},
		{State: jobsched.StateSucceeded, Attempt: 2, StartedAt: ptr(at(5.1)), Errors: []jobsched.AttemptError{lost("n9", 1, 5)}},
	}
	var losses []leaseLoss
	for _, j := range jobs {
		losses = append(losses, leaseLosses(j)...)
	}
	require.Len(t, losses, 5, "the failed attempt is not a lost lease")
	faults := []fault{{"kill", "n1", at(1)}, {"stop", "n2", at(4)}, {"stop", "n2", at(10)}, {"kill", "n3", at(19)}}
	got := faultFigures(faults, losses, began)
	require.Len(t, got, 4)
	require.Equal(t, "kill", got[0].Kind)
	require.Equal(t, 2, got[0].Jobs)
	require.InDelta(t, 2.0, got[0].RescueS, 1e-9)
	require.InDelta(t, 2.1, got[0].RunningS, 1e-9)
	require.Zero(t, got[1].Jobs, "the first stop of n2 cut nothing off")
	require.Equal(t, 1, got[2].Jobs)
	require.InDelta(t, 2.0, got[2].RescueS, 1e-9)
	require.InDelta(t, 2.2, got[2].RunningS, 1e-9)
	require.Equal(t, 1, got[3].Jobs)
	require.InDelta(t, 2.0, got[3].RescueS, 1e-9)
	require.Zero(t, got[3].RunningS, "dead on the rescue: not started again")
}

func TestLostLeaseNode(t *testing.T) {
	n, ok := lostLeaseNode(`interrupted: node "worker-1" lost its lease while this attempt ran`)
	require.True(t, ok)
	require.Equal(t, "worker-1", n)
	_, ok = lostLeaseNode("interrupted: the process stopped")
	require.False(t, ok)
	_, ok = lostLeaseNode(`boom: node "n1" lost its lease`)
	require.False(t, ok)
}
