package kinds

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/jobsched/jobsched"
)

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

// ErrNotAllowed: the exec kind was asked to run a command not in the allow list, set an
// environment variable not in exec.env, or run in a directory outside exec.dir_roots.
var ErrNotAllowed = errors.New("exec: not allowed")

// ExecPolicy is what exec jobs may do: run the commands of Allow (absolute paths), set the
// environment variables named in Env, and run in a directory inside one of DirRoots.
type ExecPolicy struct {
	Allow    []string
	Env      []string
	DirRoots []string
}

// notAllowed is an *InvalidError naming the field that also matches ErrNotAllowed.
type notAllowed struct{ jobsched.InvalidError }

func (e *notAllowed) Unwrap() error { return &e.InvalidError }

// Is makes errors.Is(err, ErrNotAllowed) and errors.Is(err, jobsched.ErrInvalid) true.
func (e *notAllowed) Is(target error) bool {
	return target == ErrNotAllowed || target == jobsched.ErrInvalid
}

func refuse(field, format string, a ...any) error {
	return &notAllowed{jobsched.InvalidError{Field: field, Reason: fmt.Sprintf(format, a...)}}
}

// check decodes exec's args and checks them against the policy; at run time (live) the
// directory is also resolved through its symbolic links.
func (p ExecPolicy) check(args json.RawMessage, live bool) (ExecArgs, error) {
	var a ExecArgs
	if err := decodeArgs(args, &a); err != nil {
		return a, err
	}
	if len(a.Argv) == 0 || a.Argv[0] == "" {
		return a, &jobsched.InvalidError{Field: "argv", Reason: "must name a command: [\"/abs/path\", args...]"}
	}
	if !slices.Contains(p.Allow, a.Argv[0]) {
		return a, refuse("argv", "%q is not in exec.allow", a.Argv[0])
	}
	names := make([]string, 0, len(a.Env))
	for k := range a.Env {
		names = append(names, k)
	}
	slices.Sort(names) // the same error for the same args
	for _, k := range names {
		if !slices.Contains(p.Env, k) {
			return a, refuse("env."+k, "%q is not in exec.env", k)
		}
		if strings.ContainsRune(a.Env[k], 0) {
			return a, &jobsched.InvalidError{Field: "env." + k, Reason: "must not hold NUL"}
		}
	}
	if a.Dir != "" {
		dir, err := p.inRoot(a.Dir, live)
		if err != nil {
			return a, err
		}
		a.Dir = dir
	}
	return a, nil
}

// inRoot returns dir if it lies inside one of the roots; live resolves symbolic links first, so
// a link inside a root cannot lead out of it.
func (p ExecPolicy) inRoot(dir string, live bool) (string, error) {
	if !filepath.IsAbs(dir) {
		return "", &jobsched.InvalidError{Field: "dir", Reason: fmt.Sprintf("%q must be an absolute path", dir)}
	}
	dir = filepath.Clean(dir)
	if live {
		real, err := filepath.EvalSymlinks(dir)
		if err != nil {
			return "", &jobsched.InvalidError{Field: "dir", Reason: err.Error()}
		}
		dir = real
	}
	for _, root := range p.DirRoots {
		root = filepath.Clean(root)
		if live {
			if r, err := filepath.EvalSymlinks(root); err == nil {
				root = r
			}
		}
		if rel, err := filepath.Rel(root, dir); err == nil && rel != ".." && !strings.HasPrefix(rel, "../") {
			return dir, nil
		}
	}
	return "", refuse("dir", "%q is not inside exec.dir_roots", dir)
}

// CheckExec is exec's args check at enqueue under p.
func CheckExec(p ExecPolicy) jobsched.Validator {
	return func(args json.RawMessage) error {
		_, err := p.check(args, false)
		return err
	}
}

// Exec runs argv (no shell) if argv[0] is in the allow list. The child's environment is PATH
// (the daemon's) and the variables of the job's env that the policy names; its directory is the
// job's dir (inside a root) or the daemon's. The command runs in its own process group, killed
// whole when the job is cancelled or times out. A non-zero exit fails the attempt; stdout and
// stderr (the first MaxOutputBytes of each) are kept.
func Exec(p ExecPolicy) jobsched.Handler {
	return func(ctx context.Context, j *jobsched.Job) (any, error) {
		a, err := p.check(j.Args, true)
		if err != nil {
			return nil, argsError("exec", err)
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
