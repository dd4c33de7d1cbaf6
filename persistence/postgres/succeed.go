package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jobsched/jobsched/persistence"
)

// succeedSQL writes many successes in SQL, as River's completer does (one UPDATE over unnest
// arrays): each job ($1 ids) still running as its attempt ($2 attempts, $3 start times as
// encoding/json writes them) and held by this node ($6) and its epoch ($7), whose lease still
// holds, ends succeeded at $4 ($5: the same time as JSON text) with the result $8. The rows are
// found and locked one by one by their ids through the primary key, in the key's order (id
// COLLATE "C", whatever the database's default collation: two batches
// never deadlock), and checked as locked (a row that is no longer this attempt's stays locked to
// the commit, unwritten): the lateral subquery with OFFSET 0 keeps the planner from reading the
// node's running jobs (jobsched_jobs_running, all under one key, with the dead entries of the
// jobs finished since the last vacuum) and testing each against the ids, which cost up to
// ~0.5 ms a job once the finishes lagged (docs/cluster.md, "Session 6: work rate"). The fields
// it changes go to the row's patch; a row whose patch was the claim's (no write of a whole
// record since its start) keeps that patch's fields in it, and comes back without its record
// (clean: the caller's copy of the job, with the success applied, is the job as stored);
// another comes back with it. The jobs finished are notified 100 to a notification ("<node>|<id>,<id>,...", within NOTIFY's 8,000
// bytes): one each cost the server and the listeners a message per job.
const succeedSQL = `WITH u AS (
	SELECT * FROM unnest($1::text[], $2::int4[], $3::text[], $4::timestamptz[], $5::text[], $8::text[])
		AS u(id, attempt, started, at, at_text, result)),
locked AS (
	SELECT j.id, j.patch IS NOT NULL AS clean, u.at, u.at_text, u.result
	FROM (SELECT * FROM u ORDER BY u.id COLLATE "C") u
		CROSS JOIN LATERAL (SELECT * FROM jobsched_jobs j WHERE j.id = u.id OFFSET 0 FOR UPDATE) j
	WHERE j.state = 'running' AND j.node = $6 AND j.node_epoch = $7 AND j.attempt = u.attempt
		AND coalesce(j.patch->>'started_at', j.record->>'started_at') = u.started
		AND EXISTS (SELECT 1 FROM jobsched_nodes WHERE name = $6 AND epoch = $7)),
done AS (
	UPDATE jobsched_jobs j SET state = 'succeeded', seq = NULL, node = NULL, node_epoch = NULL, finished_at = l.at,
		patch = CASE WHEN l.clean THEN json_build_object('state', 'succeeded', 'attempt', j.attempt,
				'started_at', j.patch->'started_at', 'cancel_requested', false, 'finished_at', l.at_text, 'result', l.result::json)
			ELSE json_build_object('state', 'succeeded', 'finished_at', l.at_text, 'result', l.result::json) END
	FROM locked l WHERE j.id = l.id
	RETURNING j.id, j.category, l.clean, CASE WHEN NOT l.clean THEN j.record::text || chr(30) || j.patch::text END AS rec),
notes AS (
	SELECT pg_notify($9, $6 || '|' || string_agg(n.id, ',')) FROM (SELECT id, (row_number() OVER () - 1) / 100 AS g FROM done) n
	GROUP BY n.g)
SELECT d.id, d.category, d.clean, d.rec, (SELECT count(*) FROM notes) FROM done d`

// SucceedAsync implements persistence.SuccessWriter: the success waits, like UpdateAsync's
// requests, for an async worker, which writes the successes waiting in one statement
// (succeedSQL); a job no longer running as that attempt under this node's lease goes through fn
// as UpdateAsync's requests do (which stores it, or refuses it: ErrSkip, ErrFenced).
func (s *Store) SucceedAsync(sc persistence.Success, fn persistence.Mutator, done func(*persistence.Job, error)) {
	s.submitOpen(&asyncReq{id: sc.Job.ID, fn: fn, done: done, succ: &sc})
}

// runSuccesses writes the successes among reqs (distinct jobs) in one transaction and calls
// their done; it returns the other requests, and the successes it could not write in SQL, for
// the Go mutators.
func (s *Store) runSuccesses(reqs []*asyncReq) (rest []*asyncReq) {
	var succ []*asyncReq
	for _, r := range reqs {
		if r.succ != nil {
			succ = append(succ, r)
		} else {
			rest = append(rest, r)
		}
	}
	if len(succ) == 0 {
		return rest
	}
	outs, err := s.succeedBatch(context.Background(), succ)
	if err != nil {
		return append(rest, succ...) // each through its mutator
	}
	for i, r := range succ {
		if outs[i] == nil {
			rest = append(rest, r) // not running as that attempt here: its mutator judges
			continue
		}
		if r.done != nil {
			r.done(outs[i], nil)
		}
	}
	return rest
}

// succeedBatch writes reqs' successes (succeedSQL) in one transaction of one round trip, with
// the settle of their dependents; outs[i] is reqs[i]'s job as stored, nil when it was not
// written. err is the transaction's own failure: then nothing was written.
func (s *Store) succeedBatch(ctx context.Context, reqs []*asyncReq) (outs []*persistence.Job, err error) {
	s.counts.writing.RLock()
	defer s.counts.writing.RUnlock()
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("succeed batch: %w", err)
	}
	defer conn.Release()
	committed := false
	defer func() {
		if !committed {
			_, _ = conn.Exec(context.Background(), "ROLLBACK") // its failure only means there is no transaction
		}
	}()
	n := len(reqs)
	ids, started, atText, results := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	attempts, at := make([]int32, n), make([]time.Time, n)
	index := make(map[string]int, n)
	for i, r := range reqs {
		sc := r.succ
		ids[i], attempts[i], index[r.id] = r.id, int32(sc.Job.Attempt), i
		if sc.Job.StartedAt != nil {
			started[i] = sc.Job.StartedAt.Format(time.RFC3339Nano)
		}
		at[i], atText[i], results[i] = sc.At, sc.At.Format(time.RFC3339Nano), string(sc.Result)
	}
	type written struct {
		cat   string
		clean bool
		rec   []byte
	}
	got := make(map[int]written, n)
	var settled deltas
	b := &pgx.Batch{}
	b.Queue("BEGIN")
	b.Queue(succeedSQL, ids, attempts, started, at, atText, s.node, s.epoch.Load(), results, chanFinished).
		Query(func(rows pgx.Rows) error {
			var id string
			var w written
			var notified any
			_, err := pgx.ForEachRow(rows, []any{&id, &w.cat, &w.clean, &w.rec, &notified}, func() error {
				w.rec = append([]byte(nil), w.rec...)
				got[index[id]] = w
				return nil
			})
			return err
		})
	queueSettle(b, ids, &settled) // a job not written has no open dependency row to settle, or was settled when it finished
	b.Queue("COMMIT")
	if err := conn.SendBatch(ctx, b).Close(); err != nil {
		return nil, fmt.Errorf("write successes: %w", err)
	}
	committed = true
	s.commits.Add(1)
	s.syncs.Add(1)
	var d deltas
	outs = make([]*persistence.Job, n)
	for i, r := range reqs {
		w, ok := got[i]
		if !ok {
			continue
		}
		var j *persistence.Job
		if w.clean {
			j = r.succ.Job.Clone()
			if err := r.fn(j); err != nil || j.State != persistence.StateSucceeded {
				j = nil // cannot be: the row was that attempt; read it back below
			}
		}
		if j == nil && w.rec != nil {
			if j, err = decode(nil, w.rec); err != nil {
				return nil, err // stored all the same: the caller's mutators find it finished
			}
		}
		if j == nil {
			if j, err = s.Get(ctx, r.id); err != nil {
				return nil, err
			}
		}
		j.Seq = 0
		outs[i] = j
		d.add(w.cat, persistence.StateRunning, persistence.StateSucceeded)
		s.writes.Add(1)
		s.track(j)
	}
	s.counts.apply(append(d, settled...))
	return outs, nil
}
