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

// manyCountStore is a real PostgreSQL store that claims nothing of one category and counts its
// batched reads (GetMany).
type manyCountStore struct {
	skipStore
	many atomic.Int32
	hold atomic.Pointer[chan struct{}] // when set, the next GetMany answers once it is closed
}

func (s *manyCountStore) GetMany(ctx context.Context, ids []string) ([]*persistence.Job, error) {
	s.many.Add(1)
	if h := s.hold.Swap(nil); h != nil {
		<-*h                             // a slow database: the ids queue meanwhile
		ctx = context.WithoutCancel(ctx) // it answers late, but answers
	}
	return s.Store.GetMany(ctx, ids)
}

// A subscriber of node a's event stream sees the finish of a job node b ran within a second;
// while a has no subscriber, b's finishes cost a no read; another node's finishes never feed
// a's per-minute throughput.
func TestEventStreamShowsOtherNodesFinishes(t *testing.T) {
	dsn := pgtest.DSN(t)
	mk := func(st persistence.Store) *jobsched.Scheduler {
		s, err := jobsched.New(jobsched.Config{Store: st, Workers: 2, PollInterval: 100 * time.Millisecond})
		require.NoError(t, err)
		require.NoError(t, s.Register("ok", func(context.Context, *jobsched.Job) (any, error) { return "ok", nil }))
		require.NoError(t, s.Start(ctx))
		t.Cleanup(func() {
			c, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			require.NoError(t, s.Close(c))
		})
		return s
	}
	// a runs the default category's jobs, b those of "bonly".
	as := &manyCountStore{skipStore: skipStore{Store: open(t, dsn, postgres.Options{Node: "a"}), cat: "bonly"}}
	a := mk(as)
	b := mk(&skipStore{Store: open(t, dsn, postgres.Options{Node: "b"}), cat: "default"})
	_, _, err := a.PutCategory(ctx, jobsched.Category{Name: "bonly", MaxWorkers: 2, QueueLimit: 500})
	require.NoError(t, err)
	require.Eventually(t, func() bool { _, ok := categoryInfo(b, "bonly"); return ok }, 5*time.Second, 5*time.Millisecond)

	// No subscriber on a: b's finishes make no read on a. A Wait on a for a last job, whose
	// finish b notifies after the others, proves a's listener has seen them all.
	specs := make([]jobsched.JobSpec, 50)
	for i := range specs {
		specs[i] = jobsched.JobSpec{Kind: "ok", Category: "bonly"}
	}
	_, err = b.EnqueueBatch(ctx, specs)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		n := 0
		for _, c := range b.Categories() {
			if c.Name == "bonly" {
				n = c.Counts[jobsched.StateSucceeded]
			}
		}
		return n == len(specs)
	}, 20*time.Second, 10*time.Millisecond, "b runs the 50 jobs")
	last, err := b.Enqueue(ctx, jobsched.JobSpec{Kind: "ok", Category: "bonly"})
	require.NoError(t, err)
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	got, err := a.Wait(wctx, last.ID)
	require.NoError(t, err)
	require.Equal(t, jobsched.StateSucceeded, got.State)
	require.Zero(t, as.many.Load(), "no batched read without a subscriber")
	require.Equal(t, jobsched.ClusterEventStats{}, a.ClusterEventStats())

	// A subscriber on a sees b's finish within a second.
	events, stop := a.Subscribe(256)
	defer stop()
	j, err := b.Enqueue(ctx, jobsched.JobSpec{Kind: "ok", Category: "bonly"})
	require.NoError(t, err)
	deadline := time.After(10 * time.Second)
	for {
		var ev jobsched.Event
		select {
		case ev = <-events:
		case <-deadline:
			t.Fatal("a's stream never showed the finish of b's job")
		}
		if ev.Job == nil || ev.Job.ID != j.ID || !ev.Job.State.Finished() {
			continue
		}
		seen := time.Now()
		require.Equal(t, jobsched.StateSucceeded, ev.Job.State)
		require.NotNil(t, ev.Job.FinishedAt)
		require.Less(t, seen.Sub(*ev.Job.FinishedAt), time.Second, "seen on a within a second of b's finish")
		break
	}
	st := a.ClusterEventStats()
	require.GreaterOrEqual(t, st.Reads, uint64(1))
	require.GreaterOrEqual(t, st.Jobs, uint64(1))
	require.Zero(t, st.Dropped)
	require.Positive(t, as.many.Load())

	// A burst of b's finishes, while a's first read of them is slow, queues up and is read in a
	// few batches; every one is shown.
	before := a.ClusterEventStats()
	release := make(chan struct{})
	as.hold.Store(&release)
	defer func() { // a failure below must not leave a's loop held (Close would wait on it)
		select {
		case <-release:
		default:
			close(release)
		}
	}()
	burst := make([]jobsched.JobSpec, 400)
	for i := range burst {
		burst[i] = jobsched.JobSpec{Kind: "ok", Category: "bonly"}
	}
	_, err = b.EnqueueBatch(ctx, burst)
	require.NoError(t, err)
	go func() { // the subscriber keeps up (its own losses are the hub's Resync, not counted here)
		for range events {
		}
	}()
	require.Eventually(t, func() bool {
		for _, c := range b.Categories() {
			if c.Name == "bonly" {
				return c.Counts[jobsched.StateSucceeded] == len(specs)+2+len(burst)
			}
		}
		return false
	}, 20*time.Second, 10*time.Millisecond, "b runs the burst")
	close(release)
	require.Eventually(t, func() bool {
		st := a.ClusterEventStats()
		return st.Jobs+st.Dropped-before.Jobs-before.Dropped == uint64(len(burst))
	}, 20*time.Second, 10*time.Millisecond, "every finish of the burst shown on a")
	st = a.ClusterEventStats()
	require.Zero(t, st.Dropped)
	require.LessOrEqual(t, st.Reads-before.Reads, uint64(20), "the queued finishes are read in batches")
	t.Logf("burst of %d finishes on b: %d reads on a, %d dropped", len(burst), st.Reads-before.Reads, st.Dropped)

	// b's finishes are b's throughput, never a's (a's waited and streamed reads included).
	for _, m := range a.Throughput()["bonly"] {
		require.Zero(t, m.Succeeded+m.Failed, "a counts none of b's finishes")
	}
	total := 0
	for _, m := range b.Throughput()["bonly"] {
		total += m.Succeeded
	}
	require.Equal(t, len(specs)+2+len(burst), total)
}
