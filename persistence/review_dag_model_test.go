package persistence

import (
	"context"
	"fmt"
	"math/rand"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Review (issue 15): random DAGs driven through inserts (some of more than a list's children),
// finishes (some with long errors), cancels of waiting children, revives of dead parents and
// restarts; after each step every job's state agrees with its parents', each pending job's
// stored count with its unfinished parents, the pending count with the pending jobs, and the
// writer's open d/ keys with the store's.
func TestReviewRandomDAGsKeepTheirInvariants(t *testing.T) {
	for _, seed := range []int64{1, 3, 5} {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { reviewRandomDAG(t, seed) })
	}
}

func reviewRandomDAG(t *testing.T, seed int64) {
	ctx := context.Background()
	rng := rand.New(rand.NewSource(seed))
	dir := t.TempDir()
	s, err := OpenBadger(BadgerOptions{Dir: dir})
	require.NoError(t, err)
	defer func() { require.NoError(t, s.Close()) }()
	var ids []string
	userCancelled := map[string]bool{}
	retried := map[string]bool{} // dead jobs brought back: a "run" child may have gone ahead of them
	policy := map[string]string{}
	parentsOf := map[string][]string{}
	next := 0
	var fans []string // parents of more children than a list holds
	barrier := 0
	sync := func() { // a write after the follow-ups of every earlier one
		barrier++
		j := newJobFor(fmt.Sprintf("zz%06d", barrier))
		j.Category = "barrier"
		_, err := s.Insert(ctx, []*Job{j})
		require.NoError(t, err)
	}
	get := func(id string) *Job {
		j, err := s.Get(ctx, id)
		require.NoError(t, err, id)
		return j
	}
	pick := func(state State) string { // a random job in state, looked for among 200 at most
		for _, i := range rng.Perm(len(ids))[:min(len(ids), 200)] {
			if get(ids[i]).State == state {
				return ids[i]
			}
		}
		return ""
	}
	check := func(step int, what string) {
		t.Helper()
		sync()
		states := map[string]*Job{}
		for _, id := range ids {
			states[id] = get(id)
		}
		pending := 0
		for _, id := range ids {
			j := states[id]
			if j.State == StatePending {
				pending++
			}
			if len(parentsOf[id]) == 0 {
				continue
			}
			unfinished, failed, succeeded := parentTally(states, parentsOf[id])
			msg := fmt.Sprintf("step %d (%s): %s %s, parents %v: %d unfinished %d failed, %s", step, what, id, j.State, parentsOf[id], unfinished, failed, policy[id])
			switch {
			case j.State == StatePending:
				if policy[id] != ParentFailureRun || !slices.ContainsFunc(parentsOf[id], func(p string) bool { return retried[p] }) {
					require.Positive(t, unfinished, msg)
				}
				if policy[id] != ParentFailureRun {
					require.Zero(t, failed, msg)
				}
				if policy[id] != ParentFailureRun || !slices.ContainsFunc(parentsOf[id], func(p string) bool { return retried[p] }) {
					// (a "run" child counted a failed parent done; that parent's retry does not make it wait again)
					n := storedCount(t, s, id)
					if n == 0 {
						n = 1 // no w/ key: inserted waiting for one parent (countInsert), read as one
					}
					require.Equal(t, uint64(max(unfinished, 1)), n, msg)
				}
			case j.State == StateCancelled && !userCancelled[id] && policy[id] != ParentFailureRun:
				require.Positive(t, failed, msg)
			case j.State == StateQueued || j.State == StateSucceeded || j.State == StateDead:
				if policy[id] != ParentFailureRun {
					require.Equal(t, len(parentsOf[id]), succeeded, msg)
				} else if !slices.ContainsFunc(parentsOf[id], func(p string) bool { return retried[p] }) {
					require.Zero(t, unfinished, msg)
				}
			}
		}
		require.Equal(t, pending, s.Counts()["c"][StatePending], "step %d (%s)", step, what)
		want := storedOpenKids(t, s)
		sync()
		got := s.kids.all()
		require.False(t, s.kids.off)
		require.Equal(t, want, got, "step %d (%s)", step, what)
	}
	now := time.Now().UTC()
	for step := 0; step < 120; step++ {
		var what string
		switch op := rng.Intn(20); {
		case op < 7 || len(ids) < 3: // insert a batch
			n := 1 + rng.Intn(5)
			fan := ""
			if rng.Intn(8) == 0 {
				if fan = pick(StateQueued); fan != "" {
					n = maxListKids + 1 + rng.Intn(100)
					fans = append(fans, fan)
				}
			}
			batch := randomDAGBatch(rng, ids, &next, fan, n)
			_, err := s.Insert(ctx, batch)
			require.NoError(t, err)
			for _, j := range batch {
				ids = append(ids, j.ID)
				parentsOf[j.ID], policy[j.ID] = j.Parents, j.OnParentFailure
			}
			what = fmt.Sprintf("insert %d (fan of %q)", n, fan)
		case op < 13: // finish a queued job
			id := pick(StateQueued)
			if len(fans) > 0 && rng.Intn(2) == 0 {
				if f := fans[rng.Intn(len(fans))]; get(f).State == StateQueued {
					id = f
				}
			}
			if id == "" {
				continue
			}
			state := StateSucceeded
			msg := "boom"
			if rng.Intn(3) == 0 {
				state = StateDead
				if rng.Intn(2) == 0 {
					msg = strings.Repeat("e", 6000)
				}
			}
			_, err := s.Update(ctx, id, func(j *Job) error {
				j.State, j.FinishedAt = state, &now
				if state == StateDead {
					j.Errors = append(j.Errors, AttemptError{Attempt: 1, At: now, Error: msg})
				}
				return nil
			}, true)
			require.NoError(t, err)
			what = fmt.Sprintf("%s %s (error of %d bytes)", id, state, len(msg))
			if slices.Contains(fans, id) && state == StateDead {
				t.Logf("step %d: %s", step, what)
			}
		case op < 15: // cancel a waiting job
			id := pick(StatePending)
			if id == "" {
				continue
			}
			_, err := s.Update(ctx, id, func(j *Job) error { j.State, j.FinishedAt = StateCancelled, &now; return nil }, true)
			require.NoError(t, err)
			userCancelled[id] = true
			what = "cancel " + id
		case op < 18: // retry a dead job with its dependents
			id := pick(StateDead)
			if id == "" {
				continue
			}
			before := map[string]State{}
			for _, x := range ids {
				before[x] = get(x).State
			}
			_, failed, err := s.ReviveDependents(ctx, id)
			require.NoError(t, err)
			_, err = s.Update(ctx, id, func(j *Job) error { j.State, j.FinishedAt = StateQueued, nil; return nil }, true)
			require.NoError(t, err)
			require.NoError(t, s.SettleDependents(ctx, failed))
			for _, x := range ids {
				if before[x].Finished() && !get(x).State.Finished() {
					retried[x] = true
				}
			}
			what = "revive " + id
		default:
			require.NoError(t, s.Close())
			s, err = OpenBadger(BadgerOptions{Dir: dir})
			require.NoError(t, err)
			what = "restart"
		}
		check(step, what)
	}
}

// randomDAGBatch makes n jobs named j00000 on (from *next), each depending on fan (when set) and
// on up to two jobs drawn from ids and the batch's earlier jobs, a quarter of those with
// dependencies on_parent_failure "run". The review model tests share it.
func randomDAGBatch(rng *rand.Rand, ids []string, next *int, fan string, n int) []*Job {
	batch := make([]*Job, 0, n)
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("j%05d", *next)
		*next++
		var ps []string
		if fan != "" {
			ps = append(ps, fan)
		}
		for k := rng.Intn(3); k > 0; k-- {
			pool := len(ids) + len(batch)
			if pool == 0 {
				break
			}
			x := rng.Intn(pool)
			var p string
			if x < len(ids) {
				p = ids[x]
			} else {
				p = batch[x-len(ids)].ID
			}
			if !slices.Contains(ps, p) {
				ps = append(ps, p)
			}
		}
		j := newJobFor(id, ps...)
		if len(ps) > 0 && rng.Intn(4) == 0 {
			j.OnParentFailure = ParentFailureRun
		}
		batch = append(batch, j)
	}
	return batch
}

// parentTally counts a job's parents by their state in states: not finished, finished other
// than succeeded, succeeded. The review model tests share it.
func parentTally(states map[string]*Job, parents []string) (unfinished, failed, succeeded int) {
	for _, p := range parents {
		switch ps := states[p].State; {
		case ps == StateSucceeded:
			succeeded++
		case ps.Finished():
			failed++
		default:
			unfinished++
		}
	}
	return unfinished, failed, succeeded
}
