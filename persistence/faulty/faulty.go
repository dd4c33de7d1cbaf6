// Package faulty wraps a persistence.Store and injects faults into it, drawn from a seeded
// random source, so tests can check that a scheduler loses no job when its store misbehaves:
//
//   - a write that fails before it is made (nothing stored; the caller gets ErrInjected);
//   - a write that fails after it is made (stored, but the caller gets ErrInjected, as when a
//     sync error follows a commit, or the answer is lost);
//   - a slow write (it waits Options.SlowFor before it is made);
//   - a caller that leaves during the commit (its context is cancellable: the call returns
//     context.Canceled at once while the write goes on and lands);
//   - a failed read of the queued or waiting jobs, or of one job.
//
// Faults are injected only while the store is enabled (New returns it enabled); Disable stops
// them, so a test can check that everything settles once the faults stop.
package faulty

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jobsched/jobsched/persistence"
)

// ErrInjected is the error of every injected failure.
var ErrInjected = errors.New("faulty: injected store failure")

// Options are the probabilities (0 to 1) of each fault, per call.
type Options struct {
	// Seed makes the faults repeatable (with the same calls in the same order).
	Seed uint64
	// FailBefore: a write (Insert, Update, UpdateAsync) fails without being made.
	FailBefore float64
	// FailAfter: a write is made, then reported failed.
	FailAfter float64
	// Slow: a write waits SlowFor first (Insert and Update only).
	Slow    float64
	SlowFor time.Duration
	// Leave: a caller with a cancellable context leaves during the commit (Insert and Update).
	Leave float64
	// FailRead: Queued, Waiting or Get fails.
	FailRead float64
}

// Counts are the faults injected so far.
type Counts struct {
	FailBefore, FailAfter, Slow, Leave, FailRead uint64
}

// Store is a persistence.Store that injects faults into the one it wraps.
type Store struct {
	inner   persistence.Store
	opt     Options
	enabled atomic.Bool

	mu  sync.Mutex
	rng *rand.Rand

	failBefore, failAfter, slow, leave, failRead atomic.Uint64
	failed                                       atomic.Pointer[error]
}

var _ persistence.Store = (*Store)(nil)

// New wraps inner, with faults enabled.
func New(inner persistence.Store, opt Options) *Store {
	s := &Store{inner: inner, opt: opt, rng: rand.New(rand.NewPCG(opt.Seed, opt.Seed^0x9e3779b97f4a7c15))}
	s.enabled.Store(true)
	return s
}

// Enable starts injecting faults again; Disable stops.
func (s *Store) Enable() { s.enabled.Store(true) }

// Disable stops injecting faults: every call goes to the wrapped store as it is.
func (s *Store) Disable() { s.enabled.Store(false) }

// Injected returns the faults injected so far.
func (s *Store) Injected() Counts {
	return Counts{FailBefore: s.failBefore.Load(), FailAfter: s.failAfter.Load(), Slow: s.slow.Load(),
		Leave: s.leave.Load(), FailRead: s.failRead.Load()}
}

// Inner returns the wrapped store.
func (s *Store) Inner() persistence.Store { return s.inner }

// roll draws whether a fault of probability p happens now.
func (s *Store) roll(p float64, n *atomic.Uint64) bool {
	if p <= 0 || !s.enabled.Load() {
		return false
	}
	s.mu.Lock()
	hit := s.rng.Float64() < p
	s.mu.Unlock()
	if hit {
		n.Add(1)
	}
	return hit
}

// write runs one synchronous write with the faults a write may get; do makes it and returns
// its result.
func write[T any](s *Store, ctx context.Context, do func(context.Context) (T, error)) (T, error) {
	var zero T
	if p := s.failed.Load(); p != nil {
		return zero, *p
	}
	if s.roll(s.opt.FailBefore, &s.failBefore) {
		return zero, ErrInjected
	}
	if s.roll(s.opt.Slow, &s.slow) {
		t := time.NewTimer(s.opt.SlowFor)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return zero, ctx.Err()
		}
	}
	after := s.roll(s.opt.FailAfter, &s.failAfter)
	if ctx.Done() != nil && s.roll(s.opt.Leave, &s.leave) {
		// The caller leaves; the write goes on (as the real store's writer does) and lands.
		go func() { _, _ = do(context.WithoutCancel(ctx)) }() // nobody waits for this answer any more
		return zero, context.Canceled
	}
	v, err := do(ctx)
	if err == nil && after {
		return zero, ErrInjected
	}
	return v, err
}

// Insert implements persistence.Store.
func (s *Store) Insert(ctx context.Context, jobs []*persistence.Job) ([]persistence.InsertResult, error) {
	return write(s, ctx, func(c context.Context) ([]persistence.InsertResult, error) { return s.inner.Insert(c, jobs) })
}

// Update implements persistence.Store.
func (s *Store) Update(ctx context.Context, id string, fn persistence.Mutator, durable bool) (*persistence.Job, error) {
	return write(s, ctx, func(c context.Context) (*persistence.Job, error) { return s.inner.Update(c, id, fn, durable) })
}

// UpdateAsync implements persistence.Store. An injected failure before the write answers at
// once, on the caller's goroutine.
func (s *Store) UpdateAsync(id string, fn persistence.Mutator, durable bool, done func(*persistence.Job, error)) {
	if p := s.failed.Load(); p != nil {
		if done != nil {
			done(nil, *p)
		}
		return
	}
	if s.roll(s.opt.FailBefore, &s.failBefore) {
		if done != nil {
			done(nil, ErrInjected)
		}
		return
	}
	if s.roll(s.opt.FailAfter, &s.failAfter) {
		s.inner.UpdateAsync(id, fn, durable, func(j *persistence.Job, err error) {
			if err == nil {
				err = ErrInjected
			}
			if done != nil {
				done(j, err)
			}
		})
		return
	}
	s.inner.UpdateAsync(id, fn, durable, done)
}

// Get implements persistence.Store.
func (s *Store) Get(ctx context.Context, id string) (*persistence.Job, error) {
	if s.roll(s.opt.FailRead, &s.failRead) {
		return nil, ErrInjected
	}
	return s.inner.Get(ctx, id)
}

// List implements persistence.Store (no faults: it is not on a job's path).
func (s *Store) List(ctx context.Context, opt persistence.ListOptions) ([]*persistence.Job, string, error) {
	return s.inner.List(ctx, opt)
}

// Queued implements persistence.Store.
func (s *Store) Queued(ctx context.Context, category string, afterSeq uint64, limit int) ([]*persistence.Job, error) {
	if s.roll(s.opt.FailRead, &s.failRead) {
		return nil, ErrInjected
	}
	return s.inner.Queued(ctx, category, afterSeq, limit)
}

// Waiting implements persistence.Store.
func (s *Store) Waiting(ctx context.Context, fn func(id string, runAt time.Time) error) error {
	if s.roll(s.opt.FailRead, &s.failRead) {
		return ErrInjected
	}
	return s.inner.Waiting(ctx, fn)
}

// Running implements persistence.Store (no faults: a scheduler reads it once, at Start).
func (s *Store) Running(ctx context.Context, fn func(id string) error) error {
	return s.inner.Running(ctx, fn)
}

// Backlog implements persistence.Store.
func (s *Store) Backlog(category string) int { return s.inner.Backlog(category) }

// Counts implements persistence.Store.
func (s *Store) Counts() map[string]persistence.StateCounts { return s.inner.Counts() }

// Stats implements persistence.Store.
func (s *Store) Stats() persistence.Stats { return s.inner.Stats() }

// Fail makes the store fail for good, as a store does after a failed sync: Err returns err
// (wrapped in persistence.ErrStoreFailed), and every write from now on fails with it (without
// being made).
func (s *Store) Fail(err error) {
	err = fmt.Errorf("%w: %w", persistence.ErrStoreFailed, err)
	s.failed.Store(&err)
}

// Err is the store's sticky failure (Fail), or the wrapped store's, if it reports one.
func (s *Store) Err() error {
	if p := s.failed.Load(); p != nil {
		return *p
	}
	return s.inner.Err()
}

// Close implements persistence.Store: it closes the wrapped store.
func (s *Store) Close() error { return s.inner.Close() }

// Delete implements persistence.Store.
func (s *Store) Delete(ctx context.Context, id string) error {
	_, err := write(s, ctx, func(c context.Context) (struct{}, error) { return struct{}{}, s.inner.Delete(c, id) })
	return err
}

// Settings implements persistence.Store (no faults: settings are not on a job's path).
func (s *Store) Settings(ctx context.Context) (map[string][]byte, error) {
	return s.inner.Settings(ctx)
}

// PutSetting implements persistence.Store.
func (s *Store) PutSetting(ctx context.Context, key string, val []byte) error {
	return s.inner.PutSetting(ctx, key, val)
}

// DeleteSetting implements persistence.Store.
func (s *Store) DeleteSetting(ctx context.Context, key string) error {
	return s.inner.DeleteSetting(ctx, key)
}
