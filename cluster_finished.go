package jobsched

import (
	"context"
	"sync"
	"time"
)

// finishedGetTimeout bounds the read of one job finished on another node.
const finishedGetTimeout = 2 * time.Second

// finishedQueue holds the ids of jobs another node finished that a Wait (or the event stream)
// here waits for, until the finished loop reads them. It is a set, so it holds at most one
// entry per waited job; the LISTEN goroutine only adds to it and never waits on the store.
type finishedQueue struct {
	mu   sync.Mutex
	ids  map[string]struct{}
	wake chan struct{}
}

// wakeCh returns the channel that tells the loop of new ids (made at the first use).
func (q *finishedQueue) wakeCh() chan struct{} {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.wake == nil {
		q.wake = make(chan struct{}, 1)
	}
	return q.wake
}

// add queues id and wakes the loop; it never blocks.
func (q *finishedQueue) add(id string) {
	w := q.wakeCh()
	q.mu.Lock()
	if q.ids == nil {
		q.ids = map[string]struct{}{}
	}
	q.ids[id] = struct{}{}
	q.mu.Unlock()
	select {
	case w <- struct{}{}:
	default: // a wake-up is pending already
	}
}

// take removes and returns the queued ids.
func (q *finishedQueue) take() []string {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := make([]string, 0, len(q.ids))
	for id := range q.ids {
		out = append(out, id)
	}
	clear(q.ids)
	return out
}

// startFinishedLoop starts, on a store that tells of other nodes' finishes, the loop that reads
// each job finished elsewhere that is waited for here and publishes it (ending the Waits).
func (s *Scheduler) startFinishedLoop() {
	if _, ok := s.store.(finishNotifier); !ok {
		return
	}
	s.goTracked(s.finishedLoop)
}

func (s *Scheduler) finishedLoop() {
	base, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { // ends with the loop (cancel above) or at Close
		select {
		case <-s.quit:
			cancel()
		case <-base.Done():
		}
	}()
	wake := s.remoteFin.wakeCh()
	for {
		for _, id := range s.remoteFin.take() {
			if base.Err() != nil {
				return
			}
			if !s.hub.waited(id) {
				continue
			}
			ctx, done := context.WithTimeout(base, finishedGetTimeout)
			j, err := s.store.Get(ctx, id)
			done()
			if err == nil {
				s.publish(j)
			}
		}
		select {
		case <-s.quit:
			return
		case <-wake:
		}
	}
}
