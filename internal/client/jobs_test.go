package client

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/jobsched/jobsched"
	"github.com/jobsched/jobsched/internal/apitest"
	"github.com/jobsched/jobsched/internal/httpapi"
	"github.com/stretchr/testify/require"
)

// sameAsEncodingJSON checks decodeJobList against encoding/json on raw: whatever the fast path
// takes, encoding/json takes and decodes to the same page. It returns whether the fast path
// took it.
func sameAsEncodingJSON(t *testing.T, raw []byte) bool {
	got, ok := decodeJobList(raw)
	if !ok {
		return false
	}
	var want httpapi.JobList
	require.NoError(t, json.Unmarshal(raw, &want), "the fast path took what encoding/json refuses: %q", raw)
	require.Equal(t, &want, got, "%s", raw)
	return true
}

// page is a page as the daemon writes it (httpapi's hand-written encoder writes encoding/json's
// bytes, which its own tests check).
func page(t *testing.T, list httpapi.JobList) []byte {
	raw, err := json.Marshal(list)
	require.NoError(t, err)
	return append(raw, '\n')
}

// The pages the daemon writes take the fast path, and decode as encoding/json decodes them.
func TestDecodeJobListIsEncodingJSONs(t *testing.T) {
	now := time.Now().UTC()
	fin := now.Add(time.Millisecond)
	done := &jobsched.Job{ID: "0193-b", Kind: "sleep", Category: "default", Args: json.RawMessage(`{"fail_rate":0,"ms":0,"panic_rate":0,"seed":1}`),
		State: jobsched.StateSucceeded, Attempt: 1, MaxAttempts: 3, CreatedAt: now, RunAt: now, StartedAt: &now, FinishedAt: &fin}
	local := time.Now()
	for _, list := range []httpapi.JobList{
		{Jobs: []*jobsched.Job{done, apitest.FullJob(), {}}, NextCursor: "cur<&>"},
		{Jobs: []*jobsched.Job{{ID: "x", CreatedAt: local, RunAt: local}}},
		{Jobs: []*jobsched.Job{}},
		{},
	} {
		require.True(t, sameAsEncodingJSON(t, page(t, list)), "the fast path takes %s", page(t, list))
	}
	odd := apitest.FullJob()
	odd.Kind = "a\x00b\"\\\x7f\xff"
	odd.Args = json.RawMessage("[\"\xff\", \"\u2028\"]")
	sameAsEncodingJSON(t, page(t, httpapi.JobList{Jobs: []*jobsched.Job{odd}}))
	for _, raw := range []string{
		`{"jobs":[{"id":"a","id":"b"}]}`, `{"jobs":[{"id":null}]}`, `{"jobs":[{"ID":"a"}]}`, `{"jobs":[{"attempt":1.5}]}`,
		`{"jobs":[{"attempt":-1}]}`, `{"jobs":[{"args":{"a":}}]}`, `{"jobs":[{"created_at":"yesterday"}]}`, `{"jobs":[{"x":1}]}`,
		`{"jobs":[{"id":"a"}]`, `{"jobs":[{"id":"a"}]}x`, `{"next_cursor":"c","jobs":[]}`, `{"jobs":[{"cancel_requested":1}]}`,
		`{"jobs":[{"progress":{"percent":1},"progress":{"message":"m"}}]}`, `{"jobs":[{"timeout":"5"}]}`, `{"jobs":[{"attempt":01}]}`,
	} {
		require.False(t, sameAsEncodingJSON(t, []byte(raw)), "the fast path leaves %s to encoding/json", raw)
	}
	require.True(t, sameAsEncodingJSON(t, []byte(` { "jobs" : [ { "id" : "a" , "attempt" : 0 , "cancel_requested" : false } ] , "next_cursor" : "n" } `)))
}

// FuzzDecodeJobList: whatever page the fast path takes, encoding/json takes and decodes the same.
func FuzzDecodeJobList(f *testing.F) {
	for _, j := range []*jobsched.Job{apitest.FullJob(), {}} {
		raw, err := json.Marshal(httpapi.JobList{Jobs: []*jobsched.Job{j, j}, NextCursor: "c"})
		require.NoError(f, err)
		f.Add(string(raw))
	}
	f.Add(`{"jobs":[{"id":"a\u00e9","args":[1,{"b":"}"}],"parents":["x","y\n"]}]}`)
	f.Add(`{"jobs":null}`)
	f.Fuzz(func(t *testing.T, raw string) {
		sameAsEncodingJSON(t, []byte(raw))
	})
}

// BenchmarkDecodeJobList decodes a page of 1,000 finished jobs as the tester's check reads them:
// the fast path, and encoding/json for comparison.
func BenchmarkDecodeJobList(b *testing.B) {
	now := time.Now().UTC()
	list := httpapi.JobList{NextCursor: "c"}
	for i := range 1000 {
		start, fin := now.Add(time.Millisecond), now.Add(2*time.Millisecond)
		list.Jobs = append(list.Jobs, &jobsched.Job{ID: fmt.Sprintf("0193a2b4-5c6d-7e8f-9a0b-%012d", i), Kind: "sleep", Category: "default",
			Args:  json.RawMessage(fmt.Sprintf(`{"fail_rate":0,"ms":0,"panic_rate":0,"seed":%d}`, i)),
			State: jobsched.StateSucceeded, Attempt: 1, MaxAttempts: 3, CreatedAt: now, RunAt: now, StartedAt: &start, FinishedAt: &fin})
	}
	raw, err := json.Marshal(list)
	require.NoError(b, err)
	b.Run("fast", func(b *testing.B) {
		for b.Loop() {
			if _, ok := decodeJobList(raw); !ok {
				b.Fatal("not taken")
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		for b.Loop() {
			var out httpapi.JobList
			require.NoError(b, json.Unmarshal(raw, &out))
		}
	})
}
