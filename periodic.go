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
// loops (or a quick restart) reach it.
func (s *Scheduler) periodicLoop() {
	defer s.wg.Done()
	scheds := make([]cron.Schedule, len(s.cfg.Periodic))
	next := make([]time.Time, len(s.cfg.Periodic))
	now := s.cfg.clock.Now()
	for i, p := range s.cfg.Periodic {
		scheds[i], _ = cronParser.Parse(p.Cron) // validated by New
		next[i] = scheds[i].Next(now)
	}
	for {
		soonest := 0
		for i := range next {
			if next[i].Before(next[soonest]) {
				soonest = i
			}
		}
		wake := make(chan struct{})
		t := s.cfg.clock.AfterFunc(next[soonest].Sub(s.cfg.clock.Now()), func() { close(wake) })
		select {
		case <-s.quit:
			t.Stop()
			return
		case <-wake:
		}
		now := s.cfg.clock.Now()
		for i, p := range s.cfg.Periodic {
			for !next[i].After(now) {
				s.enqueuePeriodic(p, next[i])
				next[i] = scheds[i].Next(next[i])
			}
		}
	}
}

func (s *Scheduler) enqueuePeriodic(p PeriodicJob, tick time.Time) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := s.Enqueue(ctx, JobSpec{Kind: p.Kind, Category: p.Category, Args: p.Args,
		UniqueKey: fmt.Sprintf("periodic:%s:%d", p.Name, tick.Unix())})
	if err != nil && !errors.Is(err, ErrDuplicate) && !errors.Is(err, ErrClosed) {
		s.log.Error("enqueue periodic job", slog.String("periodic", p.Name), slog.Any("err", err))
	}
}
