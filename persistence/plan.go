package persistence

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// plan reads what r needs through txn and returns the writes it makes, filling r's results.
// It writes nothing.
func (s *Badger) plan(txn *wtxn, r *request) ([]pendingWrite, error) {
	s.waits.begin(txn)
	r.deltas, r.planned = r.deltas[:0], r.planned[:0]
	if r.inserts != nil {
		return s.planInsert(txn, r)
	}
	if r.del {
		return s.planDelete(txn, r)
	}
	r.released, r.more = r.released[:0], r.more[:0]
	if r.settleID != "" {
		return s.planSettle(txn, r)
	}
	if r.revive != "" {
		return s.planRevive(txn, r)
	}
	old, err := s.lookup(txn, r.id)
	if err != nil {
		return nil, err
	}
	j := old.Clone()
	if err := r.fn(j); err != nil {
		r.job = old.Clone()
		return nil, err
	}
	if j.ID != old.ID {
		return nil, fmt.Errorf("mutator changed the id of job %s", old.ID)
	}
	if err := s.checkRevive(txn, old, j); err != nil {
		r.job = old.Clone()
		return nil, err
	}
	switch {
	case j.State == StateQueued && (old.State != StateQueued || j.Category != old.Category):
		j.Seq = s.takeSeq(j.Category) // to the back of its queue
	case j.State == StateRunning && (j.Seq == 0 || j.Category != old.Category):
		j.Seq = s.takeSeq(j.Category) // a running job needs a q/ key too (keys.go)
	}
	var val []byte
	if old.State == StateQueued && j.State == StateRunning && j.Seq == old.Seq && j.Category == old.Category {
		val = s.startOnly(old, j)
	}
	writes, err := s.jobWrites(s.planBuf[:0], old, j, val)
	if err != nil {
		return nil, err
	}
	if writes, err = s.settle(txn, r, old, j, writes); err != nil {
		return nil, err
	}
	r.planned = append(r.planned, j)
	if j.State.Finished() {
		// Not cached (remember drops it): once r is answered, nothing of the writer holds j.
		r.job = j
	} else {
		r.job = j.Clone() // the caller's copy: the cached one is never handed out
	}
	if old.State != j.State {
		r.deltas = append(r.deltas, delta{j.ID, j.Category, old.State, j.State})
	}
	return writes, nil
}

func (s *Badger) planInsert(txn *wtxn, r *request) ([]pendingWrite, error) {
	writes := make([]pendingWrite, 0, 3*len(r.inserts))
	res := make([]InsertResult, len(r.inserts))
	// Sized once: appending a batch of 1,000 one by one made ~twice their size in garbage.
	r.planned = slices.Grow(r.planned, len(r.inserts))
	r.deltas = slices.Grow(r.deltas, len(r.inserts))
	var claimed map[string]*Job // unique keys taken earlier in this same request
	var earlier map[string]*Job // the jobs of this request by id, for depends_on (depends.go)
	for _, j := range r.inserts {
		if len(j.Parents) > 0 {
			earlier = make(map[string]*Job, len(r.inserts))
			break
		}
	}
	deps := depLists{maxBytes: int(s.maxTxnBytes / 8)} // the d/ keys of the dependencies (dependlists.go)
	for i, j := range r.inserts {
		if j.UniqueKey != "" {
			holder := claimed[j.UniqueKey]
			if holder != nil {
				res[i] = InsertResult{Job: holder.Clone(), Duplicate: true}
			} else {
				var err error
				if holder, err = s.uniqueHolder(txn, j.UniqueKey); err != nil {
					return nil, err
				}
				if holder != nil {
					res[i] = InsertResult{Job: holder, Duplicate: true}
				}
			}
			if holder != nil {
				if earlier != nil {
					earlier[j.ID] = holder
				}
				continue
			}
		}
		val := r.encoded[i]
		var edges []depListID
		if len(j.Parents) > 0 {
			c, w, e, err := s.insertParents(txn, i, j, earlier, writes)
			if err != nil {
				return nil, err
			}
			j, writes, val, edges = c, w, encodeJob(c), e
			for _, e := range edges {
				deps.add(e.parent, j.ID, e.open, len(val))
			}
		}
		if earlier != nil {
			earlier[j.ID] = j
		}
		var err error
		if writes, err = s.jobWrites(writes, nil, j, val); err != nil {
			return nil, err
		}
		if len(j.Parents) > 0 {
			writes = s.countInsert(writes, j, edges)
		}
		r.planned = append(r.planned, j)
		res[i] = InsertResult{Job: j.Clone()}
		if j.UniqueKey != "" {
			if claimed == nil {
				claimed = map[string]*Job{}
			}
			claimed[j.UniqueKey] = j
		}
		r.deltas = append(r.deltas, delta{j.ID, j.Category, "", j.State})
	}
	r.insertRes = res
	return deps.writes(writes, s.opt.Retention), nil
}

// uniqueHolder returns the unfinished job holding key, or nil.
func (s *Badger) uniqueHolder(t *wtxn, key string) (*Job, error) {
	txn, err := t.read()
	if err != nil {
		return nil, err
	}
	item, err := txn.Get(uniqueKey(key))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read unique key: %w", err)
	}
	id, err := item.ValueCopy(nil)
	if err != nil {
		return nil, fmt.Errorf("read unique key: %w", err)
	}
	j, err := s.readJob(txn, string(id))
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil || j.State.Finished() {
		return nil, err
	}
	return j, nil
}

// jobWrites appends to writes the writes that take a job from old (nil for a new job) to j: the
// record and the index keys that differ. val is j's encoded record, nil to encode it here, or
// keepRecord to leave the stored record as it is.
func (s *Badger) jobWrites(writes []pendingWrite, old, j *Job, val []byte) ([]pendingWrite, error) {
	if val == nil {
		val = encodeJob(j)
	}
	var ttl time.Duration
	if j.State.Finished() && s.opt.Retention > 0 {
		ttl = s.opt.Retention
	}
	if len(val) > 0 {
		writes = append(writes, pendingWrite{key: jobKey(j.ID), value: val, ttl: ttl})
	}
	var buf [4]indexEntry
	newKeys := indexKeys(buf[:0], j, true)
	if old != nil {
		for _, ok := range indexKeys(buf[len(newKeys):len(newKeys)], old, false) {
			keep := false
			for _, nk := range newKeys {
				if bytes.Equal(ok.key, nk.key) {
					keep = true
				}
			}
			if !keep {
				writes = append(writes, pendingWrite{key: ok.key, del: true})
			}
		}
	}
	for _, nk := range newKeys {
		writes = append(writes, pendingWrite{key: nk.key, value: nk.value})
	}
	return writes, nil
}

// maxKeyBytes is badger's limit of one key.
const maxKeyBytes = 65000

// weigh returns the bytes and keys writes add to a transaction, counted as badger counts them
// (Txn.checkSize: key, value or value pointer, two meta bytes, ten for the version), or
// ErrTooLarge when they can never fit in one commit (with their weight when that is why).
func (s *Badger) weigh(writes []pendingWrite) (nb, nc int64, err error) {
	for _, w := range writes {
		if len(w.key) > maxKeyBytes {
			return 0, 0, fmt.Errorf("%w: a key of %d bytes (limit %d)", ErrTooLarge, len(w.key), maxKeyBytes)
		}
		v := int64(len(w.value))
		if v > s.maxValueBytes {
			return 0, 0, fmt.Errorf("%w: a record of %d bytes (limit %d)", ErrTooLarge, v, s.maxValueBytes)
		}
		if v >= s.valThreshold {
			v = 12 // a pointer into the value log
		}
		nb += int64(len(w.key)) + v + 2 + 10
		nc++
	}
	if nb > s.maxTxnBytes || nc > s.maxTxnCount {
		return nb, nc, fmt.Errorf("%w: %d bytes in %d keys (limit %d bytes, %d keys in one commit)", ErrTooLarge, nb, nc, s.maxTxnBytes, s.maxTxnCount)
	}
	return nb, nc, nil
}
