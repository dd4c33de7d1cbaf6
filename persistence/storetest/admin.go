package storetest

import (
	"testing"
	"time"

	"github.com/jobsched/jobsched/persistence"
	"github.com/stretchr/testify/require"
)

// The admin operations' part of the contract (delete, revive, the kind filter).

func testDeleteFinishedOnly(t *testing.T, s persistence.Store) { // delete removes a finished job only
	now := time.Now().UTC().Truncate(time.Microsecond)
	_, err := s.Insert(ctx, []*persistence.Job{
		{ID: "done", Kind: "k", Category: "c", State: persistence.StateDead, UniqueKey: "u1", CreatedAt: now, RunAt: now},
		{ID: "open", Kind: "k", Category: "c", State: persistence.StateQueued, UniqueKey: "u2", CreatedAt: now, RunAt: now},
	})
	require.NoError(t, err)

	require.ErrorIs(t, s.Delete(ctx, "open"), persistence.ErrNotFinished)
	q, err := s.Queued(ctx, "c", 0, 10)
	require.NoError(t, err)
	require.Equal(t, []string{"open"}, ids(q), "a refused delete changes nothing")
	require.ErrorIs(t, s.Delete(ctx, "nope"), persistence.ErrNotFound)

	require.NoError(t, s.Delete(ctx, "done"))
	_, err = s.Get(ctx, "done")
	require.ErrorIs(t, err, persistence.ErrNotFound)
	require.ErrorIs(t, s.Delete(ctx, "done"), persistence.ErrNotFound, "a second delete finds nothing")
	page, _, err := s.List(ctx, persistence.ListOptions{})
	require.NoError(t, err)
	require.Equal(t, []string{"open"}, ids(page))

	// The deleted job's unique key is free.
	res, err := s.Insert(ctx, []*persistence.Job{{ID: "again", Kind: "k", Category: "c", State: persistence.StateQueued, UniqueKey: "u1", CreatedAt: now, RunAt: now}})
	require.NoError(t, err)
	require.False(t, res[0].Duplicate)
}

func testReviveUniqueHeld(t *testing.T, s persistence.Store) { // revive refused while another job holds the unique key
	now := time.Now().UTC().Truncate(time.Microsecond)
	_, err := s.Insert(ctx, []*persistence.Job{{ID: "old", Kind: "k", Category: "c", State: persistence.StateDead, UniqueKey: "u", CreatedAt: now, RunAt: now}})
	require.NoError(t, err)
	_, err = s.Insert(ctx, []*persistence.Job{{ID: "new", Kind: "k", Category: "c", State: persistence.StateQueued, UniqueKey: "u", CreatedAt: now, RunAt: now}})
	require.NoError(t, err)
	revive := func(j *persistence.Job) error { j.State = persistence.StateQueued; return nil }
	j, err := s.Update(ctx, "old", revive, true)
	require.ErrorIs(t, err, persistence.ErrUniqueHeld)
	require.Equal(t, persistence.StateDead, j.State)

	_, err = s.Update(ctx, "new", func(j *persistence.Job) error { j.State = persistence.StateSucceeded; return nil }, true)
	require.NoError(t, err)
	j, err = s.Update(ctx, "old", revive, true)
	require.NoError(t, err, "the key is free once its holder finished")
	require.Equal(t, persistence.StateQueued, j.State)
	res, err := s.Insert(ctx, []*persistence.Job{{ID: "third", Kind: "k", Category: "c", State: persistence.StateQueued, UniqueKey: "u", CreatedAt: now, RunAt: now}})
	require.NoError(t, err)
	require.True(t, res[0].Duplicate, "the revived job holds the key again")
	require.Equal(t, "old", res[0].Job.ID)
}

func testListKind(t *testing.T, s persistence.Store) { // list filters by kind
	now := time.Now().UTC().Truncate(time.Microsecond)
	_, err := s.Insert(ctx, []*persistence.Job{
		{ID: "a", Kind: "mail", Category: "c", State: persistence.StateDead, CreatedAt: now, RunAt: now},
		{ID: "b", Kind: "sms", Category: "c", State: persistence.StateDead, CreatedAt: now, RunAt: now},
		{ID: "c", Kind: "mail", Category: "d", State: persistence.StateQueued, CreatedAt: now, RunAt: now},
		{ID: "d", Kind: "mail", Category: "c", State: persistence.StateQueued, CreatedAt: now, RunAt: now},
	})
	require.NoError(t, err)
	page, _, err := s.List(ctx, persistence.ListOptions{Kind: "mail"})
	require.NoError(t, err)
	require.Equal(t, []string{"d", "c", "a"}, ids(page))
	page, _, err = s.List(ctx, persistence.ListOptions{Kind: "mail", Category: "c", State: persistence.StateDead})
	require.NoError(t, err)
	require.Equal(t, []string{"a"}, ids(page))
	page, next, err := s.List(ctx, persistence.ListOptions{Kind: "mail", Limit: 1})
	require.NoError(t, err)
	require.Equal(t, []string{"d"}, ids(page))
	page, _, err = s.List(ctx, persistence.ListOptions{Kind: "mail", Limit: 5, Cursor: next})
	require.NoError(t, err)
	require.Equal(t, []string{"c", "a"}, ids(page))
}
