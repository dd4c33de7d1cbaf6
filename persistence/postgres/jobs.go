package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jobsched/jobsched/persistence"
)

// finishedSQL is the SQL list of the finished states (the partial unique index's predicate).
const finishedSQL = `('succeeded', 'dead', 'cancelled')`

// querier is what the store's statements run on: a transaction of ours or the caller's.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// row is a job's columns as the store writes them.
type row struct {
	id, category, state string
	runAt               time.Time
	uniqueKey           *string
	attempt             int
	finishedAt          *time.Time
	record              []byte
}

func toRow(j *persistence.Job) (row, error) {
	rec, err := json.Marshal(j)
	if err != nil {
		return row{}, fmt.Errorf("encode job %s: %w", j.ID, err)
	}
	r := row{id: j.ID, category: j.Category, state: string(j.State), runAt: ceilMicro(j.RunAt),
		attempt: j.Attempt, finishedAt: j.FinishedAt, record: rec}
	if j.UniqueKey != "" {
		k := j.UniqueKey
		r.uniqueKey = &k
	}
	if j.State.Finished() && r.finishedAt == nil {
		now := time.Now()
		r.finishedAt = &now
	}
	return r, nil
}

// ceilMicro rounds t up to PostgreSQL's microsecond, so a timer set from the stored run_at never
// fires before the job is due.
func ceilMicro(t time.Time) time.Time {
	r := t.Truncate(time.Microsecond)
	if r.Before(t) {
		r = r.Add(time.Microsecond)
	}
	return r
}

func decode(seq *int64, rec []byte) (*persistence.Job, error) {
	var j persistence.Job
	if err := json.Unmarshal(rec, &j); err != nil {
		return nil, fmt.Errorf("decode job: %w", err)
	}
	if seq != nil {
		j.Seq = uint64(*seq)
	}
	return &j, nil
}

// txState is what a write's transaction did, for the store's counters.
type txState struct {
	deltas   deltas // state changes, applied to the counts once the commit succeeded
	relaxed  bool   // committed without waiting for the WAL flush
	heldByMe bool   // an update's job was running under this node's lease when read
}

// relax lets tx commit without waiting for its WAL flush (synchronous_commit off): it survives
// this process dying, not the database server crashing. For writes whose loss is harmless.
func relax(ctx context.Context, tx pgx.Tx, st *txState) error {
	if _, err := tx.Exec(ctx, "SET LOCAL synchronous_commit = off"); err != nil {
		return err
	}
	st.relaxed = true
	return nil
}

// write runs fn in a transaction. admitted is true for a request the store accepted before
// Close began (an async update), which runs even while Close waits for it.
func (s *Store) write(ctx context.Context, admitted bool, fn func(tx pgx.Tx, st *txState) error) error {
	if !admitted && s.closed.Load() {
		return persistence.ErrClosed
	}
	s.counts.writing.RLock() // a counts refresh waits for the writes in flight
	defer s.counts.writing.RUnlock()
	var st txState
	if err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return fn(tx, &st) }); err != nil {
		return err
	}
	s.commits.Add(1)
	if !st.relaxed {
		s.syncs.Add(1)
	}
	s.counts.apply(st.deltas)
	return nil
}

// errHolderGone: a unique key's holder finished between the INSERT and the read of the holder;
// the insert is tried again.
var errHolderGone = errors.New("the holder of a unique key finished during the insert")

// Insert implements persistence.Store: one multi-row INSERT in one transaction, all or nothing.
func (s *Store) Insert(ctx context.Context, jobs []*persistence.Job) ([]persistence.InsertResult, error) {
	unique := false
	for _, j := range jobs {
		unique = unique || j.UniqueKey != ""
	}
	if !unique {
		return s.insertFast(ctx, jobs)
	}
	var res []persistence.InsertResult
	var err error
	for try := 0; try < 5; try++ {
		err = s.write(ctx, false, func(tx pgx.Tx, st *txState) error {
			var err error
			res, err = s.insert(ctx, tx, jobs, &st.deltas, s.node)
			return err
		})
		if !errors.Is(err, errHolderGone) {
			break
		}
	}
	if err != nil {
		if errors.Is(err, persistence.ErrClosed) {
			return nil, err
		}
		return nil, fmt.Errorf("insert: %w", err)
	}
	s.writes.Add(1)
	return res, nil
}

// InsertTx inserts jobs inside the caller's own transaction: they exist (and other nodes are
// woken for them) only if tx commits. The results are final only then. Counts and Backlog see
// the jobs at their next read from the database.
func (s *Store) InsertTx(ctx context.Context, tx pgx.Tx, jobs []*persistence.Job) ([]persistence.InsertResult, error) {
	if s.closed.Load() {
		return nil, persistence.ErrClosed
	}
	res, err := s.insert(ctx, tx, jobs, &deltas{}, "")
	if err != nil {
		return nil, fmt.Errorf("insert: %w", err)
	}
	return res, nil
}

// insertSQL inserts the rows in their given order, so that the queued ones take increasing
// seqs; a row whose unique key is held by an unfinished job is left out (RETURNING omits it).
const insertSQL = `
INSERT INTO jobsched_jobs (id, category, state, seq, run_at, unique_key, node, node_epoch, attempt, finished_at, record)
SELECT id, category, state, CASE WHEN state = 'queued' THEN nextval('jobsched_seq') END,
       run_at, unique_key, CASE WHEN state = 'running' THEN $10 END, CASE WHEN state = 'running' THEN $11::bigint END,
       attempt, finished_at, record
FROM (SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::text[],
                           $6::int[], $7::timestamptz[], $8::json[], $9::int[])
             AS u(id, category, state, run_at, unique_key, attempt, finished_at, record, ord)
      ORDER BY ord) AS rows
ON CONFLICT (unique_key) WHERE unique_key IS NOT NULL AND state NOT IN ` + finishedSQL + ` DO NOTHING
RETURNING id, seq`

// insertArgs are insertSQL's arguments for jobs: one array per column, in the jobs' order.
func (s *Store) insertArgs(jobs []*persistence.Job) ([]any, error) {
	n := len(jobs)
	ids, cats, states, keys := make([]string, n), make([]string, n), make([]string, n), make([]*string, n)
	runAts, fins := make([]time.Time, n), make([]*time.Time, n)
	attempts, ords := make([]int32, n), make([]int32, n)
	recs := make([]json.RawMessage, n)
	for k, j := range jobs {
		r, err := toRow(j)
		if err != nil {
			return nil, err
		}
		ids[k], cats[k], states[k], runAts[k], keys[k] = r.id, r.category, r.state, r.runAt, r.uniqueKey
		attempts[k], fins[k], recs[k], ords[k] = int32(r.attempt), r.finishedAt, r.record, int32(k)
	}
	return []any{ids, cats, states, runAts, keys, attempts, fins, recs, ords, s.node, s.epoch.Load()}, nil
}

// insert stores jobs through q. Within the batch the first job with a unique key holds it; a
// later one is a duplicate of it. The other nodes are woken as from sender ("": every node,
// this one included, for jobs whose commit this store does not see).
func (s *Store) insert(ctx context.Context, q querier, jobs []*persistence.Job, d *deltas, sender string) ([]persistence.InsertResult, error) {
	res := make([]persistence.InsertResult, len(jobs))
	first := map[string]int{} // unique key -> index of the batch's first job with it
	dupOf := map[int]int{}    // index of a later job -> index of the first with its key
	var sendIdx []int
	for i, j := range jobs {
		if j.UniqueKey != "" {
			if f, ok := first[j.UniqueKey]; ok {
				dupOf[i] = f
				continue
			}
			first[j.UniqueKey] = i
		}
		sendIdx = append(sendIdx, i)
	}
	sendIdx, err := claimOnce(ctx, q, jobs, sendIdx, res)
	if err != nil {
		return nil, err
	}
	sent := make([]*persistence.Job, len(sendIdx))
	for k, i := range sendIdx {
		sent[k] = jobs[i]
	}
	args, err := s.insertArgs(sent)
	if err != nil {
		return nil, err
	}
	rows, err := q.Query(ctx, insertSQL, args...)
	if err != nil {
		return nil, err
	}
	seqs := map[string]*int64{}
	inserted, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (string, error) {
		var id string
		var seq *int64
		err := r.Scan(&id, &seq)
		seqs[id] = seq
		return id, err
	})
	if err != nil {
		return nil, err
	}
	stored := make(map[string]bool, len(inserted))
	for _, id := range inserted {
		stored[id] = true
	}
	var heldKeys []string
	for _, i := range sendIdx {
		j := jobs[i]
		if stored[j.ID] {
			c := j.Clone()
			if sq := seqs[j.ID]; sq != nil {
				c.Seq = uint64(*sq)
			} else {
				c.Seq = 0
			}
			res[i] = persistence.InsertResult{Job: c}
			d.add(j.Category, "", j.State)
			continue
		}
		if j.UniqueKey == "" {
			return nil, fmt.Errorf("job %s was not stored and holds no unique key", j.ID)
		}
		heldKeys = append(heldKeys, j.UniqueKey)
	}
	if err := notifyQueued(ctx, q, sender, jobs, stored); err != nil {
		return nil, err
	}
	holders := map[string]*persistence.Job{}
	if len(heldKeys) > 0 {
		rows, err := q.Query(ctx, `SELECT seq, record FROM jobsched_jobs
			WHERE unique_key = ANY($1) AND state NOT IN `+finishedSQL, heldKeys)
		if err != nil {
			return nil, err
		}
		hs, err := pgx.CollectRows(rows, scanJob)
		if err != nil {
			return nil, err
		}
		for _, h := range hs {
			holders[h.UniqueKey] = h
		}
	}
	for _, i := range sendIdx {
		j := jobs[i]
		if res[i].Job != nil {
			continue
		}
		h := holders[j.UniqueKey]
		if h == nil {
			return nil, fmt.Errorf("unique key %q: %w", j.UniqueKey, errHolderGone)
		}
		res[i] = persistence.InsertResult{Job: h, Duplicate: true}
	}
	for i, f := range dupOf {
		res[i] = persistence.InsertResult{Job: res[f].Job.Clone(), Duplicate: true}
	}
	return res, nil
}

// notifyQueued wakes the other nodes for each category that got queued jobs (delivered when the
// transaction commits).
func notifyQueued(ctx context.Context, q querier, sender string, jobs []*persistence.Job, stored map[string]bool) error {
	var cats []string
	seen := map[string]bool{}
	for _, j := range jobs {
		if j.State == persistence.StateQueued && stored[j.ID] && !seen[j.Category] {
			seen[j.Category] = true
			cats = append(cats, sender+"|"+j.Category)
		}
	}
	if len(cats) == 0 {
		return nil
	}
	_, err := q.Exec(ctx, "SELECT pg_notify($1, c) FROM unnest($2::text[]) AS c", chanQueued, cats)
	return err
}

// scanJob reads a (seq, record) row.
func scanJob(r pgx.CollectableRow) (*persistence.Job, error) {
	var seq *int64
	var rec []byte
	if err := r.Scan(&seq, &rec); err != nil {
		return nil, err
	}
	return decode(seq, rec)
}

// Update implements persistence.Store: in one transaction the row is locked, fn applied in Go
// and the job written back. A start or a finish is fenced by this node's lease (ErrFenced). A
// finish (a job leaving running) is always durable: were it lost, the job would stay running on
// a node that no longer runs it.
func (s *Store) Update(ctx context.Context, id string, fn persistence.Mutator, durable bool) (*persistence.Job, error) {
	return s.doUpdate(ctx, false, id, fn, durable)
}

// writeBack stores j over old (both read under the row lock): a job entering the queue takes a
// new seq, one starting is held by this node, one leaving running is held by none.
func (s *Store) writeBack(ctx context.Context, tx pgx.Tx, old, j *persistence.Job) error {
	r, err := toRow(j)
	if err != nil {
		return err
	}
	newSeq := j.State == persistence.StateQueued && (old.State != persistence.StateQueued || j.Category != old.Category)
	var seq *int64
	err = tx.QueryRow(ctx, updateSQL, r.id, r.category, r.state, newSeq, r.runAt, r.uniqueKey, s.node, r.attempt,
		r.finishedAt, json.RawMessage(r.record), s.epoch.Load()).Scan(&seq)
	if err != nil {
		return fmt.Errorf("write job %s: %w", j.ID, err)
	}
	j.Seq = 0
	if seq != nil {
		j.Seq = uint64(*seq)
	}
	return nil
}

// asyncReq is one UpdateAsync call waiting for a worker.
type asyncReq struct {
	id      string
	fn      persistence.Mutator
	durable bool
	done    func(*persistence.Job, error)
}

// UpdateAsync implements persistence.Store: the update runs on one of the store's workers,
// which then calls done.
func (s *Store) UpdateAsync(id string, fn persistence.Mutator, durable bool, done func(*persistence.Job, error)) {
	r := &asyncReq{id: id, fn: fn, durable: durable, done: done}
	s.submitMu.RLock()
	if s.closed.Load() {
		s.submitMu.RUnlock()
		if done != nil {
			done(nil, persistence.ErrClosed)
		}
		return
	}
	s.asyncReqs <- r
	s.submitMu.RUnlock()
}

// asyncWorker runs async updates until Close, then those still queued.
func (s *Store) asyncWorker() {
	run := func(r *asyncReq) {
		j, err := s.updateNow(r)
		if r.done != nil {
			r.done(j, err)
		}
	}
	for {
		select {
		case r := <-s.asyncReqs:
			run(r)
		case <-s.stop:
			for {
				select {
				case r := <-s.asyncReqs:
					run(r)
				default:
					return
				}
			}
		}
	}
}

// updateNow is Update for a request already accepted: it runs even while Close waits for it.
func (s *Store) updateNow(r *asyncReq) (*persistence.Job, error) {
	return s.doUpdate(context.Background(), true, r.id, r.fn, r.durable)
}

// Get implements persistence.Store.
func (s *Store) Get(ctx context.Context, id string) (*persistence.Job, error) {
	if s.closed.Load() {
		return nil, persistence.ErrClosed
	}
	var seq *int64
	var rec []byte
	err := s.pool.QueryRow(ctx, "SELECT seq, record FROM jobsched_jobs WHERE id = $1", id).Scan(&seq, &rec)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("%w: %s", persistence.ErrNotFound, id)
	}
	if err != nil {
		return nil, fmt.Errorf("read job %s: %w", id, err)
	}
	return decode(seq, rec)
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
	sql := "SELECT seq, record FROM jobsched_jobs WHERE true"
	var args []any
	arg := func(v any) string { args = append(args, v); return fmt.Sprintf("$%d", len(args)) }
	if opt.Category != "" {
		sql += " AND category = " + arg(opt.Category)
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
