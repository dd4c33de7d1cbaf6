package postgres

import (
	"context"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// The NOTIFY channels. A payload is "<node>|<subject>": the sending node for queued (so a node
// ignores its own), the holding node for cancel (so only it acts).
const (
	chanQueued = "jobsched_queued" // subject: a category that got ready jobs
	chanCancel = "jobsched_cancel" // subject: the id of a running job whose cancel was asked
	// subject: the id of a job that finished, or the ids of several, comma-separated (ids are
	// UUIDs); the sender is the node that wrote it
	chanFinished = "jobsched_finished"
	chanSettings = "jobsched_settings" // subject: the key of a setting that changed
)

// OnQueued sets the function told when another node made jobs of a category ready (an insert,
// or a rescue). It runs on the store's listener goroutine: it must be quick. NOTIFY is a hint:
// a node that was disconnected misses some, so a Fifo still polls.
func (s *Store) OnQueued(f func(category string)) { s.onQueued.Store(&f) }

// OnCancel sets the function told when a cancel was asked, on another node, for a job this node
// runs: it should cancel the job's context. It runs on the listener goroutine: it must be quick.
func (s *Store) OnCancel(f func(id string)) { s.onCancel.Store(&f) }

// OnFinished sets the function told when another node finished a job (so a Wait on this node
// for a job run elsewhere returns). It runs on the listener goroutine: it must be quick, or
// delay the other hooks.
func (s *Store) OnFinished(f func(id string)) { s.onFinished.Store(&f) }

// OnSettings sets the function told when another node changed a stored setting (PutSetting,
// DeleteSetting): it should read the settings again. It runs on the listener goroutine: it
// must be quick.
func (s *Store) OnSettings(f func(key string)) { s.onSettings.Store(&f) }

// listenLoop holds a connection of its own that LISTENs, and calls the hooks, until Close;
// it connects again after an error.
func (s *Store) listenLoop() {
	backoff := 100 * time.Millisecond
	for s.ctx.Err() == nil {
		err := s.listen(s.ctx)
		if s.ctx.Err() != nil {
			return
		}
		s.opt.Logger.Warn("jobsched postgres: listener lost its connection", "err", err)
		select {
		case <-s.stop:
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

func (s *Store) listen(ctx context.Context) error {
	conn, err := pgx.ConnectConfig(ctx, s.pool.Config().ConnConfig.Copy())
	if err != nil {
		return err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = conn.Close(cctx) // the connection is done with either way
	}()
	for _, ch := range []string{chanQueued, chanCancel, chanFinished, chanSettings} {
		if _, err := conn.Exec(ctx, "LISTEN "+ch); err != nil {
			return err
		}
	}
	s.listenOnce.Do(func() { close(s.listening) })
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		node, subject, ok := strings.Cut(n.Payload, "|")
		if !ok {
			continue
		}
		switch n.Channel {
		case chanQueued:
			if f := s.onQueued.Load(); f != nil && node != s.node {
				(*f)(subject)
			}
		case chanCancel:
			if f := s.onCancel.Load(); f != nil && node == s.node {
				(*f)(subject)
			}
		case chanFinished:
			if f := s.onFinished.Load(); f != nil && node != s.node {
				for id := range strings.SplitSeq(subject, ",") {
					(*f)(id)
				}
			}
		case chanSettings:
			if f := s.onSettings.Load(); f != nil && node != s.node {
				(*f)(subject)
			}
		}
	}
}
