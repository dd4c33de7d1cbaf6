package persistence

// waitCounts keeps in memory the parents counts (a pending job's parents not finished) the
// writer wrote, so that a parent's finish need not read each child's count back from the LSM
// tree (a point read per dependency was a third of the cost of settling). Owned by the writer
// goroutine.
//
// A count is stored in the value of the pending job's w/ key, after its category, only when it
// is above one: a w/ key without a count waits for one parent (keys.go). Besides the count, the
// cache keeps the category (to write the w/ key anew without reading the record) and whether
// an older binary stored the count as an n/ key, so that the next write deletes that key.
//
// It follows the writer's transactions the way the record cache does (cache.go): the request
// being planned stages its counts (staged, dropped when the next request is planned, so a
// request refused after its plan leaves nothing); once its writes are in the transaction they
// move to open (note, as the d/ keys move to pendingDeps); the counts of commits that landed move
// to committed (land, run only after a commit succeeded). A transaction that was discarded
// (abort) or failed leaves open behind: begin drops it when the writer plans in another
// transaction. A count not held here is read from the store, so the cache is never needed, only
// never stale.
type waitCounts struct {
	txn       *wtxn                // the transaction open describes
	staged    map[string]waitCount // planned by the request being planned
	open      map[string]waitCount // written in txn
	committed map[string]waitCount // landed; a job no longer pending is absent
}

// waitCount is a pending job's count of unfinished parents, its category (its w/ key's value
// holds both), whether an older binary stored its count as an n/ key, and whether it has no w/
// key at all. n is 0 for a job that is no longer pending (released or cancelled).
type waitCount struct {
	n    uint64
	cat  string
	key  bool
	none bool // no w/ key is stored: a child inserted waiting for one parent (countInsert)
}

// maxWaitCounts bounds the committed counts held: beyond it, new ones are read from the store.
const maxWaitCounts = 1 << 20

// begin is called before planning a request in txn: what the previous request staged (it was
// refused, or noted already) is dropped, and counts noted in another transaction, which the
// writer discarded or failed to commit (a landed one was moved by land), too.
func (w *waitCounts) begin(txn *wtxn) {
	clear(w.staged)
	if w.txn != txn {
		clear(w.open)
		w.txn = txn
	}
}

// stage records the count of id that the request being planned writes (n 0: no longer pending).
func (w *waitCounts) stage(id string, c waitCount) {
	if w.staged == nil {
		w.staged = map[string]waitCount{}
	}
	w.staged[id] = c
}

// note moves the staged counts into the open transaction: the request's writes are in it.
func (w *waitCounts) note() {
	if len(w.staged) == 0 {
		return
	}
	if w.open == nil {
		w.open = map[string]waitCount{}
	}
	for id, c := range w.staged {
		w.open[id] = c
	}
	clear(w.staged)
}

// land moves the counts of the transaction just committed into committed.
func (w *waitCounts) land() {
	if w.committed == nil {
		w.committed = map[string]waitCount{}
	}
	for id, c := range w.open {
		_, had := w.committed[id]
		switch {
		case c.n == 0:
			delete(w.committed, id)
		case had || len(w.committed) < maxWaitCounts:
			w.committed[id] = c
		}
	}
	clear(w.open)
	w.txn = nil
}

// get returns the count of id as the request being planned in txn sees it, if held.
func (w *waitCounts) get(txn *wtxn, id string) (waitCount, bool) {
	if c, ok := w.staged[id]; ok {
		return c, true
	}
	if w.txn == txn {
		if c, ok := w.open[id]; ok {
			return c, true
		}
	}
	c, ok := w.committed[id]
	return c, ok
}
