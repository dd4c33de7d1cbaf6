package httpapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// A batch body of the wrong shape is refused in the caller's terms: the error names the field
// and the shape wanted, never a Go type of ours.
func TestBatchBodyOfTheWrongShapeIsNamedInUserTerms(t *testing.T) {
	a := testAPI(t)
	for _, c := range []struct{ body, field, reason string }{
		{`[{"kind":"k"}]`, "body", `must be a JSON object {"jobs":[...]}, got a JSON array`},
		{`"jobs"`, "body", `must be a JSON object {"jobs":[...]}, got a JSON string`},
		{`{"jobs":{"kind":"k"}}`, "jobs", "must be an array of job objects, got a JSON object"},
		{`{"jobs":5}`, "jobs", "must be an array of job objects, got a JSON number"},
		{`{"jobs":[],"job":1}`, "job", `unknown field (the body is {"jobs":[...]})`},
		{`{"jobs":[],"":1}`, `""`, "unknown field"},
		{`{"jobs":[{"kind":"k","max_attempts":"3"}]}`, "jobs[0].max_attempts", "want an integer, got a JSON string"},
		{`{"jobs":[{"kind":"k","depends_on":"x"}]}`, "jobs[0].depends_on", "want an array of strings, got a JSON string"},
	} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodPost, "/v1/jobs/batch", strings.NewReader(c.body))
		req.Header.Set("Content-Type", "application/json")
		a.ServeHTTP(rec, req)
		require.Equal(t, http.StatusBadRequest, rec.Code, c.body)
		var e ErrorBody
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &e), c.body)
		require.Equal(t, CodeInvalid, e.Error.Code, c.body)
		require.Equal(t, c.field, e.Error.Field, c.body)
		require.Contains(t, e.Error.Message, c.reason, c.body)
		for _, goName := range []string{"httpapi", "BatchRequest", "RawMessage", "[]string", " int,"} {
			require.NotContains(t, e.Error.Message, goName, c.body)
		}
	}
}
