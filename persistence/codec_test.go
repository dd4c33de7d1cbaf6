package persistence

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"
)

func TestCodecRoundTrip(t *testing.T) {
	now := time.Now().UTC()
	full := &Job{ID: "0193-id", Kind: "email", Category: "default", Args: json.RawMessage(`{"to":"a@b"}`),
		State: StateRetrying, Attempt: 3, MaxAttempts: 25, Timeout: Duration(30 * time.Second),
		UniqueKey: "u", ConcurrencyKey: "c", FairnessKey: "tenant-7", Errors: []AttemptError{{Attempt: 1, At: now, Error: "boom", Panic: true}},
		Result: json.RawMessage(`"ok"`), Progress: &Progress{Percent: 42.5, Message: "half", At: now},
		CreatedAt: now, RunAt: now.Add(time.Second), StartedAt: &now, FinishedAt: &now, CancelRequested: true, Seq: 99}
	traced := full.Clone()
	traced.TraceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	withDeps := traced.Clone()
	withDeps.Parents, withDeps.OnParentFailure = []string{"p1", "p2"}, ParentFailureRun
	for _, j := range []*Job{full, traced, withDeps, {ID: "x", Kind: "k", Category: "c", State: StateQueued}} {
		var got Job
		require.NoError(t, decodeJob(j.ID, encodeJob(j), &got))
		require.Equal(t, j, &got)
	}
}

// A version 2 record (before fairness keys) still reads, with no fairness key.
func TestCodecReadsVersion2Records(t *testing.T) {
	j := &Job{ID: "x", Kind: "k", Category: "c", State: StateQueued, Seq: 7}
	b := encodeJob(j)
	require.Equal(t, byte(3), b[0])
	require.Equal(t, byte(0), b[len(b)-1], "an empty fairness key is one byte at the end")
	v2 := append([]byte{2}, b[1:len(b)-1]...)
	var got Job
	require.NoError(t, decodeJob(j.ID, v2, &got))
	require.Equal(t, j, &got)
	require.Error(t, decodeJob(j.ID, append([]byte{1}, b[1:]...), &got), "version 1 is not read")
}

// A record stored before trace parents existed (it ends at the fairness key, or at the
// dependencies) reads with none; a record without a trace parent is byte for byte what it was.
func TestCodecTraceParentIsOptional(t *testing.T) {
	plain := &Job{ID: "x", Kind: "k", Category: "c", State: StateQueued, Seq: 7, FairnessKey: "f"}
	deps := plain.Clone()
	deps.Parents = []string{"a"}
	for _, j := range []*Job{plain, deps} {
		var got Job
		require.NoError(t, decodeJob(j.ID, encodeJob(j), &got))
		require.Empty(t, got.TraceParent)
		traced := j.Clone()
		traced.TraceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
		b := encodeJob(traced)
		require.Equal(t, encodeJob(j), b[:len(encodeJob(j))], "the trace parent only appends")
		require.NoError(t, decodeJob(j.ID, b, &got))
		require.Equal(t, traced.TraceParent, got.TraceParent)
	}
}

func TestCodecProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		tm := func(label string) time.Time {
			if rapid.Bool().Draw(t, label+"zero") {
				return time.Time{}
			}
			return time.Unix(0, rapid.Int64Range(1, 1<<62).Draw(t, label)).UTC()
		}
		j := &Job{ID: rapid.String().Draw(t, "id"), Kind: rapid.String().Draw(t, "kind"),
			State: rapid.SampledFrom(States).Draw(t, "state"), Attempt: rapid.IntRange(0, 1000).Draw(t, "attempt"),
			MaxAttempts: rapid.IntRange(1, 1000).Draw(t, "max"), CreatedAt: tm("created"), RunAt: tm("run"),
			Seq: rapid.Uint64().Draw(t, "seq"), FairnessKey: rapid.String().Draw(t, "fairness")}
		if rapid.Bool().Draw(t, "hasArgs") {
			j.Args = rapid.SliceOf(rapid.Byte()).Draw(t, "args")
		}
		var got Job
		require.NoError(t, decodeJob(j.ID, encodeJob(j), &got))
		require.Equal(t, j, &got)
		// Any truncation is reported, never a panic.
		b := encodeJob(j)
		cut := rapid.IntRange(0, len(b)-1).Draw(t, "cut")
		var junk Job
		require.Error(t, decodeJob(j.ID, b[:cut], &junk))
		// A trace parent round-trips; a cut is reported unless it falls where an older record
		// ends (before the optional tail, or before the trace parent).
		j.TraceParent = rapid.StringN(1, 64, -1).Draw(t, "traceparent")
		base := len(encodeJob(&Job{ID: j.ID, Kind: j.Kind, State: j.State, Attempt: j.Attempt, MaxAttempts: j.MaxAttempts,
			CreatedAt: j.CreatedAt, RunAt: j.RunAt, Seq: j.Seq, FairnessKey: j.FairnessKey, Args: j.Args}))
		b = encodeJob(j)
		require.NoError(t, decodeJob(j.ID, b, &got))
		require.Equal(t, j, &got)
		if cut = rapid.IntRange(0, len(b)-1).Draw(t, "cut2"); cut != base && cut != base+2 {
			require.Error(t, decodeJob(j.ID, b[:cut], &junk))
		}
	})
}

func BenchmarkCodec(b *testing.B) {
	now := time.Now()
	j := &Job{ID: "01937a4e-8f1c-7c3e-9d2a-4b5c6d7e8f90", Kind: "email", Category: "default", Args: json.RawMessage(`{"to":"a@b.example"}`),
		State: StateQueued, MaxAttempts: 25, CreatedAt: now, RunAt: now}
	b.Run("binary", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			var out Job
			_ = decodeJob(j.ID, encodeJob(j), &out)
		}
	})
	b.Run("json", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			var out Job
			raw, _ := json.Marshal(j)
			_ = json.Unmarshal(raw, &out)
		}
	})
}
