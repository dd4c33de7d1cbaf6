package postgres

import (
	"context"
	"fmt"
	"github.com/jackc/pgx/v5"

	"github.com/jobsched/jobsched/persistence"
)

// Settings implements persistence.Store: every stored setting, by key. The settings table is
// shared by the nodes, so a runtime category or a pause stored by one node is read by all at
// their next start.
func (s *Store) Settings(ctx context.Context) (map[string][]byte, error) {
	if s.closed.Load() {
		return nil, persistence.ErrClosed
	}
	rows, err := s.pool.Query(ctx, `SELECT key, value FROM jobsched_settings`)
	if err != nil {
		return nil, fmt.Errorf("read settings: %w", err)
	}
	defer rows.Close()
	out := map[string][]byte{}
	for rows.Next() {
		var k string
		var v []byte
		if err := rows.Scan(&k, &v); err != nil {
			return nil, fmt.Errorf("read settings: %w", err)
		}
		out[k] = v
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read settings: %w", err)
	}
	return out, nil
}

// PutSetting implements persistence.Store: it stores val under key (committed and flushed).
func (s *Store) PutSetting(ctx context.Context, key string, val []byte) error {
	if key == "" {
		return persistence.ErrBadSettingKey
	}
	if s.closed.Load() {
		return persistence.ErrClosed
	}
	if err := s.settingWrite(ctx, key, putSettingSQL, key, val); err != nil {
		return fmt.Errorf("put setting %q: %w", key, err)
	}
	return nil
}

// putSettingSQL stores $2 under the key $1.
const putSettingSQL = `INSERT INTO jobsched_settings (key, value) VALUES ($1, $2)
	ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`

// DeleteSetting implements persistence.Store: it removes key; a key that is not there is no error.
func (s *Store) DeleteSetting(ctx context.Context, key string) error {
	if key == "" {
		return persistence.ErrBadSettingKey
	}
	if s.closed.Load() {
		return persistence.ErrClosed
	}
	if err := s.settingWrite(ctx, key, `DELETE FROM jobsched_settings WHERE key = $1`, key); err != nil {
		return fmt.Errorf("delete setting %q: %w", key, err)
	}
	return nil
}

// settingWrite runs one statement on the settings and, in the same transaction, tells the other
// nodes that key changed (NOTIFY, delivered at the commit; see OnSettings).
func (s *Store) settingWrite(ctx context.Context, key, sql string, args ...any) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, sql, args...); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, "SELECT pg_notify($1, $2)", chanSettings, s.node+"|"+key)
		return err
	})
}
