package persistence

import "context"

// request is one caller's write: an insert of jobs or an update of one job.
type request struct {
	inserts []*Job
	encoded [][]byte // the inserts' records
	id      string
	fn      Mutator
	durable bool
	read    *queuedRead // a read the writer answers between commits (Queued)

	// results, filled by the writer
	insertRes []InsertResult
	job       *Job
	planned   []*Job // the records this request writes, for the overlay once they are in the txn
	err       error
	deltas    []delta
	done      func(r *request)
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
	ch := make(chan struct{})
	r.done = func(*request) { close(ch) }
	if err := s.submit(ctx, r); err != nil {
		return false, err
	}
	select {
	case <-ch:
		return true, r.err
	case <-ctx.Done():
		select {
		case <-ch: // answered as ctx ended: the answer is known, give it
			return true, r.err
		default:
			return false, ctx.Err()
		}
	}
}

// Insert implements Store. The records are numbered and encoded here, on the caller's goroutine,
// so that concurrent callers share that work instead of queueing it on the writer.
func (s *Badger) Insert(ctx context.Context, jobs []*Job) ([]InsertResult, error) {
	r := &request{inserts: make([]*Job, len(jobs)), encoded: make([][]byte, len(jobs)), durable: true}
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
	r := &request{id: id, fn: fn, durable: durable}
	answered, err := s.wait(ctx, r)
	if !answered {
		return nil, err
	}
	return r.job, err
}

// UpdateAsync implements Store. A write the store refuses at once (closed, failed) is answered
// on the caller's goroutine.
func (s *Badger) UpdateAsync(id string, fn Mutator, durable bool, done func(*Job, error)) {
	r := &request{id: id, fn: fn, durable: durable, done: func(r *request) {
		if done != nil {
			done(r.job, r.err)
		}
	}}
	if err := s.submit(context.Background(), r); err != nil {
		r.err = err
		r.done(r)
	}
}
