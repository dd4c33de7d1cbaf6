package persistence

import (
	"context"
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"
)

// prefixSetting keys the scheduler's settings made at runtime (a category's settings, a pause):
// c/<key> → the value the caller gave. Settings are few and small; they live beside the jobs so
// that they survive a restart with them.
const prefixSetting = "c/"

// ErrBadSettingKey: a setting's key is empty.
var ErrBadSettingKey = errors.New("setting key must not be empty")

// Settings implements Store: every stored setting, by key.
func (s *Badger) Settings(ctx context.Context) (map[string][]byte, error) {
	if s.closed.Load() {
		return nil, ErrClosed
	}
	out := map[string][]byte{}
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{PrefetchValues: true, Prefix: []byte(prefixSetting)})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			v, err := it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			out[string(it.Item().Key()[len(prefixSetting):])] = v
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read settings: %w", err)
	}
	return out, nil
}

// PutSetting implements Store: it stores val under key, durably.
func (s *Badger) PutSetting(ctx context.Context, key string, val []byte) error {
	return s.writeSetting(ctx, key, func(txn *badger.Txn, k []byte) error { return txn.Set(k, val) })
}

// DeleteSetting implements Store: it removes key, durably (no error if it was not there).
func (s *Badger) DeleteSetting(ctx context.Context, key string) error {
	return s.writeSetting(ctx, key, func(txn *badger.Txn, k []byte) error { return txn.Delete(k) })
}

// writeSetting commits one settings write outside the job writer (settings keys never meet a
// job's keys, so the transactions cannot conflict) and syncs it to disk.
func (s *Badger) writeSetting(ctx context.Context, key string, op func(*badger.Txn, []byte) error) error {
	if key == "" {
		return ErrBadSettingKey
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.closed.Load() {
		return ErrClosed
	}
	if err := s.Err(); err != nil {
		return err
	}
	k := append([]byte(prefixSetting), key...)
	if err := s.db.Update(func(txn *badger.Txn) error { return op(txn, k) }); err != nil {
		return fmt.Errorf("write setting %q: %w", key, err)
	}
	if err := s.db.Sync(); err != nil {
		return fmt.Errorf("sync setting %q: %w", key, err)
	}
	return nil
}
