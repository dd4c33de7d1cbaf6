package persistence

import "context"

// CommitNotifier is a store that can tell an inserter that its jobs are committed before they
// are durable (InsertCommitted). The Badger store is one; the others are not.
type CommitNotifier interface {
	// InsertCommitted is Insert, and it calls committed with the results (the same as Insert
	// returns) as soon as the insert is committed — applied to the store and written to its
	// write-ahead log in the page cache, so it survives the death of the process, not yet that
	// of the machine — and before the sync that makes it durable. Insert returns after that
	// sync, as always. committed is not called when the insert is refused or its commit fails;
	// when it was called, a later failure of the sync still fails the insert (and the jobs may
	// or may not be found after a restart). committed runs before Insert returns: it must be
	// quick, must not block and must not call the store. (It runs where the pipe lands the batch,
	// on one of badger's commit callbacks: pipe.go.)
	InsertCommitted(ctx context.Context, jobs []*Job, committed func([]InsertResult)) ([]InsertResult, error)
}

var _ CommitNotifier = (*Badger)(nil)

// InsertCommitted implements CommitNotifier.
func (s *Badger) InsertCommitted(ctx context.Context, jobs []*Job, committed func([]InsertResult)) ([]InsertResult, error) {
	return s.insert(ctx, jobs, committed)
}

// tellCommitted runs the committed hooks of the requests of a transaction that was just
// applied by badger (the pipe, before the sync).
func tellCommitted(in []*request) {
	for _, r := range in {
		if r.committed != nil && r.err == nil {
			r.committed(r.insertRes)
		}
	}
}
