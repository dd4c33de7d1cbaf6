package jobsched_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/jobsched/jobsched"
	"github.com/stretchr/testify/require"
)

// TestParentResultsIgnoreTheHandlersChangesToItsJob: the handler gets its attempt's record
// itself (no copy since dd9b996) and may change it; ParentResults still answers for the job's
// stored parents, not for what the handler wrote into j.Parents.
func TestParentResultsIgnoreTheHandlersChangesToItsJob(t *testing.T) {
	got := make(chan map[string]json.RawMessage, 1)
	s := start(t, jobsched.Config{Workers: 2}, map[string]jobsched.Handler{
		"parent": func(context.Context, *jobsched.Job) (any, error) { return 7, nil },
		"child": func(ctx context.Context, j *jobsched.Job) (any, error) {
			for i := range j.Parents {
				j.Parents[i] = "not-a-parent" // the handler's own copy of its job
			}
			res, err := jobsched.ParentResults(ctx)
			if err != nil {
				return nil, err
			}
			got <- res
			return nil, nil
		},
	})
	jobs, err := s.EnqueueBatch(context.Background(), []jobsched.JobSpec{
		{Kind: "parent"},
		{Kind: "child", DependsOn: []string{"#0"}},
	})
	require.NoError(t, err)
	require.Equal(t, jobsched.StateSucceeded, waitJob(t, s, jobs[1].ID).State)
	res := <-got
	require.Contains(t, res, jobs[0].ID, "the stored parent's result: %v", res)
	require.JSONEq(t, "7", string(res[jobs[0].ID]))
}
