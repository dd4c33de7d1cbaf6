package httpapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/jobsched/jobsched"
	"github.com/jobsched/jobsched/internal/apitest"
	"github.com/stretchr/testify/require"
)

// FuzzEnqueueBody throws arbitrary bodies at POST /v1/jobs and /v1/jobs/batch: the answer is
// always a JSON object with a fitting status, never a 500 or a panic, and a refused body stores
// nothing.
func FuzzEnqueueBody(f *testing.F) {
	for _, seed := range []string{
		`{"kind":"k"}`, `{"kind":"k","args":{"a":[1,2,{"b":null}]},"delay":"1s","max_attempts":3,"timeout":"2s","unique_key":"u","concurrency_key":"c"}`,
		`{"kind":"k","run_at":"2030-01-01T00:00:00Z"}`, `{"kind":"k","delay":"-1s"}`, `{"kind":"k","delay":1}`,
		`{"kind":""}`, `{"kind":null}`, `{"kind":"k","max_attempts":-5}`, `{"kind":"k","max_attempts":1e99}`,
		`{"kind":"k","category":"\u0000"}`, `{"kind":"k","args":`, `[]`, `null`, `"x"`, ``, `{"kind":"k"} {"kind":"k"}`,
		`{"jobs":[{"kind":"k"},{"kind":""}]}`, `{"jobs":null}`, `{"jobs":[]}`, `{"jobs":[null]}`, `{"jobs":{}}`,
		`{"jobs":[{"kind":"k","unique_key":"u"},{"kind":"k","unique_key":"u"}]}`, `{"jobs":[{"kind":"k"}],"extra":1}`,
		`{"jobs":[[{"kind":"k"}]]}`, `{"jobs":[{"kind":"k","args":{"a":1}},{"kind":"k","delay":"1h"}]}`, `{"kind":"k","kind":"k2"}`, `{"kind":"k","extra":1}`,
	} {
		f.Add(seed)
	}
	s := apitest.Scheduler(f, jobsched.Config{Workers: 1, MaxArgsBytes: 1024, Categories: []jobsched.Category{{Name: "default", QueueLimit: 1_000_000}}}, "k")
	require.NoError(f, s.Pause("default"))
	api, err := New(s, Options{})
	require.NoError(f, err)
	f.Fuzz(func(t *testing.T, body string) {
		for _, path := range []string{"/v1/jobs", "/v1/jobs/batch"} {
			before := s.Categories()[0].Counts[jobsched.StateQueued] + s.Categories()[0].Counts[jobsched.StateScheduled]
			rec := httptest.NewRecorder()
			req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			api.ServeHTTP(rec, req)
			switch rec.Code {
			case http.StatusCreated, http.StatusConflict:
			case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
				after := s.Categories()[0].Counts[jobsched.StateQueued] + s.Categories()[0].Counts[jobsched.StateScheduled]
				require.Equal(t, before, after, "a refused body stored nothing")
				var e ErrorBody
				require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &e))
				require.NotEmpty(t, e.Error.Code)
				require.NotEmpty(t, e.Error.Field, "a refused body names its field: %s", rec.Body)
			default:
				t.Fatalf("%s %q: status %d: %s", path, body, rec.Code, rec.Body)
			}
			require.True(t, json.Valid(rec.Body.Bytes()))
		}
	})
}
