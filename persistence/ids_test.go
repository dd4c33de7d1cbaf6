package persistence

import (
	"context"
	"encoding/binary"
	"strings"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

func TestUUIDBytesRoundTrip(t *testing.T) {
	for range 100 {
		id := uuid.Must(uuid.NewV7()).String()
		b, ok := appendUUID([]byte{7}, id)
		require.True(t, ok, id)
		require.Len(t, b, 17)
		require.Equal(t, byte(7), b[0])
		require.Equal(t, id, uuidText(b[1:]))
	}
	u := uuid.Must(uuid.NewV7())
	for _, id := range []string{
		"", "a", "job-1",
		strings.ToUpper(u.String()),             // upper case: would not come back the same
		"urn:uuid:" + u.String(),                // another form uuid.Parse takes
		strings.ReplaceAll(u.String(), "-", ""), // no dashes
		u.String()[:35] + "g",                   // not hex
		u.String()[:8] + "x" + u.String()[9:],   // a dash missing
		u.String() + "0",
	} {
		b, ok := appendUUID([]byte{7}, id)
		require.False(t, ok, id)
		require.Equal(t, []byte{7}, b, id)
	}
}

// The q/ values of a job with a UUID id hold its 16 bytes, of another its text; both read back,
// and so do the values of a store written before the binary form (text tags only).
func TestQueueValuesReadBothForms(t *testing.T) {
	started := time.Unix(1700000000, 123).UTC()
	for _, id := range []string{uuid.Must(uuid.NewV7()).String(), "plain-id"} {
		e, err := parseQueueValue(queuedValue(id))
		require.NoError(t, err)
		require.Equal(t, queueEntry{id: id}, e)
		j := &Job{ID: id, Attempt: 3, StartedAt: &started, CancelRequested: true}
		e, err = parseQueueValue(runningValue(j))
		require.NoError(t, err)
		require.Equal(t, queueEntry{running: true, id: id, attempt: 3, startedAt: &started, cancel: true}, e)

		e, err = parseQueueValue(oldQueuedValue(id))
		require.NoError(t, err)
		require.Equal(t, queueEntry{id: id}, e)
		e, err = parseQueueValue(oldRunningValue(j))
		require.NoError(t, err)
		require.Equal(t, queueEntry{running: true, id: id, attempt: 3, startedAt: &started, cancel: true}, e)
	}
	id := uuid.Must(uuid.NewV7()).String()
	require.Len(t, queuedValue(id), 17, "a UUID takes 16 bytes")
	for _, bad := range [][]byte{nil, {tagQueuedUUID}, append(queuedValue(id), 0), queuedValue(id)[:10], {tagRunningUUID, 1, 2}, {'x', 'y'}} {
		_, err := parseQueueValue(bad)
		require.Error(t, err, "%q", bad)
	}
}

// oldQueuedValue and oldRunningValue write q/ values as a store before the binary ids did.
func oldQueuedValue(id string) []byte { return append([]byte{tagQueued}, id...) }

func oldRunningValue(j *Job) []byte {
	b := appendString([]byte{tagRunning}, j.ID)
	b = binary.AppendUvarint(b, uint64(j.Attempt))
	b = appendOptTime(b, j.StartedAt, 0)
	return appendBool(b, j.CancelRequested)
}

// A store whose q/ values are all in the text form of the previous layout opens with its counts
// and running jobs, and its queued and running jobs are read, started and finished.
func TestAStoreWithTextQueueValuesStillWorks(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	s, err := OpenBadger(BadgerOptions{Dir: dir, CacheBytes: -1})
	require.NoError(t, err)
	var jobs []*Job
	for range 4 {
		jobs = append(jobs, &Job{ID: uuid.Must(uuid.NewV7()).String(), Kind: "k", Category: "c", State: StateQueued})
	}
	_, err = s.Insert(ctx, jobs)
	require.NoError(t, err)
	now := time.Now().UTC()
	_, err = s.Update(ctx, jobs[0].ID, func(j *Job) error {
		j.State, j.Attempt, j.StartedAt = StateRunning, 1, &now
		return nil
	}, false)
	require.NoError(t, err)
	// Rewrite every q/ value in the previous layout's text form.
	rewrote := 0
	require.NoError(t, s.db.Update(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(prefixQueued)})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			v, err := it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			require.Contains(t, []byte{tagQueuedUUID, tagRunningUUID}, v[0], "written in the binary form")
			e, err := parseQueueValue(v)
			if err != nil {
				return err
			}
			old := oldQueuedValue(e.id)
			if e.running {
				old = oldRunningValue(&Job{ID: e.id, Attempt: e.attempt, StartedAt: e.startedAt, CancelRequested: e.cancel})
			}
			if err := txn.Set(it.Item().KeyCopy(nil), old); err != nil {
				return err
			}
			rewrote++
		}
		return nil
	}))
	require.Equal(t, 4, rewrote)
	require.NoError(t, s.Close())

	s, err = OpenBadger(BadgerOptions{Dir: dir, CacheBytes: -1})
	require.NoError(t, err)
	defer s.Close()
	c := s.Counts()["c"]
	require.Equal(t, 3, c[StateQueued])
	require.Equal(t, 1, c[StateRunning])
	var running []string
	require.NoError(t, s.Running(ctx, func(id string) error { running = append(running, id); return nil }))
	require.Equal(t, []string{jobs[0].ID}, running)
	got, err := s.Get(ctx, jobs[0].ID)
	require.NoError(t, err)
	require.Equal(t, StateRunning, got.State)
	require.Equal(t, 1, got.Attempt)
	q, err := s.Queued(ctx, "c", 0, 10)
	require.NoError(t, err)
	require.Len(t, q, 3)
	for i, j := range q {
		require.Equal(t, jobs[i+1].ID, j.ID)
	}
	_, err = s.Update(ctx, jobs[0].ID, func(j *Job) error {
		if j.State != StateRunning || j.Attempt != 1 {
			return ErrSkip
		}
		j.State = StateSucceeded
		return nil
	}, false)
	require.NoError(t, err)
	_, err = s.Update(ctx, jobs[1].ID, func(j *Job) error { j.State, j.Attempt = StateRunning, 1; return nil }, false)
	require.NoError(t, err)
	running = running[:0]
	require.NoError(t, s.Running(ctx, func(id string) error { running = append(running, id); return nil }))
	require.Equal(t, []string{jobs[1].ID}, running)
	c = s.Counts()["c"]
	require.Equal(t, 2, c[StateQueued])
	require.Equal(t, 1, c[StateRunning])
	require.Equal(t, 1, c[StateSucceeded])
}
