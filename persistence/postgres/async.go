package postgres

import (
	"context"
	"sync"

	"github.com/jobsched/jobsched/persistence"
)

// asyncReq is one UpdateAsync call waiting for a worker.
type asyncReq struct {
	id      string
	fn      persistence.Mutator
	durable bool
	done    func(*persistence.Job, error)
	succ    *persistence.Success // SucceedAsync's: written in SQL when it can be (succeed.go)
}

// asyncOverflow holds the async updates submitted while the store's channel was full, in order,
// until a worker takes them: UpdateAsync never blocks its caller (an actor's Receive), and
// never drops a write. While it holds any, new requests queue behind them, so a later request
// never overtakes an earlier one.
type asyncOverflow struct {
	mu   sync.Mutex
	reqs []*asyncReq
	wake chan struct{} // a worker looks at the overflow
}

// UpdateAsync implements persistence.Store: the update runs on one of the store's workers,
// batched with the others waiting (batch.go), which then calls done. It never blocks.
func (s *Store) UpdateAsync(id string, fn persistence.Mutator, durable bool, done func(*persistence.Job, error)) {
	s.submitOpen(&asyncReq{id: id, fn: fn, durable: durable, done: done})
}

// submitOpen hands r to the async workers (submit), or answers it ErrClosed once the store
// is closed.
func (s *Store) submitOpen(r *asyncReq) {
	s.submitMu.RLock()
	if s.closed.Load() {
		s.submitMu.RUnlock()
		if r.done != nil {
			r.done(nil, persistence.ErrClosed)
		}
		return
	}
	s.submit(r)
	s.submitMu.RUnlock()
}

// submit hands r to the workers: on the channel, or behind the overflow when it holds requests
// or the channel is full.
func (s *Store) submit(r *asyncReq) {
	o := &s.overflow
	o.mu.Lock()
	if len(o.reqs) == 0 {
		select {
		case s.asyncReqs <- r:
			o.mu.Unlock()
			return
		default: // full
		}
	}
	o.reqs = append(o.reqs, r)
	o.mu.Unlock()
	select {
	case o.wake <- struct{}{}:
	default: // a wake-up is pending already
	}
}

// takeOverflow appends to batch, up to maxBatch, the overflow's oldest requests; the caller has
// emptied the channel first (every request on it is older than those in the overflow).
func (s *Store) takeOverflow(batch []*asyncReq) []*asyncReq {
	o := &s.overflow
	o.mu.Lock()
	defer o.mu.Unlock()
	n := min(maxBatch-len(batch), len(o.reqs))
	if n <= 0 {
		return batch
	}
	batch = append(batch, o.reqs[:n]...)
	clear(o.reqs[:n])
	o.reqs = o.reqs[n:]
	if len(o.reqs) == 0 {
		o.reqs = nil
	} else {
		select { // more for another round (or another worker)
		case o.wake <- struct{}{}:
		default:
		}
	}
	return batch
}

// updateNow is Update for a request already accepted: it runs even while Close waits for it.
func (s *Store) updateNow(r *asyncReq) (*persistence.Job, error) {
	return s.doUpdate(context.Background(), true, r.id, r.fn, r.durable)
}
