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
	p := &pipe{s: s, batches: make(chan []*request, pipeDepth), done: make(chan struct{})}
	go p.run()
	return p
}

// pipeDepth is how many committed batches may wait for the syncer. While it syncs, the writer
// goes on committing (a start or finish in those batches is answered at once), instead of
// waiting for the sync before it takes the next requests; the syncer then syncs the batches
// that waited once, together (run).
const pipeDepth = 64

func (p *pipe) run() {
	defer close(p.done)
	for b := range p.batches {
		n := 1
		if len(p.batches) > 0 {
			b = append([]*request(nil), b...)
		more:
			for {
				select {
				case c, ok := <-p.batches:
					if !ok {
						break more
					}
					b = append(b, c...)
					n++
				default:
					break more
				}
			}
		}
		p.s.finish(b) // one sync for them all
		p.held.Add(-int64(len(b)))
		for range n {
			p.pending.Done()
		}
	}
}

// send hands a committed batch to the syncer; it blocks while pipeDepth batches wait already.
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
