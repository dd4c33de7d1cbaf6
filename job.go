package jobsched

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jobsched/jobsched/internal/jsonscan"
	"github.com/jobsched/jobsched/persistence"
)

// Job is a job and everything known about it; its JSON form is the HTTP API's job object.
type Job = persistence.Job

// State is where a job is in its life.
type State = persistence.State

// Duration is a time.Duration whose JSON form is a Go duration string ("30s").
type Duration = persistence.Duration

// AttemptError is the failure of one attempt, kept on the job.
type AttemptError = persistence.AttemptError

// Progress is what a running handler last reported.
type Progress = persistence.Progress

// The states of a job.
const (
	StatePending   = persistence.StatePending
	StateScheduled = persistence.StateScheduled
	StateQueued    = persistence.StateQueued
	StateRunning   = persistence.StateRunning
	StateRetrying  = persistence.StateRetrying
	StateSucceeded = persistence.StateSucceeded
	StateDead      = persistence.StateDead
	StateCancelled = persistence.StateCancelled
)

// Limits on the strings of a JobSpec.
const (
	MaxKindLength = 128
	MaxKeyLength  = 256
	// MaxFairnessKeyLength bounds JobSpec.FairnessKey.
	MaxFairnessKeyLength = 200
)

// JobSpec describes a job to enqueue. Only Kind is required. Its JSON form is the body of
// POST /v1/jobs.
type JobSpec struct {
	// Kind selects the handler.
	Kind string `json:"kind"`
	// Category is the queue; default the first configured category.
	Category string `json:"category,omitempty"`
	// Args is the handler's input, any JSON value, at most Config.MaxArgsBytes.
	Args json.RawMessage `json:"args,omitempty"`
	// Delay or RunAt (not both) hold the job back until then; the job is "scheduled" meanwhile.
	Delay Duration  `json:"delay,omitempty"`
	RunAt time.Time `json:"run_at,omitzero"`
	// MaxAttempts before the job is dead; 0 means the kind's default (25 unless configured).
	MaxAttempts int `json:"max_attempts,omitempty"`
	// Timeout of one attempt; 0 means the kind's default (none unless configured).
	Timeout Duration `json:"timeout,omitempty"`
	// UniqueKey: while a job with this key is unfinished, enqueueing another returns that job
	// and ErrDuplicate.
	UniqueKey string `json:"unique_key,omitempty"`
	// ConcurrencyKey groups jobs for the kind's KeyConcurrency limit (e.g. one per customer).
	ConcurrencyKey string `json:"concurrency_key,omitempty"`
	// FairnessKey (e.g. a tenant): within a category, ready jobs are served round-robin across
	// fairness keys, so one key's backlog does not starve another key's jobs. At most
	// MaxFairnessKeyLength bytes; jobs without one share the empty key.
	FairnessKey string `json:"fairness_key,omitempty"`
	// DependsOn lists the jobs this one waits for (it is "pending" until they all succeed): job
	// ids, or in EnqueueBatch "#N" for the N-th entry of the same batch, which must come earlier.
	DependsOn []string `json:"depends_on,omitempty"`
	// OnParentFailure is what a parent ending dead or cancelled does: ParentFailureCancel (the
	// default) cancels this job, ParentFailureRun runs it anyway.
	OnParentFailure string `json:"on_parent_failure,omitempty"`
}

// Args marshals v to JSON for JobSpec.Args; it panics if v cannot be marshalled, so use it
// with values known to be JSON-safe (maps, structs of plain fields).
func Args(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("jobsched.Args: %v", err))
	}
	return b
}

// newJob validates spec and builds the job to store. field prefixes field names in errors
// ("jobs[3]." in a batch).
func (s *Scheduler) newJob(spec JobSpec, now time.Time, field string) (*Job, error) {
	switch {
	case spec.Kind == "":
		return nil, invalid(field+"kind", "must be set")
	case len(spec.Kind) > MaxKindLength:
		return nil, invalid(field+"kind", "longer than %d bytes", MaxKindLength)
	}
	cat := spec.Category
	if cat == "" {
		cat = s.cfg.Categories[0].Name
	}
	if _, ok := s.category(cat); !ok {
		return nil, invalid(field+"category", "unknown category %q", cat)
	}
	if spec.Delay < 0 {
		return nil, invalid(field+"delay", "must not be negative, got %s", time.Duration(spec.Delay))
	}
	if spec.Delay != 0 && !spec.RunAt.IsZero() {
		return nil, invalid(field+"run_at", "set delay or run_at, not both")
	}
	if spec.MaxAttempts < 0 {
		return nil, invalid(field+"max_attempts", "must be at least 1, got %d", spec.MaxAttempts)
	}
	if spec.Timeout < 0 {
		return nil, invalid(field+"timeout", "must not be negative, got %s", time.Duration(spec.Timeout))
	}
	if len(spec.UniqueKey) > MaxKeyLength {
		return nil, invalid(field+"unique_key", "longer than %d bytes", MaxKeyLength)
	}
	if len(spec.ConcurrencyKey) > MaxKeyLength {
		return nil, invalid(field+"concurrency_key", "longer than %d bytes", MaxKeyLength)
	}
	if len(spec.FairnessKey) > MaxFairnessKeyLength {
		return nil, invalid(field+"fairness_key", "longer than %d bytes", MaxFairnessKeyLength)
	}
	if len(spec.Args) > s.cfg.MaxArgsBytes {
		return nil, &InvalidError{Field: field + "args", Reason: fmt.Sprintf("%d bytes, over the limit of %d", len(spec.Args), s.cfg.MaxArgsBytes), tooLarge: true}
	}
	if len(spec.Args) > 0 && !jsonscan.Valid(spec.Args) {
		return nil, invalid(field+"args", "not valid JSON")
	}
	if err := checkDepends(spec, field); err != nil {
		return nil, err
	}
	if err := s.checkKind(spec, field); err != nil {
		return nil, err
	}
	kind := s.kindOf(spec.Kind)
	maxAttempts := spec.MaxAttempts
	if maxAttempts == 0 {
		maxAttempts = kind.MaxAttempts
	}
	if maxAttempts == 0 {
		maxAttempts = DefaultMaxAttempts
	}
	timeout := spec.Timeout
	if timeout == 0 {
		timeout = Duration(kind.Timeout)
	}
	id, err := uuid.NewV7()
	if err != nil {
		return nil, fmt.Errorf("new job id: %w", err)
	}
	runAt := now
	switch {
	case spec.Delay > 0:
		runAt = now.Add(time.Duration(spec.Delay))
	case !spec.RunAt.IsZero():
		runAt = spec.RunAt
	}
	state := StateQueued
	if runAt.After(now) {
		state = StateScheduled
	}
	return &Job{
		ID: id.String(), Kind: spec.Kind, Category: cat, Args: spec.Args, State: state,
		MaxAttempts: maxAttempts, Timeout: timeout, UniqueKey: spec.UniqueKey,
		ConcurrencyKey: spec.ConcurrencyKey, FairnessKey: spec.FairnessKey, CreatedAt: now, RunAt: runAt,
	}, nil
}
