package httpapi

import (
	"bytes"
	"encoding/json"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jobsched/jobsched"
)

// The fast path of the enqueue bodies: one pass over the bytes for the bodies clients send (a
// JSON object of known fields, each once, plain values). It never makes an error of its own:
// anything it does not handle, or handles only to find it wrong, answers ok=false and the
// body goes to the full decoder (decode.go), which gives the errors naming the field. So a
// body it accepts decodes to the very spec the full decoder gives (fastdecode_test.go and
// FuzzFastDecode check this), and a body the full decoder refuses it never accepts.

// fastBatch decodes {"jobs":[spec, ...]} of at most maxBatch specs.
func fastBatch(body []byte, maxBatch int) ([]jobsched.JobSpec, bool) {
	s := scanner{b: body}
	if !s.next('{') || !s.key("jobs") || !s.next('[') {
		return nil, false
	}
	specs := make([]jobsched.JobSpec, 0, min(s.countHint(), maxBatch))
	var in interned
	if s.skipWS(); s.peek() == ']' {
		s.i++
	} else {
		for {
			var spec jobsched.JobSpec
			if !s.spec(&spec, &in) {
				return nil, false
			}
			if len(specs) == maxBatch {
				return nil, false // the full decoder says what is wrong first: the size or the JSON
			}
			specs = append(specs, spec)
			s.skipWS()
			if s.peek() == ',' {
				s.i++
				continue
			}
			if !s.next(']') {
				return nil, false
			}
			break
		}
	}
	if !s.next('}') || !s.end() {
		return nil, false
	}
	return specs, true
}

// fastSpec decodes one spec that is the whole body.
func fastSpec(body []byte) (jobsched.JobSpec, bool) {
	s := scanner{b: body}
	var spec jobsched.JobSpec
	if !s.spec(&spec, &interned{}) || !s.end() {
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

// scanner reads JSON from b at i.
type scanner struct {
	b []byte
	i int
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

// spec reads one spec object into spec.
func (s *scanner) spec(spec *jobsched.JobSpec, in *interned) bool {
	if !s.next('{') {
		return false
	}
	if s.skipWS(); s.peek() == '}' {
		s.i++
		return true
	}
	seen := 0
	for {
		k, ok := s.plainString()
		if !ok || !s.next(':') {
			return false
		}
		s.skipWS()
		var bit int
		switch string(k) {
		case "kind":
			bit = fKind
			v, ok := s.plainString()
			if !ok {
				return false
			}
			spec.Kind = reuse(&in.kind, v)
		case "category":
			bit = fCategory
			v, ok := s.plainString()
			if !ok {
				return false
			}
			spec.Category = reuse(&in.category, v)
		case "args":
			bit = fArgs
			v, ok := s.value()
			if !ok || !json.Valid(v) {
				return false
			}
			spec.Args = append(json.RawMessage(nil), v...)
		case "delay", "timeout":
			bit = fDelay
			if k[0] == 't' {
				bit = fTimeout
			}
			v, ok := s.plainString()
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
			v, ok := s.plainString()
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
			n, ok := s.positiveInt()
			if !ok {
				return false
			}
			spec.MaxAttempts = n
		case "unique_key", "concurrency_key", "fairness_key", "on_parent_failure":
			v, ok := s.string()
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
			ids, ok := s.strings()
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
		s.skipWS()
		switch s.peek() {
		case ',':
			s.i++
			s.skipWS()
		case '}':
			s.i++
			return true
		default:
			return false
		}
	}
}

func (s *scanner) skipWS() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// peek is the byte at i, or 0 at the end.
func (s *scanner) peek() byte {
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// next skips white space and then c.
func (s *scanner) next(c byte) bool {
	s.skipWS()
	if s.peek() != c {
		return false
	}
	s.i++
	return true
}

// end says whether only white space is left.
func (s *scanner) end() bool {
	s.skipWS()
	return s.i == len(s.b)
}

// key reads the key name and its colon.
func (s *scanner) key(name string) bool {
	s.skipWS()
	k, ok := s.plainString()
	return ok && string(k) == name && s.next(':')
}

// countHint guesses the number of specs in the array at i (its "kind" keys), to size the slice.
func (s *scanner) countHint() int {
	return bytes.Count(s.b[s.i:], []byte(`"kind"`))
}

// plainString reads a string without escapes, of valid UTF-8, and returns its bytes (in b).
func (s *scanner) plainString() ([]byte, bool) {
	if s.peek() != '"' {
		return nil, false
	}
	start := s.i + 1
	ascii := true
	for j := start; j < len(s.b); j++ {
		switch c := s.b[j]; {
		case c == '"':
			s.i = j + 1
			v := s.b[start:j]
			return v, ascii || utf8.Valid(v)
		case c == '\\' || c < 0x20:
			return nil, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return nil, false
}

// string reads a string, escapes included (those through encoding/json).
func (s *scanner) string() (string, bool) {
	start := s.i
	if v, ok := s.plainString(); ok {
		return string(v), true
	}
	s.i = start
	if s.peek() != '"' {
		return "", false
	}
	for j := start + 1; j < len(s.b); j++ {
		switch s.b[j] {
		case '\\':
			j++
		case '"':
			var v string
			if err := json.Unmarshal(s.b[start:j+1], &v); err != nil || !utf8.ValidString(v) {
				return "", false
			}
			s.i = j + 1
			return v, true
		}
	}
	return "", false
}

// strings reads an array of strings (never null: the full decoder refuses it).
func (s *scanner) strings() ([]string, bool) {
	if s.peek() != '[' {
		return nil, false
	}
	s.i++
	out := []string{}
	if s.skipWS(); s.peek() == ']' {
		s.i++
		return out, true
	}
	for {
		s.skipWS()
		v, ok := s.string()
		if !ok {
			return nil, false
		}
		out = append(out, v)
		s.skipWS()
		switch s.peek() {
		case ',':
			s.i++
		case ']':
			s.i++
			return out, true
		default:
			return nil, false
		}
	}
}

// positiveInt reads an integer from 1 to 999,999,999 written plainly (no sign, exponent or
// fraction).
func (s *scanner) positiveInt() (int, bool) {
	n, j := 0, s.i
	for ; j < len(s.b) && s.b[j] >= '0' && s.b[j] <= '9'; j++ {
		if j-s.i == 9 {
			return 0, false
		}
		n = n*10 + int(s.b[j]-'0')
	}
	if j == s.i || s.b[s.i] == '0' {
		return 0, false
	}
	if j < len(s.b) {
		switch s.b[j] {
		case '.', 'e', 'E':
			return 0, false
		}
	}
	s.i = j
	return n, true
}

// value skips one JSON value by its brackets and strings and returns its bytes; it does not
// check them (the caller does, with json.Valid).
func (s *scanner) value() ([]byte, bool) {
	start, depth := s.i, 0
	for j := s.i; j < len(s.b); j++ {
		c := s.b[j]
		switch c {
		case '"':
			for j++; j < len(s.b) && s.b[j] != '"'; j++ {
				if s.b[j] == '\\' {
					j++
				}
			}
			if j >= len(s.b) {
				return nil, false
			}
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth < 0 { // the end of the enclosing object: a scalar ended here
				s.i = j
				return s.b[start:j], j > start
			}
		case ',', ' ', '\t', '\n', '\r':
			if depth == 0 {
				s.i = j
				return s.b[start:j], j > start
			}
		}
		if depth == 0 && (c == '"' || c == '}' || c == ']') {
			s.i = j + 1
			return s.b[start : j+1], true
		}
	}
	return nil, false
}
