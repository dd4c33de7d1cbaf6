package persistence

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// State is where a job is in its life. The strings are part of the API and the store.
type State string

// The states of a job, as DESIGN.md draws them.
const (
	StatePending   State = "pending"   // waiting for the jobs it depends on (depends.go)
	StateScheduled State = "scheduled" // waiting for its run_at
	StateQueued    State = "queued"    // ready, in its category's FIFO
	StateRunning   State = "running"   // a worker runs its handler
	StateRetrying  State = "retrying"  // failed, waiting for its backoff
	StateSucceeded State = "succeeded" // finished well
	StateDead      State = "dead"      // attempts exhausted
	StateCancelled State = "cancelled" // cancelled before it finished
)

// States lists every state in life order.
var States = []State{StatePending, StateScheduled, StateQueued, StateRunning, StateRetrying, StateSucceeded, StateDead, StateCancelled}

// Finished reports whether s is final: succeeded, dead or cancelled.
func (s State) Finished() bool {
	return s == StateSucceeded || s == StateDead || s == StateCancelled
}

// Waiting reports whether s waits for a time: scheduled or retrying.
func (s State) Waiting() bool { return s == StateScheduled || s == StateRetrying }

// Valid reports whether s is one of the known states.
func (s State) Valid() bool {
	for _, k := range States {
		if s == k {
			return true
		}
	}
	return false
}

// Duration is a time.Duration that reads and writes JSON as a Go duration string ("30s").
type Duration time.Duration

// MarshalJSON writes the duration as a string such as "1m30s".
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads a Go duration string; a bare number is refused so "30" is never 30 ns.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("want a duration string such as \"30s\"")
	}
	v, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// AttemptError is the failure of one attempt, kept on the job.
type AttemptError struct {
	Attempt int       `json:"attempt"`
	At      time.Time `json:"at"`
	Error   string    `json:"error"`
	Panic   bool      `json:"panic,omitempty"`
}

// Progress is what a running handler last reported.
type Progress struct {
	Percent float64   `json:"percent"`
	Message string    `json:"message,omitempty"`
	At      time.Time `json:"at"`
}

// Job is one unit of work and everything known about it. Its JSON form is the API's job object
// and the stored record.
type Job struct {
	ID             string          `json:"id"`
	Kind           string          `json:"kind"`
	Category       string          `json:"category"`
	Args           json.RawMessage `json:"args,omitempty"`
	State          State           `json:"state"`
	Attempt        int             `json:"attempt"`
	MaxAttempts    int             `json:"max_attempts"`
	Timeout        Duration        `json:"timeout,omitempty"`
	UniqueKey      string          `json:"unique_key,omitempty"`
	ConcurrencyKey string          `json:"concurrency_key,omitempty"`
	FairnessKey    string          `json:"fairness_key,omitempty"` // served round-robin within a category
	Errors         []AttemptError  `json:"errors,omitempty"`
	Result         json.RawMessage `json:"result,omitempty"`
	Progress       *Progress       `json:"progress,omitempty"`
	CreatedAt      time.Time       `json:"created_at"`
	RunAt          time.Time       `json:"run_at"`
	StartedAt      *time.Time      `json:"started_at,omitempty"`
	FinishedAt     *time.Time      `json:"finished_at,omitempty"`
	// CancelRequested is set when a running job is cancelled: its context is cancelled and the
	// attempt ends the job as cancelled.
	CancelRequested bool `json:"cancel_requested,omitempty"`
	// Parents are the ids of the jobs this one depends on (depends_on): it stays pending until
	// they have all succeeded (depends.go).
	Parents []string `json:"parents,omitempty"`
	// OnParentFailure is what a parent ending dead or cancelled does to this job: "" or
	// ParentFailureCancel cancels it, ParentFailureRun lets it run.
	OnParentFailure string `json:"on_parent_failure,omitempty"`
	// Children are the ids of the jobs that depend on this one; only Get fills it.
	Children []string `json:"children,omitempty"`
	// TraceParent is the W3C traceparent of the enqueue (set when the scheduler traces, see
	// jobsched.Config.TracerProvider): each attempt's span is its child, so the spans of a
	// handler join the enqueuer's trace, also after a restart.
	TraceParent string `json:"traceparent,omitempty"`
	// Seq orders the queued jobs of a category (FIFO); assigned by the store.
	Seq uint64 `json:"-"`
}

// Clone returns a deep copy that shares nothing mutable with j.
func (j *Job) Clone() *Job {
	c := *j
	c.Errors = append([]AttemptError(nil), j.Errors...)
	c.Parents = append([]string(nil), j.Parents...)
	c.Children = append([]string(nil), j.Children...)
	if j.Progress != nil {
		p := *j.Progress
		c.Progress = &p
	}
	if j.StartedAt != nil {
		t := *j.StartedAt
		c.StartedAt = &t
	}
	if j.FinishedAt != nil {
		t := *j.FinishedAt
		c.FinishedAt = &t
	}
	return &c
}

// LastError is the error text of the latest failed attempt, or "".
func (j *Job) LastError() string {
	if len(j.Errors) == 0 {
		return ""
	}
	return j.Errors[len(j.Errors)-1].Error
}
