package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"testing"

	"github.com/jobsched/jobsched"
	"github.com/stretchr/testify/require"
)

// Issue 15 through the real daemon: retrying a dead parent brings back its cancelled
// dependents with ?dependents=true (the CLI's --dependents), and only then.
func TestDaemonRetryRevivesDependentsOnlyIfAsked(t *testing.T) {
	d := startDaemon(t, "", allowLoopbackHooks)
	c := d.client()
	ctx := context.Background()
	url, fixed := hookServer(t)
	dag := func() []*jobsched.Job {
		jobs, err := c.EnqueueBatch(ctx, []jobsched.JobSpec{
			{Kind: "http", MaxAttempts: 1, Args: json.RawMessage(fmt.Sprintf(`{"url":%q}`, url))},
			{Kind: "sleep", DependsOn: []string{"#0"}},
			{Kind: "sleep", DependsOn: []string{"#1"}},
		})
		require.NoError(t, err)
		waitState(t, c, jobs[0].ID, jobsched.StateDead)
		waitState(t, c, jobs[2].ID, jobsched.StateCancelled)
		return jobs
	}
	plain, revived := dag(), dag()

	st, _, body := call(t, "POST", d.addr+"/v1/jobs/"+plain[0].ID+"/retry?dependents=maybe", "")
	require.Equal(t, 400, st, string(body))
	code, field := errorCode(t, body)
	require.Equal(t, "invalid_argument", code)
	require.Equal(t, "dependents", field)

	fixed.Store(true)
	st, _, body = call(t, "POST", d.addr+"/v1/jobs/"+plain[0].ID+"/retry", "")
	require.Equal(t, 200, st, string(body))
	waitState(t, c, plain[0].ID, jobsched.StateSucceeded)
	for _, j := range plain[1:] {
		got, err := c.Get(ctx, j.ID)
		require.NoError(t, err)
		require.Equal(t, jobsched.StateCancelled, got.State, "without dependents=true they stay cancelled")
	}

	out, err := exec.Command(binary, "retry", revived[0].ID, "--dependents", "--addr", d.addr).CombinedOutput()
	require.NoError(t, err, string(out))
	require.Regexp(t, `state\s+queued`, string(out))
	parent := waitState(t, c, revived[0].ID, jobsched.StateSucceeded)
	child := waitState(t, c, revived[1].ID, jobsched.StateSucceeded)
	grandchild := waitState(t, c, revived[2].ID, jobsched.StateSucceeded)
	require.False(t, child.StartedAt.Before(*parent.FinishedAt), "the child started after its parent finished")
	require.False(t, grandchild.StartedAt.Before(*child.FinishedAt))
	require.Equal(t, 0, d.stop())
}
