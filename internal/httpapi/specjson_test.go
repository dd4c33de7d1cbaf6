package httpapi

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/jobsched/jobsched"
	"github.com/stretchr/testify/require"
)

// sameBatchBody checks BatchBody against json.Marshal of the client's old body: the same
// bytes, or both refuse.
func sameBatchBody(t *testing.T, specs []jobsched.JobSpec) {
	want, werr := json.Marshal(map[string]any{"jobs": specs})
	got, err := BatchBody(specs)
	if werr != nil {
		require.Error(t, err, "encoding/json refused (%v), BatchBody did not", werr)
		return
	}
	require.NoError(t, err)
	require.Equal(t, string(want), string(got))
}

func fullSpec() jobsched.JobSpec {
	return jobsched.JobSpec{Kind: "sleep", Category: "c<1>", Args: json.RawMessage(`{"a": [1, "b c"]}`),
		Delay: jobsched.Duration(1500 * time.Millisecond), RunAt: time.Date(2030, 1, 2, 3, 4, 5, 6, time.FixedZone("x", 3600)),
		MaxAttempts: 7, Timeout: jobsched.Duration(time.Minute), UniqueKey: "u&", ConcurrencyKey: "c\u2028",
		FairnessKey: "tenant é", DependsOn: []string{"#0", "0193-a"}, OnParentFailure: "run"}
}

func TestBatchBodyIsEncodingJSONs(t *testing.T) {
	require.True(t, specShapeKnown, "jobsched.JobSpec changed: teach appendSpec (specjson.go) its fields, and specFields")
	plain := jobsched.JobSpec{Kind: "sleep", Category: "default", Args: json.RawMessage(`{"fail_rate":0,"ms":0,"panic_rate":0,"seed":1}`), MaxAttempts: 3}
	sameBatchBody(t, []jobsched.JobSpec{plain, fullSpec(), {}, {Kind: "k", DependsOn: []string{}}})
	sameBatchBody(t, []jobsched.JobSpec{})
	sameBatchBody(t, nil)
	bad := fullSpec()
	bad.Args = json.RawMessage(`{"a":`)
	sameBatchBody(t, []jobsched.JobSpec{plain, bad})
	bad = fullSpec()
	bad.RunAt = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
	sameBatchBody(t, []jobsched.JobSpec{bad})
}

// What BatchBody writes, the server's decoder reads back as the same specs; the usual spec
// takes its fast path.
func TestBatchBodyDecodesToTheSameSpecs(t *testing.T) {
	plain := jobsched.JobSpec{Kind: "sleep", Category: "default", Args: json.RawMessage(`{"ms":1}`), MaxAttempts: 3}
	body, err := BatchBody([]jobsched.JobSpec{plain, plain})
	require.NoError(t, err)
	got, ok := fastBatch(body, 10)
	require.True(t, ok, "the fast path takes %s", body)
	require.Equal(t, []jobsched.JobSpec{plain, plain}, got)

	specs := []jobsched.JobSpec{fullSpec(), plain}
	body, err = BatchBody(specs)
	require.NoError(t, err)
	got, err = decodeBatch(body, 10)
	require.NoError(t, err)
	require.Len(t, got, 2)
	require.True(t, specs[0].RunAt.Equal(got[0].RunAt))
	got[0].RunAt = specs[0].RunAt
	specs[0].Args = json.RawMessage(`{"a":[1,"b c"]}`) // compacted
	require.Equal(t, specs, got)
}

// FuzzBatchBody: for any strings and raw JSON in a spec, BatchBody is encoding/json's.
func FuzzBatchBody(f *testing.F) {
	f.Add("sleep", `{"a":1}`, "u", int64(0))
	f.Add("a<b>&c", "[1, 2]", "\u2028\u2029", int64(-5))
	f.Add("\x00\x1f\"\\", `"x`, "\xff", int64(1e12))
	f.Add("", `  {"a" : "b c", "d": [true, null]}  `, "", int64(1))
	f.Fuzz(func(t *testing.T, s, raw, key string, d int64) {
		sp := fullSpec()
		sp.Kind, sp.UniqueKey, sp.DependsOn = s, key, []string{s, key}
		sp.Args, sp.Delay, sp.Timeout = json.RawMessage(raw), jobsched.Duration(d), jobsched.Duration(-d)
		sameBatchBody(t, []jobsched.JobSpec{sp})
	})
}
