package persistence

import (
	"fmt"
	"sync"
	"sync/atomic"
)

// pipe is the writer's second and third stages. The writer hands badger each batch's commits
// without waiting for them (Txn.CommitWith) and the batch to the pipe, in commit order:
//   - the lander (one goroutine) waits, batch after batch, until badger has applied the batch's
//     commits. There the batch is visible to readers and not yet synced. A batch with nothing
//     durable (starts, finishes) is answered at once, ahead of earlier batches still syncing (a
//     non-durable write promises only that it is stored, and it is); a durable one goes on to
//   - the syncer (one goroutine), which syncs once per batch and answers it.
//
// A request is thus answered only after its batch, and every batch before it, is applied, and,
// when durable, synced: answers keep commit order. A commit that fails fails the store, its
// batch and every later one (what they wrote sits on top of a log nobody knows).
type pipe struct {
	s       *Badger
	landing chan landing    // batches handed to badger, to the lander
	syncing chan []*request // applied durable batches, to the syncer
	pending sync.WaitGroup  // batches sent and not yet answered
	held    atomic.Int64    // requests sent and not yet answered (tests)
	landed  chan struct{}   // closed when the lander stopped
	done    chan struct{}   // closed when the syncer stopped
}

// landing is one batch as the writer hands it over: its requests, in the order they are
// answered (committed or refused), and its commits, in the order badger applies them.
type landing struct {
	answered []*request
	commits  []*commitWait
}

// newPipe starts the lander and the syncer; the writer owns them and closes the pipe when it
// stops.
func newPipe(s *Badger) *pipe {
	p := &pipe{
		s:       s,
		landing: make(chan landing, 4),
		syncing: make(chan []*request, 1),
		landed:  make(chan struct{}),
		done:    make(chan struct{}),
	}
	go p.land()
	go p.sync()
	return p
}

// land is the lander's loop.
func (p *pipe) land() {
	defer close(p.landed)
	defer close(p.syncing)
	s := p.s
	for b := range p.landing {
		failed := false
		for _, c := range b.commits {
			<-c.done
			if c.err != nil {
				s.fail(fmt.Errorf("%w: commit: %w", ErrStoreFailed, c.err))
				failed = true
			} else {
				s.commits.Add(1)
			}
		}
		if err := s.Err(); failed && err != nil {
			failCommitted(b.answered, err)
		}
		// Here badger has applied the batch (visible to readers) and it is not yet synced.
		if anyDurable(b.answered) {
			p.syncing <- b.answered
			continue
		}
		p.answer(b.answered)
	}
}

// sync is the syncer's loop.
func (p *pipe) sync() {
	defer close(p.done)
	for b := range p.syncing {
		p.answer(b)
	}
}

// answer syncs b if it is durable (finish), answers it and counts it done.
func (p *pipe) answer(b []*request) {
	p.s.finish(b)
	p.held.Add(-int64(len(b)))
	p.pending.Done()
}

// send hands a batch to the lander; it blocks while the pipe holds several.
func (p *pipe) send(b landing) {
	if len(b.answered) == 0 {
		return
	}
	p.pending.Add(1)
	p.held.Add(int64(len(b.answered)))
	p.landing <- b
}

// drain waits until every batch sent is answered.
func (p *pipe) drain() { p.pending.Wait() }

// close answers what was sent and stops the lander and the syncer.
func (p *pipe) close() {
	close(p.landing)
	<-p.landed
	<-p.done
}
