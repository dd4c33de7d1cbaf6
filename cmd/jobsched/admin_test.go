package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jobsched/jobsched"
	"github.com/jobsched/jobsched/internal/client"
	"github.com/stretchr/testify/require"
)

// allowLoopbackHooks lets the http kind reach the tests' webhook server on 127.0.0.1.
const allowLoopbackHooks = `
http:
  allow_hosts: ["127.0.0.1"]
`

// hookServer is a webhook target that fails until fixed.
func hookServer(t *testing.T) (url string, fixed *atomic.Bool) {
	fixed = &atomic.Bool{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !fixed.Load() {
			http.Error(w, "mail server down", http.StatusBadGateway)
			return
		}
		fmt.Fprint(w, "delivered")
	}))
	t.Cleanup(srv.Close)
	return srv.URL, fixed
}

// deadHook enqueues an http job with one attempt against url and waits until it is dead.
func deadHook(t *testing.T, c *client.Client, url, category string) *jobsched.Job {
	t.Helper()
	j, err := c.Enqueue(context.Background(), jobsched.JobSpec{Kind: "http", Category: category, MaxAttempts: 1,
		Args: json.RawMessage(fmt.Sprintf(`{"url":%q}`, url))}, 0)
	require.NoError(t, err)
	return waitState(t, c, j.ID, jobsched.StateDead)
}

func TestDaemonRetryAndDeleteOneJob(t *testing.T) {
	d := startDaemon(t, "", allowLoopbackHooks)
	c := d.client()
	ctx := context.Background()
	url, fixed := hookServer(t)
	dead := deadHook(t, c, url, "")
	require.Contains(t, dead.LastError(), "status 502")

	st, _, body := call(t, "DELETE", d.addr+"/v1/jobs/"+dead.ID+"x", "")
	require.Equal(t, http.StatusNotFound, st, string(body))

	fixed.Store(true)
	j, err := c.Retry(ctx, dead.ID)
	require.NoError(t, err)
	require.Equal(t, jobsched.StateQueued, j.State)
	require.Equal(t, 2, j.MaxAttempts)
	j = waitState(t, c, dead.ID, jobsched.StateSucceeded)
	require.Equal(t, 2, j.Attempt)
	require.Len(t, j.Errors, 1)

	st, _, body = call(t, "POST", d.addr+"/v1/jobs/"+j.ID+"/retry", "")
	require.Equal(t, http.StatusConflict, st)
	code, _ := errorCode(t, body)
	require.Equal(t, "not_retryable", code)

	waiting, err := c.Enqueue(ctx, jobsched.JobSpec{Kind: "sleep", Delay: jobsched.Duration(time.Hour)}, 0)
	require.NoError(t, err)
	st, _, body = call(t, "DELETE", d.addr+"/v1/jobs/"+waiting.ID, "")
	require.Equal(t, http.StatusConflict, st)
	code, _ = errorCode(t, body)
	require.Equal(t, "not_finished", code)

	st, _, body = call(t, "DELETE", d.addr+"/v1/jobs/"+j.ID, "")
	require.Equal(t, http.StatusNoContent, st, string(body))
	require.Empty(t, body)
	_, err = c.Get(ctx, j.ID)
	var apiErr *client.APIError
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, http.StatusNotFound, apiErr.Status)
	require.Equal(t, 0, d.stop())
}

func TestDaemonBulkRetryAndCancel(t *testing.T) {
	d := startDaemon(t, "", allowLoopbackHooks+`
workers: 4
categories:
  - name: email
  - name: reports
`)
	c := d.client()
	ctx := context.Background()
	url, fixed := hookServer(t)
	var ids []string
	for i := 0; i < 5; i++ {
		ids = append(ids, deadHook(t, c, url, "email").ID)
	}
	other := deadHook(t, c, url, "reports")

	for _, bad := range []struct{ body, field string }{
		{`{}`, "filter"},
		{`{"category":"email","stat":"dead"}`, "body"},
		{`{"state":"succeeded"}`, "state"},
		{`{"category":"nope"}`, "category"},
	} {
		st, _, body := call(t, "POST", d.addr+"/v1/jobs/retry", bad.body, "Content-Type", "application/json")
		require.Equal(t, http.StatusBadRequest, st, bad.body)
		_, field := errorCode(t, body)
		require.Equal(t, bad.field, field, bad.body)
	}

	fixed.Store(true)
	n, err := c.RetryWhere(ctx, jobsched.Filter{Category: "email", State: jobsched.StateDead})
	require.NoError(t, err)
	require.Equal(t, 5, n)
	for _, id := range ids {
		waitState(t, c, id, jobsched.StateSucceeded)
	}
	j, err := c.Get(ctx, other.ID)
	require.NoError(t, err)
	require.Equal(t, jobsched.StateDead, j.State, "another category is untouched")

	later := jobsched.Duration(time.Hour)
	_, err = c.EnqueueBatch(ctx, []jobsched.JobSpec{{Kind: "sleep", Category: "reports", Delay: later}, {Kind: "sleep", Category: "reports", Delay: later}})
	require.NoError(t, err)
	n, err = c.CancelWhere(ctx, jobsched.Filter{Category: "reports", State: jobsched.StateScheduled})
	require.NoError(t, err)
	require.Equal(t, 2, n)
	require.Equal(t, 0, d.stop())
}

func TestCLIRetryDeleteAndBulk(t *testing.T) {
	d := startDaemon(t, "", allowLoopbackHooks)
	c := d.client()
	url, fixed := hookServer(t)
	first := deadHook(t, c, url, "")
	second := deadHook(t, c, url, "")
	run := func(args ...string) (string, error) {
		out, err := exec.Command(binary, append(args, "--addr", d.addr)...).CombinedOutput()
		return string(out), err
	}
	out, err := run("jobs", "--kind", "http", "--state", "dead", "--json")
	require.NoError(t, err, out)
	var page struct{ Jobs []jobsched.Job }
	require.NoError(t, json.Unmarshal([]byte(out), &page))
	require.Len(t, page.Jobs, 2, "jobs --kind lists the dead webhooks")
	fixed.Store(true)

	out, err = run("retry", first.ID)
	require.NoError(t, err, out)
	require.Regexp(t, `state\s+queued`, out)
	waitState(t, c, first.ID, jobsched.StateSucceeded)

	out, err = run("retry-all", "--category", "default")
	require.NoError(t, err, out)
	require.Equal(t, "retried 1 jobs\n", out, "retry-all retries dead jobs by default")
	waitState(t, c, second.ID, jobsched.StateSucceeded)

	out, err = run("delete", first.ID)
	require.NoError(t, err, out)
	require.Equal(t, "deleted "+first.ID+"\n", out)
	out, err = run("delete", first.ID)
	require.Error(t, err)
	require.Contains(t, out, "not_found")

	_, err = c.Enqueue(context.Background(), jobsched.JobSpec{Kind: "sleep", Delay: jobsched.Duration(time.Hour)}, 0)
	require.NoError(t, err)
	out, err = run("cancel-all", "--state", "scheduled", "--json")
	require.NoError(t, err, out)
	require.JSONEq(t, `{"count":1}`, out)
	out, err = run("cancel-all")
	require.Error(t, err, "an empty filter is refused")
	require.Contains(t, out, "invalid_argument")
}
