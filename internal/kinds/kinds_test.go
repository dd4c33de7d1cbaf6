package kinds

import (
	"context"
	"encoding/json"
	"errors"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jobsched/jobsched"
	"github.com/stretchr/testify/require"
)

func job(kind, args string, attempt int) *jobsched.Job {
	return &jobsched.Job{ID: "01a20c9e-10ad-74b2-b1c7-dd52de5e1d6a", Kind: kind, Args: json.RawMessage(args), Attempt: attempt}
}

func TestSleep(t *testing.T) {
	ctx := context.Background()
	res, err := Sleep(ctx, job("sleep", `{"ms":1}`, 1))
	require.NoError(t, err)
	require.IsType(t, json.RawMessage{}, res)
	require.JSONEq(t, `{"slept_ms":1}`, string(res.(json.RawMessage)))
	res, err = Sleep(ctx, job("sleep", `{}`, 1))
	require.NoError(t, err)
	require.JSONEq(t, `{"slept_ms":0}`, string(res.(json.RawMessage)))
	_, err = Sleep(ctx, job("sleep", `{"fail_rate":1}`, 1))
	require.ErrorContains(t, err, "planned failure")
	require.PanicsWithValue(t, "sleep: planned panic (panic_rate 1)", func() { _, _ = Sleep(ctx, job("sleep", `{"panic_rate":1}`, 1)) })
	_, err = Sleep(ctx, job("sleep", `{"ms":-1}`, 1))
	require.Error(t, err)
	_, err = Sleep(ctx, job("sleep", `{"msec":1}`, 1))
	require.ErrorContains(t, err, "msec", "unknown args are refused by name")
	_, err = Sleep(ctx, job("sleep", `{"ms":"x"}`, 1))
	require.ErrorContains(t, err, "want a number, got a JSON string", "the JSON type wanted, not the Go one")

	// With a seed, the outcome of an attempt is the same every time.
	outcome := func(attempt int) bool {
		_, err := Sleep(ctx, job("sleep", `{"fail_rate":0.5,"seed":7}`, attempt))
		return err == nil
	}
	for a := 1; a <= 20; a++ {
		require.Equal(t, outcome(a), outcome(a), "attempt %d", a)
	}

	cctx, cancel := context.WithCancelCause(ctx)
	cancel(jobsched.ErrCancelled)
	_, err = Sleep(cctx, job("sleep", `{"ms":60000}`, 1))
	require.ErrorIs(t, err, jobsched.ErrCancelled)
}

func TestExecRunsOnlyAllowListedCommands(t *testing.T) {
	ctx := context.Background()
	run := Exec(ExecPolicy{Allow: []string{"/bin/sh", "/bin/echo"}, Env: []string{"GREETING"}})
	_, err := run(ctx, job("exec", `{"argv":["/usr/bin/env"]}`, 1))
	require.ErrorIs(t, err, ErrNotAllowed)
	_, err = Exec(ExecPolicy{})(ctx, job("exec", `{"argv":["/bin/echo","hi"]}`, 1))
	require.ErrorIs(t, err, ErrNotAllowed, "off unless allow-listed")
	_, err = run(ctx, job("exec", `{"argv":["echo","hi"]}`, 1))
	require.ErrorIs(t, err, ErrNotAllowed, "a bare name is not a path on the list")

	res, err := run(ctx, job("exec", `{"argv":["/bin/sh","-c","read x; echo \"$x $GREETING\"; echo oops >&2"],"stdin":"hello","env":{"GREETING":"world"}}`, 1))
	require.NoError(t, err)
	require.Equal(t, ExecResult{Stdout: "hello world\n", Stderr: "oops\n"}, res)
	_, err = run(ctx, job("exec", `{"argv":["/bin/sh","-c","echo broken >&2; exit 3"]}`, 1))
	require.ErrorContains(t, err, "exit code 3: broken")
	// A shell string is not split: the whole string is one argument.
	res, err = run(ctx, job("exec", `{"argv":["/bin/echo","a; rm -rf /"]}`, 1))
	require.NoError(t, err)
	require.Equal(t, "a; rm -rf /\n", res.(ExecResult).Stdout)
	// Output is bounded.
	res, err = run(ctx, job("exec", `{"argv":["/bin/sh","-c","head -c 200000 /dev/zero"]}`, 1))
	require.NoError(t, err)
	require.Len(t, res.(ExecResult).Stdout, MaxOutputBytes)
}

func TestExecKillsItsProcessGroupOnCancel(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	run := Exec(ExecPolicy{Allow: []string{"/bin/sh"}})
	ctx, cancel := context.WithCancelCause(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := run(ctx, job("exec", `{"argv":["/bin/sh","-c","sleep 30 & echo $! > `+pidFile+`; wait"]}`, 1))
		done <- err
	}()
	var child int
	require.Eventually(t, func() bool {
		b, err := os.ReadFile(pidFile)
		child, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		return err == nil && child > 0
	}, 10*time.Second, 10*time.Millisecond)
	cancel(jobsched.ErrTimeout)
	select {
	case err := <-done:
		require.ErrorIs(t, err, jobsched.ErrTimeout)
	case <-time.After(10 * time.Second):
		t.Fatal("exec did not return after cancel")
	}
	require.Eventually(t, func() bool {
		return errors.Is(syscall.Kill(child, 0), syscall.ESRCH)
	}, 5*time.Second, 10*time.Millisecond, "the grandchild (sleep) was killed with the group")
}

func TestHTTP(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.URL.Path == "/fail" {
			w.WriteHeader(http.StatusBadGateway)
			_, _ = w.Write([]byte("upstream down"))
			return
		}
		_, _ = w.Write([]byte(r.Method + " " + r.Header.Get("X-Token") + " " + string(body)))
	}))
	defer srv.Close()
	run := HTTP(srv.Client())
	ctx := context.Background()
	res, err := run(ctx, job("http", `{"url":"`+srv.URL+`/hook","headers":{"X-Token":"t1"},"body":"ping"}`, 1))
	require.NoError(t, err)
	require.Equal(t, HTTPResult{Status: 200, Body: "POST t1 ping"}, res)
	res, err = run(ctx, job("http", `{"method":"GET","url":"`+srv.URL+`/x"}`, 1))
	require.NoError(t, err)
	require.Equal(t, 200, res.(HTTPResult).Status)
	_, err = run(ctx, job("http", `{"url":"`+srv.URL+`/fail"}`, 1))
	require.ErrorContains(t, err, "status 502: upstream down")
	_, err = run(ctx, job("http", `{"url":"ftp://example"}`, 1))
	require.ErrorContains(t, err, "args.url")
}

func TestExecKeepsToEnvAndDirRoots(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	outside := t.TempDir()
	require.NoError(t, os.Mkdir(filepath.Join(root, "work"), 0o755))
	require.NoError(t, os.Symlink(outside, filepath.Join(root, "escape")))
	run := Exec(ExecPolicy{Allow: []string{"/bin/sh"}, Env: []string{"GREETING"}, DirRoots: []string{root}})

	res, err := run(ctx, job("exec", `{"argv":["/bin/sh","-c","pwd; echo $GREETING"],"env":{"GREETING":"hi"},"dir":"`+root+`/work"}`, 1))
	require.NoError(t, err)
	real, err := filepath.EvalSymlinks(filepath.Join(root, "work"))
	require.NoError(t, err)
	require.Equal(t, real+"\nhi\n", res.(ExecResult).Stdout)

	// A job stored before the policy changed is refused when it runs, naming the field.
	_, err = run(ctx, job("exec", `{"argv":["/bin/sh","-c","true"],"env":{"LD_PRELOAD":"/x.so"}}`, 1))
	require.ErrorIs(t, err, ErrNotAllowed)
	require.ErrorContains(t, err, "args.env.LD_PRELOAD")
	// A symbolic link inside a root does not lead out of it.
	_, err = run(ctx, job("exec", `{"argv":["/bin/sh","-c","pwd"],"dir":"`+root+`/escape"}`, 1))
	require.ErrorIs(t, err, ErrNotAllowed)
	require.ErrorContains(t, err, "args.dir")
}

// TestSleepSeededRoll: the roll of a seeded sleep is the one rand.New(rand.NewPCG(seed ^
// FNV-1a(id), attempt)).Float64() gives, so a seed names the same outcomes as before.
func TestSleepSeededRoll(t *testing.T) {
	for _, id := range []string{"", "a", "01a20c9e-10ad-74b2-b1c7-dd52de5e1d6a"} {
		h := fnv.New64a()
		h.Write([]byte(id))
		require.Equal(t, h.Sum64(), fnv64a(id), "id %q", id)
	}
	// fail_rate 0.5 with seed 7: the outcome of each attempt is the reference generator's.
	for attempt := 1; attempt <= 20; attempt++ {
		j := job("sleep", `{"fail_rate":0.5,"seed":7}`, attempt)
		want := rand.New(rand.NewPCG(7^fnv64a(j.ID), uint64(attempt))).Float64() < 0.5
		_, err := Sleep(context.Background(), j)
		require.Equal(t, want, err != nil, "attempt %d", attempt)
	}
}
