package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jobsched/jobsched/persistence"
)

// Get implements persistence.Store.
func (s *Store) Get(ctx context.Context, id string) (*persistence.Job, error) {
	if s.closed.Load() {
		return nil, persistence.ErrClosed
	}
	return s.getWithChildren(ctx, id) // with its dependents (depends.go)
}

// List implements persistence.Store: newest first (ids are UUIDv7, ordered bytewise).
func (s *Store) List(ctx context.Context, opt persistence.ListOptions) ([]*persistence.Job, string, error) {
	if s.closed.Load() {
		return nil, "", persistence.ErrClosed
	}
	limit := opt.Limit
	if limit <= 0 {
		limit = persistence.DefaultListLimit
	}
	limit = min(limit, persistence.MaxListLimit)
	sql := "SELECT seq, " + recSQL + " FROM jobsched_jobs WHERE true"
	var args []any
	arg := func(v any) string { args = append(args, v); return fmt.Sprintf("$%d", len(args)) }
	if opt.Category != "" {
		sql += " AND category = " + arg(opt.Category)
	}
	if opt.Kind != "" {
		sql += " AND record->>'kind' = " + arg(opt.Kind)
	}
	if opt.State != "" {
		sql += " AND state = " + arg(string(opt.State))
	}
	if opt.Cursor != "" {
		sql += " AND id < " + arg(opt.Cursor)
	}
	sql += " ORDER BY id DESC LIMIT " + arg(limit+1)
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, "", fmt.Errorf("list: %w", err)
	}
	out, err := pgx.CollectRows(rows, scanJob)
	if err != nil {
		return nil, "", fmt.Errorf("list: %w", err)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = out[limit-1].ID
	}
	return out, next, nil
}
