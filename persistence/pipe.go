package persistence

import (
	"fmt"
	"sync"
	"sync/atomic"
)

// pipe is what follows the writer. The writer hands badger each batch's commits without waiting
// for them (Txn.CommitWith) and then the batch to the pipe, in commit order. As badger applies
// the commits, their callbacks (badger runs each on a goroutine of its own) advance the pipe:
// whichever goroutine finds the oldest batch applied takes it, and the next ones, in order.
// There a batch is visible to readers and not yet synced (land). A batch with nothing durable
// (starts, finishes) is answered at once, ahead of earlier batches still syncing (a non-durable
// write promises only that it is stored, and it is); a durable one goes on to the syncer (one
// goroutine), which syncs once per batch and answers it.
//
// A request is thus answered only after its batch, and every batch before it, is applied, and,
// when durable, synced: answers keep commit order. A commit that fails fails the store, its
// batch and every later one (what they wrote sits on top of a log nobody knows).
type pipe struct {
	s *Badger

	mu        sync.Mutex
	queue     []*landing // batches handed over and not yet applied, in commit order
	advancing bool       // a goroutine is taking applied batches off queue

	syncing chan []*request // applied durable batches, to the syncer
	pending sync.WaitGroup  // batches sent and not yet answered
	landing sync.WaitGroup  // batches sent and not yet landed (applied)
	held    atomic.Int64    // requests sent and not yet answered (tests)
	done    chan struct{}   // closed when the syncer stopped
}

// landing is one batch as the writer hands it over: its requests, in the order they are
// answered (committed or refused), and its commits, in the order badger applies them.
type landing struct {
	answered []*request
	commits  []*commitWait
}

// applied tells whether badger has applied (or failed) every commit of b.
func (b *landing) applied() bool {
	for _, c := range b.commits {
		if !c.isDone() {
			return false
		}
	}
	return true
}

// commitWait is one commit handed to badger: done is closed once badger applied it (err nil:
// in its memtable and write-ahead log, visible to readers, not yet synced) or failed it.
type commitWait struct {
	done chan struct{}
	err  error
}

func (c *commitWait) isDone() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// newPipe starts the syncer; the writer owns the pipe and closes it when it stops.
func newPipe(s *Badger) *pipe {
	p := &pipe{s: s, syncing: make(chan []*request, pipeDepth), done: make(chan struct{})}
	go p.sync()
	return p
}

// pipeDepth is how many applied durable batches may wait for the syncer. While it syncs, the
// batches behind keep landing (a start or finish among them is answered at once) instead of
// waiting for the sync; the syncer then syncs the batches that waited once, together (sync).
const pipeDepth = 64

// send hands a batch over (its commits handed to badger already) and answers what is applied.
func (p *pipe) send(b landing) {
	if len(b.answered) == 0 {
		return
	}
	p.pending.Add(1)
	p.landing.Add(1)
	p.held.Add(int64(len(b.answered)))
	p.mu.Lock()
	p.queue = append(p.queue, &b)
	p.mu.Unlock()
	p.advance()
}

// committed is the callback of a commit badger applied or failed.
func (p *pipe) committed(c *commitWait, err error) {
	c.err = err
	close(c.done)
	p.advance()
}

// advance takes the applied batches at the head of the queue, in order, unless another
// goroutine is doing so (it then finds those that this one would have found).
func (p *pipe) advance() {
	p.mu.Lock()
	if p.advancing {
		p.mu.Unlock()
		return
	}
	p.advancing = true
	for len(p.queue) > 0 && p.queue[0].applied() {
		b := p.queue[0]
		p.queue[0] = nil
		p.queue = p.queue[1:]
		p.mu.Unlock()
		p.land(b)
		p.landing.Done()
		p.mu.Lock()
	}
	p.advancing = false
	p.mu.Unlock()
}

// land deals with a batch badger applied: a failed commit fails the store and the batch; a
// durable batch goes to the syncer, another is answered now.
func (p *pipe) land(b *landing) {
	s := p.s
	failed := false
	for _, c := range b.commits {
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
	// Here badger has applied the batch (visible to readers) and it is not yet synced: the
	// state counts move, and the inserters that asked are told (committed.go), unless the store
	// failed (this commit or an earlier one). Batches land in commit order, so a start or finish
	// is never counted before its insert (which would make the backlog the balancer divides
	// workers by negative).
	if s.Err() == nil {
		s.applyCounts(b.answered)
		tellCommitted(b.answered)
	}
	if anyDurable(b.answered) {
		p.syncing <- b.answered
		return
	}
	p.answer(b.answered)
}

// sync is the syncer's loop: the batches waiting when it takes one are synced with it, once.
func (p *pipe) sync() {
	defer close(p.done)
	for b := range p.syncing {
		n := 1
		if len(p.syncing) > 0 {
			b = append([]*request(nil), b...)
		more:
			for {
				select {
				case c, ok := <-p.syncing:
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
		p.answerN(b, n)
	}
}

// answer syncs b if it is durable (finish), answers it and counts it done.
func (p *pipe) answer(b []*request) { p.answerN(b, 1) }

// answerN is answer for the requests of n batches taken together.
func (p *pipe) answerN(b []*request, n int) {
	p.s.finish(b)
	p.held.Add(-int64(len(b)))
	for range n {
		p.pending.Done()
	}
}

// drain waits until every batch sent is answered.
func (p *pipe) drain() { p.pending.Wait() }

// landed waits until every batch sent is applied (visible to readers), not synced.
func (p *pipe) landed() { p.landing.Wait() }

// close waits until every batch sent is answered, and stops the syncer.
func (p *pipe) close() {
	p.pending.Wait()
	close(p.syncing)
	<-p.done
}
