package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jobsched/jobsched"
	"github.com/jobsched/jobsched/internal/client"
	"github.com/jobsched/jobsched/internal/daemon"
	"github.com/jobsched/jobsched/internal/pgtest"
	"github.com/stretchr/testify/require"
)

// binary is the jobsched binary built once for these tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "jobsched-bin")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "jobsched")
	args := []string{"build", "-o", binary}
	if raceEnabled {
		args = append(args, "-race")
	}
	out, err := exec.Command("go", append(args, ".")...).CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build jobsched: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	pgtest.StopShared()
	os.RemoveAll(dir)
	os.Exit(code)
}

// proc is a jobsched serve process.
type proc struct {
	t    *testing.T
	cmd  *exec.Cmd
	addr string
	data string
	logs *syncBuffer
	done chan struct{}
	err  error
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startDaemon runs "jobsched serve" on a free loopback port and data (a temp dir if ""), with
// the YAML config given (if any), and waits until it is ready.
func startDaemon(t *testing.T, data, config string, extra ...string) *proc {
	t.Helper()
	if data == "" {
		data = t.TempDir()
	}
	args := []string{"serve", "--listen", "127.0.0.1:0", "--data", data}
	if config != "" {
		f := filepath.Join(t.TempDir(), "jobsched.yaml")
		require.NoError(t, os.WriteFile(f, []byte(config), 0o600))
		args = append(args, "--config", f)
	}
	d := &proc{t: t, data: data, logs: &syncBuffer{}, done: make(chan struct{})}
	d.cmd = exec.Command(binary, append(args, extra...)...)
	pr, pw := io.Pipe()
	d.cmd.Stderr = io.MultiWriter(d.logs, pw)
	d.cmd.Stdout = d.logs
	require.NoError(t, d.cmd.Start())
	go func() {
		d.err = d.cmd.Wait()
		pw.Close()
		close(d.done)
	}()
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if a, ok := daemon.ServingAddr(sc.Text()); ok {
				if strings.Contains(sc.Text(), " tls=true") {
					a = "https://" + a
				} else {
					a = "http://" + a
				}
				select {
				case addr <- a:
				default:
				}
			}
		}
	}()
	select {
	case a := <-addr:
		d.addr = a
	case <-d.done:
		t.Fatalf("daemon exited: %v\n%s", d.err, d.logs)
	case <-time.After(30 * time.Second):
		t.Fatalf("daemon did not start\n%s", d.logs)
	}
	t.Cleanup(func() { d.kill() })
	return d
}

func (d *proc) kill() {
	select {
	case <-d.done:
	default:
		_ = d.cmd.Process.Kill()
		<-d.done
	}
}

// stop sends SIGTERM and waits for the exit code.
func (d *proc) stop() int {
	d.t.Helper()
	require.NoError(d.t, d.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-d.done:
	case <-time.After(60 * time.Second):
		d.t.Fatalf("daemon did not stop\n%s", d.logs)
	}
	return d.cmd.ProcessState.ExitCode()
}

func (d *proc) client() *client.Client { return client.New(d.addr, "") }

// call makes a raw request and returns the status, headers and body. A body is sent as
// application/json unless hdr sets another Content-Type.
func call(t *testing.T, method, url, body string, hdr ...string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	require.NoError(t, err)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header, b
}

func errorCode(t *testing.T, b []byte) (code, field string) {
	t.Helper()
	var e struct {
		Error struct{ Code, Field, Message string }
	}
	require.NoError(t, json.Unmarshal(b, &e), string(b))
	return e.Error.Code, e.Error.Field
}

func waitState(t *testing.T, c *client.Client, id string, want jobsched.State) *jobsched.Job {
	t.Helper()
	var j *jobsched.Job
	require.Eventually(t, func() bool {
		var err error
		j, err = c.Get(context.Background(), id)
		return err == nil && j.State == want
	}, 30*time.Second, 10*time.Millisecond, "job %s never became %s", id, want)
	return j
}

func TestDaemonHappyPaths(t *testing.T) {
	d := startDaemon(t, "", "")
	c := d.client()
	ctx := context.Background()

	st, _, body := call(t, "GET", d.addr+"/healthz", "")
	require.Equal(t, 200, st, string(body))
	st, _, _ = call(t, "GET", d.addr+"/readyz", "")
	require.Equal(t, 200, st)

	j, err := c.Enqueue(ctx, jobsched.JobSpec{Kind: "sleep", Args: json.RawMessage(`{"ms":10}`)}, 0)
	require.NoError(t, err)
	require.Equal(t, jobsched.StateQueued, j.State)
	j = waitState(t, c, j.ID, jobsched.StateSucceeded)
	require.JSONEq(t, `{"slept_ms":10}`, string(j.Result))

	done, err := c.Enqueue(ctx, jobsched.JobSpec{Kind: "sleep", Args: json.RawMessage(`{"ms":20}`)}, 10*time.Second)
	require.NoError(t, err)
	require.Equal(t, jobsched.StateSucceeded, done.State, "?wait answers with the finished job")

	batch, err := c.EnqueueBatch(ctx, []jobsched.JobSpec{{Kind: "sleep"}, {Kind: "sleep", Delay: jobsched.Duration(time.Hour)}})
	require.NoError(t, err)
	require.Len(t, batch, 2)
	require.Equal(t, jobsched.StateScheduled, batch[1].State)
	cancelled, err := c.Cancel(ctx, batch[1].ID)
	require.NoError(t, err)
	require.Equal(t, jobsched.StateCancelled, cancelled.State)

	page, err := c.List(ctx, jobsched.ListOptions{Limit: 2})
	require.NoError(t, err)
	require.Len(t, page.Jobs, 2)
	require.Equal(t, batch[1].ID, page.Jobs[0].ID, "newest first")
	require.NotEmpty(t, page.NextCursor)
	next, err := c.List(ctx, jobsched.ListOptions{Limit: 10, Cursor: page.NextCursor})
	require.NoError(t, err)
	require.Len(t, next.Jobs, 2)
	require.Empty(t, next.NextCursor)
	onlyCancelled, err := c.List(ctx, jobsched.ListOptions{State: jobsched.StateCancelled})
	require.NoError(t, err)
	require.Len(t, onlyCancelled.Jobs, 1)

	cats, err := c.Categories(ctx)
	require.NoError(t, err)
	require.Len(t, cats, 1)
	require.Equal(t, "default", cats[0].Name)
	require.GreaterOrEqual(t, cats[0].Counters[jobsched.StateSucceeded], 2)

	paused, err := c.Pause(ctx, "default", false)
	require.NoError(t, err)
	require.True(t, paused.Paused)
	held, err := c.Enqueue(ctx, jobsched.JobSpec{Kind: "sleep"}, 0)
	require.NoError(t, err)
	time.Sleep(200 * time.Millisecond)
	g, err := c.Get(ctx, held.ID)
	require.NoError(t, err)
	require.Equal(t, jobsched.StateQueued, g.State, "a paused category starts nothing")
	_, err = c.Pause(ctx, "default", true)
	require.NoError(t, err)
	waitState(t, c, held.ID, jobsched.StateSucceeded)
	st, _, body = call(t, "POST", d.addr+"/v1/jobs", `{"kind":"sleep","fairness_key":"tenant-1"}`)
	require.Equal(t, 201, st, string(body))
	var fair jobsched.Job
	require.NoError(t, json.Unmarshal(body, &fair))
	require.Equal(t, "tenant-1", fair.FairnessKey)
	require.Equal(t, "tenant-1", waitState(t, c, fair.ID, jobsched.StateSucceeded).FairnessKey, "the key is stored")

	tree, err := c.Tree(ctx)
	require.NoError(t, err)
	require.Equal(t, "RootSupervisor", tree.Role)
	require.Equal(t, "default", tree.Children[0].Children[0].Name)

	st, _, body = call(t, "GET", d.addr+"/metrics", "")
	require.Equal(t, 200, st)
	require.Contains(t, string(body), `jobsched_jobs_enqueued_total{category="default",kind="sleep"}`)
	require.Contains(t, string(body), `jobsched_workers_allocated{category="default"}`)
	require.Contains(t, string(body), `jobsched_store_sync_seconds_bucket`)

	st, _, body = call(t, "GET", d.addr+"/", "")
	require.Equal(t, 200, st)
	require.Contains(t, string(body), "<title>jobsched</title>")

	require.Equal(t, 0, d.stop())
}

func TestDaemonErrorCodes(t *testing.T) {
	d := startDaemon(t, "", `
categories:
  - name: default
    queue_limit: 2
  - name: other
`)
	ctx := context.Background()
	c := d.client()
	post := func(path, body string) (int, http.Header, []byte) { return call(t, "POST", d.addr+path, body) }

	cases := []struct {
		body, field string
	}{
		{`{"kind":"sleep","max_attemps":3}`, "max_attemps"},
		{`{"kind":""}`, "kind"},
		{`{"kind":"sleep","delay":"soon"}`, "delay"},
		{`{"kind":"sleep","delay":30}`, "delay"},
		{`{"kind":"sleep","max_attempts":0}`, "max_attempts"},
		{`{"kind":"sleep","category":"nope"}`, "category"},
		{`{"kind":"sleep","run_at":"tomorrow"}`, "run_at"},
		{`{"kind":"sleep","args":{"ms":1}`, "body"},
		{`[1,2]`, "body"},
		{`{"kind":7}`, "kind"},
		{`{"kind":"sleep","fairness_key":"` + strings.Repeat("t", 201) + `"}`, "fairness_key"},
		{`{"kind":"sleep","fairness_key":3}`, "fairness_key"},
	}
	for _, tc := range cases {
		st, _, b := post("/v1/jobs", tc.body)
		require.Equal(t, 400, st, tc.body)
		code, field := errorCode(t, b)
		require.Equal(t, "invalid_argument", code, tc.body)
		require.Equal(t, tc.field, field, tc.body)
	}
	st, _, b := post("/v1/jobs/batch", `{"jobs":[{"kind":"sleep"},{"kind":"sleep","timeout":"-1s"}]}`)
	require.Equal(t, 400, st)
	_, field := errorCode(t, b)
	require.Equal(t, "jobs[1].timeout", field)
	st, _, b = post("/v1/jobs?wait=forever", `{"kind":"sleep"}`)
	require.Equal(t, 400, st)
	_, field = errorCode(t, b)
	require.Equal(t, "wait", field)
	st, _, b = call(t, "GET", d.addr+"/v1/jobs?colour=red", "")
	require.Equal(t, 400, st)
	_, field = errorCode(t, b)
	require.Equal(t, "colour", field)

	st, _, b = call(t, "GET", d.addr+"/v1/jobs/does-not-exist", "")
	require.Equal(t, 404, st)
	code, _ := errorCode(t, b)
	require.Equal(t, "not_found", code)
	st, _, _ = call(t, "GET", d.addr+"/v1/nothing-here", "")
	require.Equal(t, 404, st)

	// 413: a body over the limit (1 MiB of args + slack), and an args payload over 1 MiB.
	big := `{"kind":"sleep","args":"` + strings.Repeat("x", 2<<20) + `"}`
	st, _, b = post("/v1/jobs", big)
	require.Equal(t, 413, st, string(b))
	code, _ = errorCode(t, b)
	require.Equal(t, "too_large", code)
	st, _, b = post("/v1/jobs", `{"kind":"sleep","args":"`+strings.Repeat("x", 1<<20)+`"}`)
	require.Equal(t, 413, st, string(b))
	_, field = errorCode(t, b)
	require.Equal(t, "args", field)

	// 409: a duplicate unique key answers with the existing job.
	_, err := c.Pause(ctx, "other", false)
	require.NoError(t, err)
	first, err := c.Enqueue(ctx, jobsched.JobSpec{Kind: "sleep", Category: "other", UniqueKey: "k1"}, 0)
	require.NoError(t, err)
	st, _, b = post("/v1/jobs", `{"kind":"sleep","category":"other","unique_key":"k1"}`)
	require.Equal(t, 409, st)
	var dup struct {
		Error struct{ Code string }
		Job   jobsched.Job
	}
	require.NoError(t, json.Unmarshal(b, &dup))
	require.Equal(t, "duplicate", dup.Error.Code)
	require.Equal(t, first.ID, dup.Job.ID)

	// 429 with Retry-After: the paused category at its queue limit of 2; nothing refused is stored.
	_, err = c.Pause(ctx, "default", false)
	require.NoError(t, err)
	for i := 0; i < 2; i++ {
		_, err := c.Enqueue(ctx, jobsched.JobSpec{Kind: "sleep"}, 0)
		require.NoError(t, err)
	}
	st, hdr, b := post("/v1/jobs", `{"kind":"sleep"}`)
	require.Equal(t, 429, st, string(b))
	require.Equal(t, "1", hdr.Get("Retry-After"))
	code, _ = errorCode(t, b)
	require.Equal(t, "queue_full", code)
	cats, err := c.Categories(ctx)
	require.NoError(t, err)
	require.Equal(t, 2, cats[0].Queued)

	// 409 finished: cancelling a finished job.
	_, err = c.Pause(ctx, "other", true)
	require.NoError(t, err)
	waitState(t, c, first.ID, jobsched.StateSucceeded)
	st, _, b = post("/v1/jobs/"+first.ID+"/cancel", "")
	require.Equal(t, 409, st)
	code, _ = errorCode(t, b)
	require.Equal(t, "finished", code)
}

func TestDaemonAuthToken(t *testing.T) {
	d := startDaemon(t, "", "auth_token: s3cret\n")
	st, hdr, b := call(t, "GET", d.addr+"/v1/categories", "")
	require.Equal(t, 401, st)
	require.Contains(t, hdr.Get("WWW-Authenticate"), "Bearer")
	code, _ := errorCode(t, b)
	require.Equal(t, "unauthorized", code)
	st, _, _ = call(t, "GET", d.addr+"/v1/categories", "", "Authorization", "Bearer wrong")
	require.Equal(t, 401, st)
	st, _, _ = call(t, "GET", d.addr+"/metrics", "")
	require.Equal(t, 401, st)
	st, _, _ = call(t, "GET", d.addr+"/v1/categories", "", "Authorization", "Bearer s3cret")
	require.Equal(t, 200, st)
	st, _, _ = call(t, "GET", d.addr+"/healthz", "")
	require.Equal(t, 200, st, "probes stay open")
	out, err := exec.Command(binary, "categories", "--addr", d.addr, "--token", "s3cret").CombinedOutput()
	require.NoError(t, err, string(out))
	require.Contains(t, string(out), "default")
}

func TestDaemonRefusesBadConfigAndInsecureListen(t *testing.T) {
	f := filepath.Join(t.TempDir(), "bad.yaml")
	require.NoError(t, os.WriteFile(f, []byte("workers: 4\ncategories:\n  - name: a\n    max_workrs: 3\n"), 0o600))
	out, err := exec.Command(binary, "serve", "--config", f, "--data", t.TempDir()).CombinedOutput()
	require.Error(t, err)
	require.Equal(t, 2, err.(*exec.ExitError).ExitCode())
	require.Contains(t, string(out), "max_workrs")
	require.Contains(t, string(out), "line 4")

	require.NoError(t, os.WriteFile(f, []byte("workers: 2\ncategories:\n  - name: a\n    min_workers: 3\n"), 0o600))
	out, err = exec.Command(binary, "serve", "--config", f, "--data", t.TempDir()).CombinedOutput()
	require.Error(t, err)
	require.Contains(t, string(out), "min_workers")

	out, err = exec.Command(binary, "serve", "--listen", "0.0.0.0:0", "--data", t.TempDir()).CombinedOutput()
	require.Error(t, err)
	require.Contains(t, string(out), "auth_token")

	out, err = exec.Command(binary, "status").CombinedOutput()
	require.Error(t, err)
	require.Equal(t, 2, err.(*exec.ExitError).ExitCode(), string(out))
}

func TestDaemonWaitCancelsTheJobWhenTheCallerLeaves(t *testing.T) {
	d := startDaemon(t, "", "")
	c := d.client()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "POST", d.addr+"/v1/jobs?wait=30s", strings.NewReader(`{"kind":"sleep","args":{"ms":20000}}`))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	errc := make(chan error, 1)
	go func() {
		_, err := http.DefaultClient.Do(req)
		errc <- err
	}()
	// Wait until the job runs, then leave.
	var id string
	require.Eventually(t, func() bool {
		page, err := c.List(context.Background(), jobsched.ListOptions{State: jobsched.StateRunning})
		if err != nil || len(page.Jobs) == 0 {
			return false
		}
		id = page.Jobs[0].ID
		return true
	}, 10*time.Second, 10*time.Millisecond)
	cancel()
	require.Error(t, <-errc)
	j := waitState(t, c, id, jobsched.StateCancelled)
	require.Equal(t, 1, j.Attempt)

	// A wait that runs out answers 202 with the job as it is.
	st, _, b := call(t, "POST", d.addr+"/v1/jobs?wait=100ms", `{"kind":"sleep","args":{"ms":5000}}`)
	require.Equal(t, 202, st, string(b))
}

func TestDaemonDrainsOnSIGTERMAndKeepsJobsAcrossRestart(t *testing.T) {
	data := t.TempDir()
	d := startDaemon(t, data, "shutdown_grace: 10s\n")
	c := d.client()
	ctx := context.Background()
	running, err := c.Enqueue(ctx, jobsched.JobSpec{Kind: "sleep", Args: json.RawMessage(`{"ms":1500}`)}, 0)
	require.NoError(t, err)
	waitState(t, c, running.ID, jobsched.StateRunning)
	later, err := c.Enqueue(ctx, jobsched.JobSpec{Kind: "sleep", Delay: jobsched.Duration(time.Hour)}, 0)
	require.NoError(t, err)

	require.NoError(t, d.cmd.Process.Signal(syscall.SIGTERM))
	// While it drains: not ready, and enqueue refused with 503.
	require.Eventually(t, func() bool {
		st, _, _ := call(t, "GET", d.addr+"/readyz", "")
		return st == 503
	}, 5*time.Second, 5*time.Millisecond)
	st, _, b := call(t, "POST", d.addr+"/v1/jobs", `{"kind":"sleep"}`)
	require.Equal(t, 503, st, string(b))
	<-d.done
	require.Equal(t, 0, d.cmd.ProcessState.ExitCode(), d.logs.String())

	d2 := startDaemon(t, data, "")
	c2 := d2.client()
	j, err := c2.Get(ctx, running.ID)
	require.NoError(t, err)
	require.Equal(t, jobsched.StateSucceeded, j.State, "the running job finished within the grace")
	j, err = c2.Get(ctx, later.ID)
	require.NoError(t, err)
	require.Equal(t, jobsched.StateScheduled, j.State, "the scheduled job was kept")
	require.Equal(t, 0, d2.stop())
}

func TestCLIEnqueueAndStatus(t *testing.T) {
	d := startDaemon(t, "", "")
	out, err := exec.Command(binary, "enqueue", "sleep", "--addr", d.addr, "--args", `{"ms":5}`, "--wait", "10s", "--json").CombinedOutput()
	require.NoError(t, err, string(out))
	var j jobsched.Job
	require.NoError(t, json.Unmarshal(out, &j))
	require.Equal(t, jobsched.StateSucceeded, j.State)
	out, err = exec.Command(binary, "status", j.ID, "--addr", d.addr).CombinedOutput()
	require.NoError(t, err, string(out))
	require.Regexp(t, `state\s+succeeded`, string(out))
	out, err = exec.Command(binary, "status", "nope", "--addr", d.addr).CombinedOutput()
	require.Error(t, err)
	require.Equal(t, 1, err.(*exec.ExitError).ExitCode())
	require.Contains(t, string(out), "not_found")
}

func TestTesterSpawnsAndKillsTheDaemonAndLosesNothing(t *testing.T) {
	cmd := exec.Command(binary, "tester", "--spawn", "--data", t.TempDir(), "--jobs", "3000", "--batch", "50",
		"--concurrency", "4", "--workers", "32", "--duration-ms", "exp:2", "--chaos", "kill", "--chaos-every", "800ms", "--json")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "%s\n%s", out, stderr.String())
	var rep struct {
		Enqueued, Succeeded, Lost, Kills, Duplicates int
	}
	require.NoError(t, json.Unmarshal(out, &rep), string(out))
	require.Equal(t, 3000, rep.Enqueued)
	require.Zero(t, rep.Lost)
	require.Equal(t, 3000, rep.Succeeded)
	t.Logf("tester under chaos: %s", out)
}

func TestTesterAgainstARunningDaemon(t *testing.T) {
	d := startDaemon(t, "", "")
	out, err := exec.Command(binary, "tester", "--addr", d.addr, "--jobs", "500", "--rate", "500", "--duration-ms", "1").CombinedOutput()
	require.NoError(t, err, string(out))
	require.Contains(t, string(out), "lost        0")
	require.Contains(t, string(out), "enqueue→start")
	out, err = exec.Command(binary, "tester", "--jobs", "5").CombinedOutput()
	require.Error(t, err)
	require.Equal(t, 2, err.(*exec.ExitError).ExitCode(), string(out))
}

func TestDaemonSecondSignalExitsAtOnce(t *testing.T) {
	d := startDaemon(t, "", "shutdown_grace: 60s\n")
	c := d.client()
	j, err := c.Enqueue(context.Background(), jobsched.JobSpec{Kind: "sleep", Args: json.RawMessage(`{"ms":60000}`)}, 0)
	require.NoError(t, err)
	waitState(t, c, j.ID, jobsched.StateRunning)
	require.NoError(t, d.cmd.Process.Signal(syscall.SIGTERM))
	require.Eventually(t, func() bool { return strings.Contains(d.logs.String(), "draining") }, 5*time.Second, 5*time.Millisecond)
	began := time.Now()
	require.NoError(t, d.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-d.done:
	case <-time.After(10 * time.Second):
		t.Fatal("the second signal did not end the drain")
	}
	require.Less(t, time.Since(began), 10*time.Second)
	require.Equal(t, 1, d.cmd.ProcessState.ExitCode(), "cut short: exit 1")
	require.Contains(t, d.logs.String(), "second signal")
}
