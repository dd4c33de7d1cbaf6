package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/jobsched/jobsched"
	"github.com/jobsched/jobsched/internal/httpapi"
)

// Retry runs a dead, cancelled, retrying or scheduled job again now.
func (c *Client) Retry(ctx context.Context, id string) (*jobsched.Job, error) {
	var j jobsched.Job
	if _, err := c.do(ctx, http.MethodPost, "/v1/jobs/"+url.PathEscape(id)+"/retry", nil, &j); err != nil {
		return nil, err
	}
	return &j, nil
}

// RetryDependents is Retry that also brings back, as pending, the dependents the job's failure
// cancelled (POST /v1/jobs/{id}/retry?dependents=true).
func (c *Client) RetryDependents(ctx context.Context, id string) (*jobsched.Job, error) {
	var j jobsched.Job
	if _, err := c.do(ctx, http.MethodPost, "/v1/jobs/"+url.PathEscape(id)+"/retry?dependents=true", nil, &j); err != nil {
		return nil, err
	}
	return &j, nil
}

// Delete removes a finished job.
func (c *Client) Delete(ctx context.Context, id string) error {
	_, err := c.do(ctx, http.MethodDelete, "/v1/jobs/"+url.PathEscape(id), nil, nil)
	return err
}

// RetryWhere retries every job the filter selects and returns how many.
func (c *Client) RetryWhere(ctx context.Context, f jobsched.Filter) (int, error) {
	return c.bulk(ctx, "/v1/jobs/retry", f)
}

// CancelWhere cancels every job the filter selects and returns how many.
func (c *Client) CancelWhere(ctx context.Context, f jobsched.Filter) (int, error) {
	return c.bulk(ctx, "/v1/jobs/cancel", f)
}

func (c *Client) bulk(ctx context.Context, path string, f jobsched.Filter) (int, error) {
	var out httpapi.CountBody
	if _, err := c.do(ctx, http.MethodPost, path, f, &out); err != nil {
		return 0, err
	}
	return out.Count, nil
}
