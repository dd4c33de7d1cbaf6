package jobsched

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/jobsched/jobsched/actors"
	"github.com/jobsched/jobsched/internal/jsonscan"
	"github.com/jobsched/jobsched/persistence"
)

// runner is the actors.Runner: one attempt of one job, from "running" to its outcome stored.
type runner struct{ s *Scheduler }

// outcome is how an attempt ended.
type outcome struct {
	result    json.RawMessage
	err       string
	panicked  bool
	cancelled bool // Cancel asked for it
	shutdown  bool // Close ran out of time: back to the queue, the attempt not counted
}

// Run implements actors.Runner. Store calls use a background context: the writer always answers,
// and a start or finish must not be abandoned halfway.
func (r runner) Run(ctx context.Context, queued *Job) (panicText string) {
	s := r.s
	// A job a Fifo claimed (claims.go) comes with its start stored; take it, unless it was
	// given back meanwhile.
	claimed := s.claims != nil && queued.State == StateRunning
	var claim claimEntry
	if claimed {
		var ok bool
		if claim, ok = s.claims.take(queued.ID); !ok {
			return ""
		}
	}
	if s.draining.Load() {
		if claimed {
			s.abandonStart(queued.ID, claim.startedAt)
		}
		return "" // handed out before the drain began: it stays queued, no attempt charged
	}
	cancels := s.cancels.Load()
	var now time.Time
	rec := queued
	if claimed {
		now, cancels = claim.startedAt, claim.cancels
	} else {
		now = s.startStamp()
		var err error
		if rec, err = s.startWrite(ctx, queued.ID, now); err != nil {
			// Cancelled meanwhile, taken by another hand-off, or left queued for a rescan. A
			// write that failed for a reason that may pass may have been made all the same:
			// give it back.
			if !persistence.Permanent(err) {
				s.abandonStart(queued.ID, now)
			}
			return ""
		}
	}
	// The handler gets rec itself: a record the store answered this start with (or the claim
	// brought), which nobody else holds, and which it may change. What the attempt needs of it
	// once the handler ran is read now: nothing below the handler reads rec (a store call that
	// wants the record after the handler must be given a copy taken before it).
	id, attempt, timeout := rec.ID, rec.Attempt, time.Duration(rec.Timeout)
	var started *Job // the record as the attempt started, for a store that writes successes itself
	if _, ok := s.store.(persistence.SuccessWriter); ok {
		started = rec.Clone()
	}
	s.publishStarted(rec)
	if s.cfg.Observer != nil {
		s.cfg.Observer.JobStarted(rec, now.Sub(rec.RunAt))
	}

	jctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	if rec.Timeout > 0 {
		var stop context.CancelFunc
		jctx, stop = context.WithTimeoutCause(jctx, time.Duration(rec.Timeout), ErrTimeout)
		defer stop()
	}
	// The parents are copied: the handler may write into rec.Parents, and ParentResults answers
	// for the stored ones (a job without parents costs nothing: Clone of nil is nil).
	jctx = &attemptCtx{Context: jctx, info: attemptInfo{s: s, id: rec.ID, attempt: rec.Attempt, startedAt: now, parents: slices.Clone(rec.Parents)}}
	jctx, span := s.traceAttempt(jctx, rec) // nil when tracing is off (tracing.go)
	if s.testHookStarted != nil {
		s.testHookStarted(rec.ID)
	}
	s.running.Store(rec.ID, cancel)
	if s.cancels.Load() != cancels {
		// A Cancel ran between the start write and the line above; it may have found no
		// attempt to cancel. The store says whether it asked.
		if cur, err := s.store.Get(context.Background(), rec.ID); err == nil && cur.CancelRequested {
			cancel(ErrCancelled)
		}
	}
	var out outcome
	switch {
	case errors.Is(context.Cause(jctx), ErrCancelled):
		out.cancelled = true
	case s.draining.Load() || ctx.Err() != nil:
		// The drain began, or the worker stopped, before the handler did: the job goes back
		// to its queue, its attempt given back.
		out.shutdown = true
	default:
		out = s.invoke(jctx, rec)
		cause := context.Cause(jctx)
		if out.err != "" || out.result == nil && jctx.Err() != nil {
			switch {
			case errors.Is(cause, ErrCancelled):
				out.cancelled = true
			case errors.Is(cause, ErrShutdown):
				out.shutdown = true
			case errors.Is(cause, ErrTimeout):
				out.err = timeoutError(timeout, errors.New(out.err))
			case errors.Is(cause, actors.ErrWorkerStopped):
				out.err = "worker stopped: " + out.err
			}
		}
	}
	s.running.Delete(id)
	endAttemptSpan(span, out)
	done := s.cfg.clock.Now()
	var then func(*Job) // nil without an Observer: one allocation less per attempt
	if obs := s.cfg.Observer; obs != nil {
		then = func(fj *Job) { obs.JobFinished(fj, done.Sub(now)) }
	}
	fin := s.finishAttempt(attempt, now, done, out)
	written := func(fj *Job, err error) {
		if errors.Is(err, persistence.ErrTooLarge) {
			// The outcome does not fit in one commit: it is refused for good, and the job
			// would stay running. Store a failed attempt that says so instead, from the
			// retrier's goroutine: this callback may run on the store's writer or pipe, and a
			// write submitted from there could wait for the writer itself (its queue full).
			s.retry.add(&retryItem{id: id, fn: s.tooLargeAttempt(attempt, now, done, err), then: then})
			return
		}
		s.finishWritten(id, fin, then, fj, err)
	}
	if sw, ok := s.store.(persistence.SuccessWriter); ok && started != nil && out.result != nil && out.err == "" {
		// The store writes the success itself (PostgreSQL: in SQL), fin when it cannot. It is
		// given the record as the attempt started, copied before the handler could change it.
		sw.SucceedAsync(persistence.Success{Job: started, At: done, Result: out.result}, fin, written)
	} else {
		s.store.UpdateAsync(id, fin, false, written)
	}
	if out.panicked {
		return out.err
	}
	return ""
}

// startWrite stores the start of an attempt, trying again while the store fails for a reason
// that may pass. It gives up when the worker stops or the drain begins: the job stays queued,
// and the Fifo finds it again.
func (s *Scheduler) startWrite(ctx context.Context, id string, now time.Time) (*Job, error) {
	for n := 1; ; n++ {
		j, err := s.store.Update(context.Background(), id, startAttempt(now), false)
		if err == nil || persistence.Permanent(err) {
			return j, err
		}
		s.log.Warn("store the start of a job; trying again", slog.String("job", id), slog.Int("tries", n), slog.Any("err", err))
		if !s.pause(ctx, actors.Backoff(n)) || s.draining.Load() {
			return nil, err
		}
	}
}

// publishStarted tells of a start as publish does. The handler gets j next and may change it:
// a subscriber, who reads the event later on the hub's goroutine, gets its own copy, made only
// when someone listens.
func (s *Scheduler) publishStarted(j *Job) {
	s.hub.minutes.add(j)
	if s.hub.nsubs.Load() > 0 {
		s.hub.job(j.Clone())
	}
}

// finishWrite stores the outcome of an attempt without waiting; a write the store refuses for
// a reason that may pass is tried again by the retrier. then runs once the outcome is stored.
func (s *Scheduler) finishWrite(id string, fn persistence.Mutator, then func(*Job)) {
	s.store.UpdateAsync(id, fn, false, func(fj *Job, err error) { s.finishWritten(id, fn, then, fj, err) })
}

// finishWritten takes the store's answer to the finish write fn: a refused write goes to the
// retrier.
func (s *Scheduler) finishWritten(id string, fn persistence.Mutator, then func(*Job), fj *Job, err error) {
	if err != nil {
		s.retry.add(&retryItem{id: id, fn: fn, then: then, err: err})
		return
	}
	s.finished(fj, then)
}

// keptErrors is how many attempt errors a job keeps when its record would not fit in one
// commit otherwise (tooLargeAttempt): the first and the latest ones.
const keptErrors = 16

// maxErrorText caps the text of an attempt error stored by tooLargeAttempt.
const maxErrorText = 4 << 10

// tooLargeAttempt is the finish stored in place of an outcome the store refused as too large
// (a result or error over the commit limit): the attempt fails with an error that says so, the
// result is dropped, and if the job has kept many errors, only the first and latest stay.
func (s *Scheduler) tooLargeAttempt(attempt int, startedAt, now time.Time, cause error) persistence.Mutator {
	msg := fmt.Sprintf("the outcome of this attempt is too large to store: %v", cause)
	if len(msg) > maxErrorText {
		msg = msg[:maxErrorText]
	}
	fail := s.finishAttempt(attempt, startedAt, now, outcome{err: msg})
	return func(j *Job) error {
		if err := fail(j); err != nil {
			return err
		}
		j.Result, j.Progress = nil, nil
		if n := len(j.Errors); n > keptErrors {
			j.Errors = append(j.Errors[:keptErrors/2:keptErrors/2], j.Errors[n-keptErrors/2:]...)
		}
		for i := range j.Errors {
			if len(j.Errors[i].Error) > maxErrorText {
				j.Errors[i].Error = j.Errors[i].Error[:maxErrorText] + "… (cut)"
			}
		}
		return nil
	}
}

// finished tells the others of a stored outcome: the Waiter of a retry, Wait callers of the end.
func (s *Scheduler) finished(fj *Job, then func(*Job)) {
	if fj.State == StateRetrying {
		s.env.System.Root.Send(s.env.WaiterPID(), &actors.Schedule{ID: fj.ID, RunAt: fj.RunAt})
	}
	s.publish(fj)
	if then != nil {
		then(fj)
	}
}

// startStamp is the start time of a new attempt: the clock's now, moved on by a nanosecond
// when an earlier start of this scheduler took that instant already. A start time names its
// attempt (startAttempt, finishAttempt, abandonStart), so no two attempts may share one, even
// under a coarse or fake clock.
func (s *Scheduler) startStamp() time.Time {
	now := s.cfg.clock.Now()
	for {
		last, n := s.lastStart.Load(), now.UnixNano()
		if n <= last {
			n = last + 1
		}
		if s.lastStart.CompareAndSwap(last, n) {
			return now.Add(time.Duration(n - now.UnixNano()))
		}
	}
}

// abandonStart gives back a start whose write failed for a reason that may pass and that
// startWrite stopped trying (its worker stopped, or the drain began): the store may hold it all
// the same, and then the job is running with no attempt behind it, which no audit questions.
// The give-back goes through the retrier like a finish: it lands, or finds the start was never
// made (ErrSkip), or Close makes its last pass (the next Start then recovers the job).
func (s *Scheduler) abandonStart(id string, startedAt time.Time) {
	s.finishWrite(id, giveBackStart(startedAt, s.cfg.clock.Now()), func(j *Job) {
		if j.State == StateQueued {
			s.env.System.Root.Send(s.env.DispatcherPID(), &actors.Enqueued{Jobs: []*Job{j}})
		}
	})
}

// giveBackStart is the store mutation of abandonStart: the attempt that started at startedAt,
// if the store holds it, goes back to its queue uncounted, as at a shutdown; a cancel asked for
// meanwhile ends the job cancelled, as a finish would.
func giveBackStart(startedAt, now time.Time) persistence.Mutator {
	return func(j *Job) error {
		if j.State != StateRunning || j.StartedAt == nil || !j.StartedAt.Equal(startedAt) {
			return persistence.ErrSkip
		}
		if j.CancelRequested {
			j.State, j.FinishedAt = StateCancelled, &now
			j.Errors = append(j.Errors, AttemptError{Attempt: j.Attempt, At: now, Error: "cancelled"})
			return nil
		}
		j.State = StateQueued
		j.Attempt--
		return nil
	}
}

// pause waits d, or returns false when ctx ends or the scheduler closes.
func (s *Scheduler) pause(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-s.quit:
		return false
	}
}

// invoke calls the handler, turning a panic into an outcome.
func (s *Scheduler) invoke(ctx context.Context, j *Job) (out outcome) {
	defer func() {
		if p := recover(); p != nil {
			out = outcome{err: fmt.Sprint(p), panicked: true}
		}
	}()
	h := s.handlers[j.Kind]
	if h == nil {
		return outcome{err: fmt.Sprintf("%v: %q", ErrNoHandler, j.Kind)}
	}
	res, err := h(ctx, j)
	if err != nil {
		return outcome{err: err.Error()}
	}
	if res == nil {
		return outcome{result: json.RawMessage("null")}
	}
	if raw, ok := res.(json.RawMessage); ok && jsonscan.Valid(raw) {
		return outcome{result: raw}
	}
	b, err := json.Marshal(res)
	if err != nil {
		return outcome{err: fmt.Sprintf("handler result is not JSON: %v", err)}
	}
	return outcome{result: b}
}

// startAttempt takes a queued job to running and counts the attempt before the handler runs, so
// a handler that kills the process still used up an attempt. Tried again after a write the
// store reported failed but made (its start time is this attempt's), it takes the job as is.
func startAttempt(now time.Time) persistence.Mutator {
	return func(j *Job) error {
		if j.State == StateRunning && j.StartedAt != nil && j.StartedAt.Equal(now) {
			return nil
		}
		if j.State != StateQueued {
			return persistence.ErrSkip
		}
		j.State = StateRunning
		j.Attempt++
		j.StartedAt = &now
		j.CancelRequested = false
		return nil
	}
}

// finishAttempt stores the outcome of an attempt on a running job. The attempt is named by its
// number and its start time: a number alone is not enough, since an attempt given back (a
// shutdown) is numbered again, and a finish tried again after a write the store made but
// reported failed must not land on the next attempt.
func (s *Scheduler) finishAttempt(attempt int, startedAt, now time.Time, out outcome) persistence.Mutator {
	return func(j *Job) error {
		if j.State != StateRunning || j.Attempt != attempt || j.StartedAt == nil || !j.StartedAt.Equal(startedAt) {
			return persistence.ErrSkip
		}
		switch {
		case out.result != nil && out.err == "":
			j.State, j.Result, j.FinishedAt = StateSucceeded, out.result, &now
		case out.cancelled || j.CancelRequested:
			j.State, j.FinishedAt = StateCancelled, &now
			j.Errors = append(j.Errors, AttemptError{Attempt: attempt, At: now, Error: "cancelled"})
		case out.shutdown:
			// Not the job's fault: back to its queue for the next start, the attempt given back.
			j.State = StateQueued
			j.Attempt--
		default:
			j.Errors = append(j.Errors, AttemptError{Attempt: attempt, At: now, Error: out.err, Panic: out.panicked})
			if j.Attempt >= j.MaxAttempts {
				j.State, j.FinishedAt = StateDead, &now
			} else {
				j.State, j.RunAt = StateRetrying, now.Add(s.cfg.RetryBackoff(j.Attempt))
			}
		}
		return nil
	}
}

// recoverRunning is the start-up mutation of a job found running: the process stopped during
// its attempt. The attempt counts (it may have been the handler that killed the process), so a
// job that keeps killing the process ends dead instead of looping forever.
func recoverRunning(now time.Time) persistence.Mutator {
	return persistence.Interrupted(now, "the process stopped while this attempt ran")
}

// jitter spreads d by ±frac at random.
func jitter(d time.Duration, frac float64) time.Duration {
	return time.Duration(float64(d) * (1 - frac + 2*frac*rand.Float64()))
}
