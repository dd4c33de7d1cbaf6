package persistence

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
)

// Reviving the dependents of a retried parent (Scheduler.RetryWith with Dependents).
//
// A child cancelled because its parent p failed holds the error "parent <p> ended ..." last, and
// its d/<p>\x00<child> key is marked done. ReviveDependents walks, from the retried parent down,
// the children each job cancelled that way, a page (maxSettle, or half a commit's weight:
// settleFull) per write: each goes back to pending, its d/ keys reopened for every parent that
// has not succeeded (or whose success is still being settled: an open d/ key names it), its w/
// key's count set to their number. The walk runs while the parent is still dead or cancelled, before it is retried, so that
// no finish can overtake it; should the process die before the retry, the start-up scan
// (recoverSettles) finds the parent finished with open d/ keys and cancels the revived children
// again: the retry was never made. A revived child whose other parent ended dead or cancelled
// waits for it too; SettleDependents, called once the parent is retried, settles such parents
// (that one's failure cancels the child again, or counts it done under ParentFailureRun).

// cancelledBy reports whether j was cancelled because its parent failed (cancelForParent).
func cancelledBy(j *Job, parent string) bool {
	return j.State == StateCancelled && strings.HasPrefix(j.LastError(), "parent "+parent+" ended ")
}

// ReviveDependents moves back to pending the jobs cancelled because parent failed, and,
// recursively, those cancelled because one of them was; it returns how many, and the parents
// of theirs that ended dead or cancelled (for SettleDependents). Each page is a durable write.
// A child whose unique key another unfinished job holds stays cancelled.
func (s *Badger) ReviveDependents(ctx context.Context, parent string) (int, []string, error) {
	queue := []string{parent}
	failed := map[string]struct{}{}
	revived := 0
	for len(queue) > 0 {
		x := queue[0]
		queue = queue[1:]
		for {
			r := &request{revive: x, durable: true}
			if _, err := s.wait(ctx, r); err != nil {
				return revived, mapKeys(failed), fmt.Errorf("revive the dependents of %s: %w", x, err)
			}
			revived += len(r.revivedIDs)
			queue = append(queue, r.revivedIDs...)
			for _, q := range r.reviveFailed {
				failed[q] = struct{}{}
			}
			if !r.reviveMore {
				break
			}
		}
	}
	return revived, mapKeys(failed), nil
}

func mapKeys(m map[string]struct{}) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// SettleDependents applies, to their open dependents, the finish of those of ids that are
// finished (a job not finished, or gone, is left alone), as a finish does, and waits for its
// first page. The rest, and the dependents of the children it cancels, are the writer's
// follow-ups, which it commits before any later request.
func (s *Badger) SettleDependents(ctx context.Context, ids []string) error {
	for _, id := range ids {
		r := &request{settleID: id, durable: true}
		if _, err := s.wait(ctx, r); err != nil {
			return fmt.Errorf("settle the dependents of %s: %w", id, err)
		}
	}
	return nil
}

// planRevive plans one page of ReviveDependents: the children of r.revive it cancelled.
func (s *Badger) planRevive(t *wtxn, r *request) ([]pendingWrite, error) {
	r.revivedIDs, r.reviveFailed, r.reviveMore = r.revivedIDs[:0], r.reviveFailed[:0], false
	txn, err := t.read()
	if err != nil {
		return nil, err
	}
	x := r.revive
	groups, err := readDependGroups(txn, x, func(_ depGroup, open bool) bool { return !open })
	if err != nil {
		return nil, err
	}
	var done []string
	for _, g := range groups {
		done = append(done, g.kids...)
	}
	slices.Sort(done)
	done = slices.Compact(done)
	var writes []pendingWrite
	var w settleWeight
	for _, cid := range done {
		prev, err := s.lookup(t, cid)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if !cancelledBy(prev, x) {
			continue
		}
		if prev.UniqueKey != "" {
			holder, err := s.uniqueHolder(t, prev.UniqueKey)
			if err != nil {
				return nil, err
			}
			if holder != nil && holder.ID != cid {
				continue
			}
		}
		if err := s.settleAdd(&w, writes); err != nil {
			return nil, err
		}
		if len(r.revivedIDs) == maxSettle || (len(r.revivedIDs) > 0 && s.settleFull(&w)) {
			r.reviveMore = true
			break
		}
		c := prev.Clone()
		waiting := uint64(0)
		for _, q := range c.Parents {
			open, err := s.dependsOpen(t, q, cid)
			if err != nil {
				return nil, err
			}
			if q != x {
				p, err := s.lookup(t, q)
				if errors.Is(err, ErrNotFound) {
					continue
				}
				if err != nil {
					return nil, err
				}
				if p.State == StateSucceeded {
					if open { // its finish is still being settled (follow-up writes), which will count it
						waiting++
					}
					continue // else done: its d/ key stays marked
				}
				if p.State.Finished() {
					r.reviveFailed = append(r.reviveFailed, q)
				}
			}
			waiting++
			if !open { // a key of its own: a list names other children (dependlists.go)
				writes = append(writes, pendingWrite{key: dependKey(q, cid), value: []byte{}})
			}
			s.parents[q] = struct{}{} // before the commit: a failed one only leaves a spare id
		}
		c.State, c.FinishedAt, c.Seq, c.CancelRequested = StatePending, nil, 0, false
		if writes, err = s.jobWrites(writes, prev, c, nil); err != nil {
			return nil, err
		}
		// The count in the w/ key jobWrites wrote; a cancel deleted an older store's n/ key.
		s.countInPending(writes, cid, c.Category, waiting)
		r.planned = append(r.planned, c)
		r.deltas = append(r.deltas, delta{c.ID, c.Category, prev.State, c.State})
		r.released = append(r.released, c.Clone())
		r.revivedIDs = append(r.revivedIDs, cid)
	}
	return writes, nil
}

// dependsOpen tells whether an open d/ key of parent names child.
func (s *Badger) dependsOpen(t *wtxn, parent, child string) (bool, error) {
	groups, _, err := s.openChildren(t, parent, math.MaxInt)
	if err != nil {
		return false, err
	}
	for _, g := range groups {
		if slices.Contains(g.kids, child) {
			return true, nil
		}
	}
	return false, nil
}
