package jobsched

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/jobsched/jobsched/actors"
	"github.com/jobsched/jobsched/persistence"
)

// Enqueue stores a job and returns it once it is durable (synced to disk). If an unfinished job
// holds spec.UniqueKey, nothing is stored and that job is returned with ErrDuplicate. A
// category at its queue limit refuses the job with ErrQueueFull; a bad spec gets an
// *InvalidError (ErrInvalid) naming the field.
func (s *Scheduler) Enqueue(ctx context.Context, spec JobSpec) (*Job, error) {
	res, err := s.enqueue(ctx, []JobSpec{spec}, "")
	if err != nil {
		return nil, err
	}
	if res[0].Duplicate {
		return res[0].Job, fmt.Errorf("enqueue: unique key %q held by job %s: %w", spec.UniqueKey, res[0].Job.ID, ErrDuplicate)
	}
	return res[0].Job, nil
}

// EnqueueBatch stores jobs all or nothing, in one commit, and returns them in order. An entry
// whose unique key is held by an unfinished job returns that job (and stores nothing for it).
// A batch holds at most Config.MaxBatch jobs; errors name the entry ("jobs[3].kind").
func (s *Scheduler) EnqueueBatch(ctx context.Context, specs []JobSpec) ([]*Job, error) {
	res, err := s.enqueue(ctx, specs, "jobs")
	if err != nil {
		return nil, err
	}
	out := make([]*Job, len(res))
	for i, r := range res {
		out[i] = r.Job
	}
	return out, nil
}

func (s *Scheduler) enqueue(ctx context.Context, specs []JobSpec, prefix string) (_ []persistence.InsertResult, err error) {
	if err := s.admit(); err != nil {
		return nil, fmt.Errorf("enqueue: %w", err)
	}
	handedOff := false
	defer func() {
		if !handedOff {
			s.inserting.Done()
		}
	}()
	if err := s.storeErr(); err != nil {
		err = fmt.Errorf("%w: the store failed: %w", ErrStopped, err)
		s.stopWith(err)
		return nil, fmt.Errorf("enqueue: %w", err)
	}
	if len(specs) == 0 {
		return nil, invalid("jobs", "the batch is empty")
	}
	if len(specs) > s.cfg.MaxBatch {
		return nil, &InvalidError{Field: "jobs", Reason: fmt.Sprintf("%d jobs, over the batch limit of %d", len(specs), s.cfg.MaxBatch), tooLarge: true}
	}
	now := s.cfg.clock.Now()
	jobs := make([]*Job, len(specs))
	perCat := map[string]int64{}
	for i, spec := range specs {
		field := ""
		if prefix != "" {
			field = fmt.Sprintf("%s[%d].", prefix, i)
		}
		j, err := s.newJob(spec, now, field)
		if err != nil {
			return nil, err
		}
		jobs[i] = j
		perCat[j.Category]++
	}
	for i, spec := range specs {
		field := ""
		if prefix != "" {
			field = fmt.Sprintf("%s[%d].", prefix, i)
		}
		if err := resolveDepends(spec, jobs, i, field, prefix != ""); err != nil {
			return nil, err
		}
	}
	// Admission: reserve room under each category's limit before anything is stored.
	var held []string
	for cat, n := range perCat {
		if err := s.reserve(cat, n); err != nil {
			for _, c := range held {
				s.catReserved(c).Add(-perCat[c])
			}
			return nil, err
		}
		held = append(held, cat)
	}
	handedOff = true
	ctx, span := s.traceEnqueue(ctx, jobs) // nil when tracing is off (tracing.go)
	defer func() { endSpan(span, err) }()
	res, err := s.insert(ctx, jobs, perCat)
	if err != nil {
		if errors.Is(err, persistence.ErrTooLarge) {
			return nil, fmt.Errorf("enqueue: %w: %v", ErrTooLarge, err)
		}
		if errors.Is(err, persistence.ErrClosed) {
			return nil, fmt.Errorf("enqueue: %w", ErrClosed)
		}
		if perr := parentErr(err, specs, prefix); perr != err {
			return nil, perr
		}
		return nil, fmt.Errorf("enqueue: %w", err)
	}
	return res, nil
}

// insert stores the jobs and tells the actors of them. The insert is not tied to ctx: if the
// caller leaves during the commit, the jobs may still be stored, and then the actors hear of
// them all the same (the caller gets ctx's error; the job runs, as a job whose caller's
// connection dropped after the commit would). The InsertGate tracks the insert until the store
// answers, so no Fifo moves its low-water mark past a job still being committed. The caller
// has counted the insert in s.inserting; it is counted out here.
func (s *Scheduler) insert(ctx context.Context, jobs []*Job, perCat map[string]int64) ([]persistence.InsertResult, error) {
	run := func() ([]persistence.InsertResult, error) {
		defer s.inserting.Done()
		gen := s.inserts.Begin()
		// The reservation ends once the jobs are in the state counts: at the commit, as the
		// counts move, on a store that tells of it (enqueue_early.go); else once Insert returns.
		unreserve := sync.OnceFunc(func() {
			for cat, n := range perCat {
				s.catReserved(cat).Add(-n)
			}
		})
		// Ready jobs go to the actors once committed, before the sync (enqueue_early.go).
		res, early, err := s.storeInsert(context.WithoutCancel(ctx), jobs, unreserve)
		err = deletedCategory(err) // by another node (categoryGuard)
		s.inserts.End(gen)
		unreserve()
		if err == nil {
			s.announce(res, early)
		}
		return res, err
	}
	if ctx.Done() == nil {
		return run() // the caller cannot leave: no goroutine needed
	}
	type result struct {
		res []persistence.InsertResult
		err error
	}
	ch := make(chan result, 1)
	go func() {
		res, err := run()
		ch <- result{res, err}
	}()
	select {
	case r := <-ch:
		return r.res, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// announce tells of the stored jobs, unless the store's commit did it already (early,
// enqueue_early.go): the Observer, then the hub and the actors (handOff).
func (s *Scheduler) announce(res []persistence.InsertResult, early bool) {
	if !early {
		s.tellEnqueued(res)
		s.handOff(res)
	}
}

// tellEnqueued tells the Observer of the stored jobs, before they are handed to the actors so
// that it hears of a job enqueued before it hears of its start.
func (s *Scheduler) tellEnqueued(res []persistence.InsertResult) {
	if s.cfg.Observer == nil {
		return
	}
	for _, r := range res {
		if !r.Duplicate {
			s.cfg.Observer.JobEnqueued(r.Job)
		}
	}
}

// handOff publishes the stored jobs and hands them to the actors: ready ones to the Dispatcher
// (a batch as one message), waiting ones to the Waiter. A message lost on the way costs only
// time: the Fifos and the Waiter find the jobs in the store at their next poll. It does not
// block (it may run on the store's writer).
func (s *Scheduler) handOff(res []persistence.InsertResult) {
	ready := make([]*Job, 0, len(res))
	for _, r := range res {
		if r.Duplicate {
			continue
		}
		s.publish(r.Job)
		switch r.Job.State {
		case StateQueued:
			ready = append(ready, r.Job)
		case StateScheduled:
			s.system.Root.Send(s.env.WaiterPID(), &actors.Schedule{ID: r.Job.ID, RunAt: r.Job.RunAt})
		} // pending: the store releases it when its parents finish (depends.go)
	}
	actors.Route(s.env, ready) // one message per category, straight to its Fifo
}

// reserve takes room for n jobs in a category's queue limit, or returns ErrQueueFull.
func (s *Scheduler) reserve(cat string, n int64) error {
	// The category's check and the reservation under one read lock: DeleteCategory, which
	// takes the category out under the write lock before it counts the reservations, sees
	// this one or refuses it here.
	s.catMu.RLock()
	c, ok := s.cats[cat]
	r := s.reserved[cat]
	var held int64
	if ok {
		held = r.Add(n)
	}
	s.catMu.RUnlock()
	if !ok {
		return invalid("category", "unknown category %q", cat)
	}
	limit := int64(c.QueueLimit)
	waiting := int64(s.store.Backlog(cat))
	if waiting+held > limit {
		r.Add(-n)
		return fmt.Errorf("enqueue: category %q holds %d waiting jobs (limit %d): %w", cat, waiting, limit, ErrQueueFull)
	}
	return nil
}

// Get returns the job with that id, or ErrNotFound. It works while the store is open, also
// after the scheduler stopped on its own.
func (s *Scheduler) Get(ctx context.Context, id string) (*Job, error) {
	store := s.getStore()
	if store == nil {
		return nil, ErrNotStarted
	}
	j, err := store.Get(ctx, id)
	if errors.Is(err, persistence.ErrClosed) {
		return nil, ErrClosed
	}
	return j, err
}

// ListOptions filters List; see persistence.ListOptions.
type ListOptions = persistence.ListOptions

// List returns a page of jobs, newest first, and the cursor of the next page ("" at the end).
func (s *Scheduler) List(ctx context.Context, opt ListOptions) ([]*Job, string, error) {
	store := s.getStore()
	if store == nil {
		return nil, "", ErrNotStarted
	}
	if opt.Category != "" {
		if _, ok := s.category(opt.Category); !ok {
			return nil, "", invalid("category", "unknown category %q", opt.Category)
		}
	}
	if opt.State != "" && !opt.State.Valid() {
		return nil, "", invalid("state", "unknown state %q", opt.State)
	}
	if opt.Limit < 0 || opt.Limit > persistence.MaxListLimit {
		return nil, "", invalid("limit", "must be between 1 and %d", persistence.MaxListLimit)
	}
	return store.List(ctx, opt)
}

// Cancel cancels a job: a scheduled, queued or retrying job never runs; a running job's context
// is cancelled (cause ErrCancelled) and the job ends cancelled when its handler returns. A
// finished job returns ErrFinished.
func (s *Scheduler) Cancel(ctx context.Context, id string) (*Job, error) {
	if err := s.checkRunning(); err != nil {
		return nil, fmt.Errorf("cancel: %w", err)
	}
	now := s.cfg.clock.Now()
	j, err := s.store.Update(ctx, id, func(j *Job) error {
		switch {
		case j.State.Finished():
			return ErrFinished
		case j.State == StateRunning:
			j.CancelRequested = true
		default:
			j.State, j.FinishedAt = StateCancelled, &now
		}
		return nil
	}, true)
	if err != nil {
		if errors.Is(err, ErrFinished) {
			return j, fmt.Errorf("cancel %s: %w", id, ErrFinished)
		}
		return nil, fmt.Errorf("cancel %s: %w", id, err)
	}
	if j.State == StateRunning {
		s.cancels.Add(1) // before looking: an attempt that registers after this looks in the store
		if f, ok := s.running.Load(id); ok {
			f.(context.CancelCauseFunc)(ErrCancelled)
		}
	}
	s.publish(j)
	return j, nil
}

// Wait blocks until the job has finished (succeeded, dead or cancelled) and returns it, or
// returns ctx's error.
func (s *Scheduler) Wait(ctx context.Context, id string) (*Job, error) {
	ch, stop := s.hub.waitFor(id)
	defer stop()
	j, err := s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if j.State.Finished() {
		return j, nil
	}
	select {
	case j := <-ch:
		return j, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-s.hub.done:
		return nil, ErrClosed
	}
}

// CategoryInfo is a category's settings and live figures.
type CategoryInfo struct {
	Category
	Paused bool `json:"paused"`
	// Counts: unfinished states hold the current number; finished states count the jobs that
	// finished since Start.
	Counts    map[State]int `json:"counts"`
	Allocated int           `json:"workers_allocated"`
	Busy      int           `json:"workers_busy"`
	InMemory  int           `json:"in_memory"`
	Resizes   int           `json:"resizes"`
}

// Categories returns every category's settings and figures, in configuration order.
func (s *Scheduler) Categories() []CategoryInfo {
	var counts map[string]persistence.StateCounts
	if store := s.getStore(); store != nil {
		counts = store.Counts()
	}
	list := s.categoryList()
	out := make([]CategoryInfo, 0, len(list))
	for _, c := range list {
		st := s.catStats(c.Name)
		cc := map[State]int{}
		for _, k := range persistence.States {
			cc[k] = counts[c.Name][k]
		}
		out = append(out, CategoryInfo{Category: c, Paused: st.Paused.Load(), Counts: cc,
			Allocated: int(st.Allocated.Load()), Busy: int(st.Busy.Load()),
			InMemory: int(st.InMemory.Load()), Resizes: int(st.Resizes.Load())})
	}
	return out
}

// Pause stops a category from starting jobs; its queued jobs stay. Resume undoes it. The pause
// is stored: a restarted scheduler keeps the category paused until Resume.
func (s *Scheduler) Pause(category string) error { return s.pauseResume(category, &actors.Pause{}) }

// Resume lets a paused category start jobs again.
func (s *Scheduler) Resume(category string) error {
	return s.pauseResume(category, &actors.Resume{})
}

func (s *Scheduler) pauseResume(category string, msg any) error {
	if err := s.checkRunning(); err != nil {
		return err
	}
	s.catChange.Lock() // one at a time with the settings other nodes change (syncSettings)
	defer s.catChange.Unlock()
	_, ok := s.category(category)
	st := s.catStats(category)
	if !ok {
		return fmt.Errorf("%w: category %q", ErrNotFound, category)
	}
	_, pause := msg.(*actors.Pause)
	// Stored first (a pause survives a restart), then applied.
	ctx, cancel := context.WithTimeout(context.Background(), settingWriteTimeout)
	defer cancel()
	var err error
	if pause {
		err = s.store.PutSetting(ctx, settingPause+category, []byte("1"))
	} else {
		err = s.store.DeleteSetting(ctx, settingPause+category)
	}
	if err != nil {
		return fmt.Errorf("store the pause of %q: %w", category, err)
	}
	st.Paused.Store(pause) // seen at once by Categories, and by a Fifo that restarts
	s.system.Root.Send(s.env.FifoPID(category), msg)
	return nil
}

// StoreStats returns the store's totals: commits, disk syncs, writes (for benchmarks and
// metrics).
func (s *Scheduler) StoreStats() persistence.Stats {
	store := s.getStore()
	if store == nil {
		return persistence.Stats{}
	}
	return store.Stats()
}
