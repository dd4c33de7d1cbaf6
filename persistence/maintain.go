package persistence

import "time"

// GCInterval is how often the store runs badger's value-log garbage collection. Job records live
// in the value log (recordValueThreshold): each start or finish that rewrites a record, each
// expired or deleted job leaves its old record there, and this reclaims the files that are half
// garbage or more (compaction tells badger which values it dropped).
var GCInterval = 5 * time.Minute

// maintain runs value-log GC until Close.
func (s *Badger) maintain() {
	defer close(s.maintDone)
	t := time.NewTicker(GCInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			for s.db.RunValueLogGC(0.5) == nil {
				// one file rewritten; go on while there is more to reclaim
			}
		}
	}
}
