package jobsched

import (
	"errors"
	"fmt"

	"github.com/jobsched/jobsched/persistence"
)

// Errors callers branch on. Returned errors wrap them with context; test with errors.Is.
var (
	// ErrNotFound: no job has that id.
	ErrNotFound = persistence.ErrNotFound
	// ErrDuplicate: an unfinished job holds the unique key; Enqueue returns that job with it.
	ErrDuplicate = errors.New("duplicate unique key")
	// ErrQueueFull: the category is at its queue limit; retry later.
	ErrQueueFull = errors.New("queue full")
	// ErrInvalid: the job spec or config is wrong; the error is an *InvalidError naming the field.
	ErrInvalid = errors.New("invalid")
	// ErrClosed: the scheduler is closing or closed.
	ErrClosed = errors.New("scheduler closed")
	// ErrNotStarted: Start has not been called (or failed).
	ErrNotStarted = errors.New("scheduler not started")
	// ErrStarted: the call is only allowed before Start (registering handlers).
	ErrStarted = errors.New("scheduler already started")
	// ErrFinished: the job has already finished, so it cannot be cancelled.
	ErrFinished = errors.New("job already finished")
	// ErrTooLarge: a batch or payload is over its documented limit.
	ErrTooLarge = errors.New("too large")
	// ErrDiskFull: the store's disk is below its free-space reserve; nothing was stored.
	ErrDiskFull = persistence.ErrDiskFull
	// ErrTimeout is the cause of a handler context cancelled by the job's timeout.
	ErrTimeout = errors.New("job timed out")
	// ErrCancelled is the cause of a handler context cancelled by Cancel.
	ErrCancelled = errors.New("job cancelled")
	// ErrStopped: the scheduler stopped on its own (its root supervisor gave up, or its store
	// failed); Scheduler.Err says why. It takes no more jobs: Close it and start a new one.
	ErrStopped = errors.New("scheduler stopped")
	// ErrShutdown is the cause of a handler context cancelled because Close ran out of time.
	ErrShutdown = errors.New("scheduler shutting down")
)

// InvalidError says which field of a job spec or config is wrong and why.
type InvalidError struct {
	Field  string
	Reason string

	tooLarge bool // also ErrTooLarge
}

func (e *InvalidError) Error() string { return fmt.Sprintf("invalid %s: %s", e.Field, e.Reason) }

// Is makes errors.Is(err, ErrInvalid) true.
// A field over its size limit is also ErrTooLarge.
func (e *InvalidError) Is(target error) bool {
	return target == ErrInvalid || (e.tooLarge && target == ErrTooLarge)
}

func invalid(field, format string, a ...any) error {
	return &InvalidError{Field: field, Reason: fmt.Sprintf(format, a...)}
}
