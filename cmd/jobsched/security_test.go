package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jobsched/jobsched"
	"github.com/stretchr/testify/require"
)

// request makes a raw request with a Host of its own ("" keeps the URL's).
func request(t *testing.T, method, url, host, body string, hdr ...string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	require.NoError(t, err)
	if host != "" {
		req.Host = host
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, b
}

func (d *proc) port(t *testing.T) string {
	_, port, err := net.SplitHostPort(strings.TrimPrefix(d.addr, "http://"))
	require.NoError(t, err)
	return port
}

// requireNothingStored fails if the daemon holds any job.
func requireNothingStored(t *testing.T, d *proc) {
	t.Helper()
	page, err := d.client().List(context.Background(), jobsched.ListOptions{})
	require.NoError(t, err)
	require.Empty(t, page.Jobs, "a refused request stored nothing")
}

// A web page cannot drive a daemon on a laptop: not with a form, not with text/plain, not from
// another origin, not through a DNS name rebound to 127.0.0.1.
func TestDaemonRefusesCrossSiteRequestsAndRebinding(t *testing.T) {
	d := startDaemon(t, "", "", "--allowed-host", "jobs.example.test,ops.example.test:8443")
	port := d.port(t)
	job := `{"kind":"sleep","args":{"ms":1}}`
	cases := []struct {
		name, method, path, host, body string
		hdr                            []string
		status                         int
		code                           string
	}{
		{"a form post", "POST", "/v1/jobs", "", "kind=sleep", []string{"Content-Type", "application/x-www-form-urlencoded"}, 415, "unsupported_media_type"},
		{"a text/plain post", "POST", "/v1/jobs", "", job, []string{"Content-Type", "text/plain"}, 415, "unsupported_media_type"},
		{"a body with no type", "POST", "/v1/jobs/batch", "", `{"jobs":[` + job + `]}`, []string{"Content-Type", ""}, 415, "unsupported_media_type"},
		{"a foreign Origin", "POST", "/v1/jobs", "", job, []string{"Origin", "http://evil.example"}, 403, "cross_origin"},
		{"a foreign Origin, no body", "POST", "/v1/categories/default/pause", "", "", []string{"Origin", "https://evil.example"}, 403, "cross_origin"},
		{"localhost on another port", "POST", "/v1/categories/default/pause", "", "", []string{"Origin", "http://localhost:3000"}, 403, "cross_origin"},
		{"an opaque Origin", "POST", "/v1/categories/default/pause", "", "", []string{"Origin", "null"}, 403, "cross_origin"},
		{"Sec-Fetch-Site without Origin", "POST", "/v1/categories/default/pause", "", "", []string{"Sec-Fetch-Site", "cross-site"}, 403, "cross_origin"},
		{"a rebound name (GET)", "GET", "/v1/jobs", "attacker.example:" + port, "", nil, 403, "forbidden_host"},
		{"a rebound name (POST)", "POST", "/v1/jobs", "attacker.example:" + port, job, nil, 403, "forbidden_host"},
		{"a rebound name without port", "GET", "/v1/categories", "attacker.example", "", nil, 403, "forbidden_host"},
		{"localhost on another port as Host", "GET", "/v1/jobs", "localhost:1", "", nil, 403, "forbidden_host"},
		{"an allowed host on the wrong port", "GET", "/v1/jobs", "ops.example.test:9999", "", nil, 403, "forbidden_host"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st, b := request(t, tc.method, d.addr+tc.path, tc.host, tc.body, tc.hdr...)
			require.Equal(t, tc.status, st, string(b))
			code, _ := errorCode(t, b)
			require.Equal(t, tc.code, code, string(b))
		})
	}
	requireNothingStored(t, d)
	cats, err := d.client().Categories(context.Background())
	require.NoError(t, err)
	require.False(t, cats[0].Paused, "no refused request paused the category")

	// What a daemon's own callers send is accepted.
	ok := []struct {
		name, method, path, host, body string
		hdr                            []string
		status                         int
	}{
		{"localhost", "GET", "/v1/jobs", "localhost:" + port, "", nil, 200},
		{"[::1]", "GET", "/v1/jobs", "[::1]:" + port, "", nil, 200},
		{"an allowed name, any port", "GET", "/v1/jobs", "JOBS.example.test", "", nil, 200},
		{"an allowed name:port", "GET", "/v1/jobs", "ops.example.test:8443", "", nil, 200},
		{"a same-origin page", "POST", "/v1/jobs", "", job, []string{"Origin", d.addr, "Content-Type", "application/json; charset=utf-8"}, 201},
		{"a page on an allowed name", "POST", "/v1/jobs", "jobs.example.test", job, []string{"Origin", "https://jobs.example.test", "Content-Type", "application/json"}, 201},
		{"a GET from anywhere (the browser keeps the answer from the page)", "GET", "/v1/categories", "", "", []string{"Origin", "http://evil.example"}, 200},
		{"a POST with no body and no type", "POST", "/v1/jobs/01a20c9e-10ad-74b2-b1c7-dd52de5e1d6a/cancel", "", "", nil, 404},
	}
	for _, tc := range ok {
		t.Run(tc.name, func(t *testing.T) {
			st, b := request(t, tc.method, d.addr+tc.path, tc.host, tc.body, tc.hdr...)
			require.Equal(t, tc.status, st, string(b))
		})
	}
	_, hdr, _ := call(t, "GET", d.addr+"/v1/categories", "", "Origin", "http://evil.example")
	require.Empty(t, hdr.Get("Access-Control-Allow-Origin"), "no CORS: another origin cannot read answers")
}

// Each job is checked at enqueue: a kind without a handler, bad args, an http job aimed at a
// non-public address, an exec job setting a variable it may not. The answer names the field and
// nothing is stored.
func TestDaemonChecksJobsAtEnqueue(t *testing.T) {
	root := t.TempDir()
	d := startDaemon(t, "", fmt.Sprintf(`
exec:
  allow: [/bin/sh]
  env: [GREETING]
  dir_roots: [%s]
`, root))
	self := strings.TrimPrefix(d.addr, "http://")
	cases := []struct{ body, field string }{
		{`{"kind":"no-such-kind"}`, "kind"},
		{`{"kind":"sleep","args":"x"}`, "args"},
		{`{"kind":"sleep","args":{"ms":-5}}`, "args.ms"},
		{`{"kind":"sleep","args":{"ms":"ten"}}`, "args.ms"},
		{`{"kind":"sleep","args":{"fail_rate":3}}`, "args.fail_rate"},
		{`{"kind":"sleep","args":{"msec":1}}`, "args.msec"},
		{`{"kind":"http","args":{}}`, "args.url"},
		{`{"kind":"http","args":{"url":"http://` + self + `/v1/categories/default/pause"}}`, "args.url"},
		{`{"kind":"http","args":{"url":"http://169.254.169.254/latest/meta-data/"}}`, "args.url"},
		{`{"kind":"http","args":{"url":"http://[::ffff:127.0.0.1]:` + d.port(t) + `/v1/categories/default/pause"}}`, "args.url"},
		{`{"kind":"http","args":{"url":"http://[::1]/"}}`, "args.url"},
		{`{"kind":"http","args":{"url":"http://10.0.0.1/"}}`, "args.url"},
		{`{"kind":"http","args":{"url":"file:///etc/passwd"}}`, "args.url"},
		{`{"kind":"exec","args":{"argv":["/usr/bin/env"]}}`, "args.argv"},
		{`{"kind":"exec","args":{"argv":["/bin/sh","-c","id"],"env":{"LD_PRELOAD":"/tmp/evil.so"}}}`, "args.env.LD_PRELOAD"},
		{`{"kind":"exec","args":{"argv":["/bin/sh","-c","id"],"env":{"BASH_ENV":"/tmp/evil"}}}`, "args.env.BASH_ENV"},
		{`{"kind":"exec","args":{"argv":["/bin/sh","-c","id"],"dir":"/etc"}}`, "args.dir"},
	}
	for _, tc := range cases {
		st, _, b := call(t, "POST", d.addr+"/v1/jobs", tc.body)
		require.Equal(t, 400, st, tc.body)
		code, field := errorCode(t, b)
		require.Equal(t, "invalid_argument", code, tc.body)
		require.Equal(t, tc.field, field, tc.body)
	}
	st, _, b := call(t, "POST", d.addr+"/v1/jobs/batch", `{"jobs":[{"kind":"sleep"},{"kind":"sleep","args":{"ms":-1}}]}`)
	require.Equal(t, 400, st)
	_, field := errorCode(t, b)
	require.Equal(t, "jobs[1].args.ms", field)
	requireNothingStored(t, d)

	// What the policy allows runs.
	j, err := d.client().Enqueue(context.Background(), jobsched.JobSpec{Kind: "exec",
		Args: json.RawMessage(`{"argv":["/bin/sh","-c","echo $GREETING; echo $LD_PRELOAD"],"env":{"GREETING":"hi"},"dir":"` + root + `"}`)}, 30*time.Second)
	require.NoError(t, err)
	require.Equal(t, jobsched.StateSucceeded, j.State, "%+v", j.Errors)
	require.JSONEq(t, `{"exit_code":0,"stdout":"hi\n\n","stderr":""}`, string(j.Result))
}

// The http kind checks the address it dials and every redirect: a name resolving to loopback
// and a redirect from an allowed name to the daemon's own API are refused, and the daemon's
// category stays unpaused.
func TestDaemonHTTPKindReachesOnlyWhatItMay(t *testing.T) {
	var pauseURL atomic.Value
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/ok" {
			_, _ = w.Write([]byte("fine"))
			return
		}
		http.Redirect(w, r, pauseURL.Load().(string), http.StatusTemporaryRedirect)
	}))
	defer redirector.Close()
	_, rport, err := net.SplitHostPort(redirector.Listener.Addr().String())
	require.NoError(t, err)

	// "localhost" is allowed by name; 127.0.0.1 (the daemon's own address) is not.
	d := startDaemon(t, "", `
http:
  allow_hosts: [localhost]
`)
	pauseURL.Store(d.addr + "/v1/categories/default/pause")
	c := d.client()
	ctx := context.Background()
	run := func(url string) *jobsched.Job {
		j, err := c.Enqueue(ctx, jobsched.JobSpec{Kind: "http", MaxAttempts: 1,
			Args: json.RawMessage(`{"url":"` + url + `"}`)}, 30*time.Second)
		require.NoError(t, err)
		return j
	}
	ok := run("http://localhost:" + rport + "/ok")
	require.Equal(t, jobsched.StateSucceeded, ok.State, "%+v", ok.Errors)

	redirected := run("http://localhost:" + rport + "/go")
	require.Equal(t, jobsched.StateDead, redirected.State)
	require.Contains(t, redirected.Errors[0].Error, "redirect")
	require.Contains(t, redirected.Errors[0].Error, "not allowed")

	cats, err := c.Categories(ctx)
	require.NoError(t, err)
	require.False(t, cats[0].Paused, "the http kind never reached the daemon's API")

	// Without the name allowed, the address a name resolves to is checked when dialled.
	d2 := startDaemon(t, "", "")
	j, err := d2.client().Enqueue(ctx, jobsched.JobSpec{Kind: "http", MaxAttempts: 1,
		Args: json.RawMessage(`{"url":"http://localhost:` + d2.port(t) + `/v1/categories/default/pause"}`)}, 30*time.Second)
	require.NoError(t, err)
	require.Equal(t, jobsched.StateDead, j.State)
	require.Contains(t, j.Errors[0].Error, "not allowed")
	cats, err = d2.client().Categories(ctx)
	require.NoError(t, err)
	require.False(t, cats[0].Paused)
}

// Event streams and request bodies in flight are bounded: one more gets 503 "overloaded" with
// Retry-After, and room comes back when they end.
func TestDaemonBoundsStreamsAndBodiesInFlight(t *testing.T) {
	d := startDaemon(t, "", "")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// 64 event streams are served; the 65th is refused.
	var streams []*http.Response
	defer func() {
		for _, r := range streams {
			r.Body.Close()
		}
	}()
	for range 64 {
		req, err := http.NewRequestWithContext(ctx, "GET", d.addr+"/v1/events", nil)
		require.NoError(t, err)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		require.Equal(t, 200, resp.StatusCode)
		streams = append(streams, resp)
	}
	st, hdr, b := call(t, "GET", d.addr+"/v1/events", "")
	require.Equal(t, 503, st)
	require.Equal(t, "1", hdr.Get("Retry-After"))
	code, _ := errorCode(t, b)
	require.Equal(t, "overloaded", code)
	streams[0].Body.Close()
	streams = streams[1:]
	require.Eventually(t, func() bool {
		req, err := http.NewRequestWithContext(ctx, "GET", d.addr+"/v1/events", nil)
		require.NoError(t, err)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		if resp.StatusCode == 200 {
			streams = append(streams, resp)
			return true
		}
		resp.Body.Close()
		return false
	}, 10*time.Second, 20*time.Millisecond, "a closed stream gives its place back")

	// A batch body of unknown length holds the batch limit (64 MiB) of the 256 MiB in flight:
	// four slow senders fill the budget, and a fifth is refused until they finish.
	//
	// Each sender asks "Expect: 100-continue" and its transport waits for the 100 however long
	// it takes, so its first body write returns only once the daemon has begun reading the
	// body, which it does only after the body's bytes were taken from the budget: when the
	// probe below runs, all four hold their 64 MiB. (Without that wait, a write returned as
	// soon as the bytes sat in a socket buffer, a probe could take its 64 MiB before the
	// fourth sender's handler ran, and that sender, not the probe, was refused.)
	senders := &http.Transport{ExpectContinueTimeout: time.Hour}
	defer senders.CloseIdleConnections()
	var wg sync.WaitGroup
	var writers []*io.PipeWriter
	status := make([]int, 4)
	for i := range 4 {
		pr, pw := io.Pipe()
		writers = append(writers, pw)
		req, err := http.NewRequestWithContext(ctx, "POST", d.addr+"/v1/jobs/batch", pr)
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Expect", "100-continue")
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := senders.RoundTrip(req)
			if err != nil {
				pr.CloseWithError(err)
				return
			}
			defer resp.Body.Close()
			// The answer ends only when the handler has returned, its budget given back.
			if _, err := io.Copy(io.Discard, resp.Body); err == nil {
				status[i] = resp.StatusCode
			}
		}()
		// Returns once the daemon holds this body's budget (or fails if it was refused).
		_, err = pw.Write([]byte(`{"jobs":[`))
		require.NoError(t, err, "a sender within the budget is admitted")
	}
	probe := func() int {
		req, err := http.NewRequestWithContext(ctx, "POST", d.addr+"/v1/jobs/batch", io.NopCloser(strings.NewReader(`{"jobs":[{"kind":"sleep"}]}`)))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		if resp.StatusCode == 503 {
			require.Equal(t, "1", resp.Header.Get("Retry-After"))
			b, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			code, _ := errorCode(t, b)
			require.Equal(t, "overloaded", code)
		}
		return resp.StatusCode
	}
	require.Equal(t, 503, probe(), "a fifth body beyond the budget is refused")
	for _, w := range writers {
		_, err := w.Write([]byte(`{"kind":"sleep"}]}`))
		require.NoError(t, err)
		require.NoError(t, w.Close())
	}
	wg.Wait()
	require.Equal(t, []int{201, 201, 201, 201}, status, "the four bodies within the budget are served")
	require.Equal(t, 201, probe(), "the budget is given back when the bodies are done")
}

// A bad security setting stops the start with an error naming its key.
func TestDaemonRefusesBadSecurityConfig(t *testing.T) {
	for _, tc := range []struct{ yaml, key string }{
		{"exec:\n  env: [\"LD PRELOAD\"]\n", "exec.env[0]"},
		{"exec:\n  dir_roots: [relative/dir]\n", "exec.dir_roots[0]"},
		{"http:\n  allow_hosts: [\"10.0.0.0/8\", \"http://x/\"]\n", "http.allow_hosts[1]"},
		{"allowed_hosts: [\"a b\"]\n", "allowed_hosts[0]"},
		{"periodic:\n  - cron: \"@every 1s\"\n    kind: no-such-kind\n", "periodic[0].kind"},
		{"http:\n  allow_host: [x]\n", "allow_host"},
	} {
		f := filepath.Join(t.TempDir(), "sec.yaml")
		require.NoError(t, os.WriteFile(f, []byte(tc.yaml), 0o600))
		out, err := exec.Command(binary, "serve", "--listen", "127.0.0.1:0", "--config", f, "--data", t.TempDir()).CombinedOutput()
		require.Error(t, err, tc.yaml)
		require.Contains(t, string(out), tc.key, tc.yaml)
	}
}
