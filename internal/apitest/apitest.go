// Package apitest holds what the tests of the HTTP API and of its client share: a started
// scheduler, and a job with every field set.
package apitest

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/jobsched/jobsched"
	"github.com/stretchr/testify/require"
)

// Scheduler starts a scheduler of cfg with a handler that does nothing for each of kinds, and
// closes it when the test ends.
func Scheduler(t testing.TB, cfg jobsched.Config, kinds ...string) *jobsched.Scheduler {
	t.Helper()
	s, err := jobsched.New(cfg)
	require.NoError(t, err)
	for _, k := range kinds {
		require.NoError(t, s.Register(k, func(context.Context, *jobsched.Job) (any, error) { return nil, nil }))
	}
	require.NoError(t, s.Start(context.Background()))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, s.Close(ctx))
	})
	return s
}

// FullJob is a job with every field set, strings that encoding/json escapes and args with
// white space included.
func FullJob() *jobsched.Job {
	at := time.Date(2026, 11, 24, 21, 0, 0, 123456789, time.FixedZone("x", 3600))
	fin := at.Add(time.Second)
	return &jobsched.Job{ID: "0193-a", Kind: "sleep", Category: "default", Args: json.RawMessage(`{"a": [1, "b c"]}`),
		State: jobsched.StateRetrying, Attempt: 2, MaxAttempts: 5, Timeout: jobsched.Duration(1500 * time.Microsecond),
		UniqueKey: "u<1>", ConcurrencyKey: "c&d", FairnessKey: "tenant é", Errors: []jobsched.AttemptError{{Attempt: 1, At: at, Error: "boom <x>", Panic: true}},
		Result: json.RawMessage(`"ok"`), Progress: &jobsched.Progress{Percent: 50, Message: "half", At: at},
		CreatedAt: at, RunAt: at.Add(time.Minute), StartedAt: &at, FinishedAt: &fin, CancelRequested: true,
		Parents: []string{"p1", "p2"}, OnParentFailure: "run", Children: []string{"c\u2028"}, TraceParent: "00-abc-def-01", Seq: 42}
}
