package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/jobsched/jobsched"
	"github.com/jobsched/jobsched/internal/apitest"
	"github.com/stretchr/testify/require"
)

// encodingJSON is what writeJSON writes for v.
func encodingJSON(t *testing.T, v any) ([]byte, error) {
	var buf bytes.Buffer
	err := json.NewEncoder(&buf).Encode(v)
	return buf.Bytes(), err
}

// sameBytes checks appendJobList against encoding/json: the same bytes, or both refuse.
func sameBytes(t *testing.T, list JobList) {
	want, werr := encodingJSON(t, list)
	got, ok := appendJobList(nil, list)
	if werr != nil {
		require.False(t, ok, "encoding/json refused (%v), the hand-written path did not", werr)
		return
	}
	require.True(t, ok, "encoding/json wrote %s", want)
	require.Equal(t, string(want), string(got))
}

func TestJobJSONIsEncodingJSONs(t *testing.T) {
	require.True(t, jobShapeKnown, "jobsched.Job changed: teach appendJob (jobjson.go) its fields, and jobFields")
	now := time.Now()
	fresh := &jobsched.Job{ID: "0193-b", Kind: "sleep", Category: "default", Args: json.RawMessage(`{"fail_rate":0,"ms":0,"seed":1}`),
		State: jobsched.StateQueued, MaxAttempts: 3, CreatedAt: now, RunAt: now}
	sameBytes(t, JobList{Jobs: []*jobsched.Job{fresh, apitest.FullJob(), {}, nil}, NextCursor: "cur<&>"})
	sameBytes(t, JobList{Jobs: []*jobsched.Job{}})
	sameBytes(t, JobList{})
	odd := apitest.FullJob()
	odd.Args = json.RawMessage("[\"\xff\", \"\u2028\", \"<\"]")
	odd.Kind = "a\x00b\"\\\x7f\xff"
	sameBytes(t, JobList{Jobs: []*jobsched.Job{odd}})
	bad := apitest.FullJob()
	bad.Result = json.RawMessage(`{"a":`)
	sameBytes(t, JobList{Jobs: []*jobsched.Job{fresh, bad}})
	bad = apitest.FullJob()
	bad.CreatedAt = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
	sameBytes(t, JobList{Jobs: []*jobsched.Job{bad}})
}

func TestWriteJobList(t *testing.T) {
	rec := httptest.NewRecorder()
	list := JobList{Jobs: []*jobsched.Job{apitest.FullJob()}}
	writeJobList(rec, http.StatusCreated, list)
	want, err := encodingJSON(t, list)
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, rec.Code)
	require.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	require.Equal(t, string(want), rec.Body.String())

	rec = httptest.NewRecorder()
	writeJob(rec, http.StatusAccepted, apitest.FullJob())
	want, err = encodingJSON(t, apitest.FullJob())
	require.NoError(t, err)
	require.Equal(t, http.StatusAccepted, rec.Code)
	require.Equal(t, string(want), rec.Body.String())

	bad := apitest.FullJob()
	bad.Args = json.RawMessage(`{`)
	rec = httptest.NewRecorder()
	writeJobList(rec, http.StatusOK, JobList{Jobs: []*jobsched.Job{bad}})
	require.Equal(t, http.StatusOK, rec.Code) // encoding/json's answer: the status, then nothing
	require.Empty(t, rec.Body.String())
}

// FuzzJobJSON: for any strings and raw JSON in a job, the hand-written list is encoding/json's.
func FuzzJobJSON(f *testing.F) {
	f.Add("sleep", `{"a":1}`, "u", "")
	f.Add("a<b>&c", "[1, 2]", "\u2028\u2029", "\xff")
	f.Add("\x00\x1f\"\\", `"x`, "é", "cursor")
	f.Add("", `  {"a" : "b c", "d": [true, null]}  `, "", "")
	f.Fuzz(func(t *testing.T, s, raw, key, cursor string) {
		j := apitest.FullJob()
		j.Kind, j.UniqueKey, j.Parents = s, key, []string{s, key}
		j.Args, j.Result = json.RawMessage(raw), json.RawMessage(raw)
		j.Errors = nil
		sameBytes(t, JobList{Jobs: []*jobsched.Job{j}, NextCursor: cursor})
	})
}

// FuzzAppendTime: appendTime writes t.MarshalJSON's bytes, or refuses when it does.
func FuzzAppendTime(f *testing.F) {
	f.Add(int64(0), int64(0), 0)
	f.Add(time.Now().Unix(), int64(123456789), 3600)
	f.Add(int64(-62135596800), int64(1), -86399)
	f.Add(int64(253402300800), int64(0), 86400)
	f.Add(int64(1e9), int64(0), 30)
	f.Fuzz(func(t *testing.T, sec, nsec int64, off int) {
		for _, loc := range []*time.Location{time.UTC, time.Local, time.FixedZone("z", off)} {
			tm := time.Unix(sec, nsec).In(loc)
			want, werr := tm.MarshalJSON()
			got, ok := appendTime(nil, tm)
			require.Equal(t, werr == nil, ok, "%v", tm)
			if ok {
				require.Equal(t, string(want), string(got))
			}
		}
	})
}
