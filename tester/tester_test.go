package tester

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/jobsched/jobsched/internal/leaktest"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) {
	leaktest.VerifyTestMain(m)
}

func TestEmbeddedRunTracksEveryJob(t *testing.T) {
	var progress bytes.Buffer
	rep, err := Run(context.Background(), Options{Embedded: true, Data: t.TempDir(), Jobs: 2000, Batch: 50,
		Concurrency: 4, Workers: 20, Categories: []CategoryWeight{{"a", 3}, {"b", 1}}, Duration: Dist{Exp: true, Mean: 1},
		FailRate: 0.2, PanicRate: 0.05, MaxAttempts: 1, Seed: 42, Progress: &progress})
	require.NoError(t, err)
	require.Equal(t, 2000, rep.Enqueued)
	require.Zero(t, rep.Lost)
	require.Equal(t, rep.Enqueued, rep.Succeeded+rep.Dead+rep.Cancelled)
	// With one attempt each, about a quarter fail or panic: dead.
	require.InDelta(t, 500, rep.Dead, 150)
	require.Greater(t, rep.CompletePerS, 0.0)
	require.Greater(t, rep.StartLatencyMS.Max, 0.0)
	require.GreaterOrEqual(t, rep.FinishLatencyMS.P99, rep.FinishLatencyMS.P50)
	require.Contains(t, progress.String(), "enqueue: 2000/2000 done")
	var text bytes.Buffer
	rep.Text(&text)
	require.Contains(t, text.String(), "lost        0")
}

func TestSameSeedSameJobs(t *testing.T) {
	o := Options{Seed: 7, Duration: Dist{Exp: true, Mean: 20}, Categories: []CategoryWeight{{"a", 1}, {"b", 1}}}
	require.Equal(t, makeSpecs(o, 100, 10), makeSpecs(o, 100, 10))
	require.NotEqual(t, makeSpecs(o, 100, 10), makeSpecs(o, 110, 10))
}

func TestParsers(t *testing.T) {
	c, err := ParseCategories("email:3, sms:1,reports")
	require.NoError(t, err)
	require.Equal(t, []CategoryWeight{{"email", 3}, {"sms", 1}, {"reports", 1}}, c)
	for _, bad := range []string{"", "a:0", "a:x", ":3"} {
		_, err := ParseCategories(bad)
		require.Error(t, err, bad)
	}
	d, err := ParseDist("exp:20")
	require.NoError(t, err)
	require.Equal(t, Dist{Exp: true, Mean: 20}, d)
	d, err = ParseDist("5")
	require.NoError(t, err)
	require.Equal(t, Dist{Mean: 5}, d)
	for _, bad := range []string{"", "exp:", "-1", "fast"} {
		_, err := ParseDist(bad)
		require.Error(t, err, bad)
	}
}

func TestOptionsAreChecked(t *testing.T) {
	for _, o := range []Options{
		{},                                       // no target
		{Embedded: true},                         // no data
		{Addr: "http://x", Chaos: "kill"},        // chaos without spawn
		{Spawn: true, Data: "d", Chaos: "flood"}, // unknown chaos
		{Embedded: true, Data: "d", FailRate: 1.5}, // bad rate
		{Addr: "http://x", Backlog: 10},            // backlog without owning the store
		{Embedded: true, Data: "d", Backlog: -1},   // negative backlog
		{Embedded: true, Data: "d", Jobs: -5},      // negative jobs
	} {
		_, err := Run(context.Background(), o)
		require.ErrorIs(t, err, ErrOptions, "%+v", o)
	}
}

func TestSleepArgsAreWhatJSONWouldWrite(t *testing.T) {
	for _, c := range []struct {
		ms, fail, panic float64
		seed            uint64
	}{{0, 0, 0, 1}, {12.34, 0.2, 0.05, 1 << 63}, {1e-7, 1, 0, 42}} {
		want, err := json.Marshal(map[string]any{"ms": c.ms, "fail_rate": c.fail, "panic_rate": c.panic, "seed": c.seed})
		require.NoError(t, err)
		var got, exp map[string]any
		require.NoError(t, json.Unmarshal(sleepArgs(c.ms, c.fail, c.panic, c.seed), &got))
		require.NoError(t, json.Unmarshal(want, &exp))
		require.Equal(t, exp, got)
	}
}
