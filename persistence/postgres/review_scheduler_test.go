package postgres_test

// REVIEW (wip-review): tests written by the independent review of the PostgreSQL claims. Each
// demonstrates a way an acknowledged job is stranded, run twice, or over its limits; a test
// here that FAILS TODAY is the evidence of a finding (see the review report), not a flake.

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jobsched/jobsched"
	"github.com/jobsched/jobsched/internal/pgtest"
	"github.com/jobsched/jobsched/persistence/postgres"
	"github.com/stretchr/testify/require"
)

// REVIEW finding: DeleteCategory on node A checks "no unfinished job" against A's Counts, which
// see another node's inserts only at the next refresh (CountsEvery, 1s by default). A job that
// node B acknowledged in the category just before is then left in a deleted category: no Fifo
// on any node ever claims it (stranded for good, not even a restart runs it).
func TestReviewDeleteCategoryStrandsAnotherNodesJob(t *testing.T) {
	dsn := pgtest.DSN(t)
	mk := func(name string) *jobsched.Scheduler {
		st := open(t, dsn, postgres.Options{Node: name})
		s, err := jobsched.New(jobsched.Config{Store: st, Workers: 2})
		require.NoError(t, err)
		require.NoError(t, s.Register("k", func(context.Context, *jobsched.Job) (any, error) { return "ok", nil }))
		require.NoError(t, s.Start(ctx))
		t.Cleanup(func() { require.NoError(t, s.Close(ctx)) })
		return s
	}
	a, b := mk("a"), mk("b")
	_, _, err := a.PutCategory(ctx, jobsched.Category{Name: "extra", MaxWorkers: 2, QueueLimit: 50})
	require.NoError(t, err)
	require.Eventually(t, func() bool { _, ok := categoryInfo(b, "extra"); return ok }, 5*time.Second, 5*time.Millisecond)

	// B acknowledges a job in "extra" (held back an hour: unfinished, not running).
	j, err := b.Enqueue(ctx, jobsched.JobSpec{Kind: "k", Category: "extra", Delay: jobsched.Duration(time.Hour)})
	require.NoError(t, err)

	// A deletes the category at once: it must refuse, since a job of it is unfinished.
	err = a.DeleteCategory(ctx, "extra")
	if err == nil {
		got, gerr := a.Get(ctx, j.ID)
		require.NoError(t, gerr)
		t.Fatalf("DeleteCategory on a succeeded while b's acknowledged job %s is %s in it: stranded in a deleted category", j.ID, got.State)
	}
	require.True(t, errors.Is(err, jobsched.ErrCategoryInUse), "err: %v", err)
}
