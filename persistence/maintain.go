package persistence

import "time"

// GCInterval is how often the store runs badger's value-log garbage collection. Job records are
// small and live in the LSM tree, where compaction drops expired and deleted entries; the value
// log holds only large args and results, and this reclaims its files.
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
