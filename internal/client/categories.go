package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/jobsched/jobsched/internal/httpapi"
)

// PutCategory creates or changes a category; created tells which.
func (c *Client) PutCategory(ctx context.Context, name string, set httpapi.CategorySettings) (*httpapi.CategoryJSON, bool, error) {
	var out httpapi.CategoryJSON
	st, err := c.do(ctx, http.MethodPut, "/v1/categories/"+url.PathEscape(name), set, &out)
	if err != nil {
		return nil, false, err
	}
	return &out, st == http.StatusCreated, nil
}

// DeleteCategory removes a category that holds no unfinished job.
func (c *Client) DeleteCategory(ctx context.Context, name string) error {
	_, err := c.do(ctx, http.MethodDelete, "/v1/categories/"+url.PathEscape(name), nil, nil)
	return err
}
