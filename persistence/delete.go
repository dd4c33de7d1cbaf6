package persistence

import (
	"context"
	"errors"
	"fmt"
	"slices"
)

// Errors of Delete and of bringing a finished job back.
var (
	// ErrNotFinished: Delete refuses a job that has not finished (it may be in a queue or running).
	ErrNotFinished = errors.New("job not finished")
	// ErrUniqueHeld: a finished job cannot become unfinished again while another unfinished job
	// holds its unique key.
	ErrUniqueHeld = errors.New("unique key held by another job")
)

// Delete implements Store. It goes through the single writer like Update: the check that the
// job is finished and the removal of its record and index keys are one step, so a job cannot
// be retried and deleted at once. Counts are left alone: a finished state counts the jobs that
// finished since the store was opened.
func (s *Badger) Delete(ctx context.Context, id string) error {
	r := &request{id: id, del: true, durable: true}
	_, err := s.wait(ctx, r)
	return err
}

// planDelete plans the removal of a finished job: its record and any index key it still has.
func (s *Badger) planDelete(txn *wtxn, r *request) ([]pendingWrite, error) {
	j, err := s.lookup(txn, r.id)
	if err != nil {
		return nil, err
	}
	if !j.State.Finished() {
		return nil, fmt.Errorf("delete %s: %w (state %s)", r.id, ErrNotFinished, j.State)
	}
	writes := []pendingWrite{{key: jobKey(j.ID), del: true}}
	for _, k := range indexKeys(nil, j, false) {
		writes = append(writes, pendingWrite{key: k.key, del: true})
	}
	// A dependency still open on it (a revive reopened one, not settled yet) is settled in this
	// write: once the job is gone, nothing would (depends.go).
	r.released, r.more = r.released[:0], r.more[:0]
	if writes, err = s.settle(txn, r, nil, j, writes); err != nil {
		return nil, err
	}
	if slices.Contains(r.more, j.ID) {
		return nil, fmt.Errorf("delete %s: %w: its dependents are being settled, try again", r.id, ErrNotFinished)
	}
	// Later requests of this transaction must not see the job: with neither the overlay nor the
	// cache holding it, lookup reads through the transaction, which sees the delete. Dropping a
	// cache entry is always safe (the cache only spares reads).
	delete(s.overlay, j.ID)
	s.cache.drop(j.ID)
	r.job = j.Clone()
	return writes, nil
}

// checkRevive refuses to bring a finished job with a unique key back to an unfinished state
// while another unfinished job holds that key: the key's index entry would otherwise be taken
// from its holder.
func (s *Badger) checkRevive(txn *wtxn, old, j *Job) error {
	if j.UniqueKey == "" || !old.State.Finished() || j.State.Finished() {
		return nil
	}
	holder, err := s.uniqueHolder(txn, j.UniqueKey)
	if err != nil {
		return err
	}
	if holder != nil && holder.ID != j.ID {
		return fmt.Errorf("job %s: unique key %q: %w (job %s)", j.ID, j.UniqueKey, ErrUniqueHeld, holder.ID)
	}
	return nil
}
