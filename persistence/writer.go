package persistence

import (
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// writer is the one goroutine that writes: it takes every request waiting, plans them and hands
// them to badger in as few commits as fit (Txn.CommitWith: queued to badger's write goroutine,
// not yet applied), then hands the batch to the pipe (pipe.go), which answers it once badger has
// applied it and, when it holds a durable write, synced it. Meanwhile the writer plans and
// commits the next batch: the writer, badger's write goroutine and the sync overlap.
func (s *Badger) writer() {
	defer close(s.done)
	defer s.pipe.close()
	batch := make([]*request, 0, 1024)
	// Settles left by a commit (and those start-up found) go before new requests (depends.go).
	follow := s.recovered
	s.recovered = nil
	for {
		if len(follow) > 0 {
			follow = s.commit(follow)
			continue
		}
		batch = s.gather(batch[:0])
		if len(batch) == 0 {
			select {
			case r := <-s.reqs:
				batch = s.gather(append(batch, r))
			case <-s.async.wake:
				continue // gathered at the top
			case <-s.stop:
				// Answer what is still queued, then stop.
				for {
					batch = s.gather(batch[:0])
					if len(batch) == 0 {
						return
					}
					for _, r := range batch {
						s.commit([]*request{r})
					}
				}
			}
		}
		if c := s.inFlight; len(batch) < overlapMin && c != nil && !c.isDone() {
			// A small batch while badger still applies the last one: let that one land first
			// (its answers bring the next requests), so that a writer that outruns badger does
			// not make more, smaller commits (each has a cost of its own).
			<-c.done
			batch = s.gather(batch)
		}
		follow = s.commit(batch)
	}
}

// overlapMin is the batch from which the writer plans and commits while badger still applies
// the previous commit; a smaller one waits for it (writer).
const overlapMin = 32

// gather appends to batch the requests waiting, up to its capacity: those of the channel, then,
// once it is empty, UpdateAsync's overflow (asyncqueue.go), which holds only requests sent
// after every async request in the channel, so each caller's requests keep their order.
func (s *Badger) gather(batch []*request) []*request {
	for len(batch) < cap(batch) {
		select {
		case r := <-s.reqs:
			batch = append(batch, r)
		default:
			return s.async.take(batch)
		}
	}
	return batch
}

// pendingWrite is one key a request will set or delete.
type pendingWrite struct {
	key, value []byte
	ttl        time.Duration
	del        bool
}

// commit writes a batch of requests and hands them to the pipe, which answers them all once
// badger has applied (and, when durable, synced) them. Each request is all or nothing; a request
// that fails its checks writes nothing and does not disturb the others. Once the store has
// failed, nothing more is written and every request is told so. It returns the follow-up writes
// the batch leaves (depends.go), which the writer commits next.
func (s *Badger) commit(batch []*request) []*request {
	if s.Err() != nil && len(s.cache.jobs) > 0 {
		// The cache may hold records of a commit that failed after the writer moved on (the
		// writer caches a commit's records as it hands it to badger): drop them all.
		s.cache = newWriterCache(s.cache.budget)
	}
	g := &group{s: s, t: s.newWtxn()}
	free := s.freeBytes()
	var reads []*request
	for _, r := range batch {
		if r.read != nil {
			reads = append(reads, r)
			continue
		}
		if err := s.Err(); err != nil {
			g.refuse(r, err)
			continue
		}
		g.add(r, free)
	}
	g.flush()
	if hasSettles(g.answered) {
		// Follow-ups, and forgetting the parents settled, build on this batch's writes: they
		// wait until badger has applied them (rare: only finishes of jobs with dependents).
		if err := landAll(g.commits); err != nil {
			s.fail(fmt.Errorf("%w: commit: %w", ErrStoreFailed, err))
			failCommitted(g.answered, s.Err())
		}
	}
	// The writer's own state moves now (the next batch plans against it); a commit or sync
	// that fails later fails the store, and the follow-ups are then refused. (The state counts
	// move when the batch lands: pipe.go.)
	s.forgetSettled(g.answered)
	follow := followUps(g.answered, nil)
	s.pipe.send(landing{answered: g.answered, commits: g.commits})
	if len(reads) > 0 {
		// Reads go after the commits are applied, when the store and the cache agree; they fill
		// the writer's cache, so the writer answers them itself. They do not wait for the sync:
		// a queued job may be read before its insert is acknowledged, as it is handed to the
		// actors at its commit anyway (InsertCommitted; docs/durability.md). Waiting for the
		// sync held every write behind it (a Fifo's rescan, several a second, stalled the
		// writer for an fsync each time).
		s.pipe.landed()
		for _, r := range reads {
			s.answerRead(r)
			r.done(r)
		}
	}
	return follow
}

// finish is the pipe's work on one batch badger applied (or several the syncer took together):
// sync once (if durable), announce the released dependents, answer (the counts moved when the
// batch landed). A batch committed after an earlier commit or sync failed is failed too:
// what it committed sits on top of a log nobody knows.
func (s *Badger) finish(answered []*request) {
	if err := s.Err(); err != nil {
		failCommitted(answered, err)
	} else {
		s.syncGroup(answered)
	}
	s.announceReleased(answered)
	for _, r := range answered {
		if r.err == nil {
			s.writes.Add(1)
		}
		r.done(r)
	}
}

// anyDurable tells whether a request of answered was committed and must be synced.
func anyDurable(answered []*request) bool {
	for _, r := range answered {
		if r.err == nil && r.durable {
			return true
		}
	}
	return false
}

// failCommitted tells the requests that were committed that they failed with err.
func failCommitted(answered []*request, err error) {
	for _, r := range answered {
		if r.err == nil {
			r.err, r.insertRes, r.job = err, nil, nil
		}
	}
}

// hasSettles tells whether a committed request of answered settled dependents or left some.
func hasSettles(answered []*request) bool {
	for _, r := range answered {
		if r.err == nil && (len(r.more) > 0 || len(r.settled) > 0) {
			return true
		}
	}
	return false
}

// group is one run of commit: the transaction being filled, the requests in it, the requests
// already dealt with (committed or refused), in the order they are answered, and the commits
// handed to badger.
type group struct {
	s            *Badger
	t            *wtxn
	in           []*request // requests whose writes are in t
	bytes, count int64      // their weight, as badger counts it
	answered     []*request
	commits      []*commitWait
}

// refuse answers r with err; r writes nothing.
func (g *group) refuse(r *request, err error) {
	r.err = err
	g.answered = append(g.answered, r)
}

// add plans r and puts its writes in the open transaction, committing the transaction first
// when r does not fit in what is left of it.
func (g *group) add(r *request, free int64) {
	s := g.s
	if err := s.checkRoom(r, free); err != nil {
		g.refuse(r, err)
		return
	}
	writes, err := s.plan(g.t, r)
	if err != nil {
		g.refuse(r, err)
		return
	}
	nb, nc, err := s.weigh(writes)
	if err != nil {
		r.insertRes, r.job = nil, nil
		if n := len(r.inserts); n > 1 && nb > 0 {
			// 2% less than the average says: jobs differ a little (their Seq, for one).
			fit := min(int64(n)*s.maxTxnBytes/nb, int64(n)*s.maxTxnCount/nc) * 98 / 100
			err = fmt.Errorf("%d jobs: %w; split the batch (about %d such jobs fit in one)", n, err, fit)
		}
		g.refuse(r, err)
		return
	}
	if g.bytes+nb > s.maxTxnBytes || g.count+nc > s.maxTxnCount {
		g.flush()
		g.t = s.newWtxn()
		if err := s.Err(); err != nil {
			r.insertRes, r.job = nil, nil
			g.refuse(r, err)
			return
		}
		// The plan read through the old txn; the fresh one must re-plan against what is committed.
		if writes, err = s.plan(g.t, r); err != nil {
			g.refuse(r, err)
			return
		}
		if nb, nc, err = s.weigh(writes); err != nil {
			r.insertRes, r.job = nil, nil
			g.refuse(r, err)
			return
		}
	}
	if err := g.t.set(writes); err != nil {
		g.abort(r, err)
		return
	}
	s.notePendingDeps(writes)
	if cap(writes) <= maxPlanBuf {
		// The writes are in the transaction (or held: copied there); their array serves the
		// next update's plan.
		clear(writes)
		s.planBuf = writes[:0]
	}
	g.bytes += nb
	g.count += nc
	g.in = append(g.in, r)
	// Only now, with its writes in the txn, may later requests of the txn see what r wrote.
	for _, j := range r.planned {
		s.overlay[j.ID] = j
	}
}

// maxPlanBuf bounds the array of planned writes the writer keeps for the next update's plan.
const maxPlanBuf = 64

// setAll puts writes in txn. The entries of the sets share one array (badger keeps a pointer to
// each until the commit is applied; the array is never reused): one allocation, not one a key.
func setAll(txn *badger.Txn, writes []pendingWrite) error {
	sets := 0
	for _, w := range writes {
		if !w.del {
			sets++
		}
	}
	entries := make([]badger.Entry, sets)
	var (
		ttl     time.Duration // the last TTL seen and its expiry (Entry.WithTTL's)
		expires uint64
	)
	for _, w := range writes {
		if w.del {
			if err := txn.Delete(w.key); err != nil {
				return err
			}
			continue
		}
		e := &entries[0]
		entries = entries[1:]
		e.Key, e.Value = w.key, w.value
		if w.ttl > 0 {
			if w.ttl != ttl {
				ttl, expires = w.ttl, uint64(time.Now().Add(w.ttl).Unix())
			}
			e.ExpiresAt = expires
		}
		if err := txn.SetEntry(e); err != nil {
			return err
		}
	}
	return nil
}

// abort throws the open transaction away after r's writes failed half way in it (weigh makes
// that unreachable): nothing in it may be committed, so every request in it fails. Nothing was
// written, so the store is sound and the requests may be retried.
func (g *group) abort(r *request, err error) {
	g.t.discard()
	clear(g.s.overlay)
	clear(g.s.pendingDeps)
	for _, q := range append(g.in, r) {
		q.insertRes, q.job = nil, nil
		g.refuse(q, fmt.Errorf("write: %w", err))
	}
	g.in = g.in[:0]
	g.t = g.s.newWtxn()
	g.bytes, g.count = 0, 0
}

// flush hands the transaction to badger (or discards it when empty); the caller opens the next
// one. The writer does not wait for badger to apply it: its records go into the cache now, and
// the next batch plans against them (a read of the store opens a transaction, which waits for
// this commit). A commit that fails (the pipe learns it) leaves the store in a state nobody
// knows: the store fails, and the requests of this batch and of every later one are told so.
func (g *group) flush() {
	s := g.s
	switch {
	case len(g.in) == 0:
		g.t.discard()
	default:
		txn, err := g.t.read()
		if err != nil { // a write that did not go in the transaction (weigh makes it unreachable)
			g.t.discard()
			for _, q := range g.in {
				q.insertRes, q.job = nil, nil
				g.refuse(q, err)
			}
			break
		}
		g.commits = append(g.commits, s.commitTxn(txn))
		s.free.spent += g.bytes
		s.remember(g.in)
		g.answered = append(g.answered, g.in...)
	}
	clear(s.overlay)
	clear(s.pendingDeps)
	g.in = g.in[:0]
	g.t = nil
	g.bytes, g.count = 0, 0
}

// commitTxn hands txn to badger's write goroutine and returns at once (the test hook may fail
// it first).
func (s *Badger) commitTxn(txn *badger.Txn) *commitWait {
	c := &commitWait{done: make(chan struct{})}
	if s.opt.commitHook != nil {
		if err := s.opt.commitHook(); err != nil {
			txn.Discard()
			c.err = err
			close(c.done)
			return c
		}
	}
	s.inFlight = c
	txn.CommitWith(func(err error) { s.pipe.committed(c, err) })
	return c
}

// landAll waits until badger has applied (or failed) every commit of commits, and returns the
// first failure.
func landAll(commits []*commitWait) error {
	var first error
	for _, c := range commits {
		<-c.done
		if c.err != nil && first == nil {
			first = c.err
		}
	}
	return first
}

// syncGroup syncs the write-ahead log once for the answered requests, if one of them is durable.
// A sync that fails leaves unknown what is on disk: the store fails, and every request that was
// committed is told it failed (it may still be found after a restart), never acknowledged.
func (s *Badger) syncGroup(answered []*request) {
	if !anyDurable(answered) || s.opt.NoSync || s.opt.Dir == "" {
		return
	}
	began := time.Now()
	err := s.syncLog()
	if err != nil {
		s.fail(fmt.Errorf("%w: sync after commit: %w", ErrStoreFailed, err))
		failCommitted(answered, s.Err())
		return
	}
	s.syncs.Add(1)
	if s.opt.OnSync != nil {
		s.opt.OnSync(time.Since(began), len(answered))
	}
}

// syncLog syncs badger's logs to disk (the test hook may fail it first).
func (s *Badger) syncLog() error {
	if s.opt.syncHook != nil {
		if err := s.opt.syncHook(); err != nil {
			return err
		}
	}
	if s.wal != nil {
		return s.wal.sync()
	}
	return s.db.Sync()
}

// applyCounts moves the state counts of the requests that succeeded.
func (s *Badger) applyCounts(answered []*request) {
	s.countsMu.Lock()
	defer s.countsMu.Unlock()
	for _, r := range answered {
		if r.err != nil {
			continue
		}
		for _, d := range r.deltas {
			if d.from == StateRunning {
				delete(s.running, d.id)
			}
			if d.to == StateRunning {
				s.running[d.id] = struct{}{}
			}
			c := s.count(d.category)
			if d.from != "" && !d.from.Finished() {
				c[d.from]--
			}
			c[d.to]++
		}
	}
}
