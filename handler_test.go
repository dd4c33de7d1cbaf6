package jobsched_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

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
