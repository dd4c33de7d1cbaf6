package persistence

import "sync"

// asyncQueue holds UpdateAsync's requests that found the writer's channel full, so that
// UpdateAsync never blocks its caller (actors call it from Receive). Once it holds one, every
// later async request joins it behind, so they keep their order; the writer takes them when the
// channel is empty (gather). It is unbounded: what bounds it is the callers' own work (an
// attempt's finish, a give-back), not a queue that refuses.
type asyncQueue struct {
	mu   sync.Mutex
	reqs []*request
	wake chan struct{} // one pending wake-up for the writer
}

// submitAsync queues r for the writer without blocking (submit's checks first).
func (s *Badger) submitAsync(r *request) error {
	s.submitMu.RLock()
	defer s.submitMu.RUnlock()
	if s.closed.Load() {
		return ErrClosed
	}
	if err := s.Err(); err != nil {
		return err
	}
	q := &s.async
	q.mu.Lock()
	if len(q.reqs) == 0 {
		select {
		case s.reqs <- r:
			q.mu.Unlock()
			return nil
		default: // full: overflow
		}
	}
	q.reqs = append(q.reqs, r)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default: // a wake-up is pending already
	}
	return nil
}

// take appends the queued requests to batch, up to its capacity, in order.
func (q *asyncQueue) take(batch []*request) []*request {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := min(cap(batch)-len(batch), len(q.reqs))
	if n == 0 {
		return batch
	}
	batch = append(batch, q.reqs[:n]...)
	clear(q.reqs[:n])
	q.reqs = q.reqs[n:]
	if len(q.reqs) == 0 {
		q.reqs = nil
	}
	return batch
}
