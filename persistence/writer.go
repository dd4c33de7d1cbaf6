package persistence

import (
	"context"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// submit hands a request to the writer.
// It holds submitMu shared while sending, and Close takes it alone before stopping the
// writer, so no request is sent after the writer's last drain.
func (s *Badger) submit(r *request) {
	s.submitMu.RLock()
	if s.closed.Load() {
		s.submitMu.RUnlock()
		r.err = ErrClosed
		r.done(r)
		return
	}
	s.reqs <- r
	s.submitMu.RUnlock()
}

// wait submits r and waits for its result or ctx. A request whose caller left still completes.
func (s *Badger) wait(ctx context.Context, r *request) error {
	ch := make(chan struct{})
	r.done = func(*request) { close(ch) }
	s.submit(r)
	select {
	case <-ch:
		return r.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Insert implements Store. The records are numbered and encoded here, on the caller's goroutine,
// so that concurrent callers share that work instead of queueing it on the writer.
func (s *Badger) Insert(ctx context.Context, jobs []*Job) ([]InsertResult, error) {
	r := &request{inserts: make([]*Job, len(jobs)), encoded: make([][]byte, len(jobs)), durable: true}
	for i, in := range jobs {
		j := in.Clone()
		if j.State == StateQueued {
			j.Seq = s.takeSeq(j.Category)
		}
		r.inserts[i], r.encoded[i] = j, encodeJob(j)
	}
	if err := s.wait(ctx, r); err != nil {
		return nil, err
	}
	return r.insertRes, nil
}

// Update implements Store.
func (s *Badger) Update(ctx context.Context, id string, fn Mutator, durable bool) (*Job, error) {
	r := &request{id: id, fn: fn, durable: durable}
	if err := s.wait(ctx, r); err != nil {
		return r.job, err
	}
	return r.job, nil
}

// UpdateAsync implements Store.
func (s *Badger) UpdateAsync(id string, fn Mutator, durable bool, done func(*Job, error)) {
	s.submit(&request{id: id, fn: fn, durable: durable, done: func(r *request) {
		if done != nil {
			done(r.job, r.err)
		}
	}})
}

// writer is the one goroutine that writes: it takes every request waiting, commits them in as
// few transactions as fit, syncs once, then answers them all.
func (s *Badger) writer() {
	defer close(s.done)
	batch := make([]*request, 0, 1024)
	for {
		var first *request
		select {
		case first = <-s.reqs:
		case <-s.stop:
			// Answer what is still queued, then stop.
			for {
				select {
				case r := <-s.reqs:
					s.commit([]*request{r})
				default:
					return
				}
			}
		}
		batch = append(batch[:0], first)
	gather:
		for len(batch) < cap(batch) {
			select {
			case r := <-s.reqs:
				batch = append(batch, r)
			default:
				break gather
			}
		}
		s.commit(batch)
	}
}

// pendingWrite is one key a request will set or delete.
type pendingWrite struct {
	key, value []byte
	ttl        time.Duration
	del        bool
}

// commit writes a batch of requests. Each request is all or nothing; a request that fails its
// checks writes nothing and does not disturb the others.
func (s *Badger) commit(batch []*request) {
	txn := s.db.NewTransaction(true)
	var inTxn []*request // requests whose writes are in txn
	var txnBytes, txnCount int64
	var answered []*request

	flush := func() {
		if len(inTxn) == 0 {
			txn.Discard()
			clear(s.overlay)
			return
		}
		err := txn.Commit()
		if err == nil {
			s.commits.Add(1)
			s.remember()
		}
		clear(s.overlay)
		for _, r := range inTxn {
			if err != nil {
				r.err = fmt.Errorf("commit: %w", err)
				r.insertRes, r.job = nil, nil
			}
			answered = append(answered, r)
		}
		inTxn = inTxn[:0]
	}

	free := s.freeBytes()
	for _, r := range batch {
		if err := s.checkRoom(r, free); err != nil {
			r.err = err
			answered = append(answered, r)
			continue
		}
		writes, err := s.plan(txn, r)
		if err != nil {
			r.err = err
			answered = append(answered, r)
			continue
		}
		var nb, nc int64
		for _, w := range writes {
			nb += int64(len(w.key)+len(w.value)) + 64
			nc++
		}
		if nb > s.maxTxnBytes || nc > s.maxTxnCount {
			r.err = fmt.Errorf("%w: %d bytes in %d keys (limit %d bytes, %d keys)", ErrTooLarge, nb, nc, s.maxTxnBytes, s.maxTxnCount)
			r.insertRes, r.job = nil, nil
			answered = append(answered, r)
			continue
		}
		if txnBytes+nb > s.maxTxnBytes || txnCount+nc > s.maxTxnCount {
			// The plan read through txn; a fresh txn must re-plan against what is committed.
			flush()
			txn = s.db.NewTransaction(true)
			txnBytes, txnCount = 0, 0
			if writes, err = s.plan(txn, r); err != nil {
				r.err = err
				answered = append(answered, r)
				continue
			}
		}
		for _, w := range writes {
			if w.del {
				err = txn.Delete(w.key)
			} else {
				e := badger.NewEntry(w.key, w.value)
				if w.ttl > 0 {
					e = e.WithTTL(w.ttl)
				}
				err = txn.SetEntry(e)
			}
			if err != nil {
				break
			}
		}
		if err != nil {
			// Cannot happen within our limits; the txn holds a partial request, so nothing in it
			// may be committed.
			txn.Discard()
			clear(s.overlay)
			for _, q := range append(inTxn, r) {
				q.err = fmt.Errorf("write: %w", err)
				q.insertRes, q.job = nil, nil
				answered = append(answered, q)
			}
			inTxn = inTxn[:0]
			txn = s.db.NewTransaction(true)
			txnBytes, txnCount = 0, 0
			continue
		}
		txnBytes += nb
		txnCount += nc
		inTxn = append(inTxn, r)
		// Only now, with its writes in the txn, may later requests of the txn see what r wrote.
		for _, j := range r.planned {
			s.overlay[j.ID] = j
		}
	}
	flush()

	durable := false
	for _, r := range answered {
		if r.err == nil && r.durable {
			durable = true
		}
	}
	if durable && !s.opt.NoSync && s.opt.Dir != "" {
		began := time.Now()
		err := s.db.Sync()
		if s.opt.OnSync != nil && err == nil {
			s.opt.OnSync(time.Since(began), len(answered))
		}
		if err != nil {
			// Committed but not known to be on disk: nothing durable may be acknowledged.
			for _, r := range answered {
				if r.err == nil && r.durable {
					r.err = fmt.Errorf("sync: %w", err)
					r.insertRes, r.job = nil, nil
				}
			}
		} else {
			s.syncs.Add(1)
		}
	}

	s.countsMu.Lock()
	for _, r := range answered {
		if r.err != nil {
			continue
		}
		for _, d := range r.deltas {
			c := s.count(d.category)
			if d.from != "" && !d.from.Finished() {
				c[d.from]--
			}
			c[d.to]++
		}
	}
	s.countsMu.Unlock()

	for _, r := range answered {
		if r.err == nil {
			s.writes.Add(1)
		}
		r.done(r)
	}
}
