package persistence

import (
	"errors"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// Dependencies (depends_on) live in the store, so that releasing a child is part of the same
// commit as its parent's finish: a crash at any moment releases no child early and strands none.
//
// A child names its parents (Job.Parents) and counts those not finished (WaitingParents); it is
// pending while that count is above zero. Each dependency has a key d/<parent>\x00<child>
// (keys.go). When a parent finishes, its write also reads its d/ keys and applies the finish to
// each child still pending: a success counts the parent done; a failure (dead, cancelled)
// cancels the child (and, in turn, its own children) unless the child says ParentFailureRun.
// A child whose count reaches zero becomes queued, or scheduled if its run_at is still ahead.
// The d/ key is then marked dependDone (kept for the API's children, with the retention TTL),
// so a parent that finishes twice (retried after it died) does not count twice.

// What a parent's failure does to a child (Job.OnParentFailure).
const (
	ParentFailureCancel = "cancel"
	ParentFailureRun    = "run"
)

// dependDone is the value of a d/ key whose parent's finish was applied.
var dependDone = []byte{1}

// ParentError is an Insert refused because a job names a parent that does not exist.
type ParentError struct {
	Job    int    // the job's index in the Insert
	Parent int    // the parent's index in its Parents
	ID     string // the unknown id
}

func (e *ParentError) Error() string {
	return fmt.Sprintf("job %d: parent %d: %s: %v", e.Job, e.Parent, e.ID, ErrNotFound)
}

// Unwrap makes a ParentError an ErrNotFound.
func (e *ParentError) Unwrap() error { return ErrNotFound }

// SetReleaseHook sets fn to hear, after each commit, of the jobs a finish released (now queued
// or scheduled) or cancelled (a parent failed). fn runs on the writer goroutine: it must be
// quick (send a message). The store's own indexes are the truth; fn is a hint.
func (s *Badger) SetReleaseHook(fn func(jobs []*Job)) { s.releaseHook.Store(&fn) }

// announceReleased calls the release hook with the released jobs of the answered requests.
func (s *Badger) announceReleased(answered []*request) {
	p := s.releaseHook.Load()
	if p == nil || *p == nil {
		return
	}
	var out []*Job
	for _, r := range answered {
		if r.err == nil {
			out = append(out, r.released...)
		}
	}
	if len(out) > 0 {
		(*p)(out)
	}
}

// insertParents settles the parents of j, about to be inserted as the job at index i of r
// (earlier maps the ids inserted earlier in r to their jobs): it returns j as it must be stored
// (a copy when it changes) and appends the d/ keys.
func (s *Badger) insertParents(txn *badger.Txn, i int, j *Job, earlier map[string]*Job, writes []pendingWrite) (*Job, []pendingWrite, error) {
	if len(j.Parents) == 0 {
		return j, writes, nil
	}
	c := j.Clone()
	c.WaitingParents = 0
	var failed *Job
	for k, pid := range c.Parents {
		p := earlier[pid]
		if p == nil {
			var err error
			if p, err = s.lookup(txn, pid); errors.Is(err, ErrNotFound) {
				return nil, nil, &ParentError{Job: i, Parent: k, ID: pid}
			} else if err != nil {
				return nil, nil, err
			}
		}
		c.Parents[k] = p.ID // a duplicate in the batch names its holder
		switch {
		case !p.State.Finished():
			c.WaitingParents++
			writes = append(writes, pendingWrite{key: dependKey(p.ID, c.ID), value: []byte{}})
		default:
			writes = append(writes, pendingWrite{key: dependKey(p.ID, c.ID), value: dependDone, ttl: s.opt.Retention})
			if p.State != StateSucceeded && failed == nil && c.OnParentFailure != ParentFailureRun {
				failed = p
			}
		}
	}
	switch {
	case failed != nil:
		now := c.CreatedAt
		cancelForParent(c, failed, now)
	case c.WaitingParents > 0:
		c.State, c.Seq = StatePending, 0
	}
	return c, writes, nil
}

// cancelForParent ends c cancelled because its parent p failed.
func cancelForParent(c, p *Job, now time.Time) {
	msg := fmt.Sprintf("parent %s ended %s", p.ID, p.State)
	if e := p.LastError(); e != "" {
		msg += ": " + e
	}
	c.State, c.FinishedAt, c.Seq, c.WaitingParents = StateCancelled, &now, 0, 0
	c.Errors = append(c.Errors, AttemptError{Attempt: c.Attempt, At: now, Error: msg})
}

// settle applies the finish of p (planned in r, going from old's state to finished) to its
// dependents and, when that cancels them, to theirs: it appends their writes and records them in
// r (planned, deltas, released).
func (s *Badger) settle(txn *badger.Txn, r *request, old, p *Job, writes []pendingWrite) ([]pendingWrite, error) {
	if old.State.Finished() || !p.State.Finished() {
		return writes, nil
	}
	now := time.Now().UTC()
	touched := map[string]*Job{}
	queue := []*Job{p}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		children, err := s.openChildren(txn, p.ID)
		if err != nil {
			return nil, err
		}
		for _, cid := range children {
			writes = append(writes, pendingWrite{key: dependKey(p.ID, cid), value: dependDone, ttl: s.opt.Retention})
			prev := touched[cid]
			if prev == nil {
				if prev, err = s.lookup(txn, cid); errors.Is(err, ErrNotFound) {
					continue // deleted meanwhile
				} else if err != nil {
					return nil, err
				}
			}
			if prev.State != StatePending {
				continue // cancelled meanwhile, or released by an earlier finish
			}
			c := prev.Clone()
			if p.State != StateSucceeded && c.OnParentFailure != ParentFailureRun {
				cancelForParent(c, p, now)
				queue = append(queue, c)
			} else if c.WaitingParents--; c.WaitingParents <= 0 {
				c.WaitingParents = 0
				if c.RunAt.After(now) {
					c.State = StateScheduled
				} else {
					c.State, c.Seq = StateQueued, s.takeSeq(c.Category)
				}
			}
			if writes, err = s.jobWrites(writes, prev, c, nil); err != nil {
				return nil, err
			}
			touched[cid] = c
			r.planned = append(r.planned, c)
			if c.State != prev.State {
				r.deltas = append(r.deltas, delta{c.ID, c.Category, prev.State, c.State})
				r.released = append(r.released, c.Clone())
			}
		}
	}
	return writes, nil
}

// openChildren returns the children of parent whose d/ key is not marked done.
func (s *Badger) openChildren(txn *badger.Txn, parent string) ([]string, error) {
	prefix := dependPrefix(parent)
	it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: false})
	defer it.Close()
	var out []string
	for it.Rewind(); it.Valid(); it.Next() {
		if it.Item().ValueSize() == 0 {
			out = append(out, string(it.Item().Key()[len(prefix):]))
		}
	}
	return out, nil
}

// children returns the ids of every job depending on parent.
func (s *Badger) children(txn *badger.Txn, parent string) []string {
	prefix := dependPrefix(parent)
	it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: false})
	defer it.Close()
	var out []string
	for it.Rewind(); it.Valid(); it.Next() {
		out = append(out, string(it.Item().Key()[len(prefix):]))
	}
	return out
}
