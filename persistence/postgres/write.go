package postgres

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jobsched/jobsched/persistence"
)

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

// writeBack stores j over old (both read under the row lock): a job entering the queue takes a
// new seq, one starting is held by this node, one leaving running is held by none.
func (s *Store) writeBack(ctx context.Context, tx pgx.Tx, old, j *persistence.Job) error {
	r, err := toRow(j)
	if err != nil {
		return err
	}
	if reopens(old, j) {
		if _, err := tx.Exec(ctx, categoryCheckSQL, []string{j.Category}); err != nil {
			return categoryErr(err) // a deleted category refuses it (categories.go)
		}
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
	if finishes(old, j) {
		// Its dependents (depends.go); their counts are corrected by the next counts refresh.
		return settleTx(ctx, tx, j.ID, &deltas{})
	}
	return nil
}
