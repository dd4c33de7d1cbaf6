package storetest

import (
	"testing"

	"github.com/jobsched/jobsched/persistence"
	"github.com/stretchr/testify/require"
)

// testTraceParent: a job's trace parent is stored with it, kept through updates, and read back
// by Get, List and the queued read; a job without one reads with none.
func testTraceParent(t *testing.T, s persistence.Store) {
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	traced := newJob("t1", "c", persistence.StateQueued)
	traced.TraceParent = tp
	withDeps := newJob("t2", "c", persistence.StatePending)
	withDeps.TraceParent, withDeps.Parents = tp, []string{"t1"}
	insert(t, s, traced, withDeps, newJob("plain", "c", persistence.StateQueued))
	for id, want := range map[string]string{"t1": tp, "t2": tp, "plain": ""} {
		j, err := s.Get(ctx, id)
		require.NoError(t, err)
		require.Equal(t, want, j.TraceParent, id)
	}
	j, err := s.Update(ctx, "t1", func(j *persistence.Job) error {
		j.State, j.Attempt = persistence.StateRunning, 1
		return nil
	}, false)
	require.NoError(t, err)
	require.Equal(t, tp, j.TraceParent)
	j, err = s.Get(ctx, "t1")
	require.NoError(t, err)
	require.Equal(t, tp, j.TraceParent, "kept through an update")
	list, _, err := s.List(ctx, persistence.ListOptions{Limit: 10})
	require.NoError(t, err)
	for _, j := range list {
		if j.ID == "t2" {
			require.Equal(t, tp, j.TraceParent, "List reads it")
			require.Equal(t, []string{"t1"}, j.Parents)
		}
	}
}
