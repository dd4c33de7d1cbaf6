package persistence

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Review (issue 15): a batch entry that is a duplicate of an earlier one (same unique key) names
// its holder, so a child depending on both lists the holder twice among its parents. The holder's
// failure must cancel the child once (counts), and after a revive its success must release it.
func TestReviewAChildOfAParentAndItsDuplicateIsSettledOnce(t *testing.T) {
	ctx := context.Background()
	s, err := OpenBadger(BadgerOptions{})
	require.NoError(t, err)
	defer func() { require.NoError(t, s.Close()) }()
	p, dup := newJobFor("p"), newJobFor("p2")
	p.UniqueKey, dup.UniqueKey = "u", "u"
	res, err := s.Insert(ctx, []*Job{p, dup, newJobFor("c", "p", "p2")})
	require.NoError(t, err)
	require.True(t, res[1].Duplicate)
	require.Equal(t, StatePending, res[2].Job.State)
	require.Equal(t, 1, s.Counts()["c"][StatePending])

	now := time.Now().UTC()
	_, err = s.Update(ctx, "p", func(j *Job) error { j.State, j.FinishedAt = StateDead, &now; return nil }, true)
	require.NoError(t, err)
	c, err := s.Get(ctx, "c")
	require.NoError(t, err)
	require.Equal(t, StateCancelled, c.State)
	require.Len(t, c.Errors, 1, "cancelled once")
	require.Zero(t, s.Counts()["c"][StatePending])
	require.Equal(t, 1, s.Counts()["c"][StateCancelled], "one job cancelled")

	n, _, err := s.ReviveDependents(ctx, "p")
	require.NoError(t, err)
	require.Equal(t, 1, n)
	_, err = s.Update(ctx, "p", func(j *Job) error { j.State, j.FinishedAt = StateQueued, nil; return nil }, true)
	require.NoError(t, err)
	succeed(t, s, "p")
	c, err = s.Get(ctx, "c")
	require.NoError(t, err)
	require.Equal(t, StateQueued, c.State, "released by its only parent's success")
}
