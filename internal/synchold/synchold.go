// Package synchold is a test helper: an Observer that holds the store's syncs, so a test can
// see a write committed (the job may start) and not yet acknowledged (its Enqueue waits).
package synchold

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/jobsched/jobsched"
)

// MaxHold bounds one hold: a test that forgets to Release fails instead of hanging.
const MaxHold = time.Minute

// Observer is a jobsched.Observer whose StoreSynced, once armed, holds the store's syncer
// until Release (or MaxHold): every write it syncs meanwhile is committed and not
// acknowledged. Its other methods do nothing; a test's own Observer may embed it.
type Observer struct {
	armed   atomic.Bool
	held    chan struct{}
	release func()
}

// New returns an Observer, not armed.
func New() *Observer {
	held := make(chan struct{})
	return &Observer{held: held, release: sync.OnceFunc(func() { close(held) })}
}

// Arm makes the syncs from now on wait for Release. Arm it once the scheduler's start-up
// writes and its Fifo's first read of the store are done (a first job ran), or the scheduler
// may wait for the hold before it takes any job.
func (h *Observer) Arm() { h.armed.Store(true) }

// Release lets the held syncs, and every later one, go; it may be called more than once (a
// test defers it, and calls it before its server's or scheduler's Close).
func (h *Observer) Release() { h.release() }

// JobEnqueued implements jobsched.Observer.
func (h *Observer) JobEnqueued(*jobsched.Job) {}

// JobStarted implements jobsched.Observer.
func (h *Observer) JobStarted(*jobsched.Job, time.Duration) {}

// JobFinished implements jobsched.Observer.
func (h *Observer) JobFinished(*jobsched.Job, time.Duration) {}

// StoreSynced implements jobsched.Observer: once armed, it waits for Release.
func (h *Observer) StoreSynced(time.Duration, int) {
	if !h.armed.Load() {
		return
	}
	select {
	case <-h.held:
	case <-time.After(MaxHold):
	}
}
