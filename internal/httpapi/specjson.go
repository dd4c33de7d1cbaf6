package httpapi

import (
	"encoding/json"
	"reflect"
	"strconv"
	"time"

	"github.com/jobsched/jobsched"
)

// The bodies of POST /v1/jobs/batch as a client sends them, written by hand: json.Marshal of
// the specs took the tester's clients a fifth of their CPU in a burst they share with the
// daemon they measure. The bytes are encoding/json's (specjson_test.go compares them); what
// is not plain goes through encoding/json, and a JobSpec whose fields are not the ones written
// here (specShapeKnown) turns the hand-written path off.

// specFields are the fields of jobsched.JobSpec, as "Name type tag", that appendSpec writes.
var specFields = []string{
	"Kind string kind", "Category string category,omitempty", "Args json.RawMessage args,omitempty",
	"Delay persistence.Duration delay,omitempty", "RunAt time.Time run_at,omitzero",
	"MaxAttempts int max_attempts,omitempty", "Timeout persistence.Duration timeout,omitempty",
	"UniqueKey string unique_key,omitempty", "ConcurrencyKey string concurrency_key,omitempty",
	"FairnessKey string fairness_key,omitempty", "DependsOn []string depends_on,omitempty",
	"OnParentFailure string on_parent_failure,omitempty",
}

// specShapeKnown says whether jobsched.JobSpec has exactly specFields.
var specShapeKnown = hasFields(reflect.TypeFor[jobsched.JobSpec](), specFields)

// BatchBody writes the body of POST /v1/jobs/batch for specs, {"jobs":[...]}: the bytes
// json.Marshal writes for it, or its error (args that are not JSON).
func BatchBody(specs []jobsched.JobSpec) ([]byte, error) {
	if specShapeKnown {
		b := make([]byte, 0, 16+len(specs)*128)
		b = append(b, `{"jobs":`...)
		ok := true
		if specs == nil {
			b = append(b, "null"...)
		} else {
			b = append(b, '[')
			for i := range specs {
				if i > 0 {
					b = append(b, ',')
				}
				if b, ok = appendSpec(b, &specs[i]); !ok {
					break
				}
			}
			b = append(b, ']')
		}
		if ok {
			return append(b, '}'), nil
		}
	}
	return json.Marshal(struct {
		Jobs []jobsched.JobSpec `json:"jobs"`
	}{specs})
}

// appendSpec appends s's JSON as encoding/json writes it; false: s holds what encoding/json
// refuses (args that are not JSON).
func appendSpec(b []byte, s *jobsched.JobSpec) ([]byte, bool) {
	ok := true
	b = append(b, `{"kind":`...)
	b = appendString(b, s.Kind)
	b = appendOptString(b, `,"category":`, s.Category)
	if len(s.Args) > 0 {
		b = append(b, `,"args":`...)
		if b, ok = appendRaw(b, s.Args); !ok {
			return b, false
		}
	}
	if s.Delay != 0 {
		b = append(b, `,"delay":`...)
		b = appendString(b, time.Duration(s.Delay).String())
	}
	if !s.RunAt.IsZero() {
		b = append(b, `,"run_at":`...)
		if b, ok = appendTime(b, s.RunAt); !ok {
			return b, false
		}
	}
	if s.MaxAttempts != 0 {
		b = append(b, `,"max_attempts":`...)
		b = strconv.AppendInt(b, int64(s.MaxAttempts), 10)
	}
	if s.Timeout != 0 {
		b = append(b, `,"timeout":`...)
		b = appendString(b, time.Duration(s.Timeout).String())
	}
	b = appendOptString(b, `,"unique_key":`, s.UniqueKey)
	b = appendOptString(b, `,"concurrency_key":`, s.ConcurrencyKey)
	b = appendOptString(b, `,"fairness_key":`, s.FairnessKey)
	b = appendStrings(b, `,"depends_on":`, s.DependsOn)
	b = appendOptString(b, `,"on_parent_failure":`, s.OnParentFailure)
	return append(b, '}'), true
}
