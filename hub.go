package jobsched

import (
	"sync"
	"sync/atomic"

	"github.com/jobsched/jobsched/actors"
)

// Event is a change observers (the dashboard's event stream) may show: a job changed state
// (Job set) or the balancer resized a category (Resize set). Resync says events were dropped
// because the subscriber (or the hub) fell behind: re-read the state that matters. The tree's
// changes are read with TreeVersion and Tree.
type Event struct {
	Job    *Job          `json:"job,omitempty"`
	Resize *actors.Event `json:"resize,omitempty"`
	Resync bool          `json:"resync,omitempty"`
}

// hubQueue bounds the events waiting for the hub's fan-out goroutine.
const hubQueue = 8192

// hub hands job changes to Wait callers and events to subscribers. Publishing never blocks and
// costs the caller (the store writer's done callbacks) one map lookup and one channel send: a
// fan-out goroutine copies events to the subscribers. Every buffer is bounded; an event that
// finds one full is dropped and the subscriber gets a Resync event in its place, so a slow
// reader never slows a commit.
type hub struct {
	wmu     sync.Mutex // guards waiters only: the writer's path takes no other lock
	waiters map[string][]chan *Job

	in       chan Event  // to the fan-out goroutine
	overflow atomic.Bool // in was full: every subscriber needs a Resync
	nsubs    atomic.Int32

	mu      sync.Mutex // guards subs, closed, running; held while fanning out
	subs    map[chan Event]*subscriber
	running bool
	stopped chan struct{} // closed when the fan-out goroutine has returned
	done    chan struct{}
	closed  bool
	minutes throughput // the last hour of finished attempts, per category (its own lock)
}

// subscriber is one subscriber's channel. Its last slot is kept for the Resync event: while
// not dropping, the channel holds at most cap-1 events.
type subscriber struct {
	ch       chan Event
	dropping bool // a Resync is queued and events are dropped until there is room again
}

// deliver sends ev if there is room, or queues a Resync once; the caller holds hub.mu and is the
// only sender, so the channel never fills between the length check and the send.
func (s *subscriber) deliver(ev Event) {
	if len(s.ch) < cap(s.ch)-1 {
		s.dropping = false
		s.ch <- ev
		return
	}
	s.resync()
}

func (s *subscriber) resync() {
	if !s.dropping {
		s.dropping = true
		s.ch <- Event{Resync: true}
	}
}

func (h *hub) init() {
	h.waiters = map[string][]chan *Job{}
	h.subs = map[chan Event]*subscriber{}
	h.in = make(chan Event, hubQueue)
	h.done = make(chan struct{})
	h.stopped = make(chan struct{})
}

// waitFor registers interest in a job's end; stop unregisters.
func (h *hub) waitFor(id string) (<-chan *Job, func()) {
	ch := make(chan *Job, 1)
	h.wmu.Lock()
	h.waiters[id] = append(h.waiters[id], ch)
	h.wmu.Unlock()
	return ch, func() {
		h.wmu.Lock()
		defer h.wmu.Unlock()
		ws := h.waiters[id]
		for i, w := range ws {
			if w == ch {
				ws = append(ws[:i], ws[i+1:]...)
				break
			}
		}
		if len(ws) == 0 {
			delete(h.waiters, id)
		} else {
			h.waiters[id] = ws
		}
	}
}

// waited reports whether someone waits for the job's end.
func (h *hub) waited(id string) bool {
	h.wmu.Lock()
	defer h.wmu.Unlock()
	return len(h.waiters[id]) > 0
}

func (h *hub) job(j *Job) {
	if j.State.Finished() {
		h.wmu.Lock()
		for _, ch := range h.waiters[j.ID] {
			select {
			case ch <- j:
			default:
			}
		}
		h.wmu.Unlock()
	}
	h.post(Event{Job: j})
}

func (h *hub) event(ev actors.Event) { h.post(Event{Resize: &ev}) }

// post queues ev for the fan-out goroutine without blocking; with nobody subscribed it does
// nothing.
func (h *hub) post(ev Event) {
	if h.nsubs.Load() == 0 {
		return
	}
	select {
	case h.in <- ev:
	default:
		h.overflow.Store(true)
	}
}

// fanOut copies queued events to the subscribers until the hub closes.
func (h *hub) fanOut() {
	defer close(h.stopped)
	for {
		select {
		case <-h.done:
			return
		case ev := <-h.in:
			h.mu.Lock()
			for _, s := range h.subs {
				s.deliver(ev)
			}
			// Events were dropped after everything queued so far: once the queue is empty,
			// the Resync comes after the events that preceded the loss.
			if len(h.in) == 0 && h.overflow.Swap(false) {
				for _, s := range h.subs {
					s.resync()
				}
			}
			h.mu.Unlock()
		}
	}
}

func (h *hub) close() {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return
	}
	h.closed = true
	close(h.done)
	running := h.running
	h.mu.Unlock()
	if running {
		<-h.stopped // fanOut takes mu: wait outside it
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.subs {
		close(ch)
		delete(h.subs, ch)
	}
	h.nsubs.Store(0)
}

// publish tells the hub a job changed.
func (s *Scheduler) publish(j *Job) { s.hub.minutes.add(j); s.hub.job(j) }

// Subscribe returns a channel of events with room for buffer of them (at least 2). When it is
// full, later events are dropped for this subscriber and one Event with Resync set takes their
// place: a subscriber must keep up or re-read the state after a Resync. cancel unsubscribes; the
// channel is closed then, or when the scheduler closes.
func (s *Scheduler) Subscribe(buffer int) (events <-chan Event, cancel func()) {
	ch := make(chan Event, max(buffer, 2))
	h := &s.hub
	h.mu.Lock()
	if h.closed {
		close(ch)
	} else {
		h.subs[ch] = &subscriber{ch: ch}
		h.nsubs.Add(1)
		if !h.running {
			h.running = true
			go h.fanOut() // owned by the hub: close stops it and waits
		}
	}
	h.mu.Unlock()
	return ch, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		if _, ok := h.subs[ch]; ok {
			delete(h.subs, ch)
			h.nsubs.Add(-1)
			close(ch)
		}
	}
}
