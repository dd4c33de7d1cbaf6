package jobsched

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jobsched/jobsched/actors"
	"github.com/jobsched/jobsched/persistence"
)

// ErrNoTx: EnqueueTx needs a store that can join the caller's transaction (the PostgreSQL
// store, persistence/postgres).
var ErrNoTx = errors.New("the store cannot join a transaction")

// The optional parts of a store shared by several nodes (persistence/postgres implements them).
type (
	// cancelNotifier tells this node when a cancel was asked elsewhere for a job it runs.
	cancelNotifier interface{ OnCancel(func(id string)) }
	// finishNotifier tells this node when another node finished a job.
	finishNotifier interface{ OnFinished(func(id string)) }
	// queuedNotifier tells this node when another node made jobs of a category ready.
	queuedNotifier interface{ OnQueued(func(category string)) }
	// txInserter inserts jobs in the caller's transaction.
	txInserter interface {
		InsertTx(ctx context.Context, tx pgx.Tx, jobs []*persistence.Job) ([]persistence.InsertResult, error)
	}
)

// attachStore hooks the scheduler to a shared store's notifications: jobs made ready by another
// node (an insert, a rescue, a retry made due) wake this node's Fifo of their category, which
// claims them; a cancel asked on another node cancels the job's context here; a job finished on
// another node ends the Waits for it here and, while the event stream has subscribers, shows in
// it (cluster_finished.go).
func (s *Scheduler) attachStore() {
	if n, ok := s.store.(queuedNotifier); ok {
		n.OnQueued(func(cat string) {
			s.mu.Lock()
			sys, env := s.system, s.env
			s.mu.Unlock()
			if env == nil || !s.knownCategory(cat) {
				return // not started yet: the Fifos claim at their start
			}
			sys.Root.Send(env.FifoPID(cat), &actors.Wake{})
		})
	}
	if n, ok := s.store.(cancelNotifier); ok {
		n.OnCancel(func(id string) {
			s.cancels.Add(1) // a claimed attempt that registers after this looks in the store
			if f, ok := s.running.Load(id); ok {
				f.(context.CancelCauseFunc)(ErrCancelled)
			}
		})
	}
	if n, ok := s.store.(finishNotifier); ok {
		n.OnFinished(s.onRemoteFinished) // cluster_finished.go
	}
}

// EnqueueTx inserts jobs inside the caller's own PostgreSQL transaction: they exist, and run,
// only if tx commits; a rollback leaves no trace. It needs Config.Store to be the PostgreSQL
// store (ErrNoTx otherwise). The specs are checked as EnqueueBatch checks them; an entry whose
// unique key is held by an unfinished job returns that job. The jobs are woken on every node
// when tx commits.
func (s *Scheduler) EnqueueTx(ctx context.Context, tx pgx.Tx, specs []JobSpec) ([]*Job, error) {
	if err := s.checkRunning(); err != nil {
		return nil, fmt.Errorf("enqueue: %w", err)
	}
	ins, ok := s.store.(txInserter)
	if !ok {
		return nil, fmt.Errorf("enqueue: %w", ErrNoTx)
	}
	if len(specs) == 0 {
		return nil, invalid("jobs", "the batch is empty")
	}
	if len(specs) > s.cfg.MaxBatch {
		return nil, invalid("jobs", "%d jobs, over the batch limit of %d", len(specs), s.cfg.MaxBatch)
	}
	now := s.cfg.clock.Now()
	jobs := make([]*Job, len(specs))
	for i, spec := range specs {
		j, err := s.newJob(spec, now, fmt.Sprintf("jobs[%d].", i))
		if err != nil {
			return nil, err
		}
		if limit := s.cats[j.Category].QueueLimit; s.store.Backlog(j.Category) >= limit {
			return nil, fmt.Errorf("enqueue: category %q holds %d waiting jobs (limit %d): %w", j.Category, s.store.Backlog(j.Category), limit, ErrQueueFull)
		}
		jobs[i] = j
	}
	ctx, span := s.traceEnqueue(ctx, jobs) // nil when tracing is off (tracing.go)
	res, err := ins.InsertTx(ctx, tx, jobs)
	endSpan(span, err)
	if err != nil {
		return nil, fmt.Errorf("enqueue: %w", deletedCategory(err))
	}
	out := make([]*Job, len(res))
	for i, r := range res {
		out[i] = r.Job
	}
	return out, nil
}
