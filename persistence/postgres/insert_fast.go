package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jobsched/jobsched/persistence"
)

// insertFast inserts jobs that hold no unique key in one round trip: BEGIN, the INSERT, the
// wake-ups and COMMIT, pipelined. (With unique keys the holders must be read after the INSERT,
// so Insert takes the general path.)
func (s *Store) insertFast(ctx context.Context, jobs []*persistence.Job) ([]persistence.InsertResult, error) {
	if s.closed.Load() {
		return nil, persistence.ErrClosed
	}
	n := len(jobs)
	args, err := s.insertArgs(jobs)
	if err != nil {
		return nil, err
	}
	s.counts.writing.RLock()
	defer s.counts.writing.RUnlock()
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("insert: %w", err)
	}
	defer conn.Release()
	seqs := make(map[string]*int64, n)
	b := &pgx.Batch{}
	b.Queue("BEGIN")
	b.Queue(insertSQL, args...).
		Query(func(rows pgx.Rows) error {
			var id string
			var seq *int64
			_, err := pgx.ForEachRow(rows, []any{&id, &seq}, func() error { seqs[id] = seq; return nil })
			return err
		})
	var woken []string
	seen := map[string]bool{}
	for _, j := range jobs {
		if j.State == persistence.StateQueued && !seen[j.Category] {
			seen[j.Category] = true
			woken = append(woken, s.node+"|"+j.Category)
		}
	}
	if len(woken) > 0 {
		b.Queue("SELECT pg_notify($1, c) FROM unnest($2::text[]) AS c", chanQueued, woken)
	}
	b.Queue("COMMIT")
	if err := conn.SendBatch(ctx, b).Close(); err != nil {
		// Not committed: the server skips the rest of a failed pipeline, COMMIT included.
		_, _ = conn.Exec(context.Background(), "ROLLBACK") // fails only when there is no transaction left
		return nil, fmt.Errorf("insert: %w", err)
	}
	if len(seqs) != n {
		return nil, errors.New("insert: the database stored a different number of jobs than sent")
	}
	res := make([]persistence.InsertResult, n)
	var d deltas
	for i, j := range jobs {
		c := j.Clone()
		c.Seq = 0
		if sq := seqs[j.ID]; sq != nil {
			c.Seq = uint64(*sq)
		}
		res[i] = persistence.InsertResult{Job: c}
		d.add(j.Category, "", j.State)
	}
	s.commits.Add(1)
	s.syncs.Add(1)
	s.writes.Add(1)
	s.counts.apply(d)
	return res, nil
}
