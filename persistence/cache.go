package persistence

import "github.com/dgraph-io/badger/v4"

// cacheSize bounds the writer's cache of unfinished jobs (about 300 bytes each, plus args).
const cacheSize = 1 << 16

// lookup reads a job as the open transaction sees it: planned in it, cached, or stored.
func (s *Badger) lookup(txn *badger.Txn, id string) (*Job, error) {
	if j, ok := s.overlay[id]; ok {
		return j, nil
	}
	if j, ok := s.cache[id]; ok {
		return j, nil
	}
	return s.readJob(txn, id)
}

// remember moves the committed transaction's records into the cache: unfinished jobs in (while
// there is room), finished ones out.
func (s *Badger) remember() {
	for id, j := range s.overlay {
		if j.State.Finished() {
			delete(s.cache, id)
			continue
		}
		if _, ok := s.cache[id]; ok || len(s.cache) < cacheSize {
			s.cache[id] = j
		}
	}
}
