package persistence

// writerCache holds the records of unfinished jobs the writer wrote or read for Queued, so a
// start or finish need not read the record back from the LSM tree. It is bounded by bytes, not
// entries: args may be up to a MiB each. Jobs leave it when they finish. Owned by the writer
// goroutine. Its budget is shared out by how soon a record will be needed again:
//   - a job inserted queued is cached only while the cache is less than half full: behind a
//     backlog it waits long, and Queued will cache it when its queue reaches it;
//   - a job read by Queued is cached while there is room: it starts soon;
//   - a running job is cached up to twice the budget (the running jobs are bounded by the
//     workers), so its finish never reads.
//
// A record that does not fit is not cached, and is read from the store when next written.
type writerCache struct {
	jobs   map[string]*Job
	bytes  int64 // the sum of jobBytes over jobs
	budget int64 // < 0: cache nothing
}

func newWriterCache(budget int64) writerCache {
	return writerCache{jobs: map[string]*Job{}, budget: budget}
}

// jobBytes is roughly what a cached job holds in memory: its strings and byte slices, plus a
// fixed share for the Job struct, its pointers and the map entry.
func jobBytes(j *Job) int64 {
	n := 400 + 2*len(j.ID) + len(j.Kind) + len(j.Category) + len(j.Args) + len(j.UniqueKey) +
		len(j.ConcurrencyKey) + len(j.Result)
	for _, e := range j.Errors {
		n += 64 + len(e.Error)
	}
	if j.Progress != nil {
		n += 64 + len(j.Progress.Message)
	}
	return int64(n)
}

// get returns the cached record of id.
func (c *writerCache) get(id string) (*Job, bool) {
	j, ok := c.jobs[id]
	return j, ok
}

// put caches j (replacing its older record) if it fits in limit bytes, and reports whether it
// did; a record that no longer fits leaves the cache, so a cached record is never stale.
func (c *writerCache) put(j *Job, limit int64) bool {
	old, had := c.jobs[j.ID]
	return c.replace(j, old, had, limit)
}

// replace is put once the caller has looked up j's cached record (old, had).
func (c *writerCache) replace(j, old *Job, had bool, limit int64) bool {
	if had {
		c.bytes -= jobBytes(old)
	}
	n := jobBytes(j)
	if c.budget < 0 || c.bytes+n > limit {
		if had {
			delete(c.jobs, j.ID)
		}
		return false
	}
	c.jobs[j.ID] = j
	c.bytes += n
	return true
}

// putQueued caches j, just read by Queued, if there is room, and reports whether it did.
func (c *writerCache) putQueued(j *Job) bool { return c.put(j, c.budget) }

// drop removes id from the cache.
func (c *writerCache) drop(id string) {
	if old, ok := c.jobs[id]; ok {
		c.bytes -= jobBytes(old)
		delete(c.jobs, id)
	}
}

// lookup reads a job as the open transaction sees it: planned in it, cached, or stored.
func (s *Badger) lookup(t *wtxn, id string) (*Job, error) {
	if j, ok := s.overlay[id]; ok {
		return j, nil
	}
	if j, ok := s.cache.get(id); ok {
		return j, nil
	}
	txn, err := t.read()
	if err != nil {
		return nil, err
	}
	return s.readJob(txn, id)
}

// remember moves the records that the committed requests in planned, in order (a later record
// of a job replaces an earlier one, as in the overlay), into the cache: unfinished jobs in (while
// there is room), finished ones out; its parents counts (waitcounts.go) and open dependencies
// (openkids.go); and counts its keys (Stats.Keys). It walks the requests, not the overlay map:
// one lookup in the cache per record, no map iteration.
func (s *Badger) remember(in []*request) {
	c := &s.cache
	for _, r := range in {
		for _, j := range r.planned {
			old, had := c.jobs[j.ID]
			switch {
			case j.State.Finished():
				if had {
					c.bytes -= jobBytes(old)
					delete(c.jobs, j.ID)
				}
			case j.State == StateRunning:
				c.replace(j, old, had, 2*c.budget)
			case j.State == StateQueued && !had:
				c.replace(j, old, had, c.budget/2)
			default:
				c.replace(j, old, had, c.budget)
			}
		}
	}
	if s.keysTxn == s.waits.txn {
		s.keys.Add(s.keysOpen)
	}
	s.keysTxn, s.keysOpen = nil, 0
	s.waits.land()
	s.kids.land(s.pendingDeps)
}
