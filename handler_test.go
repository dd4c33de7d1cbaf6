package jobsched_test

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/jobsched/jobsched"
	"github.com/stretchr/testify/require"
)

func noopHandler(context.Context, *jobsched.Job) (any, error) { return nil, nil }

// checkN is a Validator that wants {"n": a positive integer}.
func checkN(args json.RawMessage) error {
	var a struct {
		N int `json:"n"`
	}
	if err := json.Unmarshal(args, &a); err != nil {
		return &jobsched.InvalidError{Reason: "must be an object"}
	}
	if a.N < 1 {
		return &jobsched.InvalidError{Field: "n", Reason: "must be at least 1"}
	}
	return nil
}

func TestValidatorRunsAtEnqueueAndNamesTheField(t *testing.T) {
	s, err := jobsched.New(jobsched.Config{})
	require.NoError(t, err)
	require.NoError(t, s.RegisterWithValidator("count", noopHandler, checkN))
	require.NoError(t, s.RegisterWithValidator("plain", noopHandler, func(json.RawMessage) error { return errors.New("never") }))
	require.NoError(t, s.Register("plain", noopHandler), "registering again without a validator drops it")
	require.NoError(t, s.Start(context.Background()))
	t.Cleanup(func() { require.NoError(t, s.Close(context.Background())) })
	ctx := context.Background()

	cases := []struct {
		name  string
		specs []jobsched.JobSpec
		field string
	}{
		{"a field inside args", []jobsched.JobSpec{{Kind: "count", Args: json.RawMessage(`{"n":0}`)}}, "args.n"},
		{"args as a whole", []jobsched.JobSpec{{Kind: "count", Args: json.RawMessage(`"x"`)}}, "args"},
		{"in a batch", []jobsched.JobSpec{{Kind: "count", Args: json.RawMessage(`{"n":1}`)}, {Kind: "count"}}, "jobs[1].args"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			if len(tc.specs) == 1 {
				_, err = s.Enqueue(ctx, tc.specs[0])
			} else {
				_, err = s.EnqueueBatch(ctx, tc.specs)
			}
			var inv *jobsched.InvalidError
			require.ErrorAs(t, err, &inv)
			require.ErrorIs(t, err, jobsched.ErrInvalid)
			require.Equal(t, tc.field, inv.Field)
		})
	}
	jobs, _, err := s.List(ctx, jobsched.ListOptions{})
	require.NoError(t, err)
	require.Empty(t, jobs, "nothing refused was stored")

	_, err = s.Enqueue(ctx, jobsched.JobSpec{Kind: "count", Args: json.RawMessage(`{"n":2}`)})
	require.NoError(t, err)
	_, err = s.Enqueue(ctx, jobsched.JobSpec{Kind: "plain"})
	require.NoError(t, err)
	require.Equal(t, []string{"count", "plain"}, s.HandledKinds())
}

func TestUnknownKinds(t *testing.T) {
	ctx := context.Background()
	t.Run("accepted by default: a node may enqueue for others", func(t *testing.T) {
		s := start(t, jobsched.Config{}, map[string]jobsched.Handler{"known": noopHandler})
		_, err := s.Enqueue(ctx, jobsched.JobSpec{Kind: "elsewhere"})
		require.NoError(t, err)
	})
	t.Run("refused with RefuseUnknownKinds", func(t *testing.T) {
		s := start(t, jobsched.Config{RefuseUnknownKinds: true}, map[string]jobsched.Handler{"known": noopHandler})
		_, err := s.Enqueue(ctx, jobsched.JobSpec{Kind: "no-such-kind"})
		var inv *jobsched.InvalidError
		require.ErrorAs(t, err, &inv)
		require.Equal(t, "kind", inv.Field)
		require.Contains(t, err.Error(), "no-such-kind")
		_, err = s.EnqueueBatch(ctx, []jobsched.JobSpec{{Kind: "known"}, {Kind: "typo"}})
		require.ErrorAs(t, err, &inv)
		require.Equal(t, "jobs[1].kind", inv.Field)
		jobs, _, err := s.List(ctx, jobsched.ListOptions{})
		require.NoError(t, err)
		require.Empty(t, jobs)
		_, err = s.Enqueue(ctx, jobsched.JobSpec{Kind: "known"})
		require.NoError(t, err)
	})
}

// TestAHandlerMayChangeItsJob: a handler gets the record of its attempt to itself. What it
// changes in it reaches neither the store nor the events a subscriber reads (on another
// goroutine: -race sees any sharing), and the attempt ends as it should.
func TestAHandlerMayChangeItsJob(t *testing.T) {
	s := start(t, jobsched.Config{}, map[string]jobsched.Handler{
		"mut": func(_ context.Context, j *jobsched.Job) (any, error) {
			j.ID, j.Kind, j.Attempt, j.MaxAttempts, j.State = "other", "x", 99, 1, jobsched.StateDead
			j.Args, j.Timeout, j.Parents = json.RawMessage(`{"changed":true}`), 1, []string{"p"}
			return "ok", nil
		}})
	events, cancel := s.Subscribe(4096)
	defer cancel()
	ctx := context.Background()
	var specs []jobsched.JobSpec
	for i := 0; i < 50; i++ {
		specs = append(specs, jobsched.JobSpec{Kind: "mut", Args: jobsched.Args(i), MaxAttempts: 3})
	}
	jobs, err := s.EnqueueBatch(ctx, specs)
	require.NoError(t, err)
	for i, j := range jobs {
		got := waitJob(t, s, j.ID)
		require.Equal(t, jobsched.StateSucceeded, got.State)
		require.Equal(t, 1, got.Attempt)
		require.Equal(t, 3, got.MaxAttempts)
		require.Equal(t, "mut", got.Kind)
		require.JSONEq(t, strconv.Itoa(i), string(got.Args))
	}
	started := 0
	for started < len(jobs) {
		select {
		case ev := <-events:
			if ev.Job != nil && ev.Job.State == jobsched.StateRunning {
				started++
				require.Equal(t, "mut", ev.Job.Kind)
				require.Equal(t, 1, ev.Job.Attempt)
				require.NotContains(t, string(ev.Job.Args), "changed")
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("saw %d of %d starts", started, len(jobs))
		}
	}
}
