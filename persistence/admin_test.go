package persistence

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

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
	s.pipe.drain() // the syncer answers them
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
