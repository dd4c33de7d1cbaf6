package kinds

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/jobsched/jobsched"
)

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

var tokenRE = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")

// readHTTP decodes and checks the http kind's args; p, if set, checks the URL's address.
func readHTTP(args json.RawMessage, p *Policy) (HTTPArgs, *url.URL, error) {
	var a HTTPArgs
	if err := decodeArgs(args, &a); err != nil {
		return a, nil, err
	}
	if a.Method == "" {
		a.Method = http.MethodPost
	}
	if !tokenRE.MatchString(a.Method) {
		return a, nil, &jobsched.InvalidError{Field: "method", Reason: fmt.Sprintf("%q is not an HTTP method", a.Method)}
	}
	if a.URL == "" {
		return a, nil, &jobsched.InvalidError{Field: "url", Reason: "must be set"}
	}
	u, err := url.Parse(a.URL)
	if err == nil && p != nil {
		err = p.CheckURL(u)
	} else if err == nil && u.Scheme != "http" && u.Scheme != "https" {
		err = fmt.Errorf("must be an http:// or https:// URL, got scheme %q", u.Scheme)
	}
	if err != nil {
		return a, nil, &jobsched.InvalidError{Field: "url", Reason: err.Error()}
	}
	for k, v := range a.Headers {
		if !tokenRE.MatchString(k) {
			return a, nil, &jobsched.InvalidError{Field: "headers", Reason: fmt.Sprintf("%q is not a header name", k)}
		}
		if strings.ContainsAny(v, "\r\n\x00") {
			return a, nil, &jobsched.InvalidError{Field: "headers." + k, Reason: "must not hold CR, LF or NUL"}
		}
	}
	if a.Timeout < 0 {
		return a, nil, &jobsched.InvalidError{Field: "timeout", Reason: "must not be negative"}
	}
	return a, u, nil
}

// CheckHTTP is the http kind's args check at enqueue under p: a URL whose host is an IP address
// outside the policy is refused here already.
func CheckHTTP(p *Policy) jobsched.Validator {
	return func(args json.RawMessage) error {
		_, _, err := readHTTP(args, p)
		return err
	}
}

// HTTP makes a request with client; a 2xx status succeeds. The status and the first
// MaxOutputBytes of the body are the result (or the error). The client decides where it may
// connect: Register gives it a Policy's client.
func HTTP(client *http.Client) jobsched.Handler {
	return func(ctx context.Context, j *jobsched.Job) (any, error) {
		a, u, err := readHTTP(j.Args, nil)
		if err != nil {
			return nil, argsError("http", err)
		}
		if a.Timeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, time.Duration(a.Timeout))
			defer cancel()
		}
		req, err := http.NewRequestWithContext(ctx, a.Method, u.String(), strings.NewReader(a.Body))
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
