package persistence

import (
	"context"
	"sync"
)

// request is one caller's write: an insert of jobs or an update of one job.
type request struct {
	inserts []*Job
	encoded [][]byte // the inserts' records
	id      string
	fn      Mutator
	del     bool // Delete: remove the finished job id
	durable bool
	read    *queuedRead // a read the writer answers between commits (Queued)

	// results, filled by the writer
	insertRes []InsertResult
	job       *Job
	planned   []*Job // the records this request writes, for the overlay once they are in the txn
	err       error
	deltas    []delta
	released  []*Job   // the dependents a finish released or cancelled (depends.go)
	more      []string // finished jobs whose dependents are left to settle (depends.go)
	settled   []string // finished jobs whose last open dependents this request settles (depends.go)
	settleID  string   // a follow-up: settle more dependents of this finished job
	// ReviveDependents (revive.go): the parent whose cancelled children to revive, and results
	revive       string
	revivedIDs   []string
	reviveFailed []string
	reviveMore   bool
	done         func(r *request)
	committed    func([]InsertResult) // InsertCommitted's hook (committed.go)

	reply chan struct{}     // wait's signal (buffered: the writer never blocks on it)
	async func(*Job, error) // UpdateAsync's callback
}

// updates recycles the requests of Update and UpdateAsync (two per job), with their reply
// channels. A request goes back only once the writer has answered it and its results are read.
var updates = sync.Pool{New: func() any { return &request{reply: make(chan struct{}, 1)} }}

// newUpdate returns a pooled request for an update of id.
func newUpdate(id string, fn Mutator, durable bool) *request {
	r := updates.Get().(*request)
	r.id, r.fn, r.durable = id, fn, durable
	return r
}

// recycle clears r, answered and read, and returns it to the pool.
func recycle(r *request) {
	clear(r.planned)
	*r = request{reply: r.reply, planned: r.planned[:0], deltas: r.deltas[:0]}
	updates.Put(r)
}

// signal is the done of a request someone waits for.
func signal(r *request) { r.reply <- struct{}{} }

// answerAsync is the done of an UpdateAsync: the request is recycled before the callback runs.
func answerAsync(r *request) {
	done, j, err := r.async, r.job, r.err
	recycle(r)
	if done != nil {
		done(j, err)
	}
}

type delta struct {
	id, category string
	from, to     State
}

// submit hands r to the writer, which then owns it and calls r.done once. It returns an error,
// and r.done is not called, when r was not handed over: nothing of it is written then.
// It holds submitMu shared while sending, and Close takes it alone before stopping the writer,
// so no request is sent after the writer's last drain.
func (s *Badger) submit(ctx context.Context, r *request) error {
	s.submitMu.RLock()
	defer s.submitMu.RUnlock()
	if s.closed.Load() {
		return ErrClosed
	}
	if err := s.Err(); err != nil && r.read == nil { // reads keep working
		return err
	}
	select {
	case s.reqs <- r:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// wait submits r and waits for its result or ctx; answered tells whether the writer answered r
// (only then may its results be read). A request whose caller left still completes: the caller
// gets ctx's error and cannot know the outcome.
func (s *Badger) wait(ctx context.Context, r *request) (answered bool, err error) {
	if err := ctx.Err(); err != nil {
		return false, err // nothing submitted: nothing written
	}
	if r.reply == nil {
		r.reply = make(chan struct{}, 1)
	}
	r.done = signal
	if err := s.submit(ctx, r); err != nil {
		return false, err
	}
	select {
	case <-r.reply:
		return true, r.err
	case <-ctx.Done():
		select {
		case <-r.reply: // answered as ctx ended: the answer is known, give it
			return true, r.err
		default:
			return false, ctx.Err()
		}
	}
}

// Insert implements Store. The records are numbered and encoded here, on the caller's goroutine,
// so that concurrent callers share that work instead of queueing it on the writer.
func (s *Badger) Insert(ctx context.Context, jobs []*Job) ([]InsertResult, error) {
	return s.insert(ctx, jobs, nil)
}

// insert is Insert; committed, if not nil, is the request's hook (InsertCommitted).
func (s *Badger) insert(ctx context.Context, jobs []*Job, committed func([]InsertResult)) ([]InsertResult, error) {
	r := &request{committed: committed, inserts: make([]*Job, len(jobs)), encoded: make([][]byte, len(jobs)), durable: true}
	for i, in := range jobs {
		j := in.Clone()
		if j.State == StateQueued || j.State == StateRunning {
			j.Seq = s.takeSeq(j.Category)
		}
		r.inserts[i], r.encoded[i] = j, encodeJob(j)
	}
	if _, err := s.wait(ctx, r); err != nil {
		return nil, err
	}
	return r.insertRes, nil
}

// Update implements Store.
func (s *Badger) Update(ctx context.Context, id string, fn Mutator, durable bool) (*Job, error) {
	r := newUpdate(id, fn, durable)
	answered, err := s.wait(ctx, r)
	if !answered {
		return nil, err // the writer may still hold r: it is not recycled
	}
	j := r.job
	recycle(r)
	return j, err
}

// UpdateAsync implements Store. A write the store refuses at once (closed, failed) is answered
// on the caller's goroutine.
func (s *Badger) UpdateAsync(id string, fn Mutator, durable bool, done func(*Job, error)) {
	r := newUpdate(id, fn, durable)
	r.async, r.done = done, answerAsync
	if err := s.submitAsync(r); err != nil {
		r.err = err
		r.done(r)
	}
}
