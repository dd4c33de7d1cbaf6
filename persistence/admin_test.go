package persistence

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// adminSuite is the part of the Store contract the admin operations need (delete, revive, the
// kind filter): every Store passes it. It is written against the interface alone so that the
// shared conformance suite can take it as it is.
func adminSuite(t *testing.T, open func(t *testing.T) Store) {
	ctx := context.Background()
	t.Run("delete removes a finished job only", func(t *testing.T) {
		s := open(t)
		now := time.Now().UTC()
		_, err := s.Insert(ctx, []*Job{
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
		res, err := s.Insert(ctx, []*Job{{ID: "again", Kind: "k", Category: "c", State: StateQueued, UniqueKey: "u1", CreatedAt: now, RunAt: now}})
		require.NoError(t, err)
		require.False(t, res[0].Duplicate)
	})

	t.Run("revive refused while another job holds the unique key", func(t *testing.T) {
		s := open(t)
		now := time.Now().UTC()
		_, err := s.Insert(ctx, []*Job{{ID: "old", Kind: "k", Category: "c", State: StateDead, UniqueKey: "u", CreatedAt: now, RunAt: now}})
		require.NoError(t, err)
		_, err = s.Insert(ctx, []*Job{{ID: "new", Kind: "k", Category: "c", State: StateQueued, UniqueKey: "u", CreatedAt: now, RunAt: now}})
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
		res, err := s.Insert(ctx, []*Job{{ID: "third", Kind: "k", Category: "c", State: StateQueued, UniqueKey: "u", CreatedAt: now, RunAt: now}})
		require.NoError(t, err)
		require.True(t, res[0].Duplicate, "the revived job holds the key again")
		require.Equal(t, "old", res[0].Job.ID)
	})

	t.Run("list filters by kind", func(t *testing.T) {
		s := open(t)
		now := time.Now().UTC()
		_, err := s.Insert(ctx, []*Job{
			{ID: "a", Kind: "mail", Category: "c", State: StateDead, CreatedAt: now, RunAt: now},
			{ID: "b", Kind: "sms", Category: "c", State: StateDead, CreatedAt: now, RunAt: now},
			{ID: "c", Kind: "mail", Category: "d", State: StateQueued, CreatedAt: now, RunAt: now},
			{ID: "d", Kind: "mail", Category: "c", State: StateQueued, CreatedAt: now, RunAt: now},
		})
		require.NoError(t, err)
		page, _, err := s.List(ctx, ListOptions{Kind: "mail"})
		require.NoError(t, err)
		require.Equal(t, []string{"d", "c", "a"}, ids(page))
		page, _, err = s.List(ctx, ListOptions{Kind: "mail", Category: "c", State: StateDead})
		require.NoError(t, err)
		require.Equal(t, []string{"a"}, ids(page))
		page, next, err := s.List(ctx, ListOptions{Kind: "mail", Limit: 1})
		require.NoError(t, err)
		require.Equal(t, []string{"d"}, ids(page))
		page, _, err = s.List(ctx, ListOptions{Kind: "mail", Limit: 5, Cursor: next})
		require.NoError(t, err)
		require.Equal(t, []string{"c", "a"}, ids(page))
	})
}

func TestBadgerAdminInMemory(t *testing.T) {
	adminSuite(t, func(t *testing.T) Store {
		s, err := OpenBadger(BadgerOptions{})
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
}

func TestBadgerAdminOnDisk(t *testing.T) {
	adminSuite(t, func(t *testing.T) Store {
		s, err := OpenBadger(BadgerOptions{Dir: t.TempDir()})
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
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
