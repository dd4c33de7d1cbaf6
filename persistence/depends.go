package persistence

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// Dependencies (depends_on) live in the store, so that releasing a child is part of the same
// commit as its parent's finish: a crash at any moment releases no child early and strands none.
//
// A child names its parents (Job.Parents); while some are unfinished it is pending, and the
// value of its index key w/<child> counts them after its category (a small key, so a fan-in of
// 10,000 parents does not rewrite the child's record, which lists them all, 10,000 times). The
// key is there only while the count is above one: a child waiting for one parent (the common
// chain) has no w/ key at all, and start-up counts it from its parent's open d/ key. A
// store written before the count moved into w/ holds it as a key n/<child>, still read. The dependencies are d/ keys (keys.go, dependlists.go): the children of one parent in
// one insert share one key, a list; a store written before the lists holds one key per
// dependency, still read (revive writes those too). When a parent finishes, its
// write also reads its d/ keys and applies the finish to each child still pending: a success
// counts the parent done; a failure (dead, cancelled) cancels the child (and, in turn, its own
// children) unless the child says ParentFailureRun. A child whose last parent finished becomes
// queued, or scheduled if its run_at is still ahead.
// The d/ key is then marked done (kept for the API's children, with the retention TTL), a list
// once for all its children, so a parent that finishes twice (retried after it died) does not count twice.

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
// or scheduled) or cancelled (a parent failed). fn runs on the goroutine that answers the
// commit (pipe.go; two may run at once): it must be quick (send a message). The store's own indexes are the truth; fn is a hint.
func (s *Badger) SetReleaseHook(fn func(jobs []*Job)) { s.releaseHook.Store(&fn) }

// forgetSettled drops from s.parents the jobs whose every dependent a landed commit settled,
// unless a later request of the batch stored an open dependency on one again (a revive, whose
// SettleDependents must then find it): the batch's commits have landed in s.kids.
func (s *Badger) forgetSettled(answered []*request) {
	for _, r := range answered {
		if r.err != nil {
			continue
		}
		for _, id := range r.settled {
			if s.reopened(id) {
				continue
			}
			delete(s.parents, id)
		}
	}
}

// reopened tells whether the store holds an open d/ key of parent (when in doubt, true: a
// spare id in s.parents only costs a look at its d/ keys).
func (s *Badger) reopened(parent string) bool {
	if !s.kids.off {
		m := s.kids.by[parent]
		return m.len() > 0
	}
	groups, err := s.dependGroups(parent, func(_ depGroup, open bool) bool { return open })
	return err != nil || len(groups) > 0
}

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
// (a copy when it changes) and its dependencies (the caller adds them to the insert's d/ lists,
// depLists, once it knows the weight of j's record, and a pending j's count, the open ones, to
// its w/ key: countInsert).
func (s *Badger) insertParents(txn *wtxn, i int, j *Job, earlier map[string]*Job, writes []pendingWrite) (*Job, []pendingWrite, []depListID, error) {
	if len(j.Parents) == 0 {
		return j, writes, nil, nil
	}
	c := j.Clone()
	waiting := 0
	var failed *Job
	edges := make([]depListID, 0, len(c.Parents))
	var named map[string]bool // the parents' ids so far, when a duplicate of the batch is among them
	kept := c.Parents[:0]
	for k, pid := range c.Parents {
		p := earlier[pid]
		if p == nil {
			var err error
			if p, err = s.lookup(txn, pid); errors.Is(err, ErrNotFound) {
				return nil, nil, nil, &ParentError{Job: i, Parent: k, ID: pid}
			} else if err != nil {
				return nil, nil, nil, err
			}
		}
		if p.ID != pid || named != nil {
			// A duplicate in the batch names its holder, which may be among the parents already:
			// a parent counted twice would be settled twice (a child cancelled twice, or left
			// waiting for a dependency revived once).
			if named == nil {
				named = make(map[string]bool, len(c.Parents))
				for _, q := range kept {
					named[q] = true
				}
			}
			if named[p.ID] {
				continue
			}
			named[p.ID] = true
		}
		kept = append(kept, p.ID)
		switch {
		case !p.State.Finished():
			waiting++
			edges = append(edges, depListID{p.ID, true})
			s.parents[p.ID] = struct{}{} // before the commit: a failed one only leaves a spare id
		default:
			edges = append(edges, depListID{p.ID, false})
			if p.State != StateSucceeded && failed == nil && c.OnParentFailure != ParentFailureRun {
				failed = p
			}
		}
	}
	c.Parents = kept
	switch {
	case failed != nil:
		now := c.CreatedAt
		cancelForParent(c, failed, now)
	case waiting > 0:
		c.State, c.Seq = StatePending, 0
	}
	return c, writes, edges, nil
}

// CancelForParent ends c cancelled because its parent p failed, as every store records it: the
// error "parent <id> ended <state>[: <its last error>]" (ReviveDependents recognises it).
func CancelForParent(c, p *Job, now time.Time) { cancelForParent(c, p, now) }

// cancelForParent ends c cancelled because its parent p failed.
func cancelForParent(c, p *Job, now time.Time) {
	msg := fmt.Sprintf("parent %s ended %s", p.ID, p.State)
	if e := p.LastError(); e != "" {
		msg += ": " + e
	}
	c.State, c.FinishedAt, c.Seq = StateCancelled, &now, 0
	c.Errors = append(c.Errors, AttemptError{Attempt: c.Attempt, At: now, Error: msg})
}

// maxSettle bounds the children one write settles, so that a fan-out of any size never makes a
// commit too large: the rest are settled by follow-up writes (settleMore). A write also stops
// taking children once its writes weigh half a commit (settleFull): a released child's whole
// record, its args included, is rewritten in the commit.
const maxSettle = 2000

// settleWeight sums the weight (Badger.weigh) of a write's planned writes as they grow, so that
// settle and planRevive stop taking children at half the commit's limits.
type settleWeight struct {
	nb, nc int64
	mark   int // writes[:mark] are counted
}

// settleAdd counts writes[w.mark:] in w; it reports ErrTooLarge only for a write that can never fit.
func (s *Badger) settleAdd(w *settleWeight, writes []pendingWrite) error {
	nb, nc, err := s.weigh(writes[w.mark:])
	if err != nil && nb == 0 {
		return err // a key or record over badger's limits
	}
	w.nb, w.nc, w.mark = w.nb+nb, w.nc+nc, len(writes)
	return nil
}

// settleFull tells whether writes weighing w leave no room for another child in this write.
func (s *Badger) settleFull(w *settleWeight) bool {
	return w.nb >= s.maxTxnBytes/2 || w.nc >= s.maxTxnCount/2
}

// settle applies the finish of p (planned in r, going from old's state to finished; old nil for
// a follow-up) to up to maxSettle of its dependents: it appends their writes and records them in
// r (planned, deltas, released). A parent with children left, and a child cancelled (whose own
// dependents must hear of it), go to r.more, settled by the writer's next follow-up writes.
// Should the process die first, the start-up scan (recoverSettles) finds them by their open d/ keys.
func (s *Badger) settle(txn *wtxn, r *request, old, p *Job, writes []pendingWrite) ([]pendingWrite, error) {
	if old != nil && old.State == StatePending && p.State != StatePending {
		writes = append(writes, pendingWrite{key: waitingKey(p.ID), del: true}) // cancelled
		s.waits.stage(p.ID, waitCount{})
	}
	if old != nil && old.State == StatePending && p.State == StatePending {
		// Changed while it waits: jobWrites wrote its w/ key anew, without the count.
		w, err := s.readWaiting(txn, p.ID)
		if err != nil {
			return nil, err
		}
		s.countInPending(writes, p.ID, p.Category, w.n)
		if w.key { // an older store's n/ key: the count is in w/ now
			writes = append(writes, pendingWrite{key: waitingKey(p.ID), del: true})
		}
	}
	if (old != nil && old.State.Finished()) || !p.State.Finished() {
		return writes, nil
	}
	if _, ok := s.parents[p.ID]; !ok {
		return writes, nil // no dependent was ever stored open for it
	}
	now := time.Now().UTC()
	groups, more, err := s.openChildren(txn, p.ID, maxSettle)
	if err != nil {
		return nil, err
	}
	var w settleWeight
	if err := s.settleAdd(&w, writes); err != nil {
		return nil, err
	}
	for i, g := range groups {
		if err := s.settleAdd(&w, writes); err != nil {
			return nil, err
		}
		if i > 0 && s.settleFull(&w) {
			more = true // the rest in the follow-up writes
			break
		}
		var split bool
		if writes, split, err = s.settleGroup(txn, r, p, g, now, writes, &w); err != nil {
			return nil, err
		}
		if split {
			more = true
			break
		}
	}
	if more {
		r.more = append(r.more, p.ID)
	} else {
		r.settled = append(r.settled, p.ID) // forgotten once this commit has landed
	}
	return writes, nil
}

// settleGroup applies the finish of p to the children of its open d/ key g. A list is settled
// whole when it fits, its key marked done once for all its children; but a child's record may
// have grown since the insert weighed the list (a failure appends an error naming the parent's
// last error, which may be long), so once the write weighs half a commit the list is split: its
// key is marked done naming the children settled, and the rest go to an open list of their own
// (keyed by the first of them, which no other list of p starts with: a child is in one list of
// a parent), settled by a follow-up write. Both are in this commit: a crash loses none.
func (s *Badger) settleGroup(txn *wtxn, r *request, p *Job, g depGroup, now time.Time, writes []pendingWrite, w *settleWeight) ([]pendingWrite, bool, error) {
	var err error
	for k, cid := range g.kids {
		if k > 0 {
			if err := s.settleAdd(w, writes); err != nil {
				return nil, false, err
			}
			if s.settleFull(w) {
				rest := g.kids[k:]
				writes = append(writes,
					groupWrite(p.ID, depGroup{key: g.key, kids: g.kids[:k]}, false, s.opt.Retention),
					groupWrite(p.ID, depGroup{key: rest[0] + "\x00", kids: rest}, true, 0))
				return writes, true, nil
			}
		}
		if writes, err = s.settleChild(txn, r, p, cid, now, writes); err != nil {
			return nil, false, err
		}
	}
	return append(writes, groupWrite(p.ID, g, false, s.opt.Retention)), false, nil
}

// settleChild applies the finish of p to its child cid (settle): a success counts it done, and
// releases it at its last parent; a failure cancels it unless it says ParentFailureRun.
func (s *Badger) settleChild(txn *wtxn, r *request, p *Job, cid string, now time.Time, writes []pendingWrite) ([]pendingWrite, error) {
	held, isHeld := s.waits.get(txn, cid)
	if p.State == StateSucceeded && isHeld && held.n > 1 && held.cat != "" {
		// A count held above one is a child still pending (every write that takes a job out of
		// pending drops its count): only the count changes, and its record need not be read.
		return s.setWaiting(writes, cid, held.cat, held.n-1, held.key), nil
	}
	prev, err := s.lookup(txn, cid)
	if errors.Is(err, ErrNotFound) {
		return writes, nil // deleted meanwhile
	} else if err != nil {
		return nil, err
	}
	if prev.State != StatePending {
		return writes, nil // cancelled meanwhile, or released by an earlier finish
	}
	cancel := p.State != StateSucceeded && prev.OnParentFailure != ParentFailureRun
	none := false // the child has no w/ key to delete (countInsert)
	if !cancel {
		w := held
		if !isHeld || held.n == 0 {
			if w, err = s.readWaiting(txn, cid); err != nil {
				return nil, err
			}
		}
		if w.n > 1 {
			// Still waiting: only the count changes, not the record.
			writes = s.setWaiting(writes, cid, prev.Category, w.n-1, w.key)
			return writes, nil
		}
		if w.key {
			writes = append(writes, pendingWrite{key: waitingKey(cid), del: true})
		}
		none = w.none
		s.waits.stage(cid, waitCount{})
	}
	c := prev.Clone()
	if cancel {
		cancelForParent(c, p, now)
		r.more = append(r.more, c.ID)
		writes = append(writes, pendingWrite{key: waitingKey(c.ID), del: true})
		s.waits.stage(c.ID, waitCount{})
	} else {
		if c.RunAt.After(now) {
			c.State = StateScheduled
		} else {
			c.State, c.Seq = StateQueued, s.takeSeq(c.Category)
		}
	}
	if writes, err = s.jobWrites(writes, prev, c, nil); err != nil {
		return nil, err
	}
	if none {
		writes = dropPendingDelete(writes, c.ID)
	}
	r.planned = append(r.planned, c)
	if c.State != prev.State {
		r.deltas = append(r.deltas, delta{c.ID, c.Category, prev.State, c.State})
		r.released = append(r.released, c.Clone())
	}
	return writes, nil
}

// readWaiting reads a pending job's count of unfinished parents, from the counts the writer
// holds (waitcounts.go) or else from the store: its w/ key's value, or the n/ key of a store
// written before the count moved into w/, or one when neither holds a count.
func (s *Badger) readWaiting(t *wtxn, id string) (waitCount, error) {
	if w, ok := s.waits.get(t, id); ok && w.n > 0 {
		return w, nil
	}
	txn, err := t.read()
	if err != nil {
		return waitCount{}, err
	}
	w := waitCount{n: 1}
	item, err := txn.Get(pendingKey(id))
	switch {
	case errors.Is(err, badger.ErrKeyNotFound):
		w.none = true
	case err != nil:
		return waitCount{}, fmt.Errorf("read the parents count of %s: %w", id, err)
	default:
		err = item.Value(func(v []byte) (err error) {
			w.cat, w.n, err = parsePendingValue(v)
			return err
		})
		if err != nil {
			return waitCount{}, fmt.Errorf("the parents count of %s: %w", id, err)
		}
		if w.n > 1 {
			return w, nil
		}
	}
	item, err = txn.Get(waitingKey(id)) // an older store's count
	if errors.Is(err, badger.ErrKeyNotFound) {
		return w, nil
	}
	if err != nil {
		return waitCount{}, fmt.Errorf("read the parents count of %s: %w", id, err)
	}
	w.key = true
	err = item.Value(func(v []byte) error {
		var k int
		if w.n, k = binary.Uvarint(v); k <= 0 {
			return fmt.Errorf("corrupt parents count %q of %s", v, id)
		}
		return nil
	})
	return w, err
}

// setWaiting appends the write that sets the parents count of the pending job id (of category
// cat) to n (at least one): its w/ key's value (keys.go), or, at one, the delete of its w/ key
// (a missing w/ key reads as one, and the job is counted at start-up from its last parent's open
// d/ key, as countInsert's children are: its release then deletes no w/ key); and deletes its n/
// key if an older binary stored one (key).
func (s *Badger) setWaiting(writes []pendingWrite, id, cat string, n uint64, key bool) []pendingWrite {
	if n <= 1 {
		writes = append(writes, pendingWrite{key: pendingKey(id), del: true})
	} else {
		writes = append(writes, pendingWrite{key: pendingKey(id), value: pendingValue(cat, n)})
	}
	if key {
		writes = append(writes, pendingWrite{key: waitingKey(id), del: true})
	}
	s.waits.stage(id, waitCount{n: n, cat: cat, none: n <= 1})
	return writes
}

// countInsert stages the parents count of j, just inserted (its writes are in writes), and
// writes it in its w/ key: the dependencies of edges still open. A child that waits for one
// parent gets no w/ key at all (two keys fewer: its insert's and its release's): a missing w/
// key reads as a count of one (readWaiting), and the start-up scan counts it as pending from
// its parent's open d/ key, which names it until its release (countUnindexedPending).
func (s *Badger) countInsert(writes []pendingWrite, j *Job, edges []depListID) []pendingWrite {
	if j.State != StatePending {
		return writes
	}
	n := uint64(0)
	for _, e := range edges {
		if e.open {
			n++
		}
	}
	if n == 1 {
		k := pendingKey(j.ID)
		for i := len(writes) - 1; i >= 0; i-- {
			if !writes[i].del && bytes.Equal(writes[i].key, k) {
				writes = slices.Delete(writes, i, i+1)
				break
			}
		}
		s.waits.stage(j.ID, waitCount{n: 1, cat: j.Category, none: true})
		return writes
	}
	s.countInPending(writes, j.ID, j.Category, n)
	return writes
}

// dropPendingDelete removes from writes the delete of id's w/ key (jobWrites wrote it as the job
// left pending) when the job has none.
func dropPendingDelete(writes []pendingWrite, id string) []pendingWrite {
	k := pendingKey(id)
	for i := len(writes) - 1; i >= 0; i-- {
		if writes[i].del && bytes.Equal(writes[i].key, k) {
			return slices.Delete(writes, i, i+1)
		}
	}
	return writes
}

// countInPending gives the w/ write of the pending job id among writes (jobWrites wrote it) its
// count of unfinished parents, n, and stages the count.
func (s *Badger) countInPending(writes []pendingWrite, id, cat string, n uint64) {
	s.waits.stage(id, waitCount{n: n, cat: cat})
	k := pendingKey(id)
	for i := len(writes) - 1; i >= 0; i-- {
		if !writes[i].del && bytes.Equal(writes[i].key, k) {
			writes[i].value = pendingValue(cat, n)
			return
		}
	}
}

// planSettle plans a follow-up: the finish of the job r.settleID applied to more of its children.
func (s *Badger) planSettle(txn *wtxn, r *request) ([]pendingWrite, error) {
	p, err := s.lookup(txn, r.settleID)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return s.settle(txn, r, nil, p, nil)
}

// followUps turns the r.more of the answered requests into follow-up requests.
func followUps(answered []*request, out []*request) []*request {
	for _, r := range answered {
		if r.err != nil {
			continue
		}
		for _, id := range r.more {
			out = append(out, &request{settleID: id, done: func(*request) {}})
		}
	}
	return out
}

// recoverSettles finds the finished jobs with dependents not yet settled (their d/ keys still
// open: the process died between a finish and its follow-ups) and queues their follow-ups.
func (s *Badger) recoverSettles() error {
	return s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(prefixDepends), PrefetchValues: false})
		var parents []string
		last := ""
		waiting := map[string]struct{}{} // the children of open d/ keys
		for it.Rewind(); it.Valid(); it.Next() {
			item := it.Item()
			if item.ValueSize() == int64(len(dependDone)) {
				continue // one dependency, done (a list's value is longer): skipped unread
			}
			p, g, open, err := parseDepend(item.Key()[len(prefixDepends):], func() ([]byte, error) { return item.ValueCopy(nil) }, int(item.ValueSize()))
			if err != nil {
				it.Close()
				return err
			}
			if !open {
				continue
			}
			if p != last {
				parents, last = append(parents, p), p
				s.parents[p] = struct{}{}
			}
			s.kids.add(p, g)
			for _, kid := range g.kids {
				waiting[kid] = struct{}{}
			}
		}
		it.Close()
		if err := s.countUnindexedPending(txn, waiting); err != nil {
			return err
		}
		for _, id := range parents {
			p, err := s.readJob(txn, id)
			if errors.Is(err, ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			if p.State.Finished() {
				s.recovered = append(s.recovered, &request{settleID: id, done: func(*request) {}})
			}
		}
		return nil
	})
}

// countUnindexedPending adds to the counts (load counted the w/ keys) the pending jobs without a
// w/ key: the children waiting for one parent (countInsert, setWaiting), each named by an open
// d/ key until its release, so among waiting (the children of the open d/ keys). It reads the
// record of each child without a w/ key, in key order (random reads cost several times more);
// one that is not pending (cancelled by another parent) or is gone is not counted.
func (s *Badger) countUnindexedPending(txn *badger.Txn, waiting map[string]struct{}) error {
	ids := make([]string, 0, len(waiting))
	for id := range waiting {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	var j Job
	for _, id := range ids {
		_, err := txn.Get(pendingKey(id))
		if err == nil {
			continue // counted by load
		}
		if !errors.Is(err, badger.ErrKeyNotFound) {
			return fmt.Errorf("read the w/ key of %s: %w", id, err)
		}
		item, err := txn.Get(jobKey(id))
		if errors.Is(err, badger.ErrKeyNotFound) {
			continue // deleted
		}
		if err != nil {
			return fmt.Errorf("read job %s: %w", id, err)
		}
		j = Job{}
		if err := item.Value(func(v []byte) error { return decodeJob(id, v, &j) }); err != nil {
			return fmt.Errorf("decode job %s: %w", id, err)
		}
		if j.State == StatePending {
			s.count(j.Category)[StatePending]++
		}
	}
	return nil
}

// openChildren returns the open d/ keys of parent, whole, until they name limit children (at
// least one key), and whether there are more. It reads the committed keys through a read-only
// transaction (only the writer commits, so it sees what txn saw) and adds the open
// transaction's own d/ writes from s.pendingDeps: an iterator of txn itself would sort all its
// pending writes each time, which made a group commit of thousands of finishes quadratic. Unless
// there are too many, the open d/ keys are held in memory (s.kids, openkids.go) and no iterator
// is needed.
func (s *Badger) openChildren(_ *wtxn, parent string, limit int) ([]depGroup, bool, error) {
	pending := s.pendingDeps[parent]
	if out, more, ok := s.kids.open(parent, pending, limit); ok {
		return out, more, nil
	}
	groups, err := s.dependGroups(parent, func(g depGroup, open bool) bool {
		if w, ok := pending.get(g.key); ok {
			return w.open
		}
		return open
	})
	if err != nil {
		return nil, false, err
	}
	seen := make(map[string]bool, len(groups))
	for _, g := range groups {
		seen[g.key] = true
	}
	pending.each(func(key string, w depWrite) { // written by this transaction only
		if w.open && !seen[key] {
			groups = append(groups, depGroup{key: key, kids: w.kids})
		}
	})
	slices.SortFunc(groups, func(a, b depGroup) int { return strings.Compare(a.key, b.key) })
	out, more := takeGroups(groups, limit)
	return out, more, nil
}

// dependGroups returns the committed d/ keys of parent that keep says to, read through a
// read-only transaction.
func (s *Badger) dependGroups(parent string, keep func(g depGroup, open bool) bool) ([]depGroup, error) {
	rtxn := s.db.NewTransaction(false)
	defer rtxn.Discard()
	return readDependGroups(rtxn, parent, keep)
}

// readDependGroups returns the d/ keys of parent in txn that keep says to.
func readDependGroups(txn *badger.Txn, parent string, keep func(g depGroup, open bool) bool) ([]depGroup, error) {
	prefix := dependPrefix(parent)
	it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: false})
	defer it.Close()
	var out []depGroup
	for it.Rewind(); it.Valid(); it.Next() {
		item := it.Item()
		_, g, open, err := parseDepend(item.Key()[len(prefixDepends):], func() ([]byte, error) { return item.ValueCopy(nil) }, int(item.ValueSize()))
		if err != nil {
			return nil, err
		}
		if keep(g, open) {
			out = append(out, g)
		}
	}
	return out, nil
}

// notePendingDeps records the d/ keys among writes, just put in the open transaction, and the
// parents counts the request staged (waitcounts.go).
func (s *Badger) notePendingDeps(writes []pendingWrite) {
	s.waits.note()
	if s.keysTxn != s.waits.txn { // a transaction thrown away counts nothing
		s.keysTxn, s.keysOpen = s.waits.txn, 0
	}
	s.keysOpen += uint64(len(writes))
	for _, w := range writes {
		if w.del || !bytes.HasPrefix(w.key, []byte(prefixDepends)) {
			continue
		}
		parent, g, open, err := parseDepend(w.key[len(prefixDepends):], func() ([]byte, error) { return w.value, nil }, len(w.value))
		if err != nil {
			continue // never: the writer wrote it
		}
		m := s.pendingDeps[parent]
		m.set(g.key, depWrite{kids: g.kids, open: open})
		s.pendingDeps[parent] = m
	}
}

// children returns the ids of every job depending on parent.
func (s *Badger) children(txn *badger.Txn, parent string) ([]string, error) {
	groups, err := readDependGroups(txn, parent, func(depGroup, bool) bool { return true })
	if err != nil {
		return nil, err
	}
	var out []string
	for _, g := range groups {
		out = append(out, g.kids...)
	}
	slices.Sort(out)
	return slices.Compact(out), nil // a revived child has a key of its own besides its list
}
