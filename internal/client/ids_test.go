package client

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/jobsched/jobsched"
	"github.com/jobsched/jobsched/internal/httpapi"
	"github.com/stretchr/testify/require"
)

// idsOf decodes the ids of an answer with encoding/json.
func idsOf(t *testing.T, raw []byte) []string {
	var out httpapi.JobList
	require.NoError(t, json.Unmarshal(raw, &out))
	ids := []string{}
	for _, j := range out.Jobs {
		ids = append(ids, j.ID)
	}
	return ids
}

func TestBatchIDs(t *testing.T) {
	now := time.Now()
	jobs := []*jobsched.Job{
		{ID: "0193-a", Kind: "k", Category: "default", Args: json.RawMessage(`{"id":"not this","x":["]}",{"y":"\"}"}]}`), State: jobsched.StateQueued, CreatedAt: now, RunAt: now},
		{ID: "0193-b", Kind: "k\"}]", Category: "c", State: jobsched.StatePending, Parents: []string{"0193-a"}, CreatedAt: now, RunAt: now},
	}
	for _, list := range [][]*jobsched.Job{jobs, {}, jobs[:1]} {
		raw, err := json.Marshal(httpapi.JobList{Jobs: list})
		require.NoError(t, err)
		raw = append(raw, '\n')
		ids, ok := batchIDs(raw)
		require.True(t, ok, "%s", raw)
		require.Equal(t, idsOf(t, raw), ids)
	}
	for _, odd := range []string{``, `{"jobs":null}`, `{"jobs":[{"kind":"k","id":"a"}]}`, `{"jobs":[{"id":"a\"b"}]}`,
		`{"jobs":[{"id":"a"}],"next_cursor":"x"}`, `{"jobs":[{"id":"a"}`, `{"jobs":[{"id":"a"}]}x`, `{"jobs":[{"id":"a","b":{]}`} {
		_, ok := batchIDs([]byte(odd))
		require.False(t, ok, odd)
	}
}
