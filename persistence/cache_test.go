package persistence

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

// A flood of jobs with large args keeps the writer's cache under its byte budget, its count of
// bytes true, and the jobs it could not cache are still written correctly (read from the store).
func TestWriterCacheStaysUnderItsByteBudget(t *testing.T) {
	const budget = 1 << 20
	s, err := OpenBadger(BadgerOptions{CacheBytes: budget})
	require.NoError(t, err)
	defer s.Close()
	ctx := context.Background()
	args := []byte(`"` + string(make([]byte, 64<<10-2)) + `"`)
	for i := range args[1 : len(args)-1] {
		args[1+i] = 'x'
	}
	var ids []string
	for b := 0; b < 10; b++ {
		var jobs []*Job
		for i := 0; i < 10; i++ {
			id := fmt.Sprintf("big-%02d-%02d", b, i)
			ids = append(ids, id)
			jobs = append(jobs, &Job{ID: id, Kind: "k", Category: "c", State: StateQueued, Args: args})
		}
		_, err := s.Insert(ctx, jobs)
		require.NoError(t, err)
		requireCacheTrue(t, s)
		require.LessOrEqual(t, s.cache.bytes, int64(budget))
	}
	require.NotEmpty(t, s.cache.jobs, "what fits is cached")
	require.Less(t, len(s.cache.jobs), len(ids), "6.4 MiB of args do not fit in 1 MiB")

	// Start and finish every job, cached or not.
	for _, id := range ids {
		_, err := s.Update(ctx, id, func(j *Job) error { j.State = StateRunning; return nil }, false)
		require.NoError(t, err)
		requireCacheTrue(t, s)
		j, err := s.Update(ctx, id, func(j *Job) error {
			if j.State != StateRunning {
				return fmt.Errorf("job %s is %s, want running", j.ID, j.State)
			}
			j.State = StateSucceeded
			return nil
		}, false)
		require.NoError(t, err)
		require.Equal(t, args, []byte(j.Args))
		require.LessOrEqual(t, s.cache.bytes, int64(budget))
	}
	require.Empty(t, s.cache.jobs, "finished jobs leave the cache")
	require.Zero(t, s.cache.bytes)
}

// requireCacheTrue checks the cache's byte count against its content; the writer is idle.
func requireCacheTrue(t *testing.T, s *Badger) {
	t.Helper()
	var n int64
	for _, j := range s.cache.jobs {
		n += jobBytes(j)
	}
	require.Equal(t, n, s.cache.bytes)
}

func TestWriterCacheDefaultsAndOff(t *testing.T) {
	s, err := OpenBadger(BadgerOptions{})
	require.NoError(t, err)
	defer s.Close()
	require.Equal(t, int64(DefaultCacheBytes), s.cache.budget)

	off, err := OpenBadger(BadgerOptions{CacheBytes: -1})
	require.NoError(t, err)
	defer off.Close()
	ctx := context.Background()
	_, err = off.Insert(ctx, []*Job{{ID: "a", Kind: "k", Category: "c", State: StateQueued}})
	require.NoError(t, err)
	require.Empty(t, off.cache.jobs)
	j, err := off.Update(ctx, "a", func(j *Job) error { j.State = StateRunning; return nil }, false)
	require.NoError(t, err)
	require.Equal(t, StateRunning, j.State)
	require.Empty(t, off.cache.jobs)
	_, err = off.Insert(ctx, []*Job{{ID: "b", Kind: "k", Category: "c", State: StateQueued}})
	require.NoError(t, err)
	q, err := off.Queued(ctx, "c", 0, 10)
	require.NoError(t, err)
	require.Len(t, q, 1, "the running job is not queued")
	require.Equal(t, "b", q[0].ID)
	require.Empty(t, off.cache.jobs, "Queued caches nothing either")
}

// Queued reads records into the writer's cache, so the starts that follow need not read them;
// records already cached are handed out as cached; the FIFO order survives the mix of both.
func TestQueuedFillsTheWriterCache(t *testing.T) {
	s, err := OpenBadger(BadgerOptions{CacheBytes: 40 * 500})
	require.NoError(t, err)
	defer s.Close()
	ctx := context.Background()
	var jobs []*Job
	for i := 0; i < 40; i++ {
		// ids in the reverse of FIFO order: the ordered pass over j/ must still put each in place
		jobs = append(jobs, &Job{ID: fmt.Sprintf("id-%02d", 99-i), Kind: "k", Category: "c", State: StateQueued})
	}
	_, err = s.Insert(ctx, jobs)
	require.NoError(t, err)
	cachedAtInsert := len(s.cache.jobs)
	require.Positive(t, cachedAtInsert, "inserts fill half the cache")
	require.Less(t, cachedAtInsert, 40, "and no more")

	got, err := s.Queued(ctx, "c", 0, 30)
	require.NoError(t, err)
	require.Len(t, got, 30)
	for i, j := range got {
		require.Equal(t, jobs[i].ID, j.ID)
		require.Equal(t, StateQueued, j.State)
		require.Equal(t, uint64(i+1), j.Seq)
		cached, ok := s.cache.get(j.ID)
		require.True(t, ok, "job %d is cached", i)
		require.NotSame(t, cached, j, "the caller gets its own copy")
	}
	requireCacheTrue(t, s)
	require.LessOrEqual(t, s.cache.bytes, s.cache.budget)

	// Running jobs stay cached past the budget, so a finish never reads; finished ones leave.
	for _, j := range got {
		_, err := s.Update(ctx, j.ID, func(j *Job) error { j.State = StateRunning; return nil }, false)
		require.NoError(t, err)
	}
	for _, j := range got {
		_, ok := s.cache.get(j.ID)
		require.True(t, ok)
	}
	requireCacheTrue(t, s)
	for _, j := range got {
		_, err := s.Update(ctx, j.ID, func(j *Job) error { j.State = StateSucceeded; return nil }, false)
		require.NoError(t, err)
	}
	rest, err := s.Queued(ctx, "c", got[len(got)-1].Seq, 100)
	require.NoError(t, err)
	require.Len(t, rest, 10)
	require.Equal(t, jobs[30].ID, rest[0].ID)
	requireCacheTrue(t, s)
}
