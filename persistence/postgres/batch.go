package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jobsched/jobsched/persistence"
)

// Async updates (finishes, progress, promotions) are applied in batches, as River does: a worker
// takes every request waiting (up to maxBatch) and applies them in one transaction of two
// pipelined round trips: BEGIN, the rows locked and read (in id order, so two batches never
// deadlock), this node's lease; then, after the mutators ran in Go, every row written back by one
// statement, the notifications, COMMIT. Each request keeps the semantics of its own Update: a
// mutator's error or a fence affects its own job only; the commit is synchronous when any
// request is durable or a finish. Requests for the same job in one batch go in successive
// transactions, in their order. Should the batch's write fail as a whole (a unique key a revived
// job cannot take, a deadlock), each request runs again on its own (mutators are pure).

// maxBatch caps the async updates applied in one transaction.
const maxBatch = 500

// batchSQL writes back many jobs: the columns as in updateSQL, one array per column ($1..$9);
// $10 is this node and $11 its epoch.
const batchSQL = `UPDATE jobsched_jobs AS j SET category = u.category, state = u.state,
	seq = CASE WHEN u.state <> 'queued' THEN NULL WHEN u.new_seq THEN nextval('jobsched_seq') ELSE j.seq END,
	run_at = u.run_at, unique_key = u.unique_key,
	node = CASE WHEN u.state <> 'running' THEN NULL WHEN j.state <> 'running' THEN $10 ELSE j.node END,
	node_epoch = CASE WHEN u.state <> 'running' THEN NULL WHEN j.state <> 'running' THEN $11::bigint ELSE j.node_epoch END,
	attempt = u.attempt, finished_at = u.finished_at, record = u.record::json, patch = NULL
	FROM unnest($1::text[], $2::text[], $3::text[], $4::bool[], $5::timestamptz[], $6::text[], $7::int4[],
		$8::timestamptz[], $9::text[]) AS u(id, category, state, new_seq, run_at, unique_key, attempt, finished_at, record)
	WHERE j.id = u.id RETURNING j.id, j.seq`

// lockReadSQL locks and reads the jobs $1, in id order (so two batches never deadlock).
const lockReadSQL = "SELECT id, seq, node, node_epoch, " + recSQL + " FROM jobsched_jobs WHERE id = ANY($1) ORDER BY id FOR UPDATE"

// notifySQL sends many notifications: $1 channels, $2 payloads, pairwise.
const notifySQL = `SELECT pg_notify(n.c, n.p) FROM unnest($1::text[], $2::text[]) AS n(c, p)`

// rowWrites gathers the jobs one statement writes back (batchSQL).
type rowWrites struct {
	ids, categories, states []string
	newSeq                  []bool
	runAt                   []any
	uniqueKeys              []*string
	attempts                []int32
	finishedAt              []any
	records                 []string
	chans, payloads         []string // notifications
	finished                []string // the jobs it finishes: their dependents are settled after the write
	settled                 deltas   // the dependents' state changes those settles made
}

// add queues j's write over old (both read under the row lock), and the notifications it makes.
// oldNode is the node that held old, if any.
func (w *rowWrites) add(s *Store, old, j *persistence.Job, oldNode *string) error {
	r, err := toRow(j)
	if err != nil {
		return err
	}
	w.ids = append(w.ids, r.id)
	w.categories = append(w.categories, r.category)
	w.states = append(w.states, r.state)
	newSeq := j.State == persistence.StateQueued && (old.State != persistence.StateQueued || j.Category != old.Category)
	w.newSeq = append(w.newSeq, newSeq)
	w.runAt = append(w.runAt, r.runAt)
	w.uniqueKeys = append(w.uniqueKeys, r.uniqueKey)
	w.attempts = append(w.attempts, int32(r.attempt))
	if r.finishedAt != nil {
		w.finishedAt = append(w.finishedAt, *r.finishedAt)
	} else {
		w.finishedAt = append(w.finishedAt, nil)
	}
	w.records = append(w.records, string(r.record))
	if finishes(old, j) {
		w.notify(chanFinished, s.node+"|"+j.ID)
		w.finished = append(w.finished, j.ID)
	}
	if newSeq {
		// Back in a queue (a retry made due, a start given back): wake the other nodes' Fifos.
		w.notify(chanQueued, s.node+"|"+j.Category)
	}
	if j.State == persistence.StateRunning && old.State == persistence.StateRunning &&
		j.CancelRequested && !old.CancelRequested && oldNode != nil && *oldNode != s.node {
		w.notify(chanCancel, *oldNode+"|"+j.ID)
	}
	return nil
}

func (w *rowWrites) notify(ch, payload string) {
	w.chans = append(w.chans, ch)
	w.payloads = append(w.payloads, payload)
}

// queue adds the write (and the notifications) to b; seqs receives each written job's seq.
func (w *rowWrites) queue(s *Store, b *pgx.Batch, seqs map[string]*int64) {
	if len(w.ids) > 0 {
		b.Queue(batchSQL, w.ids, w.categories, w.states, w.newSeq, w.runAt, w.uniqueKeys, w.attempts, w.finishedAt,
			w.records, s.node, s.epoch.Load()).Query(func(rows pgx.Rows) error {
			for rows.Next() {
				var id string
				var seq *int64
				if err := rows.Scan(&id, &seq); err != nil {
					return err
				}
				seqs[id] = seq
			}
			return rows.Err()
		})
	}
	if len(w.finished) > 0 {
		// Their dependents (depends.go), after the write that finishes them. A deadlock between
		// two batches fails the whole batch, which then runs each request on its own.
		queueSettle(b, w.finished, &w.settled)
	}
	if len(w.chans) > 0 {
		b.Queue(notifySQL, w.chans, w.payloads)
	}
}

// exec runs the write (and the notifications) in tx.
func (w *rowWrites) exec(ctx context.Context, tx pgx.Tx, s *Store) error {
	b := &pgx.Batch{}
	w.queue(s, b, map[string]*int64{})
	if b.Len() == 0 {
		return nil
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("write jobs: %w", err)
	}
	return nil
}

// asyncWorker runs async updates in batches until Close, then those still queued.
func (s *Store) asyncWorker() {
	batch := make([]*asyncReq, 0, maxBatch)
	for {
		select {
		case r := <-s.asyncReqs:
			s.runBatch(s.gather(s.fill(append(batch[:0], r))))
		case <-s.overflow.wake:
			if batch = s.fill(batch[:0]); len(batch) > 0 {
				s.runBatch(s.gather(batch))
			}
		case <-s.stop:
			for {
				batch = s.fill(batch[:0])
				if len(batch) == 0 {
					return
				}
				s.runBatch(batch)
			}
		}
	}
}

// batchFull is the batch an async worker writes at once; a smaller one waits for more, up to
// Options.BatchWindow.
const batchFull = 200

// gather adds to batch the requests that come within Options.BatchWindow, until it holds
// batchFull, or Close begins.
func (s *Store) gather(batch []*asyncReq) []*asyncReq {
	if s.opt.BatchWindow <= 0 || len(batch) >= batchFull {
		return batch
	}
	t := time.NewTimer(s.opt.BatchWindow)
	defer t.Stop()
	for len(batch) < batchFull {
		select {
		case r := <-s.asyncReqs:
			batch = s.fill(append(batch, r))
		case <-s.overflow.wake:
			batch = s.fill(batch)
		case <-t.C:
			return batch
		case <-s.stop:
			return batch
		}
	}
	return batch
}

// fill adds the requests waiting, without waiting, up to maxBatch: those on the channel, then,
// once it is empty, those in the overflow (which are younger).
func (s *Store) fill(batch []*asyncReq) []*asyncReq {
	for len(batch) < maxBatch {
		select {
		case r := <-s.asyncReqs:
			batch = append(batch, r)
		default:
			return s.takeOverflow(batch)
		}
	}
	return batch
}

// runBatch applies reqs and calls their done: in rounds of distinct jobs, each in one
// transaction (a second request for a job goes in the next round, so it sees the first).
func (s *Store) runBatch(reqs []*asyncReq) {
	for len(reqs) > 0 {
		round, rest := splitRound(reqs)
		s.runRound(round)
		reqs = rest
	}
}

// splitRound returns the first request of each job (in order) and the others.
func splitRound(reqs []*asyncReq) (round, rest []*asyncReq) {
	seen := make(map[string]bool, len(reqs))
	for _, r := range reqs {
		if seen[r.id] {
			rest = append(rest, r)
			continue
		}
		seen[r.id] = true
		round = append(round, r)
	}
	return round, rest
}

// batchOut is one request's outcome.
type batchOut struct {
	job      *persistence.Job
	err      error // the request's own error (its mutator's, a fence, not found)
	heldByMe bool  // its job was running under this node's lease when read
	written  bool
}

// runRound applies reqs (distinct jobs) in one transaction, or each on its own when the
// transaction fails as a whole, and calls their done.
func (s *Store) runRound(reqs []*asyncReq) {
	if reqs = s.runSuccesses(reqs); len(reqs) == 0 {
		return
	}
	if len(reqs) == 1 {
		r := reqs[0]
		j, err := s.updateNow(r)
		if r.done != nil {
			r.done(j, err)
		}
		return
	}
	outs, err := s.updateBatch(context.Background(), reqs)
	for i, r := range reqs {
		var j *persistence.Job
		var e error
		if err != nil {
			j, e = s.updateNow(r)
		} else {
			j, e = outs[i].job, outs[i].err
			if !outs[i].written {
				e = s.judgeSkip(r.id, e, outs[i].heldByMe)
			}
		}
		if r.done != nil {
			r.done(j, e)
		}
	}
}

// updateBatch applies reqs (distinct jobs) in one transaction. err is the transaction's own
// failure: then nothing was written.
func (s *Store) updateBatch(ctx context.Context, reqs []*asyncReq) ([]batchOut, error) {
	s.counts.writing.RLock()
	defer s.counts.writing.RUnlock()
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("update batch: %w", err)
	}
	defer conn.Release()
	committed := false
	defer func() {
		if !committed {
			_, _ = conn.Exec(context.Background(), "ROLLBACK") // its failure only means there is no transaction
		}
	}()

	// Round trip 1: the rows locked and read, the lease.
	ids := make([]string, len(reqs))
	for i, r := range reqs {
		ids[i] = r.id
	}
	type read struct {
		old       *persistence.Job
		node      *string
		nodeEpoch *int64
	}
	rows := make(map[string]read, len(reqs))
	var leaseOK bool
	b := &pgx.Batch{}
	b.Queue("BEGIN")
	b.Queue(lockReadSQL, ids).
		Query(func(rs pgx.Rows) error {
			for rs.Next() {
				var id string
				var seq *int64
				var rec []byte
				var rd read
				if err := rs.Scan(&id, &seq, &rd.node, &rd.nodeEpoch, &rec); err != nil {
					return err
				}
				old, err := decode(seq, rec)
				if err != nil {
					return fmt.Errorf("job %s: %w", id, err)
				}
				rd.old = old
				rows[id] = rd
			}
			return rs.Err()
		})
	b.Queue("SELECT count(*) = 1 FROM jobsched_nodes WHERE name = $1 AND epoch = $2", s.node, s.epoch.Load()).
		QueryRow(func(row pgx.Row) error { return row.Scan(&leaseOK) })
	if err := conn.SendBatch(ctx, b).Close(); err != nil {
		return nil, fmt.Errorf("read jobs: %w", err)
	}

	// The mutators, in Go.
	epoch := s.epoch.Load()
	outs := make([]batchOut, len(reqs))
	var w rowWrites
	var st txState
	written := make([]*persistence.Job, len(reqs))
	flush := false
	for i, r := range reqs {
		rd, ok := rows[r.id]
		if !ok {
			outs[i].err = fmt.Errorf("%w: %s", persistence.ErrNotFound, r.id)
			continue
		}
		old := rd.old
		heldByMe := old.State == persistence.StateRunning && rd.node != nil && *rd.node == s.node &&
			rd.nodeEpoch != nil && *rd.nodeEpoch == epoch
		outs[i].heldByMe = heldByMe
		j := old.Clone()
		if err := r.fn(j); err != nil {
			outs[i].job, outs[i].err = old, err
			continue
		}
		if j.ID != old.ID {
			outs[i].err = fmt.Errorf("mutator changed the id of job %s", old.ID)
			outs[i].written = true // an error of the request, not a skip to judge
			continue
		}
		start := old.State != persistence.StateRunning && j.State == persistence.StateRunning
		finish := old.State == persistence.StateRunning && j.State != persistence.StateRunning
		if (start || finish) && (!leaseOK || (finish && !heldByMe)) {
			outs[i].job, outs[i].err = old, ErrFenced
			continue
		}
		if err := w.add(s, old, j, rd.node); err != nil {
			outs[i].err = err
			outs[i].written = true
			continue
		}
		flush = flush || r.durable || finish
		written[i] = j
		if old.State != j.State {
			st.deltas.add(j.Category, old.State, j.State)
		}
	}
	if len(w.ids) == 0 {
		return outs, nil // nothing to write: the deferred ROLLBACK ends the transaction
	}

	// Round trip 2: the writes, the notifications, COMMIT.
	seqs := make(map[string]*int64, len(w.ids))
	b = &pgx.Batch{}
	if !flush {
		b.Queue("SET LOCAL synchronous_commit = off")
	}
	w.queue(s, b, seqs)
	b.Queue("COMMIT")
	if err := conn.SendBatch(ctx, b).Close(); err != nil {
		return nil, fmt.Errorf("write jobs: %w", err)
	}
	committed = true
	s.commits.Add(1)
	if flush {
		s.syncs.Add(1)
	}
	s.counts.apply(append(st.deltas, w.settled...))
	for i, j := range written {
		if j == nil {
			continue
		}
		j.Seq = 0
		if seq := seqs[j.ID]; seq != nil {
			j.Seq = uint64(*seq)
		}
		s.writes.Add(1)
		s.track(j)
		outs[i].job, outs[i].written = j.Clone(), true
	}
	return outs, nil
}

// judgeSkip turns a mutator's ErrSkip for a job this node started and no longer holds into
// ErrFenced (whatever the mutator saw, it is a late write of a node that lost the job), and
// counts and logs a fenced write.
func (s *Store) judgeSkip(id string, fnErr error, heldByMe bool) error {
	if fnErr == nil {
		return nil
	}
	if errors.Is(fnErr, persistence.ErrSkip) && !heldByMe {
		if s.held.take(id) {
			fnErr = ErrFenced
		}
	}
	if errors.Is(fnErr, ErrFenced) {
		s.fenced.Add(1)
		s.opt.Logger.Warn("jobsched postgres: refused a late write: this node's lease no longer holds the job",
			"node", s.node, "job", id)
	}
	return fnErr
}
