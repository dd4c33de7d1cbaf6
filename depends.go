package jobsched

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jobsched/jobsched/actors"
	"github.com/jobsched/jobsched/persistence"
)

// What a parent ending dead or cancelled does to a job that depends on it (JobSpec.OnParentFailure).
const (
	// ParentFailureCancel (the default) cancels the dependent job, naming the parent.
	ParentFailureCancel = persistence.ParentFailureCancel
	// ParentFailureRun lets the dependent job run as if the parent had succeeded.
	ParentFailureRun = persistence.ParentFailureRun
)

// MaxParents is the most jobs one job may depend on.
const MaxParents = 10_000

// ErrNoAttempt is returned by ParentResults when ctx is not a handler's context.
var ErrNoAttempt = errors.New("not a handler's context")

// checkDepends validates the dependency fields of spec (field prefixes their names).
func checkDepends(spec JobSpec, field string) error {
	switch spec.OnParentFailure {
	case "", ParentFailureCancel, ParentFailureRun:
	default:
		return invalid(field+"on_parent_failure", "%q: must be %q or %q", spec.OnParentFailure, ParentFailureCancel, ParentFailureRun)
	}
	if len(spec.DependsOn) > MaxParents {
		return invalid(field+"depends_on", "%d jobs, over the limit of %d", len(spec.DependsOn), MaxParents)
	}
	if spec.OnParentFailure != "" && len(spec.DependsOn) == 0 {
		return invalid(field+"on_parent_failure", "set without depends_on")
	}
	return nil
}

// resolveDepends turns the depends_on of jobs[i] (spec) into parent ids: a "#N" names the N-th
// job of the batch, which must come earlier (so no cycle can form); other entries are job ids,
// which the store checks exist. batch tells whether jobs is a batch (EnqueueBatch).
func resolveDepends(spec JobSpec, jobs []*Job, i int, field string, batch bool) error {
	j := jobs[i]
	if len(spec.DependsOn) == 0 {
		return nil
	}
	seen := make(map[string]int, len(spec.DependsOn))
	j.Parents = make([]string, len(spec.DependsOn))
	for k, d := range spec.DependsOn {
		f := fmt.Sprintf("%sdepends_on[%d]", field, k)
		id := d
		switch {
		case d == "":
			return invalid(f, "must be a job id or \"#N\"")
		case strings.HasPrefix(d, "#"):
			n, err := strconv.Atoi(d[1:])
			switch {
			case err != nil || n < 0:
				return invalid(f, "%q: want \"#N\", N the index of an entry of the batch", d)
			case !batch:
				return invalid(f, "%q: \"#N\" names an entry of the same batch, and this is no batch", d)
			case n == i:
				return invalid(f, "%q: a job cannot depend on itself", d)
			case n >= len(jobs):
				return invalid(f, "%q: the batch has %d entries", d, len(jobs))
			case n > i:
				return invalid(f, "%q: a later entry; an entry may depend only on earlier ones (no cycles)", d)
			}
			id = jobs[n].ID
		case len(d) > MaxKeyLength:
			return invalid(f, "longer than %d bytes", MaxKeyLength)
		}
		if prev, ok := seen[id]; ok {
			return invalid(f, "%q: the same job as depends_on[%d]", d, prev)
		}
		seen[id] = k
		j.Parents[k] = id
	}
	j.OnParentFailure = spec.OnParentFailure
	return nil
}

// parentErr turns the store's refusal of an unknown parent into the error naming the field.
func parentErr(err error, specs []JobSpec, prefix string) error {
	var pe *persistence.ParentError
	if !errors.As(err, &pe) || pe.Job >= len(specs) || pe.Parent >= len(specs[pe.Job].DependsOn) {
		return err
	}
	field := fmt.Sprintf("depends_on[%d]", pe.Parent)
	if prefix != "" {
		field = fmt.Sprintf("%s[%d].%s", prefix, pe.Job, field)
	}
	return invalid(field, "%q: no such job", specs[pe.Job].DependsOn[pe.Parent])
}

// hookReleases has the store tell the actors of the jobs a parent's finish released, as Enqueue
// does for new jobs: the queued ones go to their Fifo through the Dispatcher, the scheduled ones
// to the Waiter. A message lost costs only time: the Fifos and the Waiter poll the store.
func (s *Scheduler) hookReleases(store persistence.Store) {
	h, ok := store.(interface{ SetReleaseHook(func([]*Job)) })
	if !ok {
		return
	}
	system, env := s.system, s.env
	h.SetReleaseHook(func(jobs []*Job) {
		var ready []*Job
		for _, j := range jobs {
			s.publish(j)
			switch j.State {
			case StateQueued:
				ready = append(ready, j)
			case StateScheduled:
				system.Root.Send(env.WaiterPID(), &actors.Schedule{ID: j.ID, RunAt: j.RunAt})
			}
		}
		if len(ready) > 0 {
			system.Root.Send(env.DispatcherPID(), &actors.Enqueued{Jobs: ready})
		}
	})
}

// ParentResults returns the results of the jobs the running job depends on, by id; ctx must be
// the handler's context. A parent that ended dead or cancelled (on_parent_failure "run") maps to
// nil (no result); one deleted meanwhile is missing from the map.
func ParentResults(ctx context.Context) (map[string]json.RawMessage, error) {
	info, ok := ctx.Value(attemptKey{}).(attemptInfo)
	if !ok {
		return nil, ErrNoAttempt
	}
	out := make(map[string]json.RawMessage, len(info.parents))
	for _, id := range info.parents {
		p, err := info.s.store.Get(ctx, id)
		if errors.Is(err, persistence.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("parent results: %w", err)
		}
		out[id] = p.Result
	}
	return out, nil
}
