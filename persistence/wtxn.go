package persistence

import (
	"fmt"

	"github.com/dgraph-io/badger/v4"
)

// wtxn is the writer's transaction for one commit, opened only when it is needed: when a plan
// must read the store (a record, unique key or count that neither the overlay nor the caches
// hold) or when the commit is made. Opening a badger transaction waits until badger has applied
// every earlier commit (oracle.readTs waits on its read watermark): that wait is the
// read-your-writes a read of the store needs, and a plan that reads only the overlay and the
// caches (the starts and finishes of cached jobs, inserts without a unique key) does not make
// it, so the writer plans batch N+1 while badger's write goroutine applies batch N.
//
// The writes added before the transaction opens are held here and put in it when it opens, so
// a read through it sees them, as it sees those added after. Owned by the writer goroutine.
type wtxn struct {
	db   *badger.DB
	txn  *badger.Txn    // nil until opened
	held []pendingWrite // the writes added before txn opened
	err  error          // a held write that failed to go in txn (weigh makes it unreachable)
	// spare is where the held writes' array goes back once they are in txn, for the next wtxn
	// (a batch of 1,000 inserts holds 2,000 writes).
	spare *[]pendingWrite
}

func (s *Badger) newWtxn() *wtxn {
	t := &wtxn{db: s.db, held: s.heldBuf, spare: &s.heldBuf}
	s.heldBuf = nil // one wtxn at a time holds the array
	return t
}

// read returns the open transaction, opening it (and putting the held writes in it) first.
func (t *wtxn) read() (*badger.Txn, error) {
	if t.txn == nil && t.err == nil {
		t.txn = t.db.NewTransaction(true)
		if err := setAll(t.txn, t.held); err != nil {
			t.err = fmt.Errorf("write: %w", err)
		}
		t.giveBack()
	}
	return t.txn, t.err
}

// set adds writes: to the transaction once it is open, else to the held writes.
func (t *wtxn) set(writes []pendingWrite) error {
	if t.txn == nil {
		t.held = append(t.held, writes...)
		return nil
	}
	return setAll(t.txn, writes)
}

// discard throws the transaction and the held writes away.
func (t *wtxn) discard() {
	if t.txn != nil {
		t.txn.Discard()
	}
	t.giveBack()
	t.txn, t.err = nil, nil
}

// giveBack empties the held writes and keeps their array for the next wtxn.
func (t *wtxn) giveBack() {
	clear(t.held) // badger keeps the keys and values it was given, not this array
	if t.spare != nil && t.held != nil {
		*t.spare = t.held[:0]
	}
	t.held = nil
}
