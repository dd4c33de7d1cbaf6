package jobsched_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jobsched/jobsched"
	"github.com/stretchr/testify/require"
)

// Under a backlog of two tenants, the tenant of weight 3 gets three times the starts of the
// tenant of weight 1 (weighted round-robin: three of A's jobs, then one of B's).
func TestAKeyOfWeightThreeGetsThreeTimesTheStarts(t *testing.T) {
	weights := map[string]int{"A": 3}
	t.Run("configured", func(t *testing.T) {
		weightedStarts(t, []jobsched.Category{{Name: "reports", FairnessWeights: weights}}, nil)
	})
	t.Run("put at runtime", func(t *testing.T) { // PutCategory restarts the Fifo with them
		weightedStarts(t, []jobsched.Category{{Name: "reports"}}, func(s *jobsched.Scheduler) {
			_, _, err := s.PutCategory(context.Background(), jobsched.Category{Name: "reports", FairnessWeights: weights})
			require.NoError(t, err)
		})
	})
}

func weightedStarts(t *testing.T, cats []jobsched.Category, change func(*jobsched.Scheduler)) {
	var mu sync.Mutex
	var order []string
	s := start(t, jobsched.Config{Workers: 1, Categories: cats}, map[string]jobsched.Handler{
		"work": func(_ context.Context, j *jobsched.Job) (any, error) {
			mu.Lock()
			order = append(order, j.FairnessKey)
			mu.Unlock()
			return nil, nil
		}})
	ctx := context.Background()
	if change != nil {
		change(s)
	}
	require.NoError(t, s.Pause("reports"))
	const each = 300
	specs := make([]jobsched.JobSpec, 0, 2*each)
	for i := 0; i < each; i++ {
		specs = append(specs, jobsched.JobSpec{Kind: "work", FairnessKey: "B"}) // B's first: A still leads
	}
	for i := 0; i < each; i++ {
		specs = append(specs, jobsched.JobSpec{Kind: "work", FairnessKey: "A"})
	}
	jobs, err := s.EnqueueBatch(ctx, specs)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return s.Categories()[0].InMemory == 2*each }, 10*time.Second, time.Millisecond,
		"the backlog waits in the Fifo")
	require.NoError(t, s.Resume("reports"))
	for _, j := range jobs {
		waitJob(t, s, j.ID)
	}
	mu.Lock()
	defer mu.Unlock()
	n := map[string]int{}
	for _, k := range order[:200] { // while both have jobs waiting
		n[k]++
	}
	t.Logf("first 200 starts: %v", n)
	ratio := float64(n["A"]) / float64(n["B"])
	require.InDelta(t, 3, ratio, 0.3, "A (weight 3) against B (weight 1): %v", n)
}

func TestFairnessWeightsAreChecked(t *testing.T) {
	for _, tc := range []struct {
		w     map[string]int
		field string
	}{
		{map[string]int{"a": 0}, `categories[0].fairness_weights["a"]`},
		{map[string]int{"a": 2, "b": jobsched.MaxFairnessWeight + 1}, `categories[0].fairness_weights["b"]`},
		{map[string]int{strings.Repeat("k", jobsched.MaxFairnessKeyLength+1): 2}, `categories[0].fairness_weights["` + strings.Repeat("k", jobsched.MaxFairnessKeyLength+1) + `"]`},
	} {
		_, err := jobsched.New(jobsched.Config{Categories: []jobsched.Category{{Name: "x", FairnessWeights: tc.w}}})
		var inv *jobsched.InvalidError
		require.True(t, errors.As(err, &inv), "%v: %v", tc.w, err)
		require.Equal(t, tc.field, inv.Field)
	}
	_, err := jobsched.New(jobsched.Config{Categories: []jobsched.Category{{Name: "x", FairnessWeights: map[string]int{"a": 5, "": 2}}}})
	require.NoError(t, err)
}
