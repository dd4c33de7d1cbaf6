package actors

import (
	"testing"

	"github.com/jobsched/jobsched/persistence"
	"github.com/stretchr/testify/require"
)

// A lent worker takes one job at a time, none while it drains or once its incarnation stopped
// (its channel closed: a give must not send on it), and counts itself busy while it has one.
func TestLentGivesOneJobAtATime(t *testing.T) {
	st := &CategoryStats{}
	l := &Lent{stats: st, runs: make(chan run, 1)}
	j := &persistence.Job{ID: "a"}

	require.True(t, l.give(j, 1))
	require.True(t, l.running())
	require.False(t, l.give(j, 2), "an attempt runs already")
	require.EqualValues(t, 1, st.Busy.Load())
	require.EqualValues(t, 1, st.Dispatched.Load())
	r := <-l.runs
	require.Equal(t, run{job: j, token: 1}, r)
	draining, stopped, recalled := l.end()
	require.False(t, draining)
	require.False(t, stopped)
	require.False(t, recalled)
	require.False(t, l.running())
	require.EqualValues(t, 0, st.Busy.Load())

	require.True(t, l.give(j, 3), "free again once the attempt ended")
	<-l.runs
	l.end()
	require.False(t, l.drain(), "no attempt runs")
	require.False(t, l.give(j, 4), "a draining worker takes no job")

	s := &Lent{stats: st, runs: make(chan run, 1)}
	require.True(t, s.give(j, 5))
	s.stop()
	s.stop() // twice: the channel is closed once
	require.False(t, s.give(j, 6), "a stopped incarnation takes no job")
	got, ok := <-s.runs
	require.True(t, ok, "the job given before the stop is still run (and ends the attempt)")
	require.Equal(t, uint64(5), got.token)
	_, stopped, _ = s.end()
	require.True(t, stopped)
	_, ok = <-s.runs
	require.False(t, ok)
	require.EqualValues(t, 0, st.Busy.Load())
	require.EqualValues(t, 3, st.Dispatched.Load())
}
