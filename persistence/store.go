package persistence

import (
	"context"
	"errors"
	"time"
)

// Errors a caller of a Store branches on. ErrNotFound, ErrSkip, ErrClosed, ErrStoreFailed and
// ErrTooLarge are permanent: the same write will fail the same way (Permanent reports them).
// ErrDiskFull and the other errors of the store (a failed read) are transient: the write was
// not made, and retrying it later may succeed. A context's error means the caller stopped waiting.
var (
	// ErrNotFound: no job has that id (it never existed or its retention ran out).
	ErrNotFound = errors.New("job not found")
	// ErrClosed: the store was closed.
	ErrClosed = errors.New("store closed")
	// ErrTooLarge: one write does not fit in one commit; split it.
	ErrTooLarge = errors.New("write too large for one commit")
	// ErrDiskFull: the disk is below the store's free-space reserve; the write was refused.
	ErrDiskFull = errors.New("disk full")
	// ErrSkip is returned by a Mutator to leave the job as it is; Update returns it unchanged.
	ErrSkip = errors.New("mutation skipped")
	// ErrStoreFailed: a commit or a disk sync failed, so what is on disk is unknown. The store
	// acknowledges no write from then on (as PostgreSQL after a failed fsync); only a restart,
	// which reads what is really on disk, recovers. Store.Err returns it.
	ErrStoreFailed = errors.New("store failed")
)

// Permanent reports whether err, returned by a Store's write, will come back however often the
// write is retried: ErrNotFound, ErrSkip, ErrClosed, ErrStoreFailed, ErrTooLarge. A Mutator's own
// errors are its caller's to judge; Permanent reports false for them.
func Permanent(err error) bool {
	for _, p := range []error{ErrNotFound, ErrSkip, ErrClosed, ErrStoreFailed, ErrTooLarge} {
		if errors.Is(err, p) {
			return true
		}
	}
	return false
}

// Mutator changes a job in place inside the store's single writer. It must be quick and must not
// block: it runs on the writer goroutine. Returning an error (ErrSkip, or any other) leaves the job
// unchanged and hands that error back to the caller.
type Mutator func(j *Job) error

// InsertResult is the outcome for one job of Insert.
type InsertResult struct {
	Job *Job
	// Duplicate is true when the job's unique key was held by an unfinished job: Job is that job,
	// and nothing new was stored.
	Duplicate bool
}

// ListOptions filters and pages List. Jobs come newest first.
type ListOptions struct {
	Category string
	Kind     string
	State    State
	Limit    int    // 1..MaxListLimit; 0 means DefaultListLimit
	Cursor   string // next_cursor of the previous page
}

// Limits of List.
const (
	DefaultListLimit = 100
	MaxListLimit     = 1000
)

// StateCounts counts a category's jobs by state: unfinished states hold the current number,
// finished states the number finished since the store was opened.
type StateCounts map[State]int

// Stats are the store's running totals, for benchmarks and metrics.
type Stats struct {
	Commits uint64 // committed transactions
	Syncs   uint64 // disk syncs (fsync of the write-ahead log)
	Writes  uint64 // requests (inserts or updates) committed
	Keys    uint64 // keys set or deleted by the committed requests (badger; 0 for other stores)
}

// Store is the durable home of every job. All writes go through one writer that groups the
// requests of concurrent callers into one commit and one disk sync (group commit). A durable write
// returns only once it is synced to disk; a non-durable one once it is committed (it survives the
// process being killed, not a power loss).
//
// A write that returns nil is stored. A write that returns an error was not made, with two
// exceptions where the outcome is unknown and the write may be found in the store later:
// ErrStoreFailed (committed, then the sync failed) and the error of a ctx that ended while the
// write was submitted.
type Store interface {
	// Insert stores new jobs, all or nothing, durably. A queued job is given its Seq. A job whose
	// unique key is held by an unfinished job is not stored: its result names the holder.
	// A batch that does not fit in one commit fails with ErrTooLarge, naming the limit.
	//
	// If ctx has ended before the call, nothing is written. ctx ending does not cancel a write
	// already submitted; the result is unknown to the caller: Insert returns ctx's error, and the
	// jobs may be stored all the same.
	Insert(ctx context.Context, jobs []*Job) ([]InsertResult, error)
	// Update applies fn to the stored job and returns the job as stored after it. Its errors:
	// ErrNotFound, fn's own error (ErrSkip or another: the job is returned unchanged), ErrClosed,
	// ErrStoreFailed, ErrDiskFull, ErrTooLarge, a transient read error, or ctx's error.
	//
	// If ctx has ended before the call, nothing is written. ctx ending does not cancel a write
	// already submitted; the result is unknown to the caller: Update returns ctx's error and a nil
	// job, and the update may be stored all the same.
	Update(ctx context.Context, id string, fn Mutator, durable bool) (*Job, error)
	// UpdateAsync is Update without waiting, and it never blocks (actors call it from Receive):
	// when the store's queue is full, the request waits in an overflow list behind it, in order.
	// done is called on one of the store's writing goroutines (badger: the writer, a commit
	// callback, or its syncer for a batch that is synced), so it must be quick (send a message,
	// close a channel), must not call the store, and may run concurrently with another done.
	UpdateAsync(id string, fn Mutator, durable bool, done func(*Job, error))
	// Get returns the job with that id, or ErrNotFound.
	Get(ctx context.Context, id string) (*Job, error)
	// List returns a page of jobs, newest first, and the cursor of the next page ("" at the end).
	// A page may hold fewer than Limit jobs, even none, while the cursor is not "": a store may
	// stop after reading a bounded number of records so that each call stays fast.
	List(ctx context.Context, opt ListOptions) ([]*Job, string, error)
	// Queued returns up to limit queued jobs of a category with Seq > afterSeq, in FIFO order.
	// Sequence numbers start at 1: afterSeq 0 reads from the start.
	Queued(ctx context.Context, category string, afterSeq uint64, limit int) ([]*Job, error)
	// Waiting calls fn with the id and run_at of every scheduled or retrying job, in run_at
	// order (from the index alone: no record is read).
	Waiting(ctx context.Context, fn func(id string, runAt time.Time) error) error
	// Running calls fn with the id of every job stored as running (from the index alone).
	Running(ctx context.Context, fn func(id string) error) error
	// Backlog is the number of a category's jobs waiting to run: queued, scheduled, retrying.
	Backlog(category string) int
	// Counts returns a copy of the per-category state counts.
	Counts() map[string]StateCounts
	// Stats returns the writer's totals.
	Stats() Stats
	// Err is nil while the store is healthy and, once a commit or a sync failed, the sticky
	// error that every later write returns (it wraps ErrStoreFailed). Reads keep working.
	Err() error
	// Close stops the writer after the requests already submitted and closes the store.
	// It may be called more than once.
	Close() error
	// Delete removes a finished job (its record and index keys), durably. An unfinished job is
	// refused with ErrNotFinished; an unknown id returns ErrNotFound.
	Delete(ctx context.Context, id string) error
	// Settings returns every stored setting (the scheduler's runtime changes: categories,
	// pauses), by key.
	Settings(ctx context.Context) (map[string][]byte, error)
	// PutSetting stores val under key, durably, replacing what was there.
	PutSetting(ctx context.Context, key string, val []byte) error
	// DeleteSetting removes key, durably; a key that is not there is no error.
	DeleteSetting(ctx context.Context, key string) error
}

// SeqOrdering is an optional part of a Store: a store whose sequence numbers may commit out of
// order (several writers numbering jobs before they commit, as PostgreSQL's bigserial does)
// returns false, and a queued job with a lower Seq may then appear after one with a higher Seq
// was read. A reader must not skip a range of numbers it saw empty.
type SeqOrdering interface {
	SeqCommitOrdered() bool
}

// SeqCommitOrdered reports whether the store's queued jobs appear in Seq order: true unless
// the store implements SeqOrdering and says otherwise.
func SeqCommitOrdered(s Store) bool {
	if o, ok := s.(SeqOrdering); ok {
		return o.SeqCommitOrdered()
	}
	return true
}
