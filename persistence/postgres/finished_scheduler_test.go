package postgres_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jobsched/jobsched"
	"github.com/jobsched/jobsched/internal/pgtest"
	"github.com/jobsched/jobsched/persistence"
	"github.com/jobsched/jobsched/persistence/postgres"
	"github.com/stretchr/testify/require"
)

// slowGetStore is a real PostgreSQL store that claims nothing of one category and whose second
// read of one job waits until its context ends (a slow database); the first read of it is
// reported on waiting.
type slowGetStore struct {
	*postgres.Store
	skip    string
	slow    atomic.Value // string: the id read slowly
	reads   atomic.Int32
	waiting chan struct{}
}

func (s *slowGetStore) Claim(ctx context.Context, cat string, limit int, opt persistence.ClaimOptions, start persistence.Mutator) ([]*persistence.Job, error) {
	if cat == s.skip {
		return nil, nil
	}
	return s.Store.Claim(ctx, cat, limit, opt, start)
}

func (s *slowGetStore) Get(ctx context.Context, id string) (*persistence.Job, error) {
	if slow, _ := s.slow.Load().(string); slow == id {
		switch s.reads.Add(1) {
		case 1:
			close(s.waiting)
		case 2:
			<-ctx.Done()
			return nil, ctx.Err()
		}
	}
	return s.Store.Get(ctx, id)
}

// A finish on another node that a Wait here waits for is read off the LISTEN goroutine: while
// that read is slow, a cancel asked on the other node still reaches the job running here within
// a second (the notifications are read one at a time).
func TestSlowFinishedReadDoesNotDelayCancels(t *testing.T) {
	dsn := pgtest.DSN(t)
	gate := make(chan struct{})
	cancelled := make(chan time.Time, 1)
	mk := func(st persistence.Store) *jobsched.Scheduler {
		s, err := jobsched.New(jobsched.Config{Store: st, Workers: 2, PollInterval: 100 * time.Millisecond})
		require.NoError(t, err)
		require.NoError(t, s.Register("gate", func(context.Context, *jobsched.Job) (any, error) { <-gate; return "ok", nil }))
		require.NoError(t, s.Register("block", func(ctx context.Context, _ *jobsched.Job) (any, error) {
			<-ctx.Done()
			cancelled <- time.Now()
			return nil, context.Cause(ctx)
		}))
		require.NoError(t, s.Start(ctx))
		t.Cleanup(func() {
			c, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			require.NoError(t, s.Close(c))
		})
		return s
	}
	// a runs the default category's jobs, b those of "bonly".
	as := &slowGetStore{Store: open(t, dsn, postgres.Options{Node: "a"}), skip: "bonly", waiting: make(chan struct{})}
	a := mk(as)
	b := mk(&skipStore{Store: open(t, dsn, postgres.Options{Node: "b"}), cat: "default"})
	_, _, err := a.PutCategory(ctx, jobsched.Category{Name: "bonly", MaxWorkers: 2, QueueLimit: 50})
	require.NoError(t, err)
	require.Eventually(t, func() bool { _, ok := categoryInfo(b, "bonly"); return ok }, 5*time.Second, 5*time.Millisecond)

	blocked, err := a.Enqueue(ctx, jobsched.JobSpec{Kind: "block"})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		got, err := a.Get(ctx, blocked.ID)
		return err == nil && got.State == jobsched.StateRunning
	}, 10*time.Second, 5*time.Millisecond, "a runs the blocking job")

	g, err := b.Enqueue(ctx, jobsched.JobSpec{Kind: "gate", Category: "bonly"})
	require.NoError(t, err)
	as.slow.Store(g.ID)
	wctx, stopWait := context.WithCancel(ctx)
	defer stopWait()
	waited := make(chan struct{})
	go func() {
		defer close(waited)
		_, _ = a.Wait(wctx, g.ID) // its end is not the point: the slow read may lose it
	}()
	<-as.waiting // a waits for g: b's finish of it is read on a (slowly)
	close(gate)
	require.Eventually(t, func() bool {
		got, err := b.Get(ctx, g.ID)
		return err == nil && got.State == jobsched.StateSucceeded
	}, 10*time.Second, 5*time.Millisecond, "b finishes g")
	asked := time.Now()
	_, err = b.Cancel(ctx, blocked.ID)
	require.NoError(t, err)
	select {
	case at := <-cancelled:
		require.Less(t, at.Sub(asked), time.Second, "the cancel reached a's handler within a second")
	case <-time.After(10 * time.Second):
		t.Fatal("the cancel never reached a's handler")
	}
	stopWait()
	<-waited
}
