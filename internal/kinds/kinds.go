// Package kinds holds the daemon's built-in job kinds: sleep (for tests and the tester), http
// (a webhook) and exec (an allow-listed command, never a shell).
package kinds

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/jobsched/jobsched"
)

// Limits of the built-in kinds.
const (
	MaxSleep       = time.Hour
	MaxOutputBytes = 64 << 10 // kept of an http body or of exec's stdout and stderr, each
)

// decodeArgs reads a job's args strictly (unknown fields are refused).
func decodeArgs(j *jobsched.Job, v any) error {
	if len(j.Args) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(j.Args))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("args of %s: %w", j.Kind, err)
	}
	return nil
}

// SleepArgs are the args of the sleep kind.
type SleepArgs struct {
	MS        float64 `json:"ms"`
	FailRate  float64 `json:"fail_rate"`
	PanicRate float64 `json:"panic_rate"`
	// Seed makes failures and panics deterministic: the same seed, job and attempt give the same
	// outcome. 0 draws at random.
	Seed uint64 `json:"seed"`
}

// Sleep waits ms milliseconds, then fails with probability fail_rate or panics with
// probability panic_rate. Its result is {"slept_ms": ms}.
func Sleep(ctx context.Context, j *jobsched.Job) (any, error) {
	var a SleepArgs
	if err := decodeArgs(j, &a); err != nil {
		return nil, err
	}
	d := time.Duration(a.MS * float64(time.Millisecond))
	if d < 0 || d > MaxSleep || a.FailRate < 0 || a.FailRate > 1 || a.PanicRate < 0 || a.PanicRate > 1 {
		return nil, fmt.Errorf("sleep: ms must be 0..%d and rates 0..1", MaxSleep.Milliseconds())
	}
	var rng *rand.Rand
	if a.Seed != 0 {
		h := fnv.New64a()
		h.Write([]byte(j.ID))
		rng = rand.New(rand.NewPCG(a.Seed^h.Sum64(), uint64(j.Attempt)))
	} else {
		rng = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	roll := rng.Float64()
	if d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, context.Cause(ctx)
		}
	}
	switch {
	case roll < a.PanicRate:
		panic(fmt.Sprintf("sleep: planned panic (panic_rate %g)", a.PanicRate))
	case roll < a.PanicRate+a.FailRate:
		return nil, fmt.Errorf("sleep: planned failure (fail_rate %g)", a.FailRate)
	}
	return map[string]float64{"slept_ms": a.MS}, nil
}

// HTTPArgs are the args of the http kind.
type HTTPArgs struct {
	Method  string            `json:"method"`
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers"`
	Body    string            `json:"body"`
	Timeout jobsched.Duration `json:"timeout"`
}

// HTTPResult is the result of the http kind.
type HTTPResult struct {
	Status    int    `json:"status"`
	Body      string `json:"body"`
	Truncated bool   `json:"truncated,omitempty"`
}

// HTTP makes a request; a 2xx status succeeds. The status and the first MaxOutputBytes of the
// body are the result (or the error).
func HTTP(client *http.Client) jobsched.Handler {
	return func(ctx context.Context, j *jobsched.Job) (any, error) {
		var a HTTPArgs
		if err := decodeArgs(j, &a); err != nil {
			return nil, err
		}
		if a.Method == "" {
			a.Method = http.MethodPost
		}
		if !strings.HasPrefix(a.URL, "http://") && !strings.HasPrefix(a.URL, "https://") {
			return nil, fmt.Errorf("http: url must start with http:// or https://, got %q", a.URL)
		}
		if a.Timeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, time.Duration(a.Timeout))
			defer cancel()
		}
		req, err := http.NewRequestWithContext(ctx, a.Method, a.URL, strings.NewReader(a.Body))
		if err != nil {
			return nil, fmt.Errorf("http: %w", err)
		}
		for k, v := range a.Headers {
			req.Header.Set(k, v)
		}
		resp, err := client.Do(req)
		if err != nil {
			return nil, fmt.Errorf("http: %w", err)
		}
		defer resp.Body.Close()
		body, truncated, err := readBounded(resp.Body)
		if err != nil {
			return nil, fmt.Errorf("http: read body: %w", err)
		}
		res := HTTPResult{Status: resp.StatusCode, Body: body, Truncated: truncated}
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			return nil, fmt.Errorf("http: status %d: %s", resp.StatusCode, trim(body, 512))
		}
		return res, nil
	}
}

func readBounded(r io.Reader) (string, bool, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxOutputBytes+1))
	if len(b) > MaxOutputBytes {
		return string(b[:MaxOutputBytes]), true, err
	}
	return string(b), false, err
}

func trim(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// ExecArgs are the args of the exec kind.
type ExecArgs struct {
	Argv  []string          `json:"argv"`
	Env   map[string]string `json:"env"`
	Stdin string            `json:"stdin"`
	Dir   string            `json:"dir"`
}

// ExecResult is the result of the exec kind.
type ExecResult struct {
	ExitCode int    `json:"exit_code"`
	Stdout   string `json:"stdout"`
	Stderr   string `json:"stderr"`
}

// ErrNotAllowed: the exec kind was asked to run a command not in the allow list.
var ErrNotAllowed = errors.New("exec: command not allow-listed")

// Exec runs argv (no shell) if argv[0] is one of allow (absolute paths). The command runs in its
// own process group, killed whole when the job is cancelled or times out. A non-zero exit fails
// the attempt; stdout and stderr (the first MaxOutputBytes of each) are kept.
func Exec(allow []string) jobsched.Handler {
	return func(ctx context.Context, j *jobsched.Job) (any, error) {
		var a ExecArgs
		if err := decodeArgs(j, &a); err != nil {
			return nil, err
		}
		if len(a.Argv) == 0 {
			return nil, errors.New("exec: argv must name a command")
		}
		if !slices.Contains(allow, a.Argv[0]) {
			return nil, fmt.Errorf("%w: %q", ErrNotAllowed, a.Argv[0])
		}
		cmd := exec.Command(a.Argv[0], a.Argv[1:]...)
		cmd.Dir = a.Dir
		cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
		for k, v := range a.Env {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
		cmd.Stdin = strings.NewReader(a.Stdin)
		var stdout, stderr boundedBuffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			return nil, fmt.Errorf("exec: %w", err)
		}
		waited := make(chan error, 1)
		go func() { waited <- cmd.Wait() }()
		var err error
		select {
		case err = <-waited:
		case <-ctx.Done():
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // the whole group; it may be gone already
			<-waited
			return nil, fmt.Errorf("exec: killed: %w", context.Cause(ctx))
		}
		res := ExecResult{Stdout: stdout.String(), Stderr: stderr.String()}
		if err != nil {
			var exit *exec.ExitError
			if errors.As(err, &exit) {
				res.ExitCode = exit.ExitCode()
				return nil, fmt.Errorf("exec: exit code %d: %s", res.ExitCode, trim(res.Stderr, 512))
			}
			return nil, fmt.Errorf("exec: %w", err)
		}
		return res, nil
	}
}

// boundedBuffer keeps the first MaxOutputBytes written to it and drops the rest.
type boundedBuffer struct{ b bytes.Buffer }

func (w *boundedBuffer) Write(p []byte) (int, error) {
	if room := MaxOutputBytes - w.b.Len(); room > 0 {
		w.b.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (w *boundedBuffer) String() string { return w.b.String() }

// Register registers the built-in kinds on s: sleep, http, and exec with its allow list (exec
// refuses every command when allow is empty).
func Register(s *jobsched.Scheduler, allow []string) error {
	client := &http.Client{Timeout: 5 * time.Minute}
	for kind, h := range map[string]jobsched.Handler{"sleep": Sleep, "http": HTTP(client), "exec": Exec(allow)} {
		if err := s.Register(kind, h); err != nil {
			return err
		}
	}
	return nil
}
