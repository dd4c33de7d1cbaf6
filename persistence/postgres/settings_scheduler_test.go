package postgres_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/jobsched/jobsched"
	"github.com/jobsched/jobsched/internal/pgtest"
	"github.com/jobsched/jobsched/persistence/postgres"
	"github.com/stretchr/testify/require"
)

func categoryInfo(s *jobsched.Scheduler, name string) (jobsched.CategoryInfo, bool) {
	for _, c := range s.Categories() {
		if c.Name == name {
			return c, true
		}
	}
	return jobsched.CategoryInfo{}, false
}

// A pause, a resume, a category put and a category deleted on one node apply on the other within
// about a second (a NOTIFY wakes its settings sync); the poll interval is long, so the
// notification, not the poll, carries them.
func TestSettingsApplyClusterWide(t *testing.T) {
	dsn := pgtest.DSN(t)
	mk := func(name string) *jobsched.Scheduler {
		st := open(t, dsn, postgres.Options{Node: name})
		s, err := jobsched.New(jobsched.Config{Store: st, Workers: 4, PollInterval: time.Minute})
		require.NoError(t, err)
		require.NoError(t, s.Register("k", func(context.Context, *jobsched.Job) (any, error) { return "ok", nil }))
		require.NoError(t, s.Start(ctx))
		t.Cleanup(func() { require.NoError(t, s.Close(ctx)) })
		return s
	}
	a, b := mk("a"), mk("b")
	within := func(what string, cond func() bool) {
		t.Helper()
		at := time.Now()
		require.Eventually(t, cond, 2*time.Second, 5*time.Millisecond, what)
		t.Logf("%s: %s", what, time.Since(at).Round(time.Millisecond))
	}

	require.NoError(t, a.Pause("default"))
	within("b paused", func() bool { c, _ := categoryInfo(b, "default"); return c.Paused })
	j, err := b.Enqueue(ctx, jobsched.JobSpec{Kind: "k"})
	require.NoError(t, err)
	require.Never(t, func() bool {
		got, err := a.Get(ctx, j.ID)
		return err != nil || got.State != jobsched.StateQueued
	}, 300*time.Millisecond, 10*time.Millisecond, "paused on both nodes: the job waits")
	require.NoError(t, a.Resume("default"))
	within("b resumed", func() bool { c, _ := categoryInfo(b, "default"); return !c.Paused })
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	done, err := b.Wait(wctx, j.ID)
	require.NoError(t, err)
	require.Equal(t, jobsched.StateSucceeded, done.State)

	put, created, err := a.PutCategory(ctx, jobsched.Category{Name: "extra", MaxWorkers: 2, QueueLimit: 50})
	require.NoError(t, err)
	require.True(t, created)
	within("b has the new category", func() bool { c, ok := categoryInfo(b, "extra"); return ok && reflect.DeepEqual(c.Category, put) })
	ja, ok := categoryInfo(a, "extra")
	require.True(t, ok)
	require.Equal(t, put, ja.Category, "a keeps what it put (its own sync finds nothing to change)")
	j, err = b.Enqueue(ctx, jobsched.JobSpec{Kind: "k", Category: "extra"})
	require.NoError(t, err)
	done, err = b.Wait(wctx, j.ID)
	require.NoError(t, err)
	require.Equal(t, jobsched.StateSucceeded, done.State)

	put.QueueLimit = 60
	_, _, err = b.PutCategory(ctx, put)
	require.NoError(t, err)
	within("a has the changed category", func() bool { c, _ := categoryInfo(a, "extra"); return c.QueueLimit == 60 })

	require.NoError(t, a.DeleteCategory(ctx, "extra"))
	within("b dropped the category", func() bool { _, ok := categoryInfo(b, "extra"); return !ok })
	_, err = b.Enqueue(ctx, jobsched.JobSpec{Kind: "k", Category: "extra"})
	require.Error(t, err, "b refuses the deleted category")
}
