package persistence

import (
	"bytes"
	"math"
	"time"
)

// keepRecord is jobWrites' val for a write that leaves the stored record as it is.
var keepRecord = []byte{}

// startOnly reports, for a job going from queued (old) to running (j), whether the start changed
// nothing but what a running q/ value holds (state, attempt, started_at, cancel_requested): then
// the record stays as stored, saying queued, and readers complete it from its q/ key
// (resolveStart). It returns keepRecord then, and else j's encoded record.
func (s *Badger) startOnly(old, j *Job) []byte {
	if sameRecordBesidesStart(old, j) {
		return keepRecord
	}
	return encodeJob(j)
}

// sameRecordBesidesStart tells whether a and b encode to the same record (codec.go) once a start's fields
// (state, attempt, started_at, cancel_requested) are set aside: it compares what appendJob
// writes, field by field, as appendJob writes it (TestSameRecordBesidesStart checks it against
// the encodings), without encoding either.
func sameRecordBesidesStart(a, b *Job) bool {
	if !sameTime(a.CreatedAt, b.CreatedAt) || a.Kind != b.Kind || a.Category != b.Category ||
		!sameBytes(a.Args, b.Args) || a.MaxAttempts != b.MaxAttempts || a.Timeout != b.Timeout ||
		a.UniqueKey != b.UniqueKey || a.ConcurrencyKey != b.ConcurrencyKey ||
		len(a.Errors) != len(b.Errors) || !sameBytes(a.Result, b.Result) ||
		(a.Progress == nil) != (b.Progress == nil) || !sameTime(a.RunAt, b.RunAt) ||
		!sameOptTime(a.FinishedAt, b.FinishedAt) || a.Seq != b.Seq || a.FairnessKey != b.FairnessKey ||
		len(a.Parents) != len(b.Parents) || a.OnParentFailure != b.OnParentFailure ||
		a.TraceParent != b.TraceParent {
		return false
	}
	for i, e := range a.Errors {
		f := b.Errors[i]
		if e.Attempt != f.Attempt || !sameTime(e.At, f.At) || e.Error != f.Error || e.Panic != f.Panic {
			return false
		}
	}
	if p, q := a.Progress, b.Progress; p != nil && (math.Float64bits(p.Percent) != math.Float64bits(q.Percent) ||
		p.Message != q.Message || !sameTime(p.At, q.At)) {
		return false
	}
	for i, p := range a.Parents {
		if p != b.Parents[i] {
			return false
		}
	}
	return true
}

// sameTime tells whether appendTime writes a and b alike (against the same base).
func sameTime(a, b time.Time) bool { return a.IsZero() == b.IsZero() && unixNano(a) == unixNano(b) }

// sameOptTime is sameTime for appendOptTime.
func sameOptTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return sameTime(*a, *b)
}

// sameBytes tells whether appendBytes writes a and b alike (nil is not empty).
func sameBytes(a, b []byte) bool { return (a == nil) == (b == nil) && bytes.Equal(a, b) }
