package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jobsched/jobsched"
	"github.com/jobsched/jobsched/internal/apitest"
	"github.com/stretchr/testify/require"
)

// batchAPI is an API over a started scheduler with the kind "k", its category paused (the jobs
// stay queued).
func batchAPI(t *testing.T) (*API, *jobsched.Scheduler) {
	t.Helper()
	s := apitest.Scheduler(t, jobsched.Config{Workers: 1}, "k")
	require.NoError(t, s.Pause(jobsched.DefaultCategory))
	a, err := New(s, Options{EventInterval: time.Hour})
	require.NoError(t, err)
	return a, s
}

func postBatch(a *API, query, body string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, "/v1/jobs/batch"+query, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	a.ServeHTTP(rec, req)
	return rec
}

// POST /v1/jobs/batch?fields=id answers the stored jobs, in order, with their ids alone.
func TestBatchFieldsIDAnswersTheIDsAlone(t *testing.T) {
	a, s := batchAPI(t)
	rec := postBatch(a, "?fields=id", `{"jobs":[{"kind":"k"},{"kind":"k","args":{"n":2}},{"kind":"k","delay":"1h"}]}`)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	require.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	require.Equal(t, strconv.Itoa(rec.Body.Len()), rec.Header().Get("Content-Length"))
	var got struct {
		Jobs []map[string]any `json:"jobs"`
	}
	dec := json.NewDecoder(rec.Body)
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(&got))
	require.Len(t, got.Jobs, 3)
	want := []string{"", `{"n":2}`, ""}
	for i, j := range got.Jobs {
		require.Len(t, j, 1, "the id alone: %v", j)
		stored, err := s.Get(context.Background(), j["id"].(string))
		require.NoError(t, err)
		require.Equal(t, want[i], string(stored.Args), "job %d is the batch's entry %d", i, i)
	}

}

// A bad or unknown query parameter of POST /v1/jobs/batch is refused, naming it, and stores
// nothing.
func TestBatchFieldsRefusesWhatItDoesNotKnow(t *testing.T) {
	a, s := batchAPI(t)
	for _, c := range []struct{ query, field string }{
		{"?fields=kind", "fields"}, {"?fields=id,kind", "fields"}, {"?fields=id&fields=id", "fields"},
		{"?fields=", "fields"}, {"?field=id", "field"}, {"?fields=id&wait=1s", "wait"},
	} {
		rec := postBatch(a, c.query, `{"jobs":[{"kind":"k"}]}`)
		require.Equal(t, http.StatusBadRequest, rec.Code, c.query)
		var e ErrorBody
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &e))
		require.Equal(t, c.field, e.Error.Field, c.query)
	}
	jobs, _, err := s.List(context.Background(), jobsched.ListOptions{})
	require.NoError(t, err)
	require.Empty(t, jobs)
}
