package jobsched

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/jobsched/jobsched/actors"
	"github.com/jobsched/jobsched/persistence"
)

// retrier tries again, with backoff, the finish writes the store refused for a reason that may
// pass, until they land, fail for good, or the scheduler closes. It also makes, on its own
// goroutine, a first write that a store callback must not submit itself (an item without err:
// runner.go's too-large outcome). A finish that never lands
// leaves its job running in the store; the next Start returns it to its queue.
type retrier struct {
	mu       sync.Mutex
	items    []*retryItem
	wake     chan struct{}
	stop     chan struct{} // closed by Close once no attempt runs
	stopOnce sync.Once
	done     chan struct{} // closed when the loop has made its last pass
	fails    uint64        // writes that failed, tried again or not
}

type retryItem struct {
	id    string
	fn    persistence.Mutator
	then  func(*Job)
	err   error // the last failure
	tries int
	at    time.Time
}

func (r *retrier) init() {
	r.wake = make(chan struct{}, 1)
	r.stop = make(chan struct{})
	r.done = make(chan struct{})
}

// add queues a failed write to be tried again (at once if it has not been tried yet).
func (r *retrier) add(it *retryItem) {
	r.mu.Lock()
	r.items = append(r.items, it)
	r.fails++
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// take removes the items due at now and returns them, with the time the next one is due.
func (r *retrier) take(now time.Time, all bool) (due []*retryItem, next time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	keep := r.items[:0]
	for _, it := range r.items {
		if all || !it.at.After(now) {
			due = append(due, it)
			continue
		}
		keep = append(keep, it)
		if next.IsZero() || it.at.Before(next) {
			next = it.at
		}
	}
	clear(r.items[len(keep):])
	r.items = keep
	return due, next
}

// retryLoop runs until Close, then tries each write left once more.
func (s *Scheduler) retryLoop() {
	r := &s.retry
	defer close(r.done)
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		due, next := r.take(time.Now(), false)
		for _, it := range due {
			s.retryOne(it)
		}
		wait := time.Hour
		if !next.IsZero() {
			wait = max(time.Until(next), 0)
		}
		t.Reset(wait)
		select {
		case <-r.stop:
			left, _ := r.take(time.Now(), true)
			for _, it := range left {
				it.tries = -1 // the last try
				s.retryOne(it)
			}
			return
		case <-r.wake:
		case <-t.C:
		}
	}
}

// retryOne tries one write again; a failure that may pass goes back in the queue.
func (s *Scheduler) retryOne(it *retryItem) {
	last := it.tries < 0
	if it.tries == 0 && it.err != nil && !persistence.Permanent(it.err) {
		s.log.Warn("store the outcome of a job; trying again", slog.String("job", it.id), slog.Any("err", it.err))
	}
	if persistence.Permanent(it.err) {
		s.settled(it)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	fj, err := s.store.Update(ctx, it.id, it.fn, false)
	switch {
	case err == nil:
		s.finished(fj, it.then)
	case persistence.Permanent(err):
		it.err = err
		s.settled(it)
	case last:
		s.log.Error("store the outcome of a job: giving up at close; the next start returns it to its queue",
			slog.String("job", it.id), slog.Any("err", err))
	default:
		it.err, it.tries = err, it.tries+1
		it.at = time.Now().Add(actors.Backoff(it.tries))
		s.retry.add(it)
	}
}

// settled handles a finish whose retry the store refused for good: ErrSkip means an earlier
// try landed although the store reported it failed, so the stored job is the outcome to tell.
func (s *Scheduler) settled(it *retryItem) {
	if ctxErr := it.err; ctxErr != nil && !isSkip(ctxErr) {
		s.log.Error("store the outcome of a job", slog.String("job", it.id), slog.Any("err", ctxErr))
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if j, err := s.store.Get(ctx, it.id); err == nil && j.State != StateRunning {
		s.finished(j, it.then)
	}
}

func isSkip(err error) bool { return errors.Is(err, persistence.ErrSkip) }
