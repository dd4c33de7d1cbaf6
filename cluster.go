package jobsched

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

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

// attachStore hooks the scheduler to a shared store's notifications: a cancel asked on another
// node cancels the job's context here, a job finished on another node ends the Waits for it
// here (and shows in the event stream), and jobs made ready by another node (an insert, a
// rescue) are read by this node too (see reloadLoop).
func (s *Scheduler) attachStore() {
	if n, ok := s.store.(queuedNotifier); ok {
		s.reload.wake = make(chan struct{}, 1)
		s.reload.pending = map[string]bool{}
		n.OnQueued(func(cat string) {
			if _, known := s.cats[cat]; !known {
				return
			}
			s.reload.mu.Lock()
			s.reload.pending[cat] = true
			s.reload.mu.Unlock()
			select {
			case s.reload.wake <- struct{}{}:
			default: // a reload is due already
			}
		})
	}
	if n, ok := s.store.(cancelNotifier); ok {
		n.OnCancel(func(id string) {
			if f, ok := s.running.Load(id); ok {
				f.(context.CancelCauseFunc)(ErrCancelled)
			}
		})
	}
	if n, ok := s.store.(finishNotifier); ok {
		n.OnFinished(func(id string) {
			if !s.hub.waited(id) {
				return
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			if j, err := s.store.Get(ctx, id); err == nil {
				s.publish(j)
			}
		})
	}
}

// reloadBatch is how many queued jobs a reload reads per category.
const reloadBatch = 1000

// reloader is the state of reloadLoop: the categories another node made jobs ready in.
type reloader struct {
	mu      sync.Mutex
	pending map[string]bool
	wake    chan struct{}
}

// startReloader starts reloadLoop once the tree is ready (on a shared store only).
func (s *Scheduler) startReloader() {
	if s.reload.wake != nil {
		s.goTracked(s.reloadLoop)
	}
}

// reloadLoop reads the queued jobs of the categories another node woke and hands them to the
// Dispatcher, so that jobs inserted or rescued elsewhere run here too. Wake-ups that come while
// it reads fold into one more read. Two nodes may then hand out the same job: the store's row
// lock lets one start it and the other skips it. It is the fast path; the Fifos' rescans of the
// store every PollInterval find the same jobs later if a notification is lost.
func (s *Scheduler) reloadLoop() {
	for {
		select {
		case <-s.quit:
			return
		case <-s.reload.wake:
		}
		s.reload.mu.Lock()
		cats := make([]string, 0, len(s.reload.pending))
		for c := range s.reload.pending {
			cats = append(cats, c)
		}
		clear(s.reload.pending)
		s.reload.mu.Unlock()
		for _, cat := range cats {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			jobs, err := s.store.Queued(ctx, cat, 0, reloadBatch)
			cancel()
			if err != nil {
				s.log.Warn("read jobs another node made ready", "category", cat, "err", err)
				continue
			}
			if len(jobs) > 0 {
				s.system.Root.Send(s.env.DispatcherPID(), &actors.Enqueued{Jobs: jobs})
			}
		}
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
		return nil, fmt.Errorf("enqueue: %w", err)
	}
	out := make([]*Job, len(res))
	for i, r := range res {
		out[i] = r.Job
	}
	return out, nil
}
