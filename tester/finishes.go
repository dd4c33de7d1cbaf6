package tester

import (
	"sync/atomic"
	"time"

	"github.com/jobsched/jobsched"
)

// finishes is the embedded scheduler's Observer: it counts the jobs that reached a final state
// and remembers when the last one did, so a drain is timed to the job, not to a poll.
type finishes struct {
	n    atomic.Int64
	last atomic.Int64 // UnixNano of the latest final finish
}

var _ jobsched.Observer = (*finishes)(nil)

// JobEnqueued implements jobsched.Observer.
func (*finishes) JobEnqueued(*jobsched.Job) {}

// JobStarted implements jobsched.Observer.
func (*finishes) JobStarted(*jobsched.Job, time.Duration) {}

// StoreSynced implements jobsched.Observer.
func (*finishes) StoreSynced(time.Duration, int) {}

// JobFinished implements jobsched.Observer: only succeeded, dead and cancelled are final.
func (f *finishes) JobFinished(j *jobsched.Job, _ time.Duration) {
	switch j.State {
	case jobsched.StateSucceeded, jobsched.StateDead, jobsched.StateCancelled:
	default:
		return
	}
	f.n.Add(1)
	now := time.Now().UnixNano()
	for {
		old := f.last.Load()
		if now <= old || f.last.CompareAndSwap(old, now) {
			return
		}
	}
}

// lastAt is when the latest job finished (zero if none did).
func (f *finishes) lastAt() time.Time {
	if v := f.last.Load(); v != 0 {
		return time.Unix(0, v)
	}
	return time.Time{}
}
