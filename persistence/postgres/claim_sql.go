package postgres

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jobsched/jobsched/persistence"
)

// claimSQL claims and starts up to $2 queued jobs of category $1 in one statement, as River
// does (an UPDATE of the rows a locked read picked, FOR UPDATE SKIP LOCKED): the start is
// written in SQL, the attempt counted, the job held by this node ($3) and its epoch ($4), and
// the fields the start changes go to the row's patch (migrations/0008_patch.sql), the record
// left as it is; the i-th job in queue order takes the start time $5[i]. Nothing is claimed
// when this node's lease no longer holds. It returns each job's place in the claim and the job
// as recSQL reads it.
const claimSQL = `WITH picked AS (
	SELECT id, seq FROM jobsched_jobs
	WHERE category = $1 AND state = 'queued'
		AND EXISTS (SELECT 1 FROM jobsched_nodes WHERE name = $3 AND epoch = $4)
	ORDER BY seq LIMIT $2 FOR UPDATE SKIP LOCKED),
numbered AS (SELECT id, row_number() OVER (ORDER BY seq) AS n FROM picked)
UPDATE jobsched_jobs j SET state = 'running', seq = NULL, node = $3, node_epoch = $4, attempt = j.attempt + 1,
	patch = json_build_object('state', 'running', 'attempt', j.attempt + 1, 'started_at', ($5::text[])[numbered.n],
		'cancel_requested', false)
FROM numbered WHERE j.id = numbered.id
RETURNING numbered.n, ` + `j.record::text || chr(30) || j.patch::text`

// claimStamped is a Claim without key or rate limits whose starts are written in SQL (claimSQL),
// in one round trip: BEGIN, this node's lease, the claim, COMMIT (without waiting for the WAL
// flush: a lost start only means the job is queued again). The records are decoded once, for
// the jobs returned; nothing is encoded.
func (s *Store) claimStamped(ctx context.Context, category string, limit int, stamp func() time.Time) ([]*persistence.Job, error) {
	if s.closed.Load() {
		return nil, persistence.ErrClosed
	}
	stamps := make([]string, limit)
	for i := range stamps {
		stamps[i] = stamp().Format(time.RFC3339Nano) // as encoding/json writes a time
	}
	s.counts.writing.RLock() // a counts refresh waits for the writes in flight
	defer s.counts.writing.RUnlock()
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Release()
	committed := false
	defer func() {
		if !committed {
			_, _ = conn.Exec(context.Background(), "ROLLBACK") // its failure only means there is no transaction
		}
	}()
	type claimed struct {
		n   int64
		job *persistence.Job
	}
	var leaseOK bool
	var got []claimed
	b := &pgx.Batch{}
	b.Queue("BEGIN")
	b.Queue("SET LOCAL synchronous_commit = off")
	b.Queue("SELECT count(*) = 1 FROM jobsched_nodes WHERE name = $1 AND epoch = $2", s.node, s.epoch.Load()).
		QueryRow(func(row pgx.Row) error { return row.Scan(&leaseOK) })
	b.Queue(claimSQL, category, limit, s.node, s.epoch.Load(), stamps).Query(func(rows pgx.Rows) error {
		var c claimed
		var rec []byte
		_, err := pgx.ForEachRow(rows, []any{&c.n, &rec}, func() error {
			j, err := decode(nil, rec)
			if err != nil {
				return err
			}
			got = append(got, claimed{c.n, j})
			return nil
		})
		return err
	})
	b.Queue("COMMIT")
	if err := conn.SendBatch(ctx, b).Close(); err != nil {
		return nil, err
	}
	committed = true
	if !leaseOK {
		if len(got) > 0 { // cannot be: the claim reads the same lease
			return nil, fmt.Errorf("claimed %d jobs with no lease", len(got))
		}
		return nil, ErrFenced
	}
	if len(got) == 0 {
		return nil, nil
	}
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

// Started implements persistence.StampFinder.
func (s *Store) Started(ctx context.Context, stamps []time.Time) (map[string]time.Time, error) {
	if s.closed.Load() {
		return nil, persistence.ErrClosed
	}
	texts := make([]string, len(stamps))
	byText := make(map[string]time.Time, len(stamps))
	for i, t := range stamps {
		texts[i] = t.Format(time.RFC3339Nano)
		byText[texts[i]] = t
	}
	rows, err := s.pool.Query(ctx, `SELECT id, coalesce(patch->>'started_at', record->>'started_at') FROM jobsched_jobs
		WHERE state = 'running' AND node = $1 AND node_epoch = $2
			AND coalesce(patch->>'started_at', record->>'started_at') = ANY($3)`, s.node, s.epoch.Load(), texts)
	if err != nil {
		return nil, fmt.Errorf("started: %w", err)
	}
	out := map[string]time.Time{}
	var id, at string
	if _, err := pgx.ForEachRow(rows, []any{&id, &at}, func() error { out[id] = byText[at]; return nil }); err != nil {
		return nil, fmt.Errorf("started: %w", err)
	}
	return out, nil
}
