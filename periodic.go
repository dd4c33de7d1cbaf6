package jobsched

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/robfig/cron/v3"
)

// periodicLoop enqueues the periodic jobs at each cron tick until Close. Each tick's job has the
// unique key "periodic:<name>:<tick unix seconds>", so a tick is enqueued once even if two
// loops (or a quick restart) reach it. A reload stops it (stop) and starts another. The first
// ticks are those after now, read by the caller (so a fake clock moved right after Start does
// not race the goroutine's start).
func (s *Scheduler) periodicLoop(list []PeriodicJob, stop <-chan struct{}, now time.Time) {
	defer s.wg.Done()
	scheds := make([]cron.Schedule, len(list))
	next := make([]time.Time, len(list))
	for i, p := range list {
		scheds[i], _ = cronParser.Parse(p.Cron) // validated by New
		next[i] = scheds[i].Next(now)
	}
	// Ticks the store refused (queue full, disk full, a failed write): tried again every poll
	// interval until they are stored, or until Close. Their unique key keeps them once-only.
	type refused struct {
		p    PeriodicJob
		tick time.Time
	}
	var retry []refused
	for {
		soonest := 0
		for i := range next {
			if next[i].Before(next[soonest]) {
				soonest = i
			}
		}
		wait := next[soonest].Sub(s.cfg.clock.Now())
		if len(retry) > 0 {
			wait = min(wait, s.cfg.PollInterval)
		}
		wake := make(chan struct{})
		t := s.cfg.clock.AfterFunc(wait, func() { close(wake) })
		select {
		case <-s.quit:
			t.Stop()
			return
		case <-stop:
			t.Stop()
			return
		case <-wake:
		}
		left := retry[:0]
		for _, r := range retry {
			if !s.enqueuePeriodic(r.p, r.tick) {
				left = append(left, r)
			}
		}
		retry = left
		now := s.cfg.clock.Now()
		for i, p := range list {
			for !next[i].After(now) {
				if !s.enqueuePeriodic(p, next[i]) {
					retry = append(retry, refused{p, next[i]})
				}
				next[i] = scheds[i].Next(next[i])
			}
		}
	}
}

// enqueuePeriodic enqueues one tick's job and reports whether it is done with (stored, held
// already, or the scheduler closing); a refused tick is counted, logged and tried again.
func (s *Scheduler) enqueuePeriodic(p PeriodicJob, tick time.Time) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := s.Enqueue(ctx, JobSpec{Kind: p.Kind, Category: p.Category, Args: p.Args,
		UniqueKey: fmt.Sprintf("periodic:%s:%d", p.Name, tick.Unix())})
	if err == nil || errors.Is(err, ErrDuplicate) || errors.Is(err, ErrClosed) || errors.Is(err, ErrStopped) {
		return true
	}
	n := s.periodicRetries.Add(1)
	s.log.Error("enqueue periodic job; trying again", slog.String("periodic", p.Name),
		slog.Time("tick", tick), slog.Uint64("refused_so_far", n), slog.Any("err", err))
	return false
}
