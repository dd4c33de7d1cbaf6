package jobsched

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/jobsched/jobsched/actors"
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
	if queued.ConcurrencyKey != "" && s.env.KeyLimits[queued.Kind] > 0 {
		// However the attempt ends, its concurrency-key slot is free again.
		defer s.env.System.Root.Send(s.env.FifoPID(queued.Category), &actors.KeyReleased{Kind: queued.Kind, Key: queued.ConcurrencyKey})
	}
	now := s.cfg.clock.Now()
	j, err := s.store.Update(context.Background(), queued.ID, startAttempt(now), false)
	if err != nil {
		if !errors.Is(err, persistence.ErrSkip) && !errors.Is(err, persistence.ErrClosed) && !errors.Is(err, persistence.ErrNotFound) {
			s.log.Error("start job", slog.String("job", queued.ID), slog.Any("err", err))
		}
		return "" // cancelled meanwhile (and perhaps deleted), or already taken
	}
	s.publish(j)
	if s.cfg.Observer != nil {
		s.cfg.Observer.JobStarted(j, now.Sub(j.RunAt))
	}

	jctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	if j.Timeout > 0 {
		var stop context.CancelFunc
		jctx, stop = context.WithTimeoutCause(jctx, time.Duration(j.Timeout), ErrTimeout)
		defer stop()
	}
	jctx = context.WithValue(jctx, attemptKey{}, attemptInfo{s: s, id: j.ID, attempt: j.Attempt})
	s.running.Store(j.ID, cancel)
	out := s.invoke(jctx, j)
	s.running.Delete(j.ID)

	cause := context.Cause(jctx)
	if out.err != "" || out.result == nil && jctx.Err() != nil {
		switch {
		case errors.Is(cause, ErrCancelled):
			out.cancelled = true
		case errors.Is(cause, ErrShutdown):
			out.shutdown = true
		case errors.Is(cause, ErrTimeout):
			out.err = timeoutError(time.Duration(j.Timeout), errors.New(out.err))
		case errors.Is(cause, actors.ErrWorkerStopped):
			out.err = "worker stopped: " + out.err
		}
	}
	done := s.cfg.clock.Now()
	s.store.UpdateAsync(j.ID, s.finishAttempt(j.Attempt, done, out), false, func(fj *Job, err error) {
		if err != nil {
			if !errors.Is(err, persistence.ErrSkip) {
				s.log.Error("finish job", slog.String("job", j.ID), slog.Any("err", err))
			}
			return
		}
		if fj.State == StateRetrying {
			s.env.System.Root.Send(s.env.WaiterPID(), &actors.Schedule{ID: fj.ID, RunAt: fj.RunAt})
		}
		s.publish(fj)
		if s.cfg.Observer != nil {
			s.cfg.Observer.JobFinished(fj, done.Sub(now))
		}
	})
	if out.panicked {
		return out.err
	}
	return ""
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
	res, err := h(ctx, j.Clone())
	if err != nil {
		return outcome{err: err.Error()}
	}
	if res == nil {
		return outcome{result: json.RawMessage("null")}
	}
	if raw, ok := res.(json.RawMessage); ok && json.Valid(raw) {
		return outcome{result: raw}
	}
	b, err := json.Marshal(res)
	if err != nil {
		return outcome{err: fmt.Sprintf("handler result is not JSON: %v", err)}
	}
	return outcome{result: b}
}

// startAttempt takes a queued job to running and counts the attempt before the handler runs, so
// a handler that kills the process still used up an attempt.
func startAttempt(now time.Time) persistence.Mutator {
	return func(j *Job) error {
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

// finishAttempt stores the outcome of attempt on a running job.
func (s *Scheduler) finishAttempt(attempt int, now time.Time, out outcome) persistence.Mutator {
	return func(j *Job) error {
		if j.State != StateRunning || j.Attempt != attempt {
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
	return func(j *Job) error {
		if j.State != StateRunning {
			return persistence.ErrSkip
		}
		j.Errors = append(j.Errors, AttemptError{Attempt: j.Attempt, At: now,
			Error: "interrupted: the process stopped while this attempt ran"})
		if j.CancelRequested {
			j.State, j.FinishedAt = StateCancelled, &now
		} else if j.Attempt >= j.MaxAttempts {
			j.State, j.FinishedAt = StateDead, &now
		} else {
			j.State = StateQueued
		}
		return nil
	}
}

// jitter spreads d by ±frac at random.
func jitter(d time.Duration, frac float64) time.Duration {
	return time.Duration(float64(d) * (1 - frac + 2*frac*rand.Float64()))
}
