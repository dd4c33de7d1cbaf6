package persistence

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestDeleteRemovesAFinishedJobOnly(t *testing.T) {
	for _, dir := range []string{"", t.TempDir()} {
		s, err := OpenBadger(BadgerOptions{Dir: dir})
		require.NoError(t, err)
		ctx := context.Background()
		now := time.Now().UTC()
		_, err = s.Insert(ctx, []*Job{
			{ID: "done", Kind: "k", Category: "c", State: StateDead, UniqueKey: "u1", CreatedAt: now, RunAt: now},
			{ID: "open", Kind: "k", Category: "c", State: StateQueued, UniqueKey: "u2", CreatedAt: now, RunAt: now},
		})
		require.NoError(t, err)

		require.ErrorIs(t, s.Delete(ctx, "open"), ErrNotFinished)
		q, err := s.Queued(ctx, "c", 0, 10)
		require.NoError(t, err)
		require.Equal(t, []string{"open"}, ids(q), "a refused delete changes nothing")
		require.ErrorIs(t, s.Delete(ctx, "nope"), ErrNotFound)

		require.NoError(t, s.Delete(ctx, "done"))
		_, err = s.Get(ctx, "done")
		require.ErrorIs(t, err, ErrNotFound)
		require.ErrorIs(t, s.Delete(ctx, "done"), ErrNotFound, "a second delete finds nothing")
		page, _, err := s.List(ctx, ListOptions{})
		require.NoError(t, err)
		require.Equal(t, []string{"open"}, ids(page))

		// The deleted job's unique key is free.
		res, err := s.Insert(ctx, []*Job{{ID: "again", Kind: "k", Category: "c", State: StateQueued, UniqueKey: "u1"}})
		require.NoError(t, err)
		require.False(t, res[0].Duplicate)
		require.NoError(t, s.Close())
	}
}

// A delete and an update of the same job in one commit: the update planned after the delete
// must not bring the job back from the writer's overlay or cache.
func TestDeleteInTheSameBatchAsAnUpdate(t *testing.T) {
	s, err := OpenBadger(BadgerOptions{})
	require.NoError(t, err)
	defer s.Close()
	ctx := context.Background()
	_, err = s.Insert(ctx, []*Job{{ID: "a", Kind: "k", Category: "c", State: StateQueued}}) // cached
	require.NoError(t, err)

	finish := &request{id: "a", fn: func(j *Job) error { j.State = StateSucceeded; return nil }}
	del := &request{id: "a", del: true}
	revive := &request{id: "a", fn: func(j *Job) error { j.State = StateQueued; return nil }}
	done := 0
	for _, r := range []*request{finish, del, revive} {
		r.done = func(*request) { done++ }
	}
	s.commit([]*request{finish, del, revive})
	require.Equal(t, 3, done)
	require.NoError(t, finish.err)
	require.NoError(t, del.err)
	require.ErrorIs(t, revive.err, ErrNotFound)
	_, err = s.Get(ctx, "a")
	require.ErrorIs(t, err, ErrNotFound)
	q, err := s.Queued(ctx, "c", 0, 10)
	require.NoError(t, err)
	require.Empty(t, q)
}

func TestReviveRefusedWhileAnotherJobHoldsTheUniqueKey(t *testing.T) {
	s, err := OpenBadger(BadgerOptions{})
	require.NoError(t, err)
	defer s.Close()
	ctx := context.Background()
	_, err = s.Insert(ctx, []*Job{{ID: "old", Kind: "k", Category: "c", State: StateDead, UniqueKey: "u"}})
	require.NoError(t, err)
	_, err = s.Insert(ctx, []*Job{{ID: "new", Kind: "k", Category: "c", State: StateQueued, UniqueKey: "u"}})
	require.NoError(t, err)
	revive := func(j *Job) error { j.State = StateQueued; return nil }
	j, err := s.Update(ctx, "old", revive, true)
	require.ErrorIs(t, err, ErrUniqueHeld)
	require.Equal(t, StateDead, j.State)

	_, err = s.Update(ctx, "new", func(j *Job) error { j.State = StateSucceeded; return nil }, true)
	require.NoError(t, err)
	j, err = s.Update(ctx, "old", revive, true)
	require.NoError(t, err, "the key is free once its holder finished")
	require.Equal(t, StateQueued, j.State)
	res, err := s.Insert(ctx, []*Job{{ID: "third", Kind: "k", Category: "c", State: StateQueued, UniqueKey: "u"}})
	require.NoError(t, err)
	require.True(t, res[0].Duplicate, "the revived job holds the key again")
	require.Equal(t, "old", res[0].Job.ID)
}
