package jobsched

import (
	"sync"

	"github.com/jobsched/jobsched/actors"
)

// Event is a change observers (the dashboard's event stream) may show: a job changed state
// (Job set) or the balancer resized a category (Resize set). The tree's changes are read with
// TreeVersion and Tree.
type Event struct {
	Job    *Job          `json:"job,omitempty"`
	Resize *actors.Event `json:"resize,omitempty"`
}

// hub hands job changes to Wait callers and events to subscribers. Its methods never block: an
// event that finds a subscriber's channel full is dropped for it, so a slow reader cannot slow
// the scheduler.
type hub struct {
	mu      sync.Mutex
	waiters map[string][]chan *Job
	subs    map[chan Event]struct{}
	done    chan struct{}
	closed  bool
}

func (h *hub) init() {
	h.waiters = map[string][]chan *Job{}
	h.subs = map[chan Event]struct{}{}
	h.done = make(chan struct{})
}

// waitFor registers interest in a job's end; stop unregisters.
func (h *hub) waitFor(id string) (<-chan *Job, func()) {
	ch := make(chan *Job, 1)
	h.mu.Lock()
	h.waiters[id] = append(h.waiters[id], ch)
	h.mu.Unlock()
	return ch, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
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
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.waiters[id]) > 0
}

func (h *hub) job(j *Job) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if j.State.Finished() {
		for _, ch := range h.waiters[j.ID] {
			select {
			case ch <- j:
			default:
			}
		}
	}
	h.broadcast(Event{Job: j})
}

func (h *hub) event(ev actors.Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.broadcast(Event{Resize: &ev})
}

// broadcast sends to every subscriber that has room; the caller holds mu.
func (h *hub) broadcast(ev Event) {
	for ch := range h.subs {
		select {
		case ch <- ev:
		default:
		}
	}
}

func (h *hub) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.closed {
		h.closed = true
		close(h.done)
		for ch := range h.subs {
			close(ch)
			delete(h.subs, ch)
		}
	}
}

// publish tells the hub a job changed.
func (s *Scheduler) publish(j *Job) { s.hub.job(j) }

// Subscribe returns a channel of events with room for buffer of them; events that find it full
// are dropped (a subscriber must keep up or re-read state). cancel unsubscribes; the channel is
// closed then, or when the scheduler closes.
func (s *Scheduler) Subscribe(buffer int) (events <-chan Event, cancel func()) {
	ch := make(chan Event, max(buffer, 1))
	h := &s.hub
	h.mu.Lock()
	if h.closed {
		close(ch)
	} else {
		h.subs[ch] = struct{}{}
	}
	h.mu.Unlock()
	return ch, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		if _, ok := h.subs[ch]; ok {
			delete(h.subs, ch)
			close(ch)
		}
	}
}
