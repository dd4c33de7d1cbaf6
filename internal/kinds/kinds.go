// Package kinds holds the daemon's built-in job kinds: sleep (for tests and the tester), http
// (a webhook, kept to public addresses) and exec (an allow-listed command, never a shell). Each
// kind checks its args at enqueue (a jobsched.Validator) and again when it runs.
package kinds

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/jobsched/jobsched"
	"github.com/jobsched/jobsched/internal/jsonscan"
)

// Limits of the built-in kinds.
const (
	MaxSleep       = time.Hour
	MaxOutputBytes = 64 << 10 // kept of an http body or of exec's stdout and stderr, each
)

// Options are the daemon's policies for the built-in kinds (its exec and http config sections).
type Options struct {
	// ExecAllow: absolute paths of the commands exec may run (none: exec refuses every job).
	ExecAllow []string
	// ExecEnv: names of the environment variables a job may set (none by default).
	ExecEnv []string
	// ExecDirRoots: directories a job's dir must be inside (none: a job may not set dir).
	ExecDirRoots []string
	// HTTPAllowHosts: host names, IP addresses or CIDRs the http kind may reach besides public
	// addresses.
	HTTPAllowHosts []string
}

// Register registers the built-in kinds on s, each with its args check, under the policies of
// opt.
func Register(s *jobsched.Scheduler, opt Options) error {
	pol, err := NewPolicy(opt.HTTPAllowHosts)
	if err != nil {
		return err
	}
	ex := ExecPolicy{Allow: opt.ExecAllow, Env: opt.ExecEnv, DirRoots: opt.ExecDirRoots}
	for _, k := range []struct {
		name string
		h    jobsched.Handler
		v    jobsched.Validator
	}{
		{"sleep", Sleep, CheckSleep},
		{"http", HTTP(pol.Client(5 * time.Minute)), CheckHTTP(pol)},
		{"exec", Exec(ex), CheckExec(ex)},
	} {
		if err := s.RegisterWithValidator(k.name, k.h, k.v); err != nil {
			return err
		}
	}
	return nil
}

// decodeArgs reads a job's args strictly: an unknown field, a wrong type or trailing data is an
// *jobsched.InvalidError naming the field inside the args. No args leave v as it is.
func decodeArgs(args json.RawMessage, v any) error {
	if len(bytes.TrimSpace(args)) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(args))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return &jobsched.InvalidError{Field: te.Field, Reason: fmt.Sprintf("want %s, got a JSON %s", jsonscan.TypeName(te.Type), te.Value)}
		}
		if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			if n, uerr := strconv.Unquote(name); uerr == nil {
				name = n
			}
			return &jobsched.InvalidError{Field: name, Reason: "unknown field"}
		}
		return &jobsched.InvalidError{Reason: err.Error()}
	}
	if dec.More() {
		return &jobsched.InvalidError{Reason: "trailing data after the value"}
	}
	return nil
}

// argsError is the error of a handler that finds bad args at run time (a job stored before the
// policy changed): "<kind>: invalid args.<field>: reason".
func argsError(kind string, err error) error {
	var inv *jobsched.InvalidError
	if errors.As(err, &inv) {
		f := "args"
		if inv.Field != "" {
			f += "." + inv.Field
		}
		if errors.Is(err, ErrNotAllowed) {
			return fmt.Errorf("%s: %w", kind, refuse(f, "%s", inv.Reason))
		}
		return fmt.Errorf("%s: %w", kind, &jobsched.InvalidError{Field: f, Reason: inv.Reason})
	}
	return fmt.Errorf("%s: %w", kind, err)
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
