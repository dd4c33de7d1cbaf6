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
// which then calls done.
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

// asyncWorker runs async updates until Close, then those still queued.
func (s *Store) asyncWorker() {
	run := func(r *asyncReq) {
		j, err := s.updateNow(r)
		if r.done != nil {
			r.done(j, err)
		}
	}
	for {
		select {
		case r := <-s.asyncReqs:
			run(r)
		case <-s.stop:
			for {
				select {
				case r := <-s.asyncReqs:
					run(r)
				default:
					return
				}
			}
		}
	}
}

// updateNow is Update for a request already accepted: it runs even while Close waits for it.
func (s *Store) updateNow(r *asyncReq) (*persistence.Job, error) {
	return s.doUpdate(context.Background(), true, r.id, r.fn, r.durable)
}
