package jobsched_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jobsched/jobsched"
	"github.com/stretchr/testify/require"
)

func TestThroughputCountsTheLastHourByMinute(t *testing.T) {
	s := start(t, jobsched.Config{Workers: 2, Categories: twoCategories}, map[string]jobsched.Handler{
		"ok":   noop,
		"fail": func(context.Context, *jobsched.Job) (any, error) { return nil, errors.New("no") },
	})
	ctx := context.Background()
	for i := 0; i < 5; i++ {
		j, err := s.Enqueue(ctx, jobsched.JobSpec{Kind: "ok", Category: "a"})
		require.NoError(t, err)
		waitJob(t, s, j.ID)
	}
	bad, err := s.Enqueue(ctx, jobsched.JobSpec{Kind: "fail", Category: "b", MaxAttempts: 3})
	require.NoError(t, err)
	require.Equal(t, jobsched.StateDead, waitJob(t, s, bad.ID).State)

	tp := s.Throughput()
	require.Len(t, tp["a"], jobsched.ThroughputMinutes)
	sum := func(ms []jobsched.MinuteCounts) (ok, failed, dead int) {
		for _, m := range ms {
			ok, failed, dead = ok+m.Succeeded, failed+m.Failed, dead+m.Dead
		}
		return
	}
	ok, failed, dead := sum(tp["a"])
	require.Equal(t, [3]int{5, 0, 0}, [3]int{ok, failed, dead})
	ok, failed, dead = sum(tp["b"])
	require.Equal(t, [3]int{0, 3, 1}, [3]int{ok, failed, dead}, "three failed attempts, one dead job")
	now := tp["a"][jobsched.ThroughputMinutes-1].Minute
	require.Equal(t, now.Add(-59*time.Minute), tp["a"][0].Minute, "oldest first, an hour")
	require.WithinDuration(t, time.Now(), now, time.Minute, "the last minute is the current one")
}
