package jobsched

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestThroughputRingForgetsMinutesOlderThanAnHour(t *testing.T) {
	var tp throughput
	t0 := time.Date(2026, 11, 24, 10, 0, 30, 0, time.UTC)
	done := func(at time.Time) *Job { return &Job{Category: "c", State: StateSucceeded, FinishedAt: &at} }
	tp.add(done(t0))
	tp.add(done(t0.Add(20 * time.Second)))
	tp.add(done(t0.Add(59 * time.Minute)))
	tp.add(&Job{Category: "c", State: StateQueued}) // no attempt ended: ignored

	got := tp.last("c", t0.Add(59*time.Minute))
	require.Equal(t, 2, got[0].Succeeded, "10:00 holds two")
	require.Equal(t, 1, got[59].Succeeded, "10:59 holds one")

	tp.add(done(t0.Add(60 * time.Minute))) // 11:00 takes 10:00's slot
	got = tp.last("c", t0.Add(60*time.Minute))
	require.Equal(t, 1, got[58].Succeeded, "10:59")
	require.Equal(t, 1, got[59].Succeeded, "11:00 alone, 10:00 forgotten")
	tp.add(done(t0)) // a late report of 10:00 finds its slot taken by a newer minute
	require.Equal(t, 1, tp.last("c", t0.Add(60*time.Minute))[59].Succeeded)
	require.Equal(t, 0, tp.last("c", t0.Add(3*time.Hour))[59].Succeeded, "hours later: nothing")
	require.Len(t, tp.last("unknown", t0), ThroughputMinutes)
}
