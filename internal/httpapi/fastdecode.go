package httpapi

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/jobsched/jobsched"
	"github.com/jobsched/jobsched/internal/jsonscan"
)

// The fast path of the enqueue bodies: one pass over the bytes for the bodies clients send (a
// JSON object of known fields, each once, plain values). It never makes an error of its own:
// anything it does not handle, or handles only to find it wrong, answers ok=false and the
// body goes to the full decoder (decode.go), which gives the errors naming the field. So a
// body it accepts decodes to the very spec the full decoder gives (fastdecode_test.go and
// FuzzFastDecode check this), and a body the full decoder refuses it never accepts.

// fastBatch decodes {"jobs":[spec, ...]} of at most maxBatch specs.
func fastBatch(body []byte, maxBatch int) ([]jobsched.JobSpec, bool) {
	s := jsonscan.New(body)
	if !s.Next('{') || !s.Key("jobs") || !s.Next('[') {
		return nil, false
	}
	specs := make([]jobsched.JobSpec, 0, min(s.Count(`"kind"`), maxBatch))
	var in interned
	if !s.Next(']') {
		for {
			var spec jobsched.JobSpec
			if !scanSpec(&s, &spec, &in) {
				return nil, false
			}
			if len(specs) == maxBatch {
				return nil, false // the full decoder says what is wrong first: the size or the JSON
			}
			specs = append(specs, spec)
			if s.Next(',') {
				continue
			}
			if !s.Next(']') {
				return nil, false
			}
			break
		}
	}
	if !s.Next('}') || !s.End() {
		return nil, false
	}
	return specs, true
}

// fastSpec decodes one spec that is the whole body.
func fastSpec(body []byte) (jobsched.JobSpec, bool) {
	s := jsonscan.New(body)
	var spec jobsched.JobSpec
	if !scanSpec(&s, &spec, &interned{}) || !s.End() {
		return jobsched.JobSpec{}, false
	}
	return spec, true
}

// interned keeps the last kind and category of a batch: the jobs of a batch mostly share
// them, and one string then serves them all.
type interned struct{ kind, category string }

// reuse returns last when b spells it, else a new string (made last).
func reuse(last *string, b []byte) string {
	if string(b) == *last {
		return *last
	}
	*last = string(b)
	return *last
}

// The fields of a spec, one bit each, to refuse a field given twice (the full decoder keeps
// the last, and checks only that one).
const (
	fKind            = 1 << 0
	fCategory        = 1 << 1
	fArgs            = 1 << 2
	fDelay           = 1 << 3
	fRunAt           = 1 << 4
	fMaxAttempts     = 1 << 5
	fTimeout         = 1 << 6
	fUniqueKey       = 1 << 7
	fConcurrencyKey  = 1 << 8
	fFairnessKey     = 1 << 9
	fDependsOn       = 1 << 10
	fOnParentFailure = 1 << 11
)

// scanSpec reads one spec object into spec.
func scanSpec(s *jsonscan.Scanner, spec *jobsched.JobSpec, in *interned) bool {
	if !s.Next('{') {
		return false
	}
	if s.Next('}') {
		return true
	}
	seen := 0
	for {
		k, ok := s.PlainString()
		if !ok || !s.Next(':') {
			return false
		}
		s.SkipWS()
		var bit int
		switch string(k) {
		case "kind":
			bit = fKind
			v, ok := s.PlainString()
			if !ok {
				return false
			}
			spec.Kind = reuse(&in.kind, v)
		case "category":
			bit = fCategory
			v, ok := s.PlainString()
			if !ok {
				return false
			}
			spec.Category = reuse(&in.category, v)
		case "args":
			bit = fArgs
			v, ok := s.ValidValue()
			if !ok {
				return false
			}
			spec.Args = append(json.RawMessage(nil), v...)
		case "delay", "timeout":
			bit = fDelay
			if k[0] == 't' {
				bit = fTimeout
			}
			v, ok := s.PlainString()
			if !ok {
				return false
			}
			d, err := time.ParseDuration(strings.TrimSpace(string(v)))
			if err != nil {
				return false
			}
			if bit == fDelay {
				spec.Delay = jobsched.Duration(d)
			} else {
				spec.Timeout = jobsched.Duration(d)
			}
		case "run_at":
			bit = fRunAt
			v, ok := s.PlainString()
			if !ok {
				return false
			}
			t, err := time.Parse(time.RFC3339Nano, string(v))
			if err != nil {
				return false
			}
			spec.RunAt = t
		case "max_attempts":
			bit = fMaxAttempts
			n, ok := s.PositiveInt()
			if !ok {
				return false
			}
			spec.MaxAttempts = n
		case "unique_key", "concurrency_key", "fairness_key", "on_parent_failure":
			v, ok := s.String()
			if !ok {
				return false
			}
			switch k[0] {
			case 'u':
				bit, spec.UniqueKey = fUniqueKey, v
			case 'c':
				bit, spec.ConcurrencyKey = fConcurrencyKey, v
			case 'f':
				bit, spec.FairnessKey = fFairnessKey, v
			default:
				bit, spec.OnParentFailure = fOnParentFailure, v
			}
		case "depends_on":
			bit = fDependsOn
			ids, ok := s.Strings()
			if !ok {
				return false
			}
			spec.DependsOn = ids
		default:
			return false
		}
		if seen&bit != 0 {
			return false
		}
		seen |= bit
		switch {
		case s.Next(','):
			s.SkipWS()
		case s.Next('}'):
			return true
		default:
			return false
		}
	}
}
