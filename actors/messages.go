package actors

import (
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/jobsched/jobsched/persistence"
)

// Enqueued: jobs are ready (stored as queued), in order. Scheduler or Waiter → Dispatcher →
// Fifo; a batch travels as one message (the Dispatcher splits it by category). At, set by
// Route, is a moment after the jobs were stored: a claim that began after it finds them.
type Enqueued struct {
	Jobs []*persistence.Job
	At   time.Time
}

// Schedule: a job waits for its run_at (scheduled or retrying). → Waiter.
type Schedule struct {
	ID    string
	RunAt time.Time
}

// Demand: WorkerRegistry (or a worker's attempt goroutine) → Fifo. Reset first forgets the workers lent before (the registry
// restarted and lends afresh). Ended, if not 0, is the token of a hand-off whose attempt ended
// (started or not): its concurrency-key slot is free again. Lend, if set, is a free worker the
// registry lends the Fifo: the Fifo gives it one job itself (Worker.give), with no message
// through the registry or the Worker's mailbox, and the worker comes back lent again once its
// attempt ends. Recall, if set, is a worker the registry drains: the Fifo forgets it.
type Demand struct {
	Reset  bool
	Ended  uint64
	Lend   *Lent
	Recall *actor.PID
}

// WorkerIdle: Worker (or its attempt goroutine) → WorkerRegistry: the worker is free (after it
// started or finished a job). Ended is the token of the attempt that just ended (0: the
// worker's incarnation announces itself). Lent is the incarnation's handle, lent to the Fifo.
type WorkerIdle struct {
	PID   *actor.PID
	Ended uint64
	Lent  *Lent
}

// RegistryStarted: WorkerRegistry → WorkerBalancer: the registry (re)started with its
// category's minimum of workers; the balancer forgets what it told the earlier one and tells
// this one its allocation.
type RegistryStarted struct{ Category string }

// WorkerGone: Worker → WorkerRegistry: a draining worker stopped.
type WorkerGone struct{ PID *actor.PID }

// JobDone: a Worker's attempt goroutine → the Worker: the attempt ended and its outcome is being
// stored, and the Worker must act on it: the handler panicked (Panic holds its text; the Worker
// then crashes) or the Worker drains. Token is the hand-off's. Any other end goes from the
// goroutine to the WorkerRegistry as a WorkerIdle.
type JobDone struct {
	JobID string
	Token uint64
	Panic string
	from  *Lent // the incarnation whose goroutine sent it
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

// AttemptEnded: Worker → Fifo: the attempt of hand-off Token ended and the Worker crashes (its
// handler panicked), so no WorkerIdle carries the end.
type AttemptEnded struct{ Token uint64 }

// Wake: scheduler → Fifo: another node made jobs of the category ready in a shared store (a
// NOTIFY); a claiming Fifo claims again.
type Wake struct{}

// claimed carries a claiming Fifo's claim: jobs stored as running, held by this node. full is
// set when the claim took all it asked for (asked: more may wait).
type claimed struct {
	epoch uint64
	jobs  []*persistence.Job
	err   error
	asked int
	full  bool
}

// tick is a timer's message to its own actor.
type tick struct{}

// coolDone: a claiming Fifo's claim cooldown ended (fifo_claim.go); epoch names the
// incarnation that set it.
type coolDone struct{ epoch uint64 }

// poll: a Fifo's or the Waiter's timer: look for work in the store (the store drives the
// queue; messages only make it fast). Epoch names the incarnation that set the timer.
type poll struct{ epoch uint64 }

// queuedLoaded carries a Fifo's read of queued jobs from the store. Epoch is the incarnation
// that started the read: a restarted Fifo ignores the reads of the one before it.
type queuedLoaded struct {
	epoch uint64
	jobs  []*persistence.Job
	err   error
	full  bool // the read was capped: more may wait in the store
}

// runningRead carries a restarted Fifo's read of its category's jobs stored as running whose
// kind limits their concurrency key: attempts an earlier incarnation handed out.
type runningRead struct {
	epoch uint64
	jobs  []*persistence.Job
	err   error
}

// scanned carries a Fifo's rescan of its queue: a page of queued jobs after from. head is set
// when from was the low-water mark; mark is the InsertGate mark taken before the read.
type scanned struct {
	epoch uint64
	from  uint64
	head  bool
	mark  uint64
	jobs  []*persistence.Job
	err   error
}

// audited carries the stored state of hand-offs that have not ended for a while.
type audited struct {
	epoch  uint64
	tokens []uint64
	jobs   []*persistence.Job // nil where the job is gone
	errs   []error
}

// waitingLoaded carries the Waiter's read of scheduled and retrying jobs (all of them, or the
// due ones of a poll).
type waitingLoaded struct {
	epoch uint64
	items []waitItem
	err   error
}

// promoted: the store's answer to the Waiter's Promote of one job.
type promoted struct {
	epoch uint64
	id    string
	err   error
}
