package jobsched

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jobsched/jobsched/persistence"
)

// Handler runs one attempt of a job. It should return when ctx is done (the job timed out, was
// cancelled, or the scheduler is shutting down: context.Cause(ctx) says which). The result, if
// not nil, is stored as JSON on the job. An error fails the attempt: the job is retried after a
// backoff until MaxAttempts, then it is dead. A panic fails the attempt the same way and
// restarts the worker that ran it.
type Handler func(ctx context.Context, job *Job) (result any, err error)

// ErrNoHandler is the attempt error of a job whose kind has no registered handler.
var ErrNoHandler = errors.New("no handler registered for this kind")

// Register sets the handler of a kind. It must be called before Start, so that no job (a
// recovered one included) ever runs before its handler exists.
func (s *Scheduler) Register(kind string, h Handler) error {
	if kind == "" || h == nil {
		return invalid("kind", "a kind name and a handler are both required")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state != stateNew {
		return fmt.Errorf("register %q: %w", kind, ErrStarted)
	}
	s.handlers[kind] = h
	return nil
}

type attemptKey struct{}

type attemptInfo struct {
	s       *Scheduler
	id      string
	attempt int
}

// ReportProgress records a running job's progress (percent 0-100 and a message); it is visible
// on the job (Get, the API) while the job runs and after. ctx must be the handler's context.
// Writes are not synced: progress is advice, not state.
func ReportProgress(ctx context.Context, percent float64, message string) error {
	a, ok := ctx.Value(attemptKey{}).(attemptInfo)
	if !ok {
		return errors.New("jobsched.ReportProgress: not a handler's context")
	}
	percent = min(max(percent, 0), 100)
	now := a.s.cfg.clock.Now()
	a.s.store.UpdateAsync(a.id, func(j *persistence.Job) error {
		if j.State != StateRunning || j.Attempt != a.attempt {
			return persistence.ErrSkip
		}
		j.Progress = &persistence.Progress{Percent: percent, Message: message, At: now}
		return nil
	}, false, func(j *Job, err error) {
		if err == nil {
			a.s.publish(j)
		}
	})
	return nil
}

// timeoutError says how long the attempt was allowed.
func timeoutError(d time.Duration, err error) string {
	if err == nil || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) || errors.Is(err, ErrTimeout) {
		return fmt.Sprintf("timed out after %s", d)
	}
	return fmt.Sprintf("timed out after %s: %v", d, err)
}
