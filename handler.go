package jobsched

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
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

// Validator checks a job's args when the job is enqueued, so that a job that could never run
// is refused at once instead of failing every attempt. A nil error accepts the args. An
// *InvalidError names the bad field inside the args ("ms", "url", "env.LD_PRELOAD"; "" for
// the args as a whole): Enqueue reports it as "args.ms" (in a batch "jobs[3].args.ms"). Any
// other error is reported against "args". A Validator runs on the caller's goroutine of every
// Enqueue and must be quick and safe for concurrent use.
type Validator func(args json.RawMessage) error

// Register sets the handler of a kind. It must be called before Start, so that no job (a
// recovered one included) ever runs before its handler exists.
func (s *Scheduler) Register(kind string, h Handler) error {
	return s.RegisterWithValidator(kind, h, nil)
}

// RegisterWithValidator sets the handler of a kind and the check its args must pass at
// enqueue (nil: none). Like Register it must be called before Start.
func (s *Scheduler) RegisterWithValidator(kind string, h Handler, v Validator) error {
	if kind == "" || h == nil {
		return invalid("kind", "a kind name and a handler are both required")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state != stateNew {
		return fmt.Errorf("register %q: %w", kind, ErrStarted)
	}
	s.handlers[kind] = h
	if s.checks == nil {
		s.checks = map[string]Validator{}
	}
	if v == nil {
		delete(s.checks, kind)
	} else {
		s.checks[kind] = v
	}
	return nil
}

// HandledKinds returns the kinds that have a handler, sorted.
func (s *Scheduler) HandledKinds() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.handlers))
	for k := range s.handlers {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// checkKind refuses, at enqueue, a kind without a handler (when Config.RefuseUnknownKinds is
// set) and args its kind's Validator refuses. The maps are only written before Start, and
// enqueue runs after it, so they are read without the lock.
func (s *Scheduler) checkKind(spec JobSpec, field string) error {
	if _, ok := s.handlers[spec.Kind]; !ok && s.cfg.RefuseUnknownKinds {
		return invalid(field+"kind", "no handler is registered for kind %q", spec.Kind)
	}
	v := s.checks[spec.Kind]
	if v == nil {
		return nil
	}
	err := v(spec.Args)
	if err == nil {
		return nil
	}
	var inv *InvalidError
	if !errors.As(err, &inv) {
		return invalid(field+"args", "%v", err)
	}
	f := field + "args"
	if inv.Field != "" {
		f += "." + inv.Field
	}
	return &InvalidError{Field: f, Reason: inv.Reason, tooLarge: inv.tooLarge}
}

type attemptKey struct{}

// attemptCtx is a handler's context: its parent, with the attempt's info under attemptKey, in
// one allocation where context.WithValue makes two (the context and the boxed info). A lookup
// of the info (ReportProgress, ParentResults: rare) boxes it instead.
type attemptCtx struct {
	context.Context
	info attemptInfo
}

// Value implements context.Context.
func (c *attemptCtx) Value(key any) any {
	if key == (attemptKey{}) {
		return c.info
	}
	return c.Context.Value(key)
}

type attemptInfo struct {
	s         *Scheduler
	id        string
	attempt   int
	startedAt time.Time // with the number, names the attempt (a shutdown gives a number back)
	parents   []string  // the job's depends_on, for ParentResults
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
	a.s.store.UpdateAsync(a.id, a.progress(percent, message, now), false, func(j *Job, err error) {
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

// progress is the store mutation of ReportProgress: it lands on the attempt of a's handler only,
// never on a later attempt of the same number (a handler left running past Close's ctx reports
// on while the next start runs the job again).
func (a attemptInfo) progress(percent float64, message string, now time.Time) persistence.Mutator {
	return func(j *persistence.Job) error {
		if j.State != StateRunning || j.Attempt != a.attempt || j.StartedAt == nil || !j.StartedAt.Equal(a.startedAt) {
			return persistence.ErrSkip
		}
		j.Progress = &persistence.Progress{Percent: percent, Message: message, At: now}
		return nil
	}
}
