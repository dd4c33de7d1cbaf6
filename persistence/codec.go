package persistence

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"
)

// The stored record of a job is a compact binary encoding, not JSON: every state change reads
// and writes the record on the store's single writer goroutine, and encoding/json cost several
// times more there. The API still speaks JSON (Job's json tags).
//
// Layout (version 2): a version byte, created_at, then the other fields in declaration order but
// the id (it is in the key, j/<id>): strings and byte slices as uvarint length + bytes, the state
// as one byte (its index in stateCodes), integers as varints, optional parts behind a presence byte.
// A time is a uvarint: 0 for the zero time, else 1 + the zigzag of its Unix nanoseconds less
// created_at's (created_at's own less 0), so the times of a job's life take 1 to 5 bytes, not 9. Version 1 (with the id, the state as a string) is not
// read: a data directory of an older jobsched must be drained or deleted before upgrading.
//
// Version 3 appends the fairness key after seq; a version 2 record reads with none. The optional
// tail comes after it: the dependencies (parents, on_parent_failure), then the trace parent. A
// record with neither ends at the fairness key; one with a trace parent writes the dependencies
// too (two bytes when there are none), so a record stored before trace parents existed reads
// with none, and a binary that predates them reads a new record and ignores its trace parent.
const recordVersion = 3

var errCorrupt = errors.New("corrupt job record")

func encodeJob(j *Job) []byte {
	return appendJob(make([]byte, 0, 128+len(j.Args)+len(j.Result)), j)
}

// appendJob appends j's record to b.
func appendJob(b []byte, j *Job) []byte {
	b = append(b, recordVersion)
	b = appendTime(b, j.CreatedAt, 0)
	base := unixNano(j.CreatedAt)
	b = appendString(b, j.Kind)
	b = appendString(b, j.Category)
	b = appendBytes(b, j.Args)
	b = append(b, stateCode(j.State))
	b = binary.AppendVarint(b, int64(j.Attempt))
	b = binary.AppendVarint(b, int64(j.MaxAttempts))
	b = binary.AppendVarint(b, int64(j.Timeout))
	b = appendString(b, j.UniqueKey)
	b = appendString(b, j.ConcurrencyKey)
	b = binary.AppendUvarint(b, uint64(len(j.Errors)))
	for _, e := range j.Errors {
		b = binary.AppendVarint(b, int64(e.Attempt))
		b = appendTime(b, e.At, base)
		b = appendString(b, e.Error)
		b = appendBool(b, e.Panic)
	}
	b = appendBytes(b, j.Result)
	b = appendBool(b, j.Progress != nil)
	if j.Progress != nil {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(j.Progress.Percent))
		b = appendString(b, j.Progress.Message)
		b = appendTime(b, j.Progress.At, base)
	}
	b = appendTime(b, j.RunAt, base)
	b = appendOptTime(b, j.StartedAt, base)
	b = appendOptTime(b, j.FinishedAt, base)
	b = appendBool(b, j.CancelRequested)
	b = binary.AppendUvarint(b, j.Seq)
	b = appendString(b, j.FairnessKey)
	if len(j.Parents) == 0 && j.OnParentFailure == "" && j.TraceParent == "" {
		return b // a record without dependencies or trace parent ends here
	}
	b = binary.AppendUvarint(b, uint64(len(j.Parents)))
	for _, p := range j.Parents {
		b = appendString(b, p)
	}
	b = appendString(b, j.OnParentFailure)
	if j.TraceParent == "" {
		return b
	}
	return appendString(b, j.TraceParent)
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendBytes(b []byte, p []byte) []byte {
	if p == nil {
		return binary.AppendUvarint(b, 0)
	}
	b = binary.AppendUvarint(b, uint64(len(p))+1) // 0 is nil, n+1 is n bytes
	return append(b, p...)
}

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

// unixNano is t's Unix nanoseconds, 0 for the zero time.
func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// appendTime appends t relative to base (Unix nanoseconds).
func appendTime(b []byte, t time.Time, base int64) []byte {
	if t.IsZero() {
		return append(b, 0)
	}
	d := t.UnixNano() - base
	return binary.AppendUvarint(b, uint64(d<<1^d>>63)+1)
}

func appendOptTime(b []byte, t *time.Time, base int64) []byte {
	if t == nil {
		return append(b, 0)
	}
	return appendTime(append(b, 1), *t, base)
}

// decoder reads a record; the first error sticks and later reads return zero values.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail() {
	if d.err == nil {
		d.err = errCorrupt
	}
	d.b = nil
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) take(n uint64) []byte {
	if n > uint64(len(d.b)) {
		d.fail()
		return nil
	}
	p := d.b[:n:n]
	d.b = d.b[n:]
	return p
}

func (d *decoder) string() string { return string(d.take(d.uvarint())) }

func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if n == 0 {
		return nil
	}
	return append([]byte{}, d.take(n-1)...)
}

func (d *decoder) bool() bool {
	p := d.take(1)
	return len(p) == 1 && p[0] == 1
}

// time reads a time relative to base (see appendTime).
func (d *decoder) time(base int64) time.Time {
	n := d.uvarint()
	if n == 0 {
		return time.Time{}
	}
	z := n - 1
	return time.Unix(0, base+(int64(z>>1)^-int64(z&1))).UTC()
}

func (d *decoder) optTime(base int64) *time.Time {
	if !d.bool() {
		return nil
	}
	t := d.time(base)
	return &t
}

// stateCodes numbers the states in a record: new states go at the end, so old records keep
// their meaning.
var stateCodes = []State{StateScheduled, StateQueued, StateRunning, StateRetrying, StateSucceeded, StateDead, StateCancelled, StatePending}

// stateCode is a state's byte in a record: its index in stateCodes (0xff for an unknown state,
// which decodes as corrupt).
func stateCode(s State) byte {
	for i, k := range stateCodes {
		if s == k {
			return byte(i)
		}
	}
	return 0xff
}

// decodeJob decodes the record of job id (the id is its key's, not the record's).
func decodeJob(id string, b []byte, j *Job) error {
	if len(b) == 0 || (b[0] != recordVersion && b[0] != 2) {
		return fmt.Errorf("%w: unknown version", errCorrupt)
	}
	d := &decoder{b: b[1:]}
	j.ID = id
	j.CreatedAt = d.time(0)
	base := unixNano(j.CreatedAt)
	j.Kind = d.string()
	j.Category = d.string()
	j.Args = d.bytes()
	if p := d.take(1); len(p) == 1 && int(p[0]) < len(stateCodes) {
		j.State = stateCodes[p[0]]
	} else if d.err == nil {
		return fmt.Errorf("%w: state code %v", errCorrupt, p)
	}
	j.Attempt = int(d.varint())
	j.MaxAttempts = int(d.varint())
	j.Timeout = Duration(d.varint())
	j.UniqueKey = d.string()
	j.ConcurrencyKey = d.string()
	if n := d.uvarint(); n > 0 && n <= uint64(len(d.b)) {
		j.Errors = make([]AttemptError, n)
		for i := range j.Errors {
			j.Errors[i] = AttemptError{Attempt: int(d.varint()), At: d.time(base), Error: d.string(), Panic: d.bool()}
		}
	} else if n > 0 {
		d.fail()
	}
	j.Result = d.bytes()
	if d.bool() {
		p := &Progress{}
		if raw := d.take(8); len(raw) == 8 {
			p.Percent = math.Float64frombits(binary.LittleEndian.Uint64(raw))
		}
		p.Message = d.string()
		p.At = d.time(base)
		j.Progress = p
	}
	j.RunAt = d.time(base)
	j.StartedAt = d.optTime(base)
	j.FinishedAt = d.optTime(base)
	j.CancelRequested = d.bool()
	j.Seq = d.uvarint()
	if b[0] >= 3 {
		j.FairnessKey = d.string()
	}
	if d.err == nil && len(d.b) > 0 { // the dependencies (appendJob)
		if n := d.uvarint(); n > 0 && n <= uint64(len(d.b)) {
			j.Parents = make([]string, n)
			for i := range j.Parents {
				j.Parents[i] = d.string()
			}
		} else if n > 0 {
			d.fail()
		}
		j.OnParentFailure = d.string()
		if d.err == nil && len(d.b) > 0 { // the trace parent (appendJob)
			j.TraceParent = d.string()
		}
	}
	if d.err == nil && !j.State.Valid() {
		return fmt.Errorf("%w: state %q", errCorrupt, j.State)
	}
	return d.err
}
