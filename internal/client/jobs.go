package client

import (
	"encoding/json"
	"time"

	"github.com/jobsched/jobsched"
	"github.com/jobsched/jobsched/internal/httpapi"
	"github.com/jobsched/jobsched/internal/jsonscan"
)

// decodeJobList reads a page of jobs, {"jobs":[...],"next_cursor":"..."}, in one pass: the
// tester's check reads every job of a run through GET /v1/jobs, and encoding/json's
// reflection took it about a tenth of the CPU of the run. It takes the jobs as the daemon
// writes them (httpapi/jobjson.go); anything else (a key it does not know, a null, a number
// with a fraction, a key given twice) answers false, and the caller decodes the page with
// encoding/json, whose answer is the same for what this one takes (jobs_test.go and
// FuzzDecodeJobList check it).
func decodeJobList(raw []byte) (*httpapi.JobList, bool) {
	s := jsonscan.New(raw)
	if !s.Next('{') || !s.Key("jobs") {
		return nil, false
	}
	s.SkipWS()
	out := &httpapi.JobList{}
	if s.Peek() == 'n' {
		if !s.Literal("null") {
			return nil, false
		}
	} else {
		if !s.Next('[') {
			return nil, false
		}
		out.Jobs = make([]*jobsched.Job, 0, s.Count(`{"id":`))
		var in interned
		if !s.Next(']') {
			for {
				j := &jobsched.Job{}
				if !scanJob(&s, j, &in) {
					return nil, false
				}
				out.Jobs = append(out.Jobs, j)
				if s.Next(',') {
					continue
				}
				if !s.Next(']') {
					return nil, false
				}
				break
			}
		}
	}
	if s.Next(',') {
		var ok bool
		if !s.Key("next_cursor") {
			return nil, false
		}
		s.SkipWS()
		if out.NextCursor, ok = s.String(); !ok {
			return nil, false
		}
	}
	if !s.Next('}') || !s.End() {
		return nil, false
	}
	return out, true
}

// jobKeys are the keys of a job, a bit each.
var jobKeys = func() map[string]uint32 {
	keys := []string{"id", "kind", "category", "args", "state", "attempt", "max_attempts", "timeout",
		"unique_key", "concurrency_key", "fairness_key", "errors", "result", "progress", "created_at", "run_at",
		"started_at", "finished_at", "cancel_requested", "parents", "on_parent_failure", "children", "traceparent"}
	m := make(map[string]uint32, len(keys))
	for i, k := range keys {
		m[k] = 1 << i
	}
	return m
}()

// interned keeps the last kind, category and state of a page: the jobs of a page mostly share
// them, and one string then serves them all.
type interned struct{ kind, category, state string }

// reuse reads a string, and returns last instead when it spells the same.
func reuse(s *jsonscan.Scanner, last *string) (string, bool) {
	mark := s.Mark()
	if v, ok := s.PlainString(); ok {
		if string(v) != *last {
			*last = string(v)
		}
		return *last, true
	}
	s.Reset(mark)
	return s.String()
}

// scanJob reads one job object into j.
func scanJob(s *jsonscan.Scanner, j *jobsched.Job, in *interned) bool {
	if !s.Next('{') {
		return false
	}
	if s.Next('}') {
		return true
	}
	var seen uint32
	for {
		s.SkipWS()
		k, ok := s.PlainString()
		if !ok || !s.Next(':') {
			return false
		}
		bit, known := jobKeys[string(k)]
		if !known || seen&bit != 0 {
			return false // a key given twice encoding/json merges (progress): leave it to it
		}
		seen |= bit
		s.SkipWS()
		if s.Peek() == 'n' {
			return false // null leaves a field as it is: encoding/json's business
		}
		if !scanJobField(s, j, k, in) {
			return false
		}
		switch {
		case s.Next(','):
		case s.Next('}'):
			return true
		default:
			return false
		}
	}
}

// scanJobField reads the value of key into j.
func scanJobField(s *jsonscan.Scanner, j *jobsched.Job, key []byte, in *interned) bool {
	var ok bool
	switch string(key) {
	case "id":
		j.ID, ok = s.String()
	case "kind":
		j.Kind, ok = reuse(s, &in.kind)
	case "category":
		j.Category, ok = reuse(s, &in.category)
	case "state":
		var v string
		v, ok = reuse(s, &in.state)
		j.State = jobsched.State(v)
	case "unique_key":
		j.UniqueKey, ok = s.String()
	case "concurrency_key":
		j.ConcurrencyKey, ok = s.String()
	case "fairness_key":
		j.FairnessKey, ok = s.String()
	case "on_parent_failure":
		j.OnParentFailure, ok = s.String()
	case "traceparent":
		j.TraceParent, ok = s.String()
	case "attempt":
		j.Attempt, ok = s.Uint()
	case "max_attempts":
		j.MaxAttempts, ok = s.Uint()
	case "cancel_requested":
		ok = true
		switch {
		case s.Literal("true"):
			j.CancelRequested = true
		case s.Literal("false"):
			j.CancelRequested = false
		default:
			ok = false
		}
	case "parents":
		j.Parents, ok = s.Strings()
	case "children":
		j.Children, ok = s.Strings()
	case "args", "result":
		var v []byte
		if v, ok = s.ValidValue(); ok {
			v = append(json.RawMessage(nil), v...)
			if key[0] == 'a' {
				j.Args = v
			} else {
				j.Result = v
			}
		} else {
			ok = false
		}
	case "timeout":
		ok = scanUnmarshaler(s, &j.Timeout)
	case "created_at":
		ok = scanUnmarshaler(s, &j.CreatedAt)
	case "run_at":
		ok = scanUnmarshaler(s, &j.RunAt)
	case "started_at":
		j.StartedAt = new(time.Time)
		ok = scanUnmarshaler(s, j.StartedAt)
	case "finished_at":
		j.FinishedAt = new(time.Time)
		ok = scanUnmarshaler(s, j.FinishedAt)
	case "errors":
		ok = scanValueInto(s, &j.Errors)
	case "progress":
		ok = scanValueInto(s, &j.Progress)
	}
	return ok
}

// scanUnmarshaler reads a plain string into u through its own UnmarshalJSON, as encoding/json
// would call it.
func scanUnmarshaler(s *jsonscan.Scanner, u json.Unmarshaler) bool {
	start := s.Mark()
	if _, ok := s.PlainString(); !ok {
		return false
	}
	return u.UnmarshalJSON(s.Since(start)) == nil
}

// scanValueInto reads the next value into v with encoding/json (a job's errors and progress:
// rare, and nested).
func scanValueInto(s *jsonscan.Scanner, v any) bool {
	raw, ok := s.Value()
	return ok && json.Unmarshal(raw, v) == nil
}
