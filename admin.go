package jobsched

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jobsched/jobsched/actors"
	"github.com/jobsched/jobsched/persistence"
)

// Errors of the admin operations (Retry, Delete, RetryWhere, CancelWhere).
var (
	// ErrNotRetryable: only a dead, cancelled, retrying or scheduled job can be retried.
	ErrNotRetryable = errors.New("job cannot be retried in its state")
	// ErrNotFinished: only a finished job (succeeded, dead, cancelled) can be deleted.
	ErrNotFinished = persistence.ErrNotFinished
)

// BulkPage is how many jobs a bulk operation reads and writes at a time: one List page, whose
// writes the store groups into a few commits. A bulk operation is never one transaction.
const BulkPage = persistence.MaxListLimit

// Filter selects the jobs of RetryWhere and CancelWhere. An empty field matches every job; at
// least one field must be set, so that an empty request body touches nothing.
type Filter struct {
	Category string `json:"category,omitempty"`
	Kind     string `json:"kind,omitempty"`
	State    State  `json:"state,omitempty"`
}

func (f Filter) match(j *Job) bool {
	return (f.Category == "" || j.Category == f.Category) && (f.Kind == "" || j.Kind == f.Kind) &&
		(f.State == "" || j.State == f.State)
}

// retryable reports whether Retry accepts a job in state st.
func retryable(st State) bool {
	return st == StateDead || st == StateCancelled || st == StateRetrying || st == StateScheduled
}

// Retry runs a dead, cancelled, retrying or scheduled job again now: it becomes queued with
// run_at now, keeps its attempts and errors, and gets one more attempt if it has spent them all.
// A job in another state returns ErrNotRetryable (with the job as it is); a finished job whose
// unique key another unfinished job holds returns ErrDuplicate. A retry is not refused by the
// category's queue_limit: it is an operator's decision.
func (s *Scheduler) Retry(ctx context.Context, id string) (*Job, error) {
	if err := s.checkRunning(); err != nil {
		return nil, fmt.Errorf("retry: %w", err)
	}
	j, err := s.store.Update(ctx, id, retryJob(s.cfg.clock.Now(), s.knownCategory), true)
	return s.retryOutcome(id, j, err)
}

// retryOutcome turns the store's answer to a retry of id into Retry's: the job, or the error
// (with the job when it is not retryable).
func (s *Scheduler) retryOutcome(id string, j *Job, err error) (*Job, error) {
	if err != nil {
		if errors.Is(err, ErrNotRetryable) {
			return j, fmt.Errorf("retry %s: %w", id, err)
		}
		return nil, fmt.Errorf("retry %s: %w", id, adminStoreErr(err))
	}
	s.retried([]*Job{j})
	return j, nil
}

// retryJob is the store mutation of Retry; a job of a category deleted since is not retried.
func retryJob(now time.Time, known func(string) bool) persistence.Mutator {
	return func(j *Job) error {
		if !retryable(j.State) {
			return fmt.Errorf("%w: it is %s", ErrNotRetryable, j.State)
		}
		if !known(j.Category) {
			return fmt.Errorf("%w: its category %q no longer exists (PutCategory brings it back)", ErrNotRetryable, j.Category)
		}
		j.State, j.RunAt, j.FinishedAt, j.CancelRequested = StateQueued, now, nil, false
		if j.Attempt >= j.MaxAttempts {
			j.MaxAttempts = j.Attempt + 1
		}
		return nil
	}
}

// cancelJob is the store mutation of CancelWhere, the same as Cancel's: a waiting or queued job
// ends cancelled at once; a running one is asked to stop.
func cancelJob(now time.Time) persistence.Mutator {
	return func(j *Job) error {
		switch {
		case j.State.Finished():
			return ErrFinished
		case j.State == StateRunning:
			if j.CancelRequested {
				return persistence.ErrSkip
			}
			j.CancelRequested = true
		default:
			j.State, j.FinishedAt = StateCancelled, &now
		}
		return nil
	}
}

// retried tells the world about retried jobs: each is published, and the queued ones go to
// their category's Fifo through the Dispatcher, exactly as freshly enqueued jobs do.
func (s *Scheduler) retried(jobs []*Job) {
	for _, j := range jobs {
		s.publish(j)
	}
	if len(jobs) > 0 {
		s.system.Root.Send(s.env.DispatcherPID(), &actors.Enqueued{Jobs: jobs})
	}
}

// Delete removes a finished job from the store. An unfinished job returns ErrNotFinished
// (cancel it first); an unknown id ErrNotFound. A deleted job's unique key is free.
func (s *Scheduler) Delete(ctx context.Context, id string) error {
	if err := s.checkRunning(); err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	if err := s.store.Delete(ctx, id); err != nil {
		return fmt.Errorf("delete %s: %w", id, adminStoreErr(err))
	}
	return nil
}

// RetryWhere retries every job the filter selects that Retry accepts, and returns how many it
// retried. It walks the jobs a page at a time (BulkPage), so a million jobs are a thousand small
// steps, never one transaction; if ctx ends, it stops and returns the count so far with ctx's
// error. A filter's state, if set, must be one Retry accepts.
func (s *Scheduler) RetryWhere(ctx context.Context, f Filter) (int, error) {
	if err := s.checkFilter(f, retryable, "dead, cancelled, retrying or scheduled"); err != nil {
		return 0, err
	}
	retry := func(now time.Time) persistence.Mutator { return retryJob(now, s.knownCategory) }
	n, err := s.bulk(ctx, f, retryable, retry, func(jobs []*Job) { s.retried(jobs) })
	if err != nil {
		return n, fmt.Errorf("retry where: %w", err)
	}
	return n, nil
}

// CancelWhere cancels every unfinished job the filter selects, as Cancel does, and returns how
// many it cancelled (a running job counts once its cancel is asked for). It works in pages like
// RetryWhere.
func (s *Scheduler) CancelWhere(ctx context.Context, f Filter) (int, error) {
	unfinished := func(st State) bool { return !st.Finished() }
	if err := s.checkFilter(f, unfinished, "scheduled, queued, running or retrying"); err != nil {
		return 0, err
	}
	n, err := s.bulk(ctx, f, unfinished, cancelJob, func(jobs []*Job) {
		for _, j := range jobs {
			if j.State == StateRunning {
				if c, ok := s.running.Load(j.ID); ok {
					c.(context.CancelCauseFunc)(ErrCancelled)
				}
			}
			s.publish(j)
		}
	})
	if err != nil {
		return n, fmt.Errorf("cancel where: %w", err)
	}
	return n, nil
}

// checkFilter refuses a filter that selects nothing sensible: an unknown category or state, a
// state the operation does not apply to, or no field at all.
func (s *Scheduler) checkFilter(f Filter, applies func(State) bool, which string) error {
	if err := s.checkRunning(); err != nil {
		return err
	}
	if f == (Filter{}) {
		return invalid("filter", "name at least one of category, kind, state")
	}
	if f.Category != "" {
		if _, ok := s.category(f.Category); !ok {
			return invalid("category", "unknown category %q", f.Category)
		}
	}
	if f.State != "" && (!f.State.Valid() || !applies(f.State)) {
		return invalid("state", "%q: must be %s", f.State, which)
	}
	return nil
}

// bulk applies the mutation to every job the filter selects whose state applies, a page at a
// time: it lists a page, submits its writes together (the store's writer groups them into a
// few commits and one sync), waits for them, and hands the changed jobs to after.
func (s *Scheduler) bulk(ctx context.Context, f Filter, applies func(State) bool,
	mutation func(time.Time) persistence.Mutator, after func([]*Job)) (int, error) {
	total, cursor := 0, ""
	for {
		page, next, err := s.store.List(ctx, persistence.ListOptions{Category: f.Category, Kind: f.Kind, State: f.State, Limit: BulkPage, Cursor: cursor})
		if err != nil {
			return total, adminStoreErr(err)
		}
		var ids []string
		for _, j := range page {
			if f.match(j) && applies(j.State) {
				ids = append(ids, j.ID)
			}
		}
		changed, err := s.updateAll(ids, mutation(s.cfg.clock.Now()))
		total += len(changed)
		if len(changed) > 0 {
			after(changed)
		}
		if err != nil {
			return total, err
		}
		if next == "" {
			return total, nil
		}
		if err := ctx.Err(); err != nil {
			return total, err
		}
		cursor = next
	}
}

// updateAll submits one durable update per id at once and waits for all of them. A job that
// changed state meanwhile (the mutation refuses it) is skipped; any other error is returned
// with the jobs that did change.
func (s *Scheduler) updateAll(ids []string, fn persistence.Mutator) ([]*Job, error) {
	type res struct {
		j   *Job
		err error
	}
	results := make(chan res, len(ids)) // buffered: the writer's callback never blocks
	for _, id := range ids {
		s.store.UpdateAsync(id, fn, true, func(j *Job, err error) { results <- res{j, err} })
	}
	var changed []*Job
	var first error
	// The writer always answers (ErrClosed once closing), so this waits one page at most; ctx
	// is checked between pages, so every changed job is handed on.
	for range ids {
		r := <-results
		switch {
		case r.err == nil:
			changed = append(changed, r.j)
		case errors.Is(r.err, persistence.ErrSkip), errors.Is(r.err, ErrNotRetryable),
			errors.Is(r.err, ErrFinished), errors.Is(r.err, persistence.ErrNotFound),
			errors.Is(r.err, persistence.ErrUniqueHeld):
			// changed or deleted since the page was read, or its unique key is taken: skip it
		case first == nil:
			first = adminStoreErr(r.err)
		}
	}
	return changed, first
}

// adminStoreErr maps the store's errors to the scheduler's.
func adminStoreErr(err error) error {
	switch {
	case errors.Is(err, persistence.ErrClosed):
		return fmt.Errorf("%w: %w", ErrClosed, err)
	case errors.Is(err, persistence.ErrUniqueHeld):
		return fmt.Errorf("%w: %w", ErrDuplicate, err)
	}
	var d interface{ DeletedCategory() string }
	if errors.As(err, &d) { // deleted by another node, not yet here (categoryGuard)
		return fmt.Errorf("%w: its category %q no longer exists (PutCategory brings it back)", ErrNotRetryable, d.DeletedCategory())
	}
	return err
}
