package persistence

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func finish(t *testing.T, s *Badger, id string, st State) {
	t.Helper()
	now := time.Now().UTC()
	_, err := s.Update(context.Background(), id, func(j *Job) error {
		j.State, j.FinishedAt = st, &now
		if st == StateDead {
			j.Errors = append(j.Errors, AttemptError{Attempt: 1, At: now, Error: "boom"})
		}
		return nil
	}, true)
	require.NoError(t, err)
}

func states(t *testing.T, s *Badger, ids ...string) map[string]State {
	t.Helper()
	out := map[string]State{}
	for _, id := range ids {
		j, err := s.Get(context.Background(), id)
		require.NoError(t, err)
		out[id] = j.State
	}
	return out
}

// Reviving a dead parent's dependents brings back those its death cancelled, and theirs, while
// the parent is still dead; a restart before the parent is retried cancels them again.
func TestReviveDependentsIsUndoneByARestartBeforeTheRetry(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	s, err := OpenBadger(BadgerOptions{Dir: dir})
	require.NoError(t, err)
	_, err = s.Insert(ctx, []*Job{newJobFor("p"), newJobFor("q"), newJobFor("o"),
		newJobFor("a", "p"), newJobFor("b", "a"), newJobFor("c", "p", "q"), newJobFor("r", "p", "o")})
	require.NoError(t, err)
	finish(t, s, "q", StateSucceeded)
	finish(t, s, "p", StateDead)
	finish(t, s, "o", StateDead) // r was already cancelled because of p
	all := []string{"a", "b", "c", "r"}
	for id, st := range states(t, s, all...) {
		require.Equal(t, StateCancelled, st, id)
	}

	n, failed, err := s.ReviveDependents(ctx, "p")
	require.NoError(t, err)
	require.Equal(t, 4, n, "a, c, r (p's) and b (a's)")
	require.Equal(t, []string{"o"}, failed, "r waits for o, dead too")
	for id, st := range states(t, s, all...) {
		require.Equal(t, StatePending, st, id)
	}
	require.Equal(t, 4, s.Counts()["c"][StatePending])
	n, _, err = s.ReviveDependents(ctx, "p")
	require.NoError(t, err)
	require.Zero(t, n, "nothing left to revive")
	require.NoError(t, s.Close())

	// The process stops before p is retried: p is still dead, so the start-up cancels them again.
	s, err = OpenBadger(BadgerOptions{Dir: dir})
	require.NoError(t, err)
	defer func() { require.NoError(t, s.Close()) }()
	require.Eventually(t, func() bool {
		for _, st := range states(t, s, all...) {
			if st != StateCancelled {
				return false
			}
		}
		return true
	}, 10*time.Second, time.Millisecond)

	// Now the whole retry: revive, retry p, settle the other dead parents.
	_, failed, err = s.ReviveDependents(ctx, "p")
	require.NoError(t, err)
	_, err = s.Update(ctx, "p", func(j *Job) error {
		j.State, j.FinishedAt = StateQueued, nil
		return nil
	}, true)
	require.NoError(t, err)
	require.NoError(t, s.SettleDependents(ctx, failed))
	r, err := s.Get(ctx, "r")
	require.NoError(t, err)
	require.Equal(t, StateCancelled, r.State)
	require.Contains(t, r.LastError(), "parent o ended dead")
	finish(t, s, "p", StateSucceeded)
	require.Equal(t, map[string]State{"a": StateQueued, "b": StatePending, "c": StateQueued, "r": StateCancelled}, states(t, s, all...))
	finish(t, s, "a", StateSucceeded)
	require.Equal(t, StateQueued, states(t, s, "b")["b"])
	require.Zero(t, s.Counts()["c"][StatePending])
}

// A fan-out larger than one page is revived in several writes, every child of it.
func TestReviveDependentsPagesABigFanOut(t *testing.T) {
	ctx := context.Background()
	s, err := OpenBadger(BadgerOptions{Dir: t.TempDir()})
	require.NoError(t, err)
	defer func() { require.NoError(t, s.Close()) }()
	const n = maxSettle + 500
	jobs := []*Job{newJobFor("p")}
	for i := 0; i < n; i++ {
		jobs = append(jobs, newJobFor(fmt.Sprintf("c%05d", i), "p"))
	}
	_, err = s.Insert(ctx, jobs)
	require.NoError(t, err)
	finish(t, s, "p", StateCancelled)
	require.Eventually(t, func() bool { return s.Counts()["c"][StatePending] == 0 }, 10*time.Second, time.Millisecond)
	commits := s.Stats().Commits
	got, failed, err := s.ReviveDependents(ctx, "p")
	require.NoError(t, err)
	require.Empty(t, failed)
	require.Equal(t, n, got)
	require.Equal(t, n, s.Counts()["c"][StatePending])
	require.GreaterOrEqual(t, s.Stats().Commits-commits, uint64(2), "two pages at least")
}
