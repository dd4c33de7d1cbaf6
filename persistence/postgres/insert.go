package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jobsched/jobsched/persistence"
)

// errHolderGone: a unique key's holder finished between the INSERT and the read of the holder;
// the insert is tried again.
var errHolderGone = errors.New("the holder of a unique key finished during the insert")

// Insert implements persistence.Store: one multi-row INSERT in one transaction, all or nothing.
func (s *Store) Insert(ctx context.Context, jobs []*persistence.Job) ([]persistence.InsertResult, error) {
	unique := false
	for _, j := range jobs {
		unique = unique || j.UniqueKey != ""
	}
	if !unique && !hasParents(jobs) {
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
	// The categories' locks shared, first: a deleted category refuses the insert (categories.go).
	if _, err := q.Exec(ctx, categoryCheckSQL, jobCategories(jobs)); err != nil {
		return nil, categoryErr(err)
	}
	var deps []dependRow // depends_on (depends.go)
	if hasParents(jobs) {
		var err error
		if jobs, deps, err = resolveParents(ctx, q, jobs); err != nil {
			return nil, err
		}
	}
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
	if len(deps) > 0 {
		if err := insertDepends(ctx, q, deps, stored, res); err != nil {
			return nil, err
		}
	}
	holders := map[string]*persistence.Job{}
	if len(heldKeys) > 0 {
		rows, err := q.Query(ctx, `SELECT seq, `+recSQL+` FROM jobsched_jobs
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

// insertFast inserts jobs that hold no unique key in one round trip: BEGIN, the categories'
// check, the INSERT, the wake-ups and COMMIT, pipelined. (With unique keys the holders must be read after the INSERT,
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
	b.Queue(categoryCheckSQL, jobCategories(jobs)) // a deleted category refuses the insert (categories.go)
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
		return nil, fmt.Errorf("insert: %w", categoryErr(err))
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
