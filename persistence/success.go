package persistence

import (
	"encoding/json"
	"time"
)

// A Success is an attempt that ended its job succeeded, described for a store that writes it
// itself (SuccessWriter) instead of applying a Go Mutator to the job's stored record.
type Success struct {
	// Job is the job as its attempt started (as the start's write returned it): its ID, Attempt
	// and StartedAt name the attempt, and the job returned is this one with the success applied
	// when the store holds nothing newer.
	Job *Job
	// At is when the attempt ended: the job's finished_at.
	At time.Time
	// Result is the handler's result (valid JSON).
	Result json.RawMessage
}

// SuccessWriter is an optional part of a Store (persistence/postgres implements it): the
// success of an attempt, the hot path's last write, written by the store in its own language
// (SQL) with no Go decode and encode of the job.
type SuccessWriter interface {
	// SucceedAsync is UpdateAsync(s.Job.ID, fn, false, done), where fn is the Mutator that
	// stores s (state succeeded, the result, finished_at, when the job is still running as
	// s's attempt): the store applies s itself when the job is still running as that attempt
	// and held by this node, and fn otherwise. The write is durable, as every finish is.
	SucceedAsync(s Success, fn Mutator, done func(*Job, error))
}
