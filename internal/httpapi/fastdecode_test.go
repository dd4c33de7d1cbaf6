package httpapi

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jobsched/jobsched"
	"github.com/stretchr/testify/require"
)

// fullBatch decodes a batch body with the full decoder alone (the path before the fast one).
func fullBatch(body []byte) ([]jobsched.JobSpec, error) {
	var req BatchRequest
	if err := strictUnmarshal(body, &req); err != nil {
		return nil, err
	}
	specs := make([]jobsched.JobSpec, len(req.Jobs))
	for i, raw := range req.Jobs {
		var err error
		if specs[i], err = decodeSpecFull(raw, fmt.Sprintf("jobs[%d].", i)); err != nil {
			return nil, err
		}
	}
	return specs, nil
}

// sameAsFull checks the fast path against the full decoder on body: whatever the fast path
// accepts, the full decoder accepts too, with the same specs.
func sameAsFull(t *testing.T, body string) (specOK, batchOK bool) {
	if spec, ok := fastSpec([]byte(body)); ok {
		full, err := decodeSpecFull([]byte(body), "")
		require.NoError(t, err, "the fast path accepted %q", body)
		require.Equal(t, full, spec, "%q", body)
		specOK = true
	}
	if specs, ok := fastBatch([]byte(body), 1000); ok {
		full, err := fullBatch([]byte(body))
		require.NoError(t, err, "the fast path accepted %q", body)
		require.Equal(t, full, specs, "%q", body)
		batchOK = true
	}
	return specOK, batchOK
}

var fastSeeds = []string{
	`{"kind":"k"}`, `{"kind":"k","args":{"a":[1,2,{"b":null}]},"delay":"1s","max_attempts":3,"timeout":"2s","unique_key":"u","concurrency_key":"c"}`,
	`{"kind":"k","run_at":"2030-01-01T00:00:00Z"}`, `{"kind":"k","run_at":"2030-01-01T00:00:00.123456789+02:00"}`,
	`{"kind":"k","delay":"-1s"}`, `{"kind":"k","delay":1}`, `{"kind":"k","delay":" 1s "}`, `{"kind":"k","delay":"1x"}`,
	`{"kind":""}`, `{"kind":null}`, `{"kind":"k","max_attempts":-5}`, `{"kind":"k","max_attempts":1e99}`,
	`{"kind":"k","max_attempts":0}`, `{"kind":"k","max_attempts":01}`, `{"kind":"k","max_attempts":3.0}`, `{"kind":"k","max_attempts":999999999}`,
	`{"kind":"k","max_attempts":1000000000}`, `{"kind":"k","max_attempts":true}`,
	`{"kind":"k","category":"\u0000"}`, `{"kind":"k","args":`, `[]`, `null`, `"x"`, ``, `{"kind":"k"} {"kind":"k"}`, `{"kind":"k"}}`,
	`{"jobs":[{"kind":"k"},{"kind":""}]}`, `{"jobs":null}`, `{"jobs":[]}`, `{"jobs":[null]}`, `{"jobs":{}}`, `{"jobs":[{}]}`,
	`{"jobs":[{"kind":"k","unique_key":"u"},{"kind":"k","unique_key":"u"}]}`, `{"jobs":[{"kind":"k"}],"extra":1}`,
	`{"jobs":[[{"kind":"k"}]]}`, `{"jobs":[{"kind":"k","args":{"a":1}},{"kind":"k","delay":"1h"}]}`, `{"kind":"k","kind":"k2"}`, `{"kind":"k","extra":1}`,
	`{"JOBS":[{"kind":"k"}]}`, `{"jobs":[{"kind":"k"}],"jobs":[]}`, " \t\n{ \"jobs\" : [ { \"kind\" : \"k\" , \"args\" : [ 1 , \"]\" ] } ] } \r\n",
	`{"kind":"k","args":null}`, `{"kind":"k","args":"x"}`, `{"kind":"k","args":12}`, `{"kind":"k","args":1 2}`, `{"kind":"k","args":tru}`,
	`{"kind":"k","args":{"a":"}\"{"}}`, `{"kind":"k","args":{"a":1]}`, `{"kind":"k","args":[1,}`, `{"kind":"k","args":"\ud800"}`,
	`{"kind":"h\u00e9","unique_key":"a\u00e9\n"}`, `{"kind":"hé","unique_key":"日本"}`, "{\"kind\":\"a\xffb\"}", "{\"kind\":\"k\",\"unique_key\":\"a\xffb\"}",
	`{"kind":"k","unique_key":"a\"b\\"}`, `{"kind":"k","unique_key":"a\x"}`, `{"ki\u006ed":"k"}`, `{"":1}`,
	`{"kind":"k","depends_on":[]}`, `{"kind":"k","depends_on":["#0","a\u00e9"]}`, `{"kind":"k","depends_on":null}`, `{"kind":"k","depends_on":[null]}`,
	`{"kind":"k","depends_on":["a",]}`, `{"kind":"k","on_parent_failure":"run","fairness_key":"t1"}`,
	`{"jobs":[{"kind":"sleep","category":"default","args":{"fail_rate":0,"ms":0,"panic_rate":0,"seed":1},"max_attempts":3},{"kind":"sleep","category":"default","args":{"fail_rate":0,"ms":0,"panic_rate":0,"seed":2},"max_attempts":3}]}`,
}

func FuzzFastDecode(f *testing.F) {
	for _, s := range fastSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) { sameAsFull(t, body) })
}

// TestFastDecodeTakesTheUsualBodies: the bodies clients send take the fast path (and give
// what the full decoder gives); the odd ones go to the full decoder.
func TestFastDecodeTakesTheUsualBodies(t *testing.T) {
	specs := []jobsched.JobSpec{
		{Kind: "sleep", Category: "default", Args: json.RawMessage(`{"fail_rate":0,"ms":0.5,"panic_rate":0,"seed":1}`), MaxAttempts: 3},
		{Kind: "email", Args: jobsched.Args(map[string]any{"to": "a@b.c", "n": []int{1, 2}}), Delay: jobsched.Duration(time.Minute),
			Timeout: jobsched.Duration(time.Second), UniqueKey: "u-1", ConcurrencyKey: "c", FairnessKey: "tenant é", OnParentFailure: "run"},
		{Kind: "report", RunAt: time.Date(2030, 1, 2, 3, 4, 5, 6, time.UTC), DependsOn: []string{"#0", "#1"}},
	}
	body, err := json.Marshal(map[string]any{"jobs": specs})
	require.NoError(t, err)
	specOK, batchOK := sameAsFull(t, string(body))
	require.False(t, specOK)
	require.True(t, batchOK, "a marshalled batch takes the fast path")
	for _, spec := range specs {
		b, err := json.Marshal(spec)
		require.NoError(t, err)
		specOK, _ := sameAsFull(t, string(b))
		require.True(t, specOK, "%s takes the fast path", b)
	}
	for _, odd := range []string{`{"kind":"k","kind":"k2"}`, `{"kind":null}`, `{"ki\u006ed":"k"}`, `{"kind":"k","max_attempts":3.0}`,
		`{"kind":"k","extra":1}`, `{"kind":"k"}}`, `{"kind":"k","args":1 2}`} {
		specOK, _ := sameAsFull(t, odd)
		require.False(t, specOK, "%s goes to the full decoder", odd)
	}
}

func TestFastDecodeSeeds(t *testing.T) {
	for _, s := range fastSeeds {
		sameAsFull(t, s)
	}
	sameAsFull(t, `{"jobs":[`+strings.Repeat(`{"kind":"k","args":{"x":[1,{"y":"z"}]}},`, 50)+`{"kind":"k"}]}`)
}

// TestFastDecodeLeavesAnOversizeBatchToTheFullDecoder: one spec over the limit, and the full
// decoder answers (too large, or what is wrong with the JSON first).
func TestFastDecodeLeavesAnOversizeBatchToTheFullDecoder(t *testing.T) {
	body := []byte(`{"jobs":[` + strings.Repeat(`{"kind":"k"},`, 3) + `{"kind":"k"}]}`)
	specs, ok := fastBatch(body, 4)
	require.True(t, ok)
	require.Len(t, specs, 4)
	_, ok = fastBatch(body, 3)
	require.False(t, ok)
	_, err := decodeBatch(body, 3)
	require.ErrorIs(t, err, jobsched.ErrTooLarge)
	_, err = decodeBatch(append(body[:len(body)-1:len(body)-1], "x}"...), 3)
	var inv *jobsched.InvalidError
	require.ErrorAs(t, err, &inv)
	require.Equal(t, "body", inv.Field)
}

// BenchmarkDecodeBatch decodes a batch of 1,000 of the tester's jobs, as POST /v1/jobs/batch
// does.
func BenchmarkDecodeBatch(b *testing.B) {
	specs := make([]jobsched.JobSpec, 1000)
	for i := range specs {
		specs[i] = jobsched.JobSpec{Kind: "sleep", Category: "default", MaxAttempts: 3,
			Args: json.RawMessage(fmt.Sprintf(`{"fail_rate":0,"ms":0,"panic_rate":0,"seed":%d}`, i+1))}
	}
	body, err := BatchBody(specs)
	require.NoError(b, err)
	for b.Loop() {
		if _, err := decodeBatch(body, 10000); err != nil {
			b.Fatal(err)
		}
	}
}
