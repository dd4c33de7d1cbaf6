package postgres

import (
	"context"

	"github.com/jobsched/jobsched/persistence"
)

// asyncReq is one UpdateAsync call waiting for a worker.
type asyncReq struct {
	id      string
	fn      persistence.Mutator
	durable bool
	done    func(*persistence.Job, error)
}

// UpdateAsync implements persistence.Store: the update runs on one of the store's workers,
// batched with the others waiting (batch.go), which then calls done.
func (s *Store) UpdateAsync(id string, fn persistence.Mutator, durable bool, done func(*persistence.Job, error)) {
	r := &asyncReq{id: id, fn: fn, durable: durable, done: done}
	s.submitMu.RLock()
	if s.closed.Load() {
		s.submitMu.RUnlock()
		if done != nil {
			done(nil, persistence.ErrClosed)
		}
		return
	}
	s.asyncReqs <- r
	s.submitMu.RUnlock()
}

// updateNow is Update for a request already accepted: it runs even while Close waits for it.
func (s *Store) updateNow(r *asyncReq) (*persistence.Job, error) {
	return s.doUpdate(context.Background(), true, r.id, r.fn, r.durable)
}
