package actors

import "sync"

// handoffs is the table of a category's hand-offs whose attempt may still begin, shared by its
// Fifo and its Workers' attempt goroutines, across their incarnations (the zero value is ready). A Fifo enters a token
// when it hands a job out; the attempt goroutine takes it before it runs the job and drops it
// once the attempt returned. The audit of a hand-off the store still says queued revokes it:
// that succeeds only if no attempt took it, and an attempt then never takes it. So a
// hand-off whose start write is merely slow (a loaded machine, a busy writer) is never ended
// while its handler may still run, and its concurrency-key slot is never freed early.
type handoffs struct {
	mu sync.Mutex
	m  map[uint64]handoff // by value: an entry costs no allocation of its own
}

// handoff is one entry: the job and the slot it holds, and whether an attempt took it.
type handoff struct {
	id, key string
	taken   bool
}

// add enters a hand-off of job id holding key's slot ("" none).
func (h *handoffs) add(tok uint64, id, key string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.m == nil {
		h.m = map[uint64]handoff{}
	}
	h.m[tok] = handoff{id: id, key: key}
}

// take marks the hand-off taken by an attempt; false: it was revoked (or ended), and the
// attempt must not run.
func (h *handoffs) take(tok uint64) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	e, ok := h.m[tok]
	if !ok {
		return false
	}
	e.taken = true
	h.m[tok] = e
	return true
}

// revoke ends a hand-off no attempt took; false: an attempt took it and has not returned.
func (h *handoffs) revoke(tok uint64) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if e, ok := h.m[tok]; ok {
		if e.taken {
			return false
		}
		delete(h.m, tok)
	}
	return true
}

// drop forgets a hand-off: its attempt returned, or the Fifo ended it.
func (h *handoffs) drop(tok uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.m, tok)
}

// takeOver is called by the Fifo as it starts (epoch: its own): the hand-offs of its earlier
// incarnations that no attempt took are revoked (the new Fifo reads their jobs again from the
// store), and those taken and not returned are returned, for the new Fifo to hold their slots
// until their attempts end.
func (h *handoffs) takeOver(epoch uint64) map[uint64]handoff {
	h.mu.Lock()
	defer h.mu.Unlock()
	taken := map[uint64]handoff{}
	for tok, e := range h.m {
		if tok>>32 == epoch {
			continue
		}
		if e.taken {
			taken[tok] = e
		} else {
			delete(h.m, tok)
		}
	}
	return taken
}
