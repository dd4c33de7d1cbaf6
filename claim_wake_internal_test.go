package jobsched

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jobsched/jobsched/internal/pgtest"
	"github.com/jobsched/jobsched/persistence"
	"github.com/jobsched/jobsched/persistence/postgres"
	"github.com/stretchr/testify/require"
)

// heldClaims is a real PostgreSQL store whose next claim, once armed, waits for release before
// it reaches the database (a claim slow on its way); it counts the claims in flight and those
// that found nothing.
type heldClaims struct {
	*postgres.Store
	mu       sync.Mutex
	armed    bool
	held     chan struct{} // closed when the armed claim waits
	release  chan struct{}
	inflight atomic.Int32
	empty    atomic.Int32
	passed   atomic.Bool // the held claim went on
}

func (h *heldClaims) arm() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.armed = true
}

func (h *heldClaims) Claim(ctx context.Context, cat string, limit int, opt persistence.ClaimOptions, start persistence.Mutator) ([]*persistence.Job, error) {
	h.inflight.Add(1)
	defer h.inflight.Add(-1)
	h.mu.Lock()
	hold := h.armed
	h.armed = false
	h.mu.Unlock()
	if hold {
		close(h.held)
		select {
		case <-h.release:
			h.passed.Store(true)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	jobs, err := h.Store.Claim(ctx, cat, limit, opt, start)
	if err == nil && len(jobs) == 0 {
		h.empty.Add(1)
	}
	return jobs, err
}

// A job enqueued while a claim is on its way and a worker is free that the claim did not ask
// for is claimed at once by a second claim, not after the first one returns (issue 12's p99 at
// 500/s: at the start of a run, jobs waited for the slow claims ahead of them).
func TestWakeClaimsBesideAClaimOnItsWay(t *testing.T) {
	ctx := context.Background()
	st, err := postgres.Open(ctx, postgres.Options{DSN: pgtest.DSN(t), Node: "a"})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	h := &heldClaims{Store: st, held: make(chan struct{}), release: make(chan struct{})}
	s, err := New(Config{Store: h, Workers: 2, PollInterval: time.Hour,
		Categories: []Category{{Name: DefaultCategory, MinWorkers: 2, MaxWorkers: 2}}})
	require.NoError(t, err)
	blockStarted, unblock := make(chan struct{}), make(chan struct{})
	require.NoError(t, s.Register("block", func(context.Context, *Job) (any, error) {
		close(blockStarted)
		<-unblock
		return nil, nil
	}))
	var ran sync.Map
	require.NoError(t, s.Register("k", func(_ context.Context, j *Job) (any, error) {
		ran.Store(j.ID, true)
		return nil, nil
	}))
	require.NoError(t, s.Start(ctx))
	t.Cleanup(func() { require.NoError(t, s.Close(ctx)) })
	t.Cleanup(func() { close(h.release) }) // before Close: the held claim returns

	// One worker busy, the Fifo quiet.
	_, err = s.Enqueue(ctx, JobSpec{Kind: "block"})
	require.NoError(t, err)
	<-blockStarted
	require.Eventually(t, func() bool { return h.inflight.Load() == 0 }, 5*time.Second, time.Millisecond)

	// b's wake-up starts a claim for the free worker, which is held on its way.
	h.arm()
	b, err := s.Enqueue(ctx, JobSpec{Kind: "k"})
	require.NoError(t, err)
	<-h.held
	// The busy worker comes back: a second claim takes b; the next finds the queue empty.
	close(unblock)
	require.Eventually(t, func() bool {
		_, ok := ran.Load(b.ID)
		return ok && h.empty.Load() > 0 && h.inflight.Load() == 1
	}, 5*time.Second, time.Millisecond)

	// c arrives while the first claim is still held, with a worker it did not ask for free.
	c, err := s.Enqueue(ctx, JobSpec{Kind: "k"})
	require.NoError(t, err)
	require.Eventually(t, func() bool { _, ok := ran.Load(c.ID); return ok }, 5*time.Second, time.Millisecond,
		"c waited for the held claim to return")
	require.False(t, h.passed.Load(), "the first claim is still held")
}
