package actors

import (
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/jobsched/jobsched/persistence"
)

// Enqueued: jobs are ready (stored as queued), in order. Scheduler or Waiter → Dispatcher →
// Fifo; a batch travels as one message (the Dispatcher splits it by category).
type Enqueued struct{ Jobs []*persistence.Job }

// Schedule: a job waits for its run_at (scheduled or retrying). → Waiter.
type Schedule struct {
	ID    string
	RunAt time.Time
}

// Dispatch: Fifo → WorkerRegistry: give this job to a free worker.
type Dispatch struct{ Job *persistence.Job }

// Requeue: WorkerRegistry → Fifo: no free worker took the job after all; put it back in front.
type Requeue struct{ Job *persistence.Job }

// Demand: WorkerRegistry → Fifo: N more workers are free. Reset first forgets earlier demand
// (the registry restarted and counts afresh).
type Demand struct {
	N     int
	Reset bool
}

// Run: WorkerRegistry → Worker: run one attempt of the job.
type Run struct{ Job *persistence.Job }

// WorkerIdle: Worker → WorkerRegistry: the worker is free (after it started or finished a job).
type WorkerIdle struct{ PID *actor.PID }

// WorkerGone: Worker → WorkerRegistry: a draining worker stopped.
type WorkerGone struct{ PID *actor.PID }

// JobDone: a Worker's attempt goroutine → the Worker: the attempt ended and its outcome is being
// stored. Panic holds the handler's panic text, if it panicked; the Worker then crashes.
type JobDone struct {
	JobID string
	Panic string
}

// Drain: WorkerRegistry → Worker: stop once the current job is done.
type Drain struct{}

// Resize: WorkerBalancer → WorkerRegistry: keep Workers workers in this category.
type Resize struct{ Workers int }

// Pause and Resume: → Fifo: stop and restart handing out jobs.
type (
	Pause  struct{}
	Resume struct{}
)

// Backlogged: Fifo → WorkerBalancer: a category got work and has no free worker.
type Backlogged struct{ Category string }

// KeyReleased: the Runner → Fifo: an attempt of a job with a concurrency key ended (or never
// started), so the key has one more free slot.
type KeyReleased struct{ Kind, Key string }

// tick is a timer's message to its own actor.
type tick struct{}

// queuedLoaded carries a Fifo's read of queued jobs from the store.
type queuedLoaded struct {
	jobs []*persistence.Job
	err  error
	full bool // the read was capped: more may wait in the store
}

// waitingLoaded carries the Waiter's read of scheduled and retrying jobs.
type waitingLoaded struct {
	items []waitItem
	err   error
}
