package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jobsched/jobsched/persistence"
)

// claimPipelined is a Claim without key or rate limits (the common case) in two pipelined round
// trips instead of one per statement: BEGIN, this node's lease, the queued jobs locked and read
// (FOR UPDATE SKIP LOCKED); then, after the start mutators ran in Go, their starts written back
// by one statement and COMMIT (without waiting for the WAL flush: a lost start only means the
// job is queued again). The result is Claim's.
func (s *Store) claimPipelined(ctx context.Context, category string, limit int, start persistence.Mutator) ([]*persistence.Job, error) {
	conn, end, err := s.claimConn(ctx)
	if err != nil {
		return nil, err
	}
	committed := false
	defer func() { end(committed) }()
	var leaseOK bool
	var jobs []*persistence.Job
	b := &pgx.Batch{}
	b.Queue("BEGIN")
	b.Queue("SET LOCAL synchronous_commit = off")
	b.Queue("SELECT count(*) = 1 FROM jobsched_nodes WHERE name = $1 AND epoch = $2", s.node, s.epoch.Load()).
		QueryRow(func(row pgx.Row) error { return row.Scan(&leaseOK) })
	b.Queue(`SELECT seq, `+recSQL+` FROM jobsched_jobs WHERE category = $1 AND state = 'queued'
		ORDER BY seq LIMIT $2 FOR UPDATE SKIP LOCKED`, category, limit).Query(func(rows pgx.Rows) error {
		var err error
		jobs, err = pgx.CollectRows(rows, scanJob)
		return err
	})
	if err := conn.SendBatch(ctx, b).Close(); err != nil {
		return nil, err
	}
	if !leaseOK {
		return nil, ErrFenced
	}
	var w rowWrites
	var d deltas
	var out []*persistence.Job
	for _, old := range jobs {
		j := old.Clone()
		if err := start(j); err != nil {
			continue
		}
		if j.ID != old.ID || j.State != persistence.StateRunning {
			return nil, fmt.Errorf("the start mutator must take job %s to running, not %s", old.ID, j.State)
		}
		if err := w.add(s, old, j, nil); err != nil {
			return nil, err
		}
		d.add(j.Category, old.State, j.State)
		j.Seq = 0 // running: no place in a queue
		out = append(out, j)
	}
	if len(out) == 0 {
		return nil, nil // the deferred ROLLBACK ends the transaction
	}
	b = &pgx.Batch{}
	w.queue(s, b, map[string]*int64{})
	b.Queue("COMMIT")
	if err := conn.SendBatch(ctx, b).Close(); err != nil {
		return nil, err
	}
	committed = true
	s.commits.Add(1)
	s.counts.apply(d)
	return out, nil
}

// claimConn takes a connection for a pipelined claim (claimPipelined, claimStamped), with the
// counts' write lock held (a counts refresh waits for the writes in flight). end(committed)
// rolls back a transaction not committed (its failure only means there is none) and gives
// both back.
func (s *Store) claimConn(ctx context.Context) (*pgxpool.Conn, func(committed bool), error) {
	if s.closed.Load() {
		return nil, nil, persistence.ErrClosed
	}
	s.counts.writing.RLock()
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		s.counts.writing.RUnlock()
		return nil, nil, err
	}
	return conn, func(committed bool) {
		if !committed {
			_, _ = conn.Exec(context.Background(), "ROLLBACK")
		}
		conn.Release()
		s.counts.writing.RUnlock()
	}, nil
}
