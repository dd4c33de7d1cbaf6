package persistence

import (
	"bytes"
	"encoding/binary"
)

// waitCounts keeps in memory the n/ counts (a pending job's parents not finished) that the writer
// wrote, so that a parent's finish need not read each child's count back from the LSM tree (a
// point read per dependency was a third of the cost of settling). Owned by the writer goroutine.
//
// It follows the writer's transactions the way the record cache does (cache.go): open holds the
// counts written in the open transaction (noted once a request's writes are in it, like
// pendingDeps), committed those of commits that landed (moved by remember, which runs only after
// a commit succeeded). A transaction that was discarded (abort) or failed leaves open behind:
// begin drops it when the writer plans in another transaction. A count not held here is read
// from the store, so the cache is never needed, only never stale.
type waitCounts struct {
	txn       *wtxn             // the transaction open describes
	open      map[string]uint64 // written in txn; 0: deleted
	committed map[string]uint64 // landed; a count the writer deleted is absent
}

// maxWaitCounts bounds the committed counts held: beyond it, new ones are read from the store.
const maxWaitCounts = 1 << 20

// begin is called before planning a request in txn: counts noted in another transaction, which
// the writer discarded or failed to commit (a landed one was moved by land), are dropped.
func (w *waitCounts) begin(txn *wtxn) {
	if w.txn != txn {
		clear(w.open)
		w.txn = txn
	}
}

// note records the n/ writes among writes, just put in the open transaction.
func (w *waitCounts) note(writes []pendingWrite) {
	for _, pw := range writes {
		if !bytes.HasPrefix(pw.key, []byte(prefixWaiting)) {
			continue
		}
		var n uint64
		if !pw.del {
			var k int
			if n, k = binary.Uvarint(pw.value); k <= 0 {
				// Not a count this package wrote: forget it, so it is read from the store.
				n = 0
			}
		}
		if w.open == nil {
			w.open = map[string]uint64{}
		}
		w.open[string(pw.key[len(prefixWaiting):])] = n
	}
}

// land moves the counts of the transaction just committed into committed.
func (w *waitCounts) land() {
	if w.committed == nil {
		w.committed = map[string]uint64{}
	}
	for id, n := range w.open {
		_, had := w.committed[id]
		switch {
		case n == 0:
			delete(w.committed, id)
		case had || len(w.committed) < maxWaitCounts:
			w.committed[id] = n
		}
	}
	clear(w.open)
	w.txn = nil
}

// get returns the count of id as txn sees it, if held.
func (w *waitCounts) get(txn *wtxn, id string) (uint64, bool) {
	if w.txn == txn {
		if n, ok := w.open[id]; ok {
			return n, true
		}
	}
	n, ok := w.committed[id]
	return n, ok
}
