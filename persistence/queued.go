package persistence

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/dgraph-io/badger/v4"
)

// queuedRead is a Queued call, which the writer answers between two commits: there the store
// holds exactly what the writer's cache says, so the records Queued reads go into the cache
// (the starts that follow need not read them back), and cached records are not read at all.
type queuedRead struct {
	category string
	after    uint64
	limit    int
	out      []*Job
}

// Queued implements Store. The writer reads, so a Queued waits behind the commits submitted
// before it; it still answers once the store has failed (reads keep working).
func (s *Badger) Queued(ctx context.Context, category string, afterSeq uint64, limit int) ([]*Job, error) {
	if s.closed.Load() {
		return nil, ErrClosed
	}
	if limit <= 0 {
		return nil, nil
	}
	r := &request{read: &queuedRead{category: category, after: afterSeq, limit: limit}}
	if _, err := s.wait(ctx, r); err != nil {
		return nil, err
	}
	return r.read.out, nil
}

// answerRead reads what a queuedRead asks, on the writer goroutine between commits.
func (s *Badger) answerRead(r *request) {
	err := s.db.View(func(txn *badger.Txn) error {
		out, err := s.readQueued(txn, r.read)
		r.read.out = out
		return err
	})
	if err != nil {
		r.read.out, r.err = nil, err
	}
}

// queuedRef is one q/ entry: the job's id and its place in the FIFO.
type queuedRef struct {
	id  string
	pos int
}

// readQueued reads the q/ keys after q.after, then the records not cached in one ordered pass
// over j/ (the ids of a queue are UUIDv7, so they are mostly in j/ order too), and caches them.
// It seeks to the first key after q.after, so the deletion markers of jobs already taken are
// never scanned (FACTS.md: tombstone scans).
func (s *Badger) readQueued(txn *badger.Txn, q *queuedRead) ([]*Job, error) {
	out := make([]*Job, 0, min(q.limit, 1024))
	var missing []queuedRef
	it := txn.NewIterator(badger.IteratorOptions{PrefetchValues: false, Prefix: queuePrefix(q.category)})
	for it.Seek(queueKey(q.category, q.after+1)); it.Valid() && len(out) < q.limit; it.Next() {
		var e queueEntry
		if err := it.Item().Value(func(v []byte) (err error) { e, err = parseQueueValue(v); return err }); err != nil {
			it.Close()
			return nil, fmt.Errorf("read queue: %w", err)
		}
		if e.running {
			continue // started, not queued (keys.go)
		}
		id := e.id
		if j, ok := s.cache.get(id); ok {
			out = append(out, j.Clone())
			continue
		}
		missing = append(missing, queuedRef{id: id, pos: len(out)})
		out = append(out, nil)
	}
	it.Close()
	if len(missing) == 0 {
		return out, nil
	}
	slices.SortFunc(missing, func(a, b queuedRef) int { return strings.Compare(a.id, b.id) })
	jit := txn.NewIterator(badger.IteratorOptions{PrefetchValues: false, Prefix: []byte(prefixJob)})
	defer jit.Close()
	for _, m := range missing {
		key := jobKey(m.id)
		if !seekNear(jit, key) {
			return nil, fmt.Errorf("%w: %s", ErrNotFound, m.id)
		}
		j := &Job{}
		if err := jit.Item().Value(func(v []byte) error { return decodeJob(m.id, v, j) }); err != nil {
			return nil, fmt.Errorf("decode job %s: %w", m.id, err)
		}
		if s.cache.putQueued(j) {
			j = j.Clone() // the cached record is never handed out
		}
		out[m.pos] = j
	}
	return out, nil
}

// seekNear moves it forward to key, stepping with Next while key is a few keys ahead (reading
// a queue's records in order is then a scan) and seeking otherwise. It reports whether key is
// there. Keys are visited in ascending order.
func seekNear(it *badger.Iterator, key []byte) bool {
	for step := 0; it.Valid() && step < 8; step++ {
		switch c := bytes.Compare(it.Item().Key(), key); {
		case c == 0:
			return true
		case c > 0:
			return false
		}
		it.Next()
	}
	it.Seek(key)
	return it.Valid() && bytes.Equal(it.Item().Key(), key)
}
