package persistence

import (
	"sync"
	"sync/atomic"
)

// pipe is the second stage of the writer: one goroutine (the syncer) that takes the batches the
// writer committed, in commit order, syncs each once and answers its requests, while the writer
// plans and commits the next batch. Badger applies a commit before Commit returns, so the
// writer never waits for a sync it does not need; a request is still answered only after its
// batch, and every batch before it, is synced (when durable) — answers keep commit order.
type pipe struct {
	s       *Badger
	batches chan []*request
	pending sync.WaitGroup // batches sent and not yet answered
	held    atomic.Int64   // requests sent and not yet answered (tests)
	done    chan struct{}
}

// newPipe starts the syncer; the writer owns it and closes it when it stops.
func newPipe(s *Badger) *pipe {
	p := &pipe{s: s, batches: make(chan []*request, 1), done: make(chan struct{})}
	go p.run()
	return p
}

func (p *pipe) run() {
	defer close(p.done)
	for b := range p.batches {
		p.s.finish(b)
		p.held.Add(-int64(len(b)))
		p.pending.Done()
	}
}

// send hands a committed batch to the syncer; it blocks while the syncer still holds two.
func (p *pipe) send(answered []*request) {
	if len(answered) == 0 {
		return
	}
	p.pending.Add(1)
	p.held.Add(int64(len(answered)))
	p.batches <- answered
}

// drain waits until every batch sent is answered.
func (p *pipe) drain() { p.pending.Wait() }

// close answers what was sent and stops the syncer.
func (p *pipe) close() {
	close(p.batches)
	<-p.done
}
