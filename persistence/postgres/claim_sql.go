package postgres

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jobsched/jobsched/persistence"
)

// claimPickSQL locks and reads the ids of up to $2 queued jobs of category $1, in queue order,
// skipping those other claims hold (FOR UPDATE SKIP LOCKED).
const claimPickSQL = `SELECT id FROM jobsched_jobs WHERE category = $1 AND state = 'queued'
	ORDER BY seq LIMIT $2 FOR UPDATE SKIP LOCKED`

// claimStartSQL starts the jobs $1 (locked by claimPickSQL) in SQL, as River's claim does: each
// is running, held by this node ($3) and its epoch ($4), its attempt counted, and the fields
// the start changes go to the row's patch (migrations/0008_patch.sql), its record left as it
// is; $1[i] starts at $2[i] (as encoding/json writes a time). It returns each job's place in
// $1, its attempt and its record (a queued job has no patch: the caller applies the start to
// it, as the patch says).
const claimStartSQL = `UPDATE jobsched_jobs j SET state = 'running', seq = NULL, node = $3, node_epoch = $4,
	attempt = j.attempt + 1,
	patch = json_build_object('state', 'running', 'attempt', j.attempt + 1, 'started_at', u.started, 'cancel_requested', false)
FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS u(id, started, n)
WHERE j.id = u.id
RETURNING u.n, j.attempt, j.record`

// claimStamped is a Claim without key or rate limits whose starts are written in SQL, in two
// pipelined round trips: BEGIN, this node's lease, the jobs locked (claimPickSQL); then, with
// a start time from stamp for each (taken once the job is locked, so a start is never older
// than the moment its job could be claimed), the starts written (claimStartSQL) and COMMIT
// (without waiting for the WAL flush: a lost start only means the job is queued again). The
// records are decoded once, for the jobs returned; nothing is encoded.
func (s *Store) claimStamped(ctx context.Context, category string, limit int, stamp func(id string) time.Time) ([]*persistence.Job, error) {
	conn, end, err := s.claimConn(ctx)
	if err != nil {
		return nil, err
	}
	committed := false
	defer func() { end(committed) }()
	var leaseOK bool
	var ids []string
	b := &pgx.Batch{}
	b.Queue("BEGIN")
	b.Queue("SET LOCAL synchronous_commit = off")
	b.Queue("SELECT count(*) = 1 FROM jobsched_nodes WHERE name = $1 AND epoch = $2", s.node, s.epoch.Load()).
		QueryRow(func(row pgx.Row) error { return row.Scan(&leaseOK) })
	b.Queue(claimPickSQL, category, limit).Query(func(rows pgx.Rows) error {
		var err error
		ids, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	if err := conn.SendBatch(ctx, b).Close(); err != nil {
		return nil, err
	}
	if !leaseOK {
		return nil, ErrFenced
	}
	if len(ids) == 0 {
		return nil, nil // the deferred ROLLBACK ends the transaction
	}
	stamps := make([]string, len(ids))
	times := make([]time.Time, len(ids))
	for i, id := range ids {
		times[i] = stamp(id)
		stamps[i] = times[i].Format(time.RFC3339Nano)
	}
	type claimed struct {
		n   int64
		job *persistence.Job
	}
	got := make([]claimed, 0, len(ids))
	b = &pgx.Batch{}
	b.Queue(claimStartSQL, ids, stamps, s.node, s.epoch.Load()).Query(func(rows pgx.Rows) error {
		var n int64
		var attempt int
		var rec []byte
		_, err := pgx.ForEachRow(rows, []any{&n, &attempt, &rec}, func() error {
			j, err := decode(nil, rec)
			if err != nil {
				return err
			}
			if n < 1 || int(n) > len(times) {
				return fmt.Errorf("claim: place %d of %d", n, len(times))
			}
			at := times[n-1]
			j.State, j.Attempt, j.StartedAt, j.CancelRequested = persistence.StateRunning, attempt, &at, false
			got = append(got, claimed{n, j})
			return nil
		})
		return err
	})
	b.Queue("COMMIT")
	if err := conn.SendBatch(ctx, b).Close(); err != nil {
		return nil, err
	}
	committed = true
	s.commits.Add(1)
	slices.SortFunc(got, func(a, b claimed) int { return int(a.n - b.n) }) // queue order
	out := make([]*persistence.Job, len(got))
	var d deltas
	for i, c := range got {
		out[i] = c.job
		d.add(c.job.Category, persistence.StateQueued, persistence.StateRunning)
	}
	s.counts.apply(d)
	return out, nil
}
