package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/jobsched/jobsched"
	"github.com/stretchr/testify/require"
)

// Issue 15 through the real daemon: a batch whose entries depend on earlier ones ("#N"), the
// job object's parents and children, and the 400s naming the field.
func TestDaemonRunsABatchDAG(t *testing.T) {
	d := startDaemon(t, "", "")
	c := d.client()
	st, _, b := call(t, "POST", d.addr+"/v1/jobs/batch", `{"jobs":[
		{"kind":"sleep","args":{"ms":5}},
		{"kind":"sleep","args":{"ms":5}},
		{"kind":"sleep","depends_on":["#0","#1"]},
		{"kind":"sleep","args":{"fail_rate":1},"max_attempts":1},
		{"kind":"sleep","depends_on":["#3"]},
		{"kind":"sleep","depends_on":["#3"],"on_parent_failure":"run"}]}`)
	require.Equal(t, 201, st, string(b))
	var out struct{ Jobs []*jobsched.Job }
	require.NoError(t, json.Unmarshal(b, &out))
	require.Len(t, out.Jobs, 6)
	require.Equal(t, jobsched.StatePending, out.Jobs[2].State)
	require.Equal(t, []string{out.Jobs[0].ID, out.Jobs[1].ID}, out.Jobs[2].Parents)

	fanIn := waitState(t, c, out.Jobs[2].ID, jobsched.StateSucceeded)
	require.Equal(t, []string{out.Jobs[0].ID, out.Jobs[1].ID}, fanIn.Parents)
	cancelled := waitState(t, c, out.Jobs[4].ID, jobsched.StateCancelled)
	require.Contains(t, cancelled.LastError(), "parent "+out.Jobs[3].ID+" ended dead")
	waitState(t, c, out.Jobs[5].ID, jobsched.StateSucceeded)
	parent := waitState(t, c, out.Jobs[0].ID, jobsched.StateSucceeded)
	require.Equal(t, []string{out.Jobs[2].ID}, parent.Children)

	for _, tc := range []struct{ path, body, field string }{
		{"/v1/jobs/batch", `{"jobs":[{"kind":"sleep","depends_on":["#1"]},{"kind":"sleep"}]}`, "jobs[0].depends_on[0]"},
		{"/v1/jobs/batch", `{"jobs":[{"kind":"sleep"},{"kind":"sleep","depends_on":["#0","#1"]}]}`, "jobs[1].depends_on[1]"},
		{"/v1/jobs", `{"kind":"sleep","depends_on":["0190a0a0-0000-7000-8000-000000000000"]}`, "depends_on[0]"},
		{"/v1/jobs", `{"kind":"sleep","depends_on":["` + out.Jobs[0].ID + `"],"on_parent_failure":"maybe"}`, "on_parent_failure"},
		{"/v1/jobs", `{"kind":"sleep","depends_on":"` + out.Jobs[0].ID + `"}`, "depends_on"},
	} {
		st, _, b := call(t, "POST", d.addr+tc.path, tc.body)
		require.Equal(t, 400, st, "%s: %s", tc.body, b)
		code, field := errorCode(t, b)
		require.Equal(t, "invalid_argument", code)
		require.Equal(t, tc.field, field, strings.TrimSpace(string(b)))
	}
}
