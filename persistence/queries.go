package persistence

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/dgraph-io/badger/v4"
)

func (s *Badger) readJob(txn *badger.Txn, id string) (*Job, error) {
	item, err := txn.Get(jobKey(id))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	if err != nil {
		return nil, fmt.Errorf("read job %s: %w", id, err)
	}
	var j Job
	if err := item.Value(func(v []byte) error { return decodeJob(id, v, &j) }); err != nil {
		return nil, fmt.Errorf("decode job %s: %w", id, err)
	}
	if err := resolveStart(txn, &j); err != nil {
		return nil, err
	}
	return &j, nil
}

// resolveStart completes a record that says queued with the start its q/ key may hold: a start
// rewrites only that key (startOnly).
func resolveStart(txn *badger.Txn, j *Job) error {
	if j.State != StateQueued {
		return nil
	}
	item, err := txn.Get(queueKey(j.Category, j.Seq))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return fmt.Errorf("job %s: %w", j.ID, errCorrupt) // a queued job always has its key
	}
	if err != nil {
		return fmt.Errorf("read job %s: %w", j.ID, err)
	}
	return item.Value(func(v []byte) error {
		e, err := parseQueueValue(v)
		if err != nil {
			return fmt.Errorf("job %s: %w", j.ID, err)
		}
		e.applyStart(j)
		return nil
	})
}

// Get implements Store.
func (s *Badger) Get(ctx context.Context, id string) (*Job, error) {
	if s.closed.Load() {
		return nil, ErrClosed
	}
	var j *Job
	err := s.db.View(func(txn *badger.Txn) error {
		var err error
		if j, err = s.readJob(txn, id); err == nil {
			j.Children, err = s.children(txn, id)
		}
		return err
	})
	return j, err
}

// List implements Store. It walks j/ backwards from the cursor and filters each record on its
// kind, category and state before decoding it (peekJob); it reads at most listScanLimit records,
// so a filter that matches few jobs returns short pages, each with a cursor, instead of one slow
// page.
func (s *Badger) List(ctx context.Context, opt ListOptions) ([]*Job, string, error) {
	if s.closed.Load() {
		return nil, "", ErrClosed
	}
	limit := opt.Limit
	if limit <= 0 {
		limit = DefaultListLimit
	}
	limit = min(limit, MaxListLimit)
	var out []*Job
	next := ""
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Reverse: true, PrefetchValues: false, Prefix: []byte(prefixJob)})
		defer it.Close()
		start := append(jobKey(opt.Cursor), 0xff)
		if opt.Cursor != "" {
			start = jobKey(opt.Cursor)
		}
		scanned, last := 0, ""
		for it.Seek(start); it.Valid(); it.Next() {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			id := string(it.Item().Key()[len(prefixJob):])
			if opt.Cursor != "" && id >= opt.Cursor {
				continue
			}
			if len(out) == limit {
				next = out[len(out)-1].ID
				return nil
			}
			if scanned == listScanLimit {
				next = last // the next call goes on after the last record read
				return nil
			}
			scanned++
			var j *Job
			if err := it.Item().Value(func(v []byte) error {
				p, ok := peekJob(v)
				if !ok {
					return fmt.Errorf("decode job %s: %w", id, errCorrupt)
				}
				if p.skips(opt) {
					return nil
				}
				j = new(Job)
				return decodeJob(id, v, j)
			}); err != nil {
				return fmt.Errorf("decode job %s: %w", id, err)
			}
			last = id
			if j == nil {
				continue
			}
			if err := resolveStart(txn, j); err != nil {
				return err
			}
			if opt.State != "" && j.State != opt.State {
				continue
			}
			out = append(out, j)
		}
		return nil
	})
	return out, next, err
}

// Waiting implements Store. It reads the s/ keys only.
func (s *Badger) Waiting(ctx context.Context, fn func(id string, runAt time.Time) error) error {
	return s.scanKeys(ctx, prefixScheduled, func(k []byte) error {
		at, id, err := parseScheduledKey(k)
		if err != nil {
			return err
		}
		return fn(id, at)
	})
}

// Running implements Store. The running ids are read from the q/ index at start-up and kept
// by the writer since (keys.go), so no record is read; they come in id order.
func (s *Badger) Running(ctx context.Context, fn func(id string) error) error {
	if s.closed.Load() {
		return ErrClosed
	}
	s.countsMu.Lock()
	ids := make([]string, 0, len(s.running))
	for id := range s.running {
		ids = append(ids, id)
	}
	s.countsMu.Unlock()
	slices.Sort(ids)
	for _, id := range ids {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(id); err != nil {
			return err
		}
	}
	return nil
}

// scanKeys calls fn with every key under prefix, in order, without reading values.
func (s *Badger) scanKeys(ctx context.Context, prefix string, fn func(key []byte) error) error {
	if s.closed.Load() {
		return ErrClosed
	}
	return s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{PrefetchValues: false, Prefix: []byte(prefix)})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := fn(it.Item().KeyCopy(nil)); err != nil {
				return err
			}
		}
		return nil
	})
}
