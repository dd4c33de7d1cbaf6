package persistence

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"
)

// sameRecordBesidesStart agrees with the encodings: two jobs that differ in any field appendJob
// writes (but a start's) are told apart, and two that differ in a start's fields only are not.
func TestSameRecordBesidesStart(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		a := drawJob(t, "a")
		check := func(b *Job) {
			c := *b
			c.State, c.Attempt, c.StartedAt, c.CancelRequested = a.State, a.Attempt, a.StartedAt, a.CancelRequested
			want := bytes.Equal(appendJob(nil, &c), appendJob(nil, a))
			require.Equal(t, want, sameRecordBesidesStart(a, b))
		}
		check(a.Clone())
		for field := range mutableFields { // each field changed alone, then with another
			b := a.Clone()
			mutateJob(t, b, field)
			check(b)
			mutateJob(t, b, rapid.IntRange(0, mutableFields-1).Draw(t, "second"))
			check(b)
		}
	})
}

func drawJob(t *rapid.T, l string) *Job {
	tm := func(label string) time.Time {
		if rapid.Bool().Draw(t, l+label+"zero") {
			return time.Time{}
		}
		return time.Unix(0, rapid.Int64Range(-1, 3).Draw(t, l+label)).UTC()
	}
	optTm := func(label string) *time.Time {
		if rapid.Bool().Draw(t, l+label+"nil") {
			return nil
		}
		v := tm(label)
		return &v
	}
	small := func(label string) string { return rapid.SampledFrom([]string{"", "x", "y"}).Draw(t, l+label) }
	raw := func(label string) json.RawMessage {
		return rapid.SampledFrom([]json.RawMessage{nil, {}, json.RawMessage("1"), json.RawMessage("2")}).Draw(t, l+label)
	}
	j := &Job{ID: "id", Kind: small("kind"), Category: small("cat"), Args: raw("args"),
		State:   rapid.SampledFrom(States).Draw(t, l+"state"),
		Attempt: rapid.IntRange(0, 2).Draw(t, l+"attempt"), MaxAttempts: rapid.IntRange(0, 2).Draw(t, l+"max"),
		Timeout: Duration(rapid.IntRange(0, 2).Draw(t, l+"timeout")), UniqueKey: small("unique"),
		ConcurrencyKey: small("conc"), FairnessKey: small("fair"), Result: raw("result"),
		CreatedAt: tm("created"), RunAt: tm("run"), StartedAt: optTm("started"), FinishedAt: optTm("finished"),
		CancelRequested: rapid.Bool().Draw(t, l+"cancel"), Seq: rapid.Uint64Range(0, 2).Draw(t, l+"seq"),
		OnParentFailure: small("opf"), TraceParent: small("trace"),
	}
	for range rapid.IntRange(0, 2).Draw(t, l+"errors") {
		j.Errors = append(j.Errors, AttemptError{Attempt: rapid.IntRange(0, 2).Draw(t, l+"eattempt"), At: tm("eat"),
			Error: small("etext"), Panic: rapid.Bool().Draw(t, l+"epanic")})
	}
	if rapid.Bool().Draw(t, l+"progress") {
		j.Progress = &Progress{Percent: rapid.SampledFrom([]float64{0, 1, 50}).Draw(t, l+"pct"), Message: small("pmsg"), At: tm("pat")}
	}
	for range rapid.IntRange(0, 2).Draw(t, l+"parents") {
		j.Parents = append(j.Parents, small("parent"))
	}
	return j
}

// mutableFields is how many fields (or parts of fields) mutateJob changes.
const mutableFields = 25

// mutateJob changes field (0 to mutableFields-1) of j to another drawn value, or the same.
func mutateJob(t *rapid.T, j *Job, field int) {
	o := drawJob(t, "m")
	switch field {
	case 0:
		j.Kind = o.Kind
	case 1:
		j.Category = o.Category
	case 2:
		j.Args = o.Args
	case 3:
		j.State = o.State
	case 4:
		j.Attempt = o.Attempt
	case 5:
		j.MaxAttempts = o.MaxAttempts
	case 6:
		j.Timeout = o.Timeout
	case 7:
		j.UniqueKey = o.UniqueKey
	case 8:
		j.ConcurrencyKey = o.ConcurrencyKey
	case 9:
		j.Errors = o.Errors
	case 10:
		j.Result = o.Result
	case 11:
		j.Progress = o.Progress
	case 12:
		j.CreatedAt = o.CreatedAt
	case 13:
		j.RunAt = o.RunAt
	case 14:
		j.StartedAt = o.StartedAt
	case 15:
		j.FinishedAt = o.FinishedAt
	case 16:
		j.CancelRequested = o.CancelRequested
	case 17:
		j.Seq = o.Seq
	case 18:
		j.FairnessKey = o.FairnessKey
	case 19:
		j.Parents = o.Parents
	case 20:
		j.OnParentFailure = o.OnParentFailure
	case 21:
		j.TraceParent = o.TraceParent
	case 22: // one part of one attempt error
		j.Errors = append([]AttemptError(nil), j.Errors...)
		if len(j.Errors) == 0 {
			j.Errors = append(j.Errors, AttemptError{})
		}
		e := &j.Errors[rapid.IntRange(0, len(j.Errors)-1).Draw(t, "error")]
		switch rapid.IntRange(0, 3).Draw(t, "errorField") {
		case 0:
			e.Attempt++
		case 1:
			e.At = e.At.Add(1)
		case 2:
			e.Error += "z"
		case 3:
			e.Panic = !e.Panic
		}
	case 23: // one part of the progress
		p := Progress{}
		if j.Progress != nil {
			p = *j.Progress
		}
		switch rapid.IntRange(0, 2).Draw(t, "progressField") {
		case 0:
			p.Percent++
		case 1:
			p.Message += "z"
		case 2:
			p.At = p.At.Add(1)
		}
		j.Progress = &p
	case 24: // one parent
		j.Parents = append([]string(nil), j.Parents...)
		if len(j.Parents) == 0 {
			j.Parents = append(j.Parents, "")
		}
		j.Parents[rapid.IntRange(0, len(j.Parents)-1).Draw(t, "parent")] += "z"
	}
}
