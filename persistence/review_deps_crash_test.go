package persistence

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/stretchr/testify/require"
)

// Review (issue 15, children without a w/ key): random DAGs on disk with small commits (so
// finishes settle their children over several commits), where a commit fails at random in the
// middle of a finish, a cancel or a revive (the process dies between two commits: the store is
// closed and opened again), and where, at restarts, the store is rewritten as older binaries
// left it (a w/ key for a child of one parent, the count in an n/ key, one d/ key per
// dependency). After each step every job's state agrees with its parents', each pending job's
// count with its unfinished parents, and the pending count (as start-up rebuilt it) with the
// pending jobs. One seed runs by default (~40 s under -race); JOBSCHED_CRASH_LONG=1 runs four.
func TestReviewDepsRandomDAGsSurviveCrashesAndOlderLayouts(t *testing.T) {
	seeds := []int64{11}
	if os.Getenv("JOBSCHED_CRASH_LONG") != "" {
		seeds = []int64{11, 12, 13, 14}
	}
	for _, seed := range seeds {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { reviewDepsCrashDAG(t, seed) })
	}
}

// storedWaitCount reads the parents count of id as readWaiting does from the store: the w/
// key's count, else an n/ key's, else one (0 when neither key exists and the job has none).
func storedWaitCount(t *testing.T, s *Badger, id string) (n uint64, hasW bool) {
	t.Helper()
	require.NoError(t, s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(pendingKey(id))
		switch {
		case errors.Is(err, badger.ErrKeyNotFound):
			n = 1
		case err != nil:
			return err
		default:
			hasW = true
			if err := item.Value(func(v []byte) (err error) { _, n, err = parsePendingValue(v); return err }); err != nil {
				return err
			}
			if n > 1 {
				return nil
			}
		}
		item, err = txn.Get(waitingKey(id))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		return item.Value(func(v []byte) error { n, _ = binary.Uvarint(v); return nil })
	}))
	return n, hasW
}

// downgradeLayouts rewrites part of the store as older binaries left it (s idle: after sync).
func downgradeLayouts(t *testing.T, s *Badger, rng *rand.Rand, ids []string) {
	t.Helper()
	require.NoError(t, s.db.Update(func(txn *badger.Txn) error {
		for _, id := range ids {
			if rng.Intn(3) != 0 {
				continue
			}
			item, err := txn.Get(jobKey(id))
			if err != nil {
				return err
			}
			var j Job
			if err := item.Value(func(v []byte) error { return decodeJob(id, v, &j) }); err != nil {
				return err
			}
			if j.State != StatePending {
				continue
			}
			item, err = txn.Get(pendingKey(id))
			switch {
			case errors.Is(err, badger.ErrKeyNotFound): // session 5: every pending job has a w/ key
				if err := txn.Set(pendingKey(id), []byte(j.Category)); err != nil {
					return err
				}
				if rng.Intn(2) == 0 { // older: an n/ count of one
					if err := txn.Set(waitingKey(id), binary.AppendUvarint(nil, 1)); err != nil {
						return err
					}
				}
			case err != nil:
				return err
			default:
				var n uint64
				if err := item.Value(func(v []byte) (err error) { _, n, err = parsePendingValue(v); return err }); err != nil {
					return err
				}
				if n > 1 { // older: the count in an n/ key
					if err := txn.Set(pendingKey(id), []byte(j.Category)); err != nil {
						return err
					}
					if err := txn.Set(waitingKey(id), binary.AppendUvarint(nil, n)); err != nil {
						return err
					}
				}
			}
		}
		// Older still: one d/ key per dependency instead of an open list.
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(prefixDepends)})
		type conv struct {
			key  []byte
			p    string
			kids []string
		}
		var convs []conv
		for it.Rewind(); it.Valid(); it.Next() {
			item := it.Item()
			p, g, open, err := parseDepend(item.Key()[len(prefixDepends):], func() ([]byte, error) { return item.ValueCopy(nil) }, int(item.ValueSize()))
			if err != nil {
				it.Close()
				return err
			}
			if open && strings.HasSuffix(g.key, "\x00") && rng.Intn(2) == 0 {
				convs = append(convs, conv{item.KeyCopy(nil), p, g.kids})
			}
		}
		it.Close()
	convs:
		for _, c := range convs {
			for _, kid := range c.kids {
				if _, err := txn.Get(dependKey(c.p, kid)); err == nil {
					continue convs // a single key of its own already (a revive's)
				}
			}
			if err := txn.Delete(c.key); err != nil {
				return err
			}
			for _, kid := range c.kids {
				if err := txn.Set(dependKey(c.p, kid), []byte{}); err != nil {
					return err
				}
			}
		}
		return nil
	}))
}

func reviewDepsCrashDAG(t *testing.T, seed int64) {
	ctx := context.Background()
	rng := rand.New(rand.NewSource(seed))
	dir := t.TempDir()
	var armed atomic.Int64 // > 0: the commit that brings it to 0 fails
	var kills atomic.Int64
	hook := func() error {
		if armed.Load() > 0 && armed.Add(-1) == 0 {
			kills.Add(1)
			return errors.New("killed between commits")
		}
		return nil
	}
	open := func() *Badger {
		s, err := OpenBadger(BadgerOptions{Dir: dir, MemTableSize: 8 << 20, commitHook: hook})
		require.NoError(t, err)
		return s
	}
	s := open()
	defer func() { _ = s.Close() }()
	restart := func() {
		armed.Store(0)
		_ = s.Close() // a failed store's Close may report the failure
		s = open()
	}
	var ids []string
	userCancelled := map[string]bool{}
	retried := map[string]bool{}
	policy := map[string]string{}
	parentsOf := map[string][]string{}
	next := 0
	var fans []string
	barrier := 0
	sync := func() error { // a write after the follow-ups of every earlier one
		barrier++
		j := newJobFor(fmt.Sprintf("zz%06d", barrier))
		j.Category = "barrier"
		_, err := s.Insert(ctx, []*Job{j})
		return err
	}
	get := func(id string) *Job {
		j, err := s.Get(ctx, id)
		require.NoError(t, err, id)
		return j
	}
	pick := func(state State) string {
		for _, i := range rng.Perm(len(ids))[:min(len(ids), 200)] {
			if get(ids[i]).State == state {
				return ids[i]
			}
		}
		return ""
	}
	// settled makes sure the follow-ups ran: after a crash the store is opened again (its
	// start-up finds the settles left).
	settled := func() {
		if err := sync(); err != nil || s.Err() != nil {
			restart()
			require.NoError(t, sync())
		}
		armed.Store(0)
		require.NoError(t, sync())
	}
	check := func(step int, what string) {
		t.Helper()
		settled()
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
			ranAhead := policy[id] == ParentFailureRun && slices.ContainsFunc(parentsOf[id], func(p string) bool { return retried[p] })
			msg := fmt.Sprintf("seed %d step %d (%s): %s %s, parents %v: %d unfinished %d failed, %s", seed, step, what, id, j.State, parentsOf[id], unfinished, failed, policy[id])
			switch {
			case j.State == StatePending:
				if !ranAhead {
					require.Positive(t, unfinished, msg)
					n, _ := storedWaitCount(t, s, id)
					require.Equal(t, uint64(max(unfinished, 1)), n, msg)
				}
				if policy[id] != ParentFailureRun {
					require.Zero(t, failed, msg)
				}
			case j.State == StateCancelled && !userCancelled[id] && policy[id] != ParentFailureRun:
				require.Positive(t, failed, msg)
			case j.State == StateQueued || j.State == StateSucceeded || j.State == StateDead:
				if policy[id] != ParentFailureRun {
					require.Equal(t, len(parentsOf[id]), succeeded, msg)
				} else if !ranAhead {
					require.Zero(t, unfinished, msg)
				}
			}
			if j.State != StatePending {
				_, hasW := storedWaitCount(t, s, id)
				require.False(t, hasW, "%s: a w/ key left", msg)
			}
		}
		require.Equal(t, pending, s.Counts()["c"][StatePending], "seed %d step %d (%s)", seed, step, what)
		require.Equal(t, storedOpenKids(t, s), s.kids.all(), "seed %d step %d (%s)", seed, step, what)
	}
	maybeArm := func() {
		if rng.Intn(3) == 0 {
			armed.Store(1 + rng.Int63n(4))
		}
	}
	now := time.Now().UTC()
	for step := 0; step < 150; step++ {
		var what string
		switch op := rng.Intn(20); {
		case op < 7 || len(ids) < 3: // insert a batch
			n := 1 + rng.Intn(5)
			fan := ""
			if rng.Intn(6) == 0 {
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
		case op < 13: // finish a queued job, perhaps dying between its commits
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
			maybeArm()
			_, err := s.Update(ctx, id, func(j *Job) error {
				j.State, j.FinishedAt = state, &now
				if state == StateDead {
					j.Errors = append(j.Errors, AttemptError{Attempt: 1, At: now, Error: msg})
				}
				return nil
			}, true)
			what = fmt.Sprintf("%s %s (error of %d bytes, err %v)", id, state, len(msg), err)
		case op < 15: // cancel a waiting job
			id := pick(StatePending)
			if id == "" {
				continue
			}
			maybeArm()
			_, err := s.Update(ctx, id, func(j *Job) error { j.State, j.FinishedAt = StateCancelled, &now; return nil }, true)
			userCancelled[id] = true
			what = fmt.Sprintf("cancel %s (err %v)", id, err)
		case op < 18: // retry a dead job with its dependents, perhaps dying half way
			id := pick(StateDead)
			if id == "" {
				continue
			}
			before := map[string]State{}
			for _, x := range ids {
				before[x] = get(x).State
			}
			maybeArm()
			_, failed, err := s.ReviveDependents(ctx, id)
			if err == nil {
				_, err = s.Update(ctx, id, func(j *Job) error { j.State, j.FinishedAt = StateQueued, nil; return nil }, true)
			}
			if err == nil {
				err = s.SettleDependents(ctx, failed)
			}
			settled()
			for _, x := range ids {
				if before[x].Finished() && !get(x).State.Finished() {
					retried[x] = true
				}
			}
			what = fmt.Sprintf("revive %s (err %v)", id, err)
		default:
			require.NoError(t, sync())
			if rng.Intn(2) == 0 {
				downgradeLayouts(t, s, rng, ids)
				what = "restart on older layouts"
			} else {
				what = "restart"
			}
			restart()
			if rng.Intn(3) == 0 {
				restart() // opened twice without a write between
			}
		}
		check(step, what)
	}
	t.Logf("seed %d: %d commits failed, %d jobs", seed, kills.Load(), len(ids))
}
