package jobsched

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jobsched/jobsched/persistence"
)

// ErrNoDependents: the store cannot revive the dependents of a retried job (RetryOptions.Dependents).
var ErrNoDependents = errors.New("this store cannot revive the dependents of a retried job")

// RetryOptions are the options of RetryWith.
type RetryOptions struct {
	// Dependents also brings back the jobs that the retried job's failure cancelled (those that
	// depend on it with on_parent_failure "cancel"), and in turn theirs: they go back to pending
	// and run once their parents succeed. Without it they stay cancelled.
	Dependents bool
}

// dependentsReviver is the part of a store that revives a retried parent's dependents
// (persistence/revive.go).
type dependentsReviver interface {
	ReviveDependents(ctx context.Context, parent string) (int, []string, error)
	SettleDependents(ctx context.Context, ids []string) error
}

// transactionalReviver is a store that retries a job and revives its dependents in one
// transaction (persistence/postgres/revive.go).
type transactionalReviver interface {
	RetryWithDependents(ctx context.Context, id string, fn persistence.Mutator) (*Job, error)
}

// RetryWith is Retry with options. With Dependents, the jobs cancelled because id ended dead or
// cancelled (and, recursively, because one of them was cancelled) are moved back to pending in
// the store, a page at a time, before id is retried: none can run before its parents succeed,
// and a crash before the retry leaves them cancelled again (the start-up settles the still dead
// parent). A revived job that also depends on another dead or cancelled job is settled by that
// one's failure again. It returns the retried job; ErrNoDependents if the store cannot do it.
func (s *Scheduler) RetryWith(ctx context.Context, id string, opt RetryOptions) (*Job, error) {
	if !opt.Dependents {
		return s.Retry(ctx, id)
	}
	if err := s.checkRunning(); err != nil {
		return nil, fmt.Errorf("retry: %w", err)
	}
	if tr, ok := s.store.(transactionalReviver); ok {
		j, err := tr.RetryWithDependents(ctx, id, retryJob(s.cfg.clock.Now(), s.knownCategory))
		return s.retryOutcome(id, j, err)
	}
	rv, ok := s.store.(dependentsReviver)
	if !ok {
		return nil, fmt.Errorf("retry %s: %w", id, ErrNoDependents)
	}
	j, err := s.store.Get(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("retry %s: %w", id, adminStoreErr(err))
	}
	if !retryable(j.State) {
		return j, fmt.Errorf("retry %s: %w: it is %s", id, ErrNotRetryable, j.State)
	}
	_, failed, err := rv.ReviveDependents(ctx, id)
	if err == nil {
		j, err = s.Retry(ctx, id)
	} else {
		j, err = nil, fmt.Errorf("retry %s: %w", id, adminStoreErr(err))
	}
	if err != nil {
		// id stays finished: the dependents revived so far are cancelled again by its settle.
		failed = append(failed, id)
	}
	// The settles must run even if the caller left: the writer answers them quickly.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	if serr := rv.SettleDependents(sctx, failed); serr != nil && err == nil {
		return j, fmt.Errorf("retry %s: %w", id, adminStoreErr(serr))
	}
	return j, err
}
