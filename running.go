package jobsched

import (
	"context"
	"sync"
)

// attempts maps the id of each job whose attempt runs in this process to the cancel
// function of the attempt's context (Cancel and Close use it). A map under a mutex, not a
// sync.Map: an attempt stores and deletes its entry once each, and a sync.Map allocates an
// entry (and boxes the key) at every store. The zero value is ready. Load and Range give
// values as `any` (a context.CancelCauseFunc), as the sync.Map did.
type attempts struct {
	mu sync.Mutex
	m  map[string]context.CancelCauseFunc
}

// Store sets the cancel function of a job's running attempt.
func (r *attempts) Store(id string, cancel context.CancelCauseFunc) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = map[string]context.CancelCauseFunc{}
	}
	r.m[id] = cancel
}

// Delete forgets a job's attempt.
func (r *attempts) Delete(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.m, id)
}

// Load returns the cancel function of a job's running attempt, if one runs.
func (r *attempts) Load(id string) (any, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f, ok := r.m[id]
	if !ok {
		return nil, false
	}
	return f, true
}

// Range calls fn for each running attempt (id, cancel function) until it returns false; fn
// runs outside the lock, on the entries of the moment.
func (r *attempts) Range(fn func(id, cancel any) bool) {
	r.mu.Lock()
	ids := make([]string, 0, len(r.m))
	fs := make([]context.CancelCauseFunc, 0, len(r.m))
	for id, f := range r.m {
		ids, fs = append(ids, id), append(fs, f)
	}
	r.mu.Unlock()
	for i := range ids {
		if !fn(ids[i], fs[i]) {
			return
		}
	}
}
