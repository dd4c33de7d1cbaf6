package client

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/jobsched/jobsched"
	"github.com/jobsched/jobsched/internal/apitest"
	"github.com/jobsched/jobsched/internal/httpapi"
	"github.com/stretchr/testify/require"
)

// daemon serves the API of a started scheduler with the kind "k", its category paused, over
// real HTTP; wrap, if not nil, stands between the server and the API.
func daemon(t *testing.T, wrap func(http.Handler) http.Handler) (*Client, *jobsched.Scheduler) {
	t.Helper()
	s := apitest.Scheduler(t, jobsched.Config{Workers: 1}, "k")
	require.NoError(t, s.Pause(jobsched.DefaultCategory))
	a, err := httpapi.New(s, httpapi.Options{EventInterval: time.Hour})
	require.NoError(t, err)
	var h http.Handler = a
	if wrap != nil {
		h = wrap(a)
	}
	srv := httptest.NewServer(h)
	c := New(srv.URL, "")
	t.Cleanup(func() {
		c.HTTP.CloseIdleConnections()
		srv.Close()
	})
	return c, s
}

// EnqueueBatchIDs returns the ids of the stored jobs in the batch's order, from a daemon that
// answers the ids alone and from one that answers whole jobs (before ?fields=id).
func TestEnqueueBatchIDs(t *testing.T) {
	var queries []string
	oldDaemon := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			queries = append(queries, r.URL.RawQuery)
			r.URL.RawQuery = "" // a daemon that knows no ?fields: whole jobs
			h.ServeHTTP(w, r)
		})
	}
	for name, wrap := range map[string]func(http.Handler) http.Handler{"fields=id": nil, "whole jobs": oldDaemon} {
		t.Run(name, func(t *testing.T) {
			c, s := daemon(t, wrap)
			specs := []jobsched.JobSpec{{Kind: "k", Args: json.RawMessage(`{"n":0}`)}, {Kind: "k", Args: json.RawMessage(`{"n":1}`), Delay: jobsched.Duration(time.Hour)},
				{Kind: "k", Args: json.RawMessage(`{"n":2}`), UniqueKey: "u<&>"}}
			ids, err := c.EnqueueBatchIDs(context.Background(), specs)
			require.NoError(t, err)
			require.Len(t, ids, len(specs))
			for i, id := range ids {
				j, err := s.Get(context.Background(), id)
				require.NoError(t, err)
				require.JSONEq(t, string(specs[i].Args), string(j.Args), "entry %d", i)
			}
			jobs, err := c.EnqueueBatch(context.Background(), specs[:1])
			require.NoError(t, err)
			require.Len(t, jobs, 1)
			require.Equal(t, "k", jobs[0].Kind, "EnqueueBatch answers whole jobs")
		})
	}
	require.Equal(t, []string{"fields=id", ""}, queries, "the client asked for the ids alone")

	c, _ := daemon(t, nil)
	_, err := c.EnqueueBatchIDs(context.Background(), []jobsched.JobSpec{{Kind: "k"}, {Kind: ""}})
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, "jobs[1].kind", apiErr.Field)
}
