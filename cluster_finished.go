package jobsched

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// finishedGetTimeout bounds the read of one job finished on another node (or of one batch).
const finishedGetTimeout = 2 * time.Second

// Bounds of the event stream's view of finishes on other nodes: one read takes at most
// streamBatch ids; at most streamPending wait to be read, and the oldest are dropped (and
// counted) when more arrive.
const (
	streamBatch   = 1000
	streamPending = 10 * streamBatch
)

// manyGetter reads jobs by id in one query (the PostgreSQL store's GetMany).
type manyGetter interface {
	GetMany(ctx context.Context, ids []string) ([]*Job, error)
}

// finishedQueue holds the ids of jobs another node finished that this node wants to read: a
// set of the jobs a Wait here waits for (never dropped: a Wait depends on it), and a bounded
// FIFO of the others, for the event stream while it has subscribers (the oldest dropped when
// full). The LISTEN goroutine only adds to it and never waits on the store.
type finishedQueue struct {
	mu     sync.Mutex
	ids    map[string]struct{}
	stream []string
	wake   chan struct{}

	dropped atomic.Uint64 // stream ids dropped unread
	reads   atomic.Uint64 // batched reads made for the stream
	jobs    atomic.Uint64 // jobs those reads published
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

func (q *finishedQueue) signal() {
	select {
	case q.wakeCh() <- struct{}{}:
	default: // a wake-up is pending already
	}
}

// add queues a waited id and wakes the loop; it never blocks.
func (q *finishedQueue) add(id string) {
	q.mu.Lock()
	if q.ids == nil {
		q.ids = map[string]struct{}{}
	}
	q.ids[id] = struct{}{}
	q.mu.Unlock()
	q.signal()
}

// addStream queues an id for the event stream and wakes the loop; it never blocks. When
// streamPending ids wait already, the oldest is dropped and counted.
func (q *finishedQueue) addStream(id string) {
	q.mu.Lock()
	if len(q.stream) >= streamPending {
		n := len(q.stream) - streamPending + 1
		q.stream = append(q.stream[:0], q.stream[n:]...)
		q.dropped.Add(uint64(n))
	}
	q.stream = append(q.stream, id)
	q.mu.Unlock()
	q.signal()
}

// take removes and returns the queued waited ids.
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

// takeStream removes and returns the oldest stream ids, at most n, and whether more wait.
func (q *finishedQueue) takeStream(n int) ([]string, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	k := min(n, len(q.stream))
	out := make([]string, k)
	copy(out, q.stream)
	q.stream = append(q.stream[:0], q.stream[k:]...)
	return out, len(q.stream) > 0
}

// clearStream drops the queued stream ids (nobody listens any more); they are not counted as
// dropped: no subscriber missed them.
func (q *finishedQueue) clearStream() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.stream = q.stream[:0]
}

// ClusterEventStats counts what the event stream cost to show finishes on other nodes (a store
// shared by several nodes); all zero on a single node.
type ClusterEventStats struct {
	Reads   uint64 // batched reads of jobs finished elsewhere, made for the event stream
	Jobs    uint64 // jobs those reads published to the stream
	Dropped uint64 // finishes elsewhere dropped unread: more arrived than the loop could read
}

// ClusterEventStats returns the counts of the event stream's reads of finishes on other nodes.
func (s *Scheduler) ClusterEventStats() ClusterEventStats {
	q := &s.remoteFin
	return ClusterEventStats{Reads: q.reads.Load(), Jobs: q.jobs.Load(), Dropped: q.dropped.Load()}
}

// onRemoteFinished is told (on the store's LISTEN goroutine) that another node finished a job:
// a waited job is read for its Waits (and the stream); another is read for the stream only
// while it has subscribers, so a node nobody watches makes no read.
func (s *Scheduler) onRemoteFinished(id string) {
	switch {
	case s.hub.waited(id):
		s.remoteFin.add(id) // read by the finished loop, not on the LISTEN goroutine
	case s.hub.nsubs.Load() > 0:
		if _, ok := s.store.(manyGetter); ok {
			s.remoteFin.addStream(id)
		}
	}
}

// startFinishedLoop starts, on a store that tells of other nodes' finishes, the loop that reads
// each job finished elsewhere that is waited for here, or that the event stream shows, and
// publishes it (ending the Waits).
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
				s.hub.job(j) // not s.publish: another node's finish is not this node's throughput
			}
		}
		if s.streamRound(base) {
			s.remoteFin.signal() // more wait: read them next round, after the waited ones
		}
		select {
		case <-s.quit:
			return
		case <-wake:
		}
	}
}

// streamRound reads at most streamBatch jobs finished elsewhere in one query and publishes them
// to the event stream; it reports whether more wait. Without subscribers it drops the queue
// unread. A failed read loses its batch: the stream is advice (a subscriber re-reads the state).
func (s *Scheduler) streamRound(base context.Context) bool {
	if s.hub.nsubs.Load() == 0 {
		s.remoteFin.clearStream()
		return false
	}
	g, ok := s.store.(manyGetter)
	if !ok {
		return false
	}
	ids, more := s.remoteFin.takeStream(streamBatch)
	if len(ids) == 0 || base.Err() != nil {
		return false
	}
	ctx, done := context.WithTimeout(base, finishedGetTimeout)
	jobs, err := g.GetMany(ctx, ids)
	done()
	s.remoteFin.reads.Add(1)
	if err != nil {
		s.remoteFin.dropped.Add(uint64(len(ids)))
		s.hub.post(Event{Resync: true})
		return more
	}
	s.remoteFin.jobs.Add(uint64(len(jobs)))
	for _, j := range jobs {
		s.hub.post(Event{Job: j}) // not s.publish: another node's finish is not this node's throughput
	}
	return more
}
