package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"reflect"
	"strconv"
	"sync"
	"time"

	"github.com/jobsched/jobsched"
	"github.com/jobsched/jobsched/internal/jsonscan"
)

// The job lists of the API (the answer of a batch enqueue, a page of GET /v1/jobs) written by
// hand: encoding/json's reflection cost the daemon about a third of its HTTP time in a burst
// of batched enqueues. The bytes are encoding/json's to the last one (jobjson_test.go and
// FuzzJobJSON compare them): what is not plain (a string to escape, args with spaces, a
// job's errors or progress) goes through encoding/json, field by field, and a job whose
// fields are not the ones written here (jobShapeKnown) turns the hand-written path off.

// jobFields are the fields of jobsched.Job, as "Name type tag", that appendJob writes.
var jobFields = []string{
	"ID string id", "Kind string kind", "Category string category", "Args json.RawMessage args,omitempty",
	"State persistence.State state", "Attempt int attempt", "MaxAttempts int max_attempts",
	"Timeout persistence.Duration timeout,omitempty", "UniqueKey string unique_key,omitempty",
	"ConcurrencyKey string concurrency_key,omitempty", "FairnessKey string fairness_key,omitempty",
	"Errors []persistence.AttemptError errors,omitempty", "Result json.RawMessage result,omitempty",
	"Progress *persistence.Progress progress,omitempty", "CreatedAt time.Time created_at", "RunAt time.Time run_at",
	"StartedAt *time.Time started_at,omitempty", "FinishedAt *time.Time finished_at,omitempty",
	"CancelRequested bool cancel_requested,omitempty", "Parents []string parents,omitempty",
	"OnParentFailure string on_parent_failure,omitempty", "Children []string children,omitempty",
	"TraceParent string traceparent,omitempty", "Seq uint64 -",
}

// jobShapeKnown says whether jobsched.Job has exactly jobFields; if a field is added or
// changed, the lists go through encoding/json until appendJob learns it (a test fails then).
var jobShapeKnown = hasFields(reflect.TypeFor[jobsched.Job](), jobFields)

// hasFields says whether the struct t has exactly fields, as "Name type tag", in order.
func hasFields(t reflect.Type, fields []string) bool {
	if t.NumField() != len(fields) {
		return false
	}
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Name+" "+f.Type.String()+" "+f.Tag.Get("json") != fields[i] {
			return false
		}
	}
	return true
}

// listBufs keeps the answers' buffers up to maxKeptBuf (a batch of 1,000 small jobs is ~300 KiB).
var listBufs = sync.Pool{New: func() any { return new([]byte) }}

const maxKeptBuf = 1 << 20

// writeJobList answers list as writeJSON would, a good deal faster.
func writeJobList(w http.ResponseWriter, status int, list JobList) {
	writeFast(w, status, list, func(b []byte) ([]byte, bool) { return appendJobList(b, list) })
}

// writeJob answers one job as writeJSON would.
func writeJob(w http.ResponseWriter, status int, j *jobsched.Job) {
	writeFast(w, status, j, func(b []byte) ([]byte, bool) {
		b, ok := appendJob(b, j)
		return append(b, '\n'), ok
	})
}

// writeFast writes what appendTo makes, or v by writeJSON when it cannot.
func writeFast(w http.ResponseWriter, status int, v any, appendTo func([]byte) ([]byte, bool)) {
	if !jobShapeKnown {
		writeJSON(w, status, v)
		return
	}
	bp := listBufs.Get().(*[]byte)
	defer listBufs.Put(bp)
	b, ok := appendTo((*bp)[:0])
	*bp = b[:0]
	if cap(b) > maxKeptBuf {
		*bp = nil // a rare large answer: its buffer is not kept for the next one
	}
	if !ok {
		writeJSON(w, status, v)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b) // the client may have gone; nothing to do about it
}

// writeJobIDs answers jobs with their ids alone, {"jobs":[{"id":"..."},...]} (?fields=id).
func writeJobIDs(w http.ResponseWriter, status int, jobs []*jobsched.Job) {
	bp := listBufs.Get().(*[]byte)
	defer listBufs.Put(bp)
	b := append((*bp)[:0], `{"jobs":[`...)
	for i, j := range jobs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(append(b, `{"id":`...), j.ID)
		b = append(b, '}')
	}
	b = append(b, "]}\n"...)
	*bp = b[:0]
	if cap(b) > maxKeptBuf {
		*bp = nil
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b) // the client may have gone; nothing to do about it
}

// appendJobList appends list's JSON and a newline (json.Encoder's); false: list holds what
// encoding/json refuses, or what this code does not know.
func appendJobList(b []byte, list JobList) ([]byte, bool) {
	b = append(b, `{"jobs":`...)
	if list.Jobs == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, j := range list.Jobs {
			if i > 0 {
				b = append(b, ',')
			}
			var ok bool
			if b, ok = appendJob(b, j); !ok {
				return b, false
			}
		}
		b = append(b, ']')
	}
	if list.NextCursor != "" {
		b = append(b, `,"next_cursor":`...)
		b = appendString(b, list.NextCursor)
	}
	return append(b, "}\n"...), true
}

// appendJob appends j's JSON as encoding/json writes it.
func appendJob(b []byte, j *jobsched.Job) ([]byte, bool) {
	if j == nil {
		return append(b, "null"...), true
	}
	ok := true
	b = append(b, `{"id":`...)
	b = appendString(b, j.ID)
	b = append(b, `,"kind":`...)
	b = appendString(b, j.Kind)
	b = append(b, `,"category":`...)
	b = appendString(b, j.Category)
	if len(j.Args) > 0 {
		b = append(b, `,"args":`...)
		b, ok = appendRaw(b, j.Args)
	}
	b = append(b, `,"state":`...)
	b = appendString(b, string(j.State))
	b = append(b, `,"attempt":`...)
	b = strconv.AppendInt(b, int64(j.Attempt), 10)
	b = append(b, `,"max_attempts":`...)
	b = strconv.AppendInt(b, int64(j.MaxAttempts), 10)
	if j.Timeout != 0 {
		b = append(b, `,"timeout":`...)
		b = appendString(b, time.Duration(j.Timeout).String())
	}
	b = appendOptString(b, `,"unique_key":`, j.UniqueKey)
	b = appendOptString(b, `,"concurrency_key":`, j.ConcurrencyKey)
	b = appendOptString(b, `,"fairness_key":`, j.FairnessKey)
	if len(j.Errors) > 0 && ok {
		b = append(b, `,"errors":`...)
		b, ok = appendMarshal(b, j.Errors)
	}
	if len(j.Result) > 0 && ok {
		b = append(b, `,"result":`...)
		b, ok = appendRaw(b, j.Result)
	}
	if j.Progress != nil && ok {
		b = append(b, `,"progress":`...)
		b, ok = appendMarshal(b, j.Progress)
	}
	if !ok {
		return b, false
	}
	b = append(b, `,"created_at":`...)
	if b, ok = appendTime(b, j.CreatedAt); !ok {
		return b, false
	}
	b = append(b, `,"run_at":`...)
	if b, ok = appendTime(b, j.RunAt); !ok {
		return b, false
	}
	if j.StartedAt != nil {
		b = append(b, `,"started_at":`...)
		if b, ok = appendTime(b, *j.StartedAt); !ok {
			return b, false
		}
	}
	if j.FinishedAt != nil {
		b = append(b, `,"finished_at":`...)
		if b, ok = appendTime(b, *j.FinishedAt); !ok {
			return b, false
		}
	}
	if j.CancelRequested {
		b = append(b, `,"cancel_requested":true`...)
	}
	b = appendStrings(b, `,"parents":`, j.Parents)
	b = appendOptString(b, `,"on_parent_failure":`, j.OnParentFailure)
	b = appendStrings(b, `,"children":`, j.Children)
	b = appendOptString(b, `,"traceparent":`, j.TraceParent)
	return append(b, '}'), true
}

func appendOptString(b []byte, key, s string) []byte {
	if s == "" {
		return b
	}
	return appendString(append(b, key...), s)
}

func appendStrings(b []byte, key string, ss []string) []byte {
	if len(ss) == 0 {
		return b
	}
	b = append(b, key...)
	for i, s := range ss {
		if i == 0 {
			b = append(b, '[')
		} else {
			b = append(b, ',')
		}
		b = appendString(b, s)
	}
	return append(b, ']')
}

// appendString appends s quoted: plain ASCII as it is, anything else by encoding/json (which
// escapes <, > and &, U+2028 and U+2029, and mends bad UTF-8).
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always marshals
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendRaw appends a json.RawMessage as encoding/json does: checked and compacted, with
// <, >, & and U+2028/U+2029 escaped.
func appendRaw(b []byte, raw json.RawMessage) ([]byte, bool) {
	compact := true
	for _, c := range raw {
		switch c {
		case '<', '>', '&', 0xe2:
			return appendMarshal(b, raw)
		case ' ', '\t', '\n', '\r':
			compact = false
		}
	}
	if compact { // the usual args: valid and compact already, they are written as they are
		s := jsonscan.New(raw)
		if _, ok := s.ValidValue(); ok && s.End() {
			return append(b, raw...), true
		}
	}
	buf := bytes.NewBuffer(b)
	if err := json.Compact(buf, raw); err != nil {
		return b, false
	}
	return buf.Bytes(), true
}

// appendTime appends t as t.MarshalJSON writes it: in place when t is plainly within
// RFC 3339 (a 4-digit year, an offset of whole minutes under a day), else through MarshalJSON
// (which refuses what RFC 3339 cannot write).
func appendTime(b []byte, t time.Time) ([]byte, bool) {
	if y := t.Year(); y >= 0 && y <= 9999 {
		if _, off := t.Zone(); off%60 == 0 && off > -24*3600 && off < 24*3600 {
			b = append(b, '"')
			b = t.AppendFormat(b, time.RFC3339Nano)
			return append(b, '"'), true
		}
	}
	q, err := t.MarshalJSON()
	if err != nil {
		return b, false
	}
	return append(b, q...), true
}

func appendMarshal(b []byte, v any) ([]byte, bool) {
	q, err := json.Marshal(v)
	if err != nil {
		return b, false
	}
	return append(b, q...), true
}
