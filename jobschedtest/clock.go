package jobschedtest

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jobsched/jobsched"
)

// Clock is a fake clock for jobsched.Config.Clock: its time stands still until Advance moves
// it, so a test can enqueue a job due in an hour, or a failing job with a long backoff, move
// the clock, and see the job run at once, without waiting real time. The scheduler reads it for
// run_at, retry backoffs, periodic ticks, rate limits, the worker balancer and its polls of the
// store (so those wait for Advance too: a category with min_workers 0 gets a worker for its
// first job once the clock moves 50 ms). Store writes that fail and are tried again keep real
// time.
type Clock struct {
	mu     sync.Mutex
	now    time.Time
	seq    uint64
	timers map[*clockTimer]struct{}
}

// NewClock returns a Clock that reads start until it is moved.
func NewClock(start time.Time) *Clock {
	return &Clock{now: start, timers: map[*clockTimer]struct{}{}}
}

var _ jobsched.Clock = (*Clock)(nil)

// Now implements jobsched.Clock.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// AfterFunc implements jobsched.Clock: f runs (on the goroutine that moves the clock) once the
// clock has moved d on; at once, on the caller's goroutine, if d is not positive.
func (c *Clock) AfterFunc(d time.Duration, f func()) jobsched.Timer {
	c.mu.Lock()
	c.seq++
	t := &clockTimer{c: c, at: c.now.Add(d), seq: c.seq, f: f}
	if d > 0 {
		c.timers[t] = struct{}{}
		c.mu.Unlock()
		return t
	}
	c.mu.Unlock()
	f()
	return t
}

// Advance moves the clock d on, running every timer due by then in time order: the clock reads
// each timer's time while its function runs (so a timer set there counts from it), and the end
// time once Advance returns. The scheduler acts on its timers asynchronously: wait for what
// should follow (WaitState, RequireFinished, Drain).
func (c *Clock) Advance(d time.Duration) {
	if d < 0 {
		panic(fmt.Sprintf("jobschedtest: Clock.Advance(%s): time does not go back", d))
	}
	c.mu.Lock()
	end := c.now.Add(d)
	c.mu.Unlock()
	for {
		t := c.nextDue(end)
		if t == nil {
			break
		}
		t.f()
	}
}

// AdvanceTo moves the clock to t (no move if t is not after Now), as Advance does.
func (c *Clock) AdvanceTo(t time.Time) {
	if d := t.Sub(c.Now()); d > 0 {
		c.Advance(d)
	}
}

// Pending is the number of timers set and not yet fired or stopped (for tests of the clock).
func (c *Clock) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

// nextDue removes the earliest timer due by end, moves the clock to its time and returns it;
// when none is due, it moves the clock to end and returns nil.
func (c *Clock) nextDue(end time.Time) *clockTimer {
	c.mu.Lock()
	defer c.mu.Unlock()
	var first *clockTimer
	for t := range c.timers {
		if t.at.After(end) {
			continue
		}
		if first == nil || t.at.Before(first.at) || (t.at.Equal(first.at) && t.seq < first.seq) {
			first = t
		}
	}
	if first == nil {
		// Nothing is due: the clock reaches end under the same lock, so a timer set from
		// now on counts from end, and one set before was seen above (a timer set between a
		// last look and a later move to end would be left behind, due and never run).
		if end.After(c.now) {
			c.now = end
		}
		return nil
	}
	delete(c.timers, first)
	if first.at.After(c.now) {
		c.now = first.at
	}
	return first
}

// clockTimer is a timer of a Clock.
type clockTimer struct {
	c   *Clock
	at  time.Time
	seq uint64
	f   func()
}

// Stop implements jobsched.Timer: it reports whether the timer was still pending.
func (t *clockTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	_, ok := t.c.timers[t]
	delete(t.c.timers, t)
	return ok
}

// WaitState waits until the job is in state want and returns it; a job that finishes in
// another state is an error, and so is ctx ending. Use it before moving a Clock past a retry:
// the backoff of a failed attempt counts from the clock's time when the failure is stored.
func WaitState(ctx context.Context, s *jobsched.Scheduler, id string, want jobsched.State) (*jobsched.Job, error) {
	j, err := WaitJob(ctx, s, id, func(j *jobsched.Job) bool { return j.State == want || j.State.Finished() })
	if err == nil && j.State != want {
		return j, fmt.Errorf("jobschedtest: job %s ended %s, not %s; last error: %q", id, j.State, want, j.LastError())
	}
	return j, err
}

// WaitJob waits until cond holds for the stored job and returns it, or returns ctx's error (or
// the scheduler's, if it closes). cond runs on each change of a job.
func WaitJob(ctx context.Context, s *jobsched.Scheduler, id string, cond func(*jobsched.Job) bool) (*jobsched.Job, error) {
	events, stop := s.Subscribe(64)
	defer stop()
	for {
		j, err := s.Get(ctx, id)
		if err != nil {
			return nil, err
		}
		if cond(j) {
			return j, nil
		}
		select {
		case _, ok := <-events:
			if !ok {
				return nil, jobsched.ErrClosed
			}
		case <-ctx.Done():
			return nil, fmt.Errorf("jobschedtest: job %s (%s, attempt %d): %w", id, j.State, j.Attempt, ctx.Err())
		}
	}
}
