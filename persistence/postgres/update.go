package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jobsched/jobsched/persistence"
)

// An update is the hot path of the work rate (a start and a finish per job), so it takes two
// round trips to the server, pipelined: BEGIN, the row locked and read, the lease read; then,
// after the mutator ran in Go, the row written, the notifications and COMMIT.

// updateRead is the first round trip's answer.
type updateRead struct {
	old       *persistence.Job
	node      *string
	nodeEpoch *int64
	leaseOK   bool
}

// Update implements persistence.Store: in one transaction the row is locked, fn applied in Go
// and the job written back. A start or a finish is fenced by this node's lease (ErrFenced). A
// finish (a job leaving running) is always durable: were it lost, the job would stay running on
// a node that no longer runs it.
func (s *Store) Update(ctx context.Context, id string, fn persistence.Mutator, durable bool) (*persistence.Job, error) {
	return s.doUpdate(ctx, false, id, fn, durable)
}

// pipelinedUpdate runs one Update on conn. A mutator's error (or a fence) comes back as fnErr
// with the job as stored, and nothing is written.
func (s *Store) pipelinedUpdate(ctx context.Context, conn *pgxpool.Conn, id string, fn persistence.Mutator, durable bool, st *txState) (out *persistence.Job, fnErr, err error) {
	committed := false
	defer func() {
		if !committed {
			// On any error the transaction is not committed; a connection left in a bad state is
			// discarded by the pool when released.
			_, _ = conn.Exec(context.Background(), "ROLLBACK") // its failure only means there is no transaction
		}
	}()
	r, err := s.readForUpdate(ctx, conn, id, durable)
	if err != nil {
		return nil, nil, err
	}
	st.heldByMe = r.old.State == persistence.StateRunning && r.node != nil && *r.node == s.node &&
		r.nodeEpoch != nil && *r.nodeEpoch == s.epoch.Load()
	j := r.old.Clone()
	if err := fn(j); err != nil {
		return r.old, err, nil
	}
	if j.ID != r.old.ID {
		return nil, nil, fmt.Errorf("mutator changed the id of job %s", r.old.ID)
	}
	old := r.old
	start := old.State != persistence.StateRunning && j.State == persistence.StateRunning
	finish := old.State == persistence.StateRunning && j.State != persistence.StateRunning
	if start || finish {
		if finish && (r.node == nil || *r.node != s.node || r.nodeEpoch == nil || *r.nodeEpoch != s.epoch.Load()) {
			return old, ErrFenced, nil
		}
		if !r.leaseOK {
			return old, ErrFenced, nil
		}
	}
	st.relaxed = !durable && !finish

	rw, err := toRow(j)
	if err != nil {
		return nil, nil, err
	}
	b := &pgx.Batch{}
	if !durable && finish {
		// A finish is durable whatever was asked: were it lost, the job would stay running on a
		// node that no longer runs it.
		b.Queue("SET LOCAL synchronous_commit = on")
	}
	if reopens(old, j) {
		b.Queue(categoryCheckSQL, []string{j.Category}) // a deleted category refuses it (categories.go)
	}
	newSeq := j.State == persistence.StateQueued && (old.State != persistence.StateQueued || j.Category != old.Category)
	var seq *int64
	b.Queue(updateSQL, rw.id, rw.category, rw.state, newSeq, rw.runAt, rw.uniqueKey, s.node, rw.attempt, rw.finishedAt,
		json.RawMessage(rw.record), s.epoch.Load()).QueryRow(func(row pgx.Row) error { return row.Scan(&seq) })
	if finishes(old, j) {
		b.Queue("SELECT pg_notify($1, $2)", chanFinished, s.node+"|"+j.ID)
		queueSettle(b, []string{j.ID}, &st.deltas) // its dependents (depends.go)
	}
	if newSeq {
		// Back in a queue (a retry made due, a start given back): wake the other nodes' Fifos.
		b.Queue("SELECT pg_notify($1, $2)", chanQueued, s.node+"|"+j.Category)
	}
	if j.State == persistence.StateRunning && old.State == persistence.StateRunning &&
		j.CancelRequested && !old.CancelRequested && r.node != nil && *r.node != s.node {
		b.Queue("SELECT pg_notify($1, $2)", chanCancel, *r.node+"|"+j.ID)
	}
	b.Queue("COMMIT")
	if err := conn.SendBatch(ctx, b).Close(); err != nil {
		if pe := (*pgconn.PgError)(nil); errors.As(err, &pe) && pe.Code == "23505" && pe.ConstraintName == "jobsched_jobs_unique" {
			// A finished job brought back while another unfinished job holds its unique key.
			// The job is returned as it was, nothing written.
			return old, fmt.Errorf("job %s: unique key %q: %w", id, j.UniqueKey, persistence.ErrUniqueHeld), nil
		}
		return nil, nil, fmt.Errorf("write job %s: %w", id, categoryErr(err))
	}
	committed = true
	j.Seq = 0
	if seq != nil {
		j.Seq = uint64(*seq)
	}
	if old.State != j.State {
		st.deltas.add(j.Category, old.State, j.State)
	}
	return j.Clone(), nil, nil
}

// readForUpdate is the first round trip: BEGIN, the row locked and read, this node's lease.
func (s *Store) readForUpdate(ctx context.Context, conn *pgxpool.Conn, id string, durable bool) (*updateRead, error) {
	var r updateRead
	var seq *int64
	var rec []byte
	found := false
	b := &pgx.Batch{}
	b.Queue("BEGIN")
	if !durable {
		b.Queue("SET LOCAL synchronous_commit = off")
	}
	b.Queue("SELECT seq, node, node_epoch, "+recSQL+" FROM jobsched_jobs WHERE id = $1 FOR UPDATE", id).QueryRow(func(row pgx.Row) error {
		err := row.Scan(&seq, &r.node, &r.nodeEpoch, &rec)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		found = err == nil
		return err
	})
	b.Queue("SELECT count(*) = 1 FROM jobsched_nodes WHERE name = $1 AND epoch = $2", s.node, s.epoch.Load()).
		QueryRow(func(row pgx.Row) error { return row.Scan(&r.leaseOK) })
	if err := conn.SendBatch(ctx, b).Close(); err != nil {
		return nil, fmt.Errorf("read job %s: %w", id, err)
	}
	if !found {
		return nil, fmt.Errorf("%w: %s", persistence.ErrNotFound, id)
	}
	old, err := decode(seq, rec)
	if err != nil {
		return nil, fmt.Errorf("job %s: %w", id, err)
	}
	r.old = old
	return &r, nil
}

// updateSQL writes a job back: a job entering the queue takes a new seq, one starting is held by
// this node (and its epoch), one leaving running by none.
const updateSQL = `UPDATE jobsched_jobs SET category = $2, state = $3,
	seq = CASE WHEN $3 <> 'queued' THEN NULL WHEN $4 THEN nextval('jobsched_seq') ELSE seq END,
	run_at = $5, unique_key = $6,
	node = CASE WHEN $3 <> 'running' THEN NULL WHEN state <> 'running' THEN $7 ELSE node END,
	node_epoch = CASE WHEN $3 <> 'running' THEN NULL WHEN state <> 'running' THEN $11 ELSE node_epoch END,
	attempt = $8, finished_at = $9, record = $10, patch = NULL
	WHERE id = $1 RETURNING seq`

// doUpdate is Update and UpdateAsync's body; admitted is true for an async request accepted
// before Close began.
func (s *Store) doUpdate(ctx context.Context, admitted bool, id string, fn persistence.Mutator, durable bool) (*persistence.Job, error) {
	if !admitted && s.closed.Load() {
		return nil, persistence.ErrClosed
	}
	s.counts.writing.RLock()
	defer s.counts.writing.RUnlock()
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("update %s: %w", id, err)
	}
	defer conn.Release()
	var st txState
	out, fnErr, err := s.pipelinedUpdate(ctx, conn, id, fn, durable, &st)
	if err != nil {
		return nil, err
	}
	if fnErr != nil {
		return out, s.judgeSkip(id, fnErr, st.heldByMe)
	}
	s.commits.Add(1)
	if !st.relaxed {
		s.syncs.Add(1)
	}
	s.counts.apply(st.deltas)
	s.writes.Add(1)
	s.track(out)
	return out, nil
}

// track remembers the jobs this node holds as running, so that a late write of one it lost is
// recognised (and counted) as fenced.
func (s *Store) track(j *persistence.Job) {
	s.held.set(j.ID, j.State == persistence.StateRunning)
}

// heldSet is the set of the jobs this node holds as running: a map under a mutex, not a
// sync.Map, whose entries for keys that come and go (two writes per job) cost allocations and
// promotions (6% of the process's CPU in a profile of BenchmarkSchedulerWorkRate).
type heldSet struct {
	mu sync.Mutex
	m  map[string]struct{}
}

// set adds id (in) or removes it.
func (h *heldSet) set(id string, in bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !in {
		delete(h.m, id)
		return
	}
	if h.m == nil {
		h.m = map[string]struct{}{}
	}
	h.m[id] = struct{}{}
}

// take removes id and reports whether it was in.
func (h *heldSet) take(id string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	_, ok := h.m[id]
	delete(h.m, id)
	return ok
}
