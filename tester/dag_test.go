package tester

import (
	"bytes"
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jobsched/jobsched"
	"github.com/stretchr/testify/require"
)

func TestDAGDependsAreRandomDAGsOfTheGivenDepth(t *testing.T) {
	specs := make([]jobsched.JobSpec, 40)
	dagDepends(specs, 3, 80, 5)
	again := make([]jobsched.JobSpec, 40)
	dagDepends(again, 3, 80, 5)
	require.Equal(t, specs, again, "the same seed gives the same DAG")

	depth := make([]int, len(specs)) // the longest chain ending at each entry
	maxDepth := 0
	for i, s := range specs {
		if dagLevel(i, len(specs), 5) == 0 {
			require.Empty(t, s.DependsOn, "entry %d is a root", i)
		} else {
			require.NotEmpty(t, s.DependsOn, "entry %d", i)
		}
		for _, d := range s.DependsOn {
			require.True(t, strings.HasPrefix(d, "#"))
			p, err := strconv.Atoi(d[1:])
			require.NoError(t, err)
			require.Less(t, p, i, "entry %d depends only on earlier entries", i)
			depth[i] = max(depth[i], depth[p]+1)
		}
		maxDepth = max(maxDepth, depth[i])
	}
	require.Equal(t, 4, maxDepth, "5 levels: chains of 4 edges")
}

func TestDAGOrderCheckFindsAnEarlyStart(t *testing.T) {
	at := func(ms int) *time.Time { v := time.Unix(0, 0).Add(time.Duration(ms) * time.Millisecond); return &v }
	d := dagOrder{
		"p":  {state: jobsched.StateSucceeded, started: at(0), finished: at(10)},
		"ok": {state: jobsched.StateSucceeded, started: at(10), finished: at(20), parents: []string{"p"}},
	}
	edges, bad, _ := d.check()
	require.Equal(t, 1, edges)
	require.Zero(t, bad)
	d["early"] = dagJob{state: jobsched.StateSucceeded, started: at(9), finished: at(20), parents: []string{"p", "ok"}}
	d["f"] = dagJob{state: jobsched.StateDead, started: at(0), finished: at(5)}
	d["ranAfterFailure"] = dagJob{state: jobsched.StateSucceeded, started: at(6), finished: at(7), parents: []string{"f"}}
	d["cancelled"] = dagJob{state: jobsched.StateCancelled, finished: at(5), parents: []string{"f"}}
	edges, bad, ex := d.check()
	require.Equal(t, 5, edges)
	require.Equal(t, 3, bad, "early started before both its parents finished; one ran after its parent died")
	require.NotEmpty(t, ex)
}

func TestDAGRunChecksOrderAndFinishesEveryJob(t *testing.T) {
	rep, err := Run(context.Background(), Options{Embedded: true, Data: t.TempDir(), Jobs: 1000, DAGSize: 50, DAGDepth: 6,
		Concurrency: 3, Workers: 8, Duration: Dist{Exp: true, Mean: 0.5}, FailRate: 0.05, MaxAttempts: 1, Seed: 11})
	require.NoError(t, err)
	require.Equal(t, 1000, rep.Enqueued)
	require.Zero(t, rep.Lost)
	require.Equal(t, rep.Enqueued, rep.Succeeded+rep.Dead+rep.Cancelled, "every job final")
	require.Positive(t, rep.Dead, "5% of the attempts fail")
	require.Positive(t, rep.Cancelled, "the dependents of a dead job are cancelled")
	require.Greater(t, rep.DAGEdges, 20*(50-50/6), "every non-root entry has at least one parent")
	require.Zero(t, rep.OrderViolations, rep.OrderExample)
	require.Positive(t, rep.CompletePerS)
	var text bytes.Buffer
	rep.Text(&text)
	require.Contains(t, text.String(), "dependencies checked, 0 violated")
}

func TestDAGOptionsAreChecked(t *testing.T) {
	for _, o := range []Options{
		{Embedded: true, Data: "d", DAGSize: 1},
		{Embedded: true, Data: "d", DAGSize: maxDAGSize + 1},
		{Embedded: true, Data: "d", DAGSize: 10, DAGDepth: 1},
		{Embedded: true, Data: "d", DAGSize: 10, DAGDepth: 11},
		{Embedded: true, Data: "d", DAGSize: 10, Batch: 5},
		{Embedded: true, Data: "d", DAGSize: 10, Backlog: 5},
	} {
		_, err := Run(context.Background(), o)
		require.ErrorIs(t, err, ErrOptions, "%+v", o)
	}
	o := Options{Embedded: true, Data: "d", DAGSize: 3}
	require.NoError(t, o.checkDAG())
	require.Equal(t, 3, o.DAGDepth, "the default depth of 4, capped at the size")
}

func TestDAGShapes(t *testing.T) {
	in := make([]jobsched.JobSpec, 5)
	dagShaped(in, 1, 0, 4, dagFanIn)
	require.Equal(t, []string{"#0", "#1", "#2", "#3"}, in[4].DependsOn)
	for _, s := range in[:4] {
		require.Empty(t, s.DependsOn)
	}
	out := make([]jobsched.JobSpec, 5)
	dagShaped(out, 1, 0, 4, dagFanOut)
	require.Empty(t, out[0].DependsOn)
	for _, s := range out[1:] {
		require.Equal(t, []string{"#0"}, s.DependsOn)
	}
	o := Options{DAGSize: 10, DAGDepth: 2, DAGShape: "star"}
	require.ErrorContains(t, o.checkDAG(), "--dag-shape")
}
