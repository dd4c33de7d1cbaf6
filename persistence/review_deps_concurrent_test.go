package persistence

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Review (issue 15, children without a w/ key): the finishes of a child's parents, and changes
// to the child while it waits, arrive at once, so that the writer's group commits settle one
// child for several parents, and change it, within one transaction. Afterwards each child is
// pending exactly while a parent is unfinished (or cancelled by a dead one), no job out of
// pending keeps a w/ key, and the pending count, also as the store opened again counts it, is
// the pending jobs.
func TestReviewDepsConcurrentFinishesOfAChildsParents(t *testing.T) {
	for _, seed := range []int64{1, 2, 3} {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { reviewDepsConcurrent(t, seed) })
	}
}

func reviewDepsConcurrent(t *testing.T, seed int64) {
	ctx := context.Background()
	rng := rand.New(rand.NewSource(seed))
	dir := t.TempDir()
	s, err := OpenBadger(BadgerOptions{Dir: dir})
	require.NoError(t, err)
	defer func() { require.NoError(t, s.Close()) }()
	const nParents, nKids = 12, 400
	var batch []*Job
	parentsOf := map[string][]string{}
	for i := range nParents {
		batch = append(batch, newJobFor(fmt.Sprintf("p%02d", i)))
	}
	for i := range nKids {
		var ps []string
		for _, k := range rng.Perm(nParents)[:1+rng.Intn(3)] {
			ps = append(ps, fmt.Sprintf("p%02d", k))
		}
		j := newJobFor(fmt.Sprintf("k%04d", i), ps...)
		if rng.Intn(4) == 0 {
			j.OnParentFailure = ParentFailureRun
		}
		parentsOf[j.ID] = ps
		batch = append(batch, j)
	}
	_, err = s.Insert(ctx, batch)
	require.NoError(t, err)

	now := time.Now().UTC()
	dead := map[string]bool{}
	var wg sync.WaitGroup
	errs := make(chan error, nParents+nKids)
	for i := range nParents {
		id := fmt.Sprintf("p%02d", i)
		state := StateSucceeded
		if i < 10 && rng.Intn(4) == 0 {
			state = StateDead
			dead[id] = true
		}
		if i >= 10 {
			continue // two parents stay unfinished
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.Update(ctx, id, func(j *Job) error { j.State, j.FinishedAt = state, &now; return nil }, true)
			errs <- err
		}()
	}
	for i := range nKids {
		if rng.Intn(2) == 0 {
			continue
		}
		id := fmt.Sprintf("k%04d", i)
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.Update(ctx, id, func(j *Job) error {
				if j.State != StatePending {
					return ErrSkip
				}
				j.FairnessKey = "changed"
				return nil
			}, false)
			if errors.Is(err, ErrSkip) {
				err = nil
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	// A write after every follow-up.
	_, err = s.Insert(ctx, []*Job{newJobFor("zz")})
	require.NoError(t, err)

	check := func(when string) {
		t.Helper()
		pending := 0
		for id, ps := range parentsOf {
			j, err := s.Get(ctx, id)
			require.NoError(t, err)
			open, failed := 0, 0
			for _, p := range ps {
				switch {
				case dead[p]:
					failed++
				case p >= "p10":
					open++
				}
			}
			msg := fmt.Sprintf("%s: %s %s, parents %v (%d open, %d dead), %q", when, id, j.State, ps, open, failed, j.OnParentFailure)
			want := StateQueued
			switch {
			case failed > 0 && j.OnParentFailure != ParentFailureRun:
				want = StateCancelled
			case open > 0:
				want = StatePending
			}
			require.Equal(t, want, j.State, msg)
			n, hasW := storedWaitCount(t, s, id)
			if want == StatePending {
				pending++
				require.Equal(t, uint64(open), n, msg)
			} else {
				require.False(t, hasW, "%s: a w/ key left", msg)
			}
		}
		require.Equal(t, pending, s.Counts()["c"][StatePending], when)
	}
	check("after the finishes")
	require.NoError(t, s.Close())
	s, err = OpenBadger(BadgerOptions{Dir: dir})
	require.NoError(t, err)
	check("opened again")
}
