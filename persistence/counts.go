package persistence

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"sync/atomic"

	"github.com/dgraph-io/badger/v4"
)

// load counts the unfinished jobs by their index keys and values (no record is read), finds
// each category's next sequence number and the running jobs.
func (s *Badger) load() error {
	return s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{PrefetchValues: false, Prefix: []byte(prefixQueued)})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			k := it.Item().Key()[len(prefixQueued):]
			i := bytes.IndexByte(k, 0)
			if i < 0 || len(k)-i-1 != 8 {
				return fmt.Errorf("corrupt queue key %q", it.Item().Key())
			}
			cat := string(k[:i])
			seq := binary.BigEndian.Uint64(k[i+1:])
			if c := s.seq(cat); seq > c.Load() {
				c.Store(seq)
			}
			var e queueEntry
			err := it.Item().Value(func(v []byte) (err error) {
				e, err = parseQueueValue(v)
				return err
			})
			if err != nil {
				return fmt.Errorf("index %q: %w", it.Item().Key(), err)
			}
			if e.running {
				s.running[e.id] = struct{}{}
				s.count(cat)[StateRunning]++
			} else {
				s.count(cat)[StateQueued]++
			}
		}
		it2 := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(prefixScheduled)})
		defer it2.Close()
		for it2.Rewind(); it2.Valid(); it2.Next() {
			var st State
			var cat string
			err := it2.Item().Value(func(v []byte) (err error) {
				st, cat, err = parseIndexValue(v)
				return err
			})
			if err != nil {
				return fmt.Errorf("index %q: %w", it2.Item().Key(), err)
			}
			s.count(cat)[st]++
		}
		it3 := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(prefixPending)})
		defer it3.Close()
		for it3.Rewind(); it3.Valid(); it3.Next() {
			var cat string
			err := it3.Item().Value(func(v []byte) (err error) {
				cat, _, err = parsePendingValue(v)
				return err
			})
			if err != nil {
				return fmt.Errorf("index %q: %w", it3.Item().Key(), err)
			}
			s.count(cat)[StatePending]++
		}
		return nil
	})
}

// count returns the counts of a category; the caller holds countsMu or owns s alone.
func (s *Badger) count(cat string) StateCounts {
	c := s.counts[cat]
	if c == nil {
		c = StateCounts{}
		s.counts[cat] = c
	}
	return c
}

// seq returns the sequence counter of a category.
func (s *Badger) seq(cat string) *atomic.Uint64 {
	s.seqMu.Lock()
	defer s.seqMu.Unlock()
	c := s.seqs[cat]
	if c == nil {
		c = &atomic.Uint64{}
		s.seqs[cat] = c
	}
	return c
}

// takeSeq hands out the next FIFO sequence number of a category. Numbers start at 1, so "after
// 0" means from the start; a number taken by a write that fails is a harmless gap.
func (s *Badger) takeSeq(cat string) uint64 { return s.seq(cat).Add(1) }

// Counts implements Store.
func (s *Badger) Counts() map[string]StateCounts {
	s.countsMu.Lock()
	defer s.countsMu.Unlock()
	out := make(map[string]StateCounts, len(s.counts))
	for cat, c := range s.counts {
		cc := make(StateCounts, len(c))
		for k, v := range c {
			cc[k] = v
		}
		out[cat] = cc
	}
	return out
}

// Backlog implements Store.
func (s *Badger) Backlog(category string) int {
	s.countsMu.Lock()
	defer s.countsMu.Unlock()
	c := s.counts[category]
	return c[StateQueued] + c[StateScheduled] + c[StateRetrying]
}
