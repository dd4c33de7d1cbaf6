// Package client is a Go client of the daemon's HTTP API, used by the CLI and the tester.
package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/jobsched/jobsched"
	"github.com/jobsched/jobsched/internal/httpapi"
	"github.com/jobsched/jobsched/internal/iox"
	"github.com/jobsched/jobsched/supervision"
)

// Client calls one daemon.
type Client struct {
	Base  string // e.g. http://127.0.0.1:7420
	Token string // bearer token, if the daemon has one
	HTTP  *http.Client
}

// New returns a client of the daemon at base.
func New(base, token string) *Client {
	return &Client{Base: strings.TrimRight(base, "/"), Token: token,
		HTTP: &http.Client{Timeout: httpapi.MaxWait + 30*time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 256}}}
}

// LoadCA reads PEM certificates (a CA file) to trust for a daemon that serves HTTPS with a
// certificate of its own.
func LoadCA(file string) (*x509.CertPool, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("CA file %s: no PEM certificate in it", file)
	}
	return pool, nil
}

// SetRootCAs makes the client trust pool (nil: the system's roots) for https:// daemons.
func (c *Client) SetRootCAs(pool *x509.CertPool) {
	if tr, ok := c.HTTP.Transport.(*http.Transport); ok {
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
}

// APIError is an error answer of the API.
type APIError struct {
	Status int
	httpapi.ErrorDetail
	Job *jobsched.Job
}

func (e *APIError) Error() string {
	return fmt.Sprintf("%s (HTTP %d): %s", e.Code, e.Status, e.Message)
}

func (c *Client) do(ctx context.Context, method, path string, body, out any) (int, error) {
	var rd io.Reader
	if raw, ok := body.(json.RawMessage); ok {
		rd = bytes.NewReader(raw) // encoded already
	} else if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.Base+path, rd)
	if err != nil {
		return 0, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	raw, err := iox.ReadAll(resp.Body, resp.ContentLength)
	if err != nil {
		return resp.StatusCode, err
	}
	if resp.StatusCode >= 400 {
		var eb httpapi.ErrorBody
		if json.Unmarshal(raw, &eb) != nil || eb.Error.Code == "" {
			return resp.StatusCode, &APIError{Status: resp.StatusCode, ErrorDetail: httpapi.ErrorDetail{Code: "http", Message: strings.TrimSpace(string(raw))}}
		}
		return resp.StatusCode, &APIError{Status: resp.StatusCode, ErrorDetail: eb.Error, Job: eb.Job}
	}
	if rm, ok := out.(*json.RawMessage); ok {
		*rm = raw
		return resp.StatusCode, nil
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return resp.StatusCode, fmt.Errorf("decode answer: %w", err)
		}
	}
	return resp.StatusCode, nil
}

// Enqueue posts one job; with wait > 0 it waits for the result that long (the answer's status
// is 201 when finished, 202 when not yet).
func (c *Client) Enqueue(ctx context.Context, spec jobsched.JobSpec, wait time.Duration) (*jobsched.Job, error) {
	path := "/v1/jobs"
	if wait > 0 {
		path += "?wait=" + url.QueryEscape(wait.String())
	}
	var j jobsched.Job
	if _, err := c.do(ctx, http.MethodPost, path, spec, &j); err != nil {
		return nil, err
	}
	return &j, nil
}

// EnqueueBatch posts jobs all or nothing.
func (c *Client) EnqueueBatch(ctx context.Context, specs []jobsched.JobSpec) ([]*jobsched.Job, error) {
	body, err := httpapi.BatchBody(specs)
	if err != nil {
		return nil, err
	}
	var out httpapi.JobList
	if _, err := c.do(ctx, http.MethodPost, "/v1/jobs/batch", json.RawMessage(body), &out); err != nil {
		return nil, err
	}
	return out.Jobs, nil
}

// EnqueueBatchIDs posts jobs all or nothing, as EnqueueBatch, and returns only their ids, in
// order: it asks for the ids alone (?fields=id), and skips the rest of each job of an answer
// that has more (a daemon before ?fields). The tester's enqueue needs the ids alone and shares
// the CPU with the daemon it measures.
func (c *Client) EnqueueBatchIDs(ctx context.Context, specs []jobsched.JobSpec) ([]string, error) {
	body, err := httpapi.BatchBody(specs)
	if err != nil {
		return nil, err
	}
	var raw json.RawMessage
	if _, err := c.do(ctx, http.MethodPost, "/v1/jobs/batch?fields=id", json.RawMessage(body), &raw); err != nil {
		return nil, err
	}
	if ids, ok := batchIDs(raw); ok {
		return ids, nil
	}
	var out struct {
		Jobs []struct {
			ID string `json:"id"`
		} `json:"jobs"`
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("decode answer: %w", err)
	}
	ids := make([]string, len(out.Jobs))
	for i, j := range out.Jobs {
		ids[i] = j.ID
	}
	return ids, nil
}

// Get reads a job.
func (c *Client) Get(ctx context.Context, id string) (*jobsched.Job, error) {
	var j jobsched.Job
	if _, err := c.do(ctx, http.MethodGet, "/v1/jobs/"+url.PathEscape(id), nil, &j); err != nil {
		return nil, err
	}
	return &j, nil
}

// Cancel cancels a job.
func (c *Client) Cancel(ctx context.Context, id string) (*jobsched.Job, error) {
	var j jobsched.Job
	if _, err := c.do(ctx, http.MethodPost, "/v1/jobs/"+url.PathEscape(id)+"/cancel", nil, &j); err != nil {
		return nil, err
	}
	return &j, nil
}

// List reads a page of jobs.
func (c *Client) List(ctx context.Context, opt jobsched.ListOptions) (*httpapi.JobList, error) {
	q := url.Values{}
	if opt.Category != "" {
		q.Set("category", opt.Category)
	}
	if opt.Kind != "" {
		q.Set("kind", opt.Kind)
	}
	if opt.State != "" {
		q.Set("state", string(opt.State))
	}
	if opt.Limit != 0 {
		q.Set("limit", strconv.Itoa(opt.Limit))
	}
	if opt.Cursor != "" {
		q.Set("cursor", opt.Cursor)
	}
	path := "/v1/jobs"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var raw json.RawMessage
	if _, err := c.do(ctx, http.MethodGet, path, nil, &raw); err != nil {
		return nil, err
	}
	if out, ok := decodeJobList(raw); ok {
		return out, nil
	}
	var out httpapi.JobList
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("decode answer: %w", err)
	}
	return &out, nil
}

// Categories reads the categories.
func (c *Client) Categories(ctx context.Context) ([]httpapi.CategoryJSON, error) {
	var out httpapi.CategoryList
	if _, err := c.do(ctx, http.MethodGet, "/v1/categories", nil, &out); err != nil {
		return nil, err
	}
	return out.Categories, nil
}

// Pause pauses (or with resume, resumes) a category.
func (c *Client) Pause(ctx context.Context, name string, resume bool) (*httpapi.CategoryJSON, error) {
	verb := "pause"
	if resume {
		verb = "resume"
	}
	var out httpapi.CategoryJSON
	if _, err := c.do(ctx, http.MethodPost, "/v1/categories/"+url.PathEscape(name)+"/"+verb, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Tree reads the supervision tree.
func (c *Client) Tree(ctx context.Context) (*supervision.Node, error) {
	var n supervision.Node
	if _, err := c.do(ctx, http.MethodGet, "/v1/tree", nil, &n); err != nil {
		return nil, err
	}
	return &n, nil
}

// Ready reports whether /readyz answers 200.
func (c *Client) Ready(ctx context.Context) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.Base+"/readyz", nil)
	if err != nil {
		return false
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}
