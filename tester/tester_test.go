package tester

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/jobsched/jobsched"
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
	require.Zero(t, rep.Unaccounted, "each failed attempt kept its error")
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

// A job's attempts add up when each attempt but the last (succeeded) or every attempt (dead) kept
// one error, in turn; a second run of an attempt, or a lost error, does not.
func TestAttemptsAccounted(t *testing.T) {
	errs := func(attempts ...int) []jobsched.AttemptError {
		var out []jobsched.AttemptError
		for _, a := range attempts {
			out = append(out, jobsched.AttemptError{Attempt: a, At: time.Now(), Error: "interrupted: node \"n1\" lost its lease"})
		}
		return out
	}
	for _, c := range []struct {
		state   jobsched.State
		attempt int
		errs    []jobsched.AttemptError
		ok      bool
	}{
		{jobsched.StateSucceeded, 1, nil, true},
		{jobsched.StateSucceeded, 3, errs(1, 2), true},
		{jobsched.StateSucceeded, 2, nil, false},          // ran twice, no interruption between
		{jobsched.StateSucceeded, 2, errs(1, 1), false},   // one attempt interrupted twice
		{jobsched.StateSucceeded, 2, errs(2), false},      // the error of another attempt
		{jobsched.StateDead, 2, errs(1, 2), true},         // the last attempt's error too
		{jobsched.StateDead, 2, errs(1), false},           // dead without its last error
		{jobsched.StateDead, 20, errs(make16()...), true}, // the scheduler keeps 16
		{jobsched.StateCancelled, 2, nil, true},           // not checked
	} {
		j := &jobsched.Job{State: c.state, Attempt: c.attempt, Errors: c.errs}
		require.Equal(t, c.ok, attemptsAccounted(j), "%s attempt %d errors %v", c.state, c.attempt, c.errs)
	}
}

func make16() []int {
	out := make([]int, 0, keptErrors)
	for i := 1; i <= keptErrors/2; i++ {
		out = append(out, i)
	}
	for i := 20 - keptErrors/2 + 1; i <= 20; i++ {
		out = append(out, i)
	}
	return out
}

// Cluster options are checked before anything starts, each error naming its flag.
func TestClusterOptionsAreChecked(t *testing.T) {
	for _, c := range []struct {
		o    Options
		flag string
	}{
		{Options{Nodes: -1}, "--nodes"},
		{Options{Store: "mysql://x"}, "--store"},
		{Options{Nodes: 2, Embedded: true, Data: "x"}, "--nodes"},
		{Options{Nodes: 2, Addr: "http://127.0.0.1:1"}, "--nodes"},
		{Options{Nodes: 2, Backlog: 10}, "--backlog"},
		{Options{Nodes: 2, Lease: 10 * time.Millisecond}, "--lease"},
		{Options{Nodes: 2, Chaos: "boom"}, "--chaos"},
		{Options{Embedded: true, Data: "x", UniqueKeys: 3}, "--unique-keys"},
		{Options{Nodes: 2, UniqueKeys: -1}, "--unique-keys"},
		{Options{Spawn: true, Data: "x", Chaos: "stop"}, "--chaos stop needs --nodes"},
		{Options{Addr: "http://127.0.0.1:1", Chaos: "kill"}, "--chaos kill needs"},
	} {
		_, err := Run(context.Background(), c.o)
		require.ErrorIs(t, err, ErrOptions, "%+v", c.o)
		require.ErrorContains(t, err, c.flag)
	}
	o := Options{Nodes: 3, Chaos: "kill, stop"}
	kinds, err := o.chaosKinds()
	require.NoError(t, err)
	require.Equal(t, []string{"kill", "stop"}, kinds)
}
