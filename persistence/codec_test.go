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
	for _, j := range []*Job{full, {ID: "x", Kind: "k", Category: "c", State: StateQueued}} {
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
