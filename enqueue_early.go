package jobsched

import (
	"context"

	"github.com/jobsched/jobsched/persistence"
)

// storeInsert stores the jobs. On a store that tells of its commits (persistence.CommitNotifier:
// the Badger store) the jobs are handed to the actors (handOff) as soon as the insert is
// committed, before the sync that makes it durable, and early is true; the call still returns
// only after that sync. So a job waits for the disk only to be acknowledged, not to start:
// a job whose enqueue was not acknowledged yet may run, and if the machine (not the process)
// then crashes before the sync, it may run although its enqueue was never acknowledged, or be
// lost with its start. At-least-once delivery allows it; a start is still stored before its
// handler runs (docs/durability.md, "A job starts before its enqueue is acknowledged").
//
// At the commit, the jobs are in the state counts: landed (the end of their queue-limit
// reservation) runs then, and the Observer hears of them (JobEnqueued) before the hand-off, so
// before their start; after a failed sync it may have heard of jobs whose enqueue failed.
func (s *Scheduler) storeInsert(ctx context.Context, jobs []*Job, landed func()) (res []persistence.InsertResult, early bool, err error) {
	n, ok := s.store.(persistence.CommitNotifier)
	if !ok {
		res, err = s.store.Insert(ctx, jobs)
		return res, false, err
	}
	res, err = n.InsertCommitted(ctx, jobs, func(res []persistence.InsertResult) {
		early = true
		landed()
		s.tellEnqueued(res)
		s.handOff(res)
	})
	return res, early, err
}
