package actors

import (
	"errors"
	"time"

	"github.com/jobsched/jobsched/persistence"
)

// Permanent reports whether a store error will not pass by trying the same write again: the
// mutation was skipped (the job moved on), the job is gone, or the store is closed (or failed).
func Permanent(err error) bool {
	if errors.Is(err, persistence.ErrSkip) || errors.Is(err, persistence.ErrNotFound) || errors.Is(err, persistence.ErrClosed) {
		return true
	}
	// TODO(store-err): also errors.Is(err, persistence.ErrStoreFailed) once the store has it.
	var failed interface{ StoreFailed() bool }
	return errors.As(err, &failed) && failed.StoreFailed()
}

// Backoff is the wait before try n+1 of a store write that failed n times: 10 ms doubling,
// at most 2 s.
func Backoff(n int) time.Duration {
	d := 10 * time.Millisecond
	for i := 1; i < n && d < 2*time.Second; i++ {
		d *= 2
	}
	return min(d, 2*time.Second)
}
