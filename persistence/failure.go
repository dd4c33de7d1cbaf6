package persistence

import "log/slog"

// Err implements Store: nil while the store is healthy, the sticky error (wrapping
// ErrStoreFailed) once a commit or a sync failed.
func (s *Badger) Err() error {
	if p := s.failed.Load(); p != nil {
		return *p
	}
	return nil
}

// fail puts the store in its failed state, once: from then on no write is made or acknowledged.
// As PostgreSQL does after a failed fsync, the store does not retry: what the kernel kept of
// the unsynced pages is unknown, and only a restart (which reads what is really on disk) can
// tell. It logs one error line.
func (s *Badger) fail(err error) {
	if !s.failed.CompareAndSwap(nil, &err) {
		return
	}
	l := s.opt.Logger
	if l == nil {
		l = slog.Default()
	}
	l.Error("store failed: no write is acknowledged from now on; restart the process to recover from what is on disk",
		"dir", s.opt.Dir, "err", err)
}
