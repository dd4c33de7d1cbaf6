// Package jobsched is a durable background-job scheduler: an actor system on protoactor-go that
// mirrors an OTP supervision tree, with badger/v4 as its store.
//
// Make a Scheduler with New, Register a Handler per job kind, Start it, and Enqueue jobs. An
// enqueued job is on disk (synced) before Enqueue returns; it runs at least once, is retried
// with exponential backoff when its handler fails or panics, and can be waited for, cancelled
// and inspected. Close drains: running jobs finish (until its context ends), unfinished jobs stay
// stored for the next Start.
package jobsched

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/jobsched/jobsched/actors"
	"github.com/jobsched/jobsched/persistence"
	"github.com/jobsched/jobsched/supervision"
	"go.opentelemetry.io/otel/trace"
)

type clock = actors.Clock
type realClock = actors.RealClock

const (
	stateNew int = iota
	stateStarting
	stateRunning
	stateStopped // stopped on its own (root supervisor gave up, store failed): Close it
	stateClosing
	stateClosed
)

// Scheduler runs jobs. Its methods are safe for concurrent use.
type Scheduler struct {
	cfg      Config
	log      *slog.Logger
	handlers map[string]Handler
	checks   map[string]Validator // kind -> its args check at enqueue (handler.go)
	kinds    map[string]Kind

	// The categories in force (categories.go): set by New and the stored settings, changed by
	// PutCategory and DeleteCategory (one at a time, under catChange). stats and reserved
	// entries are never removed.
	catMu     sync.RWMutex
	catChange sync.Mutex
	cats      map[string]Category
	catOrder  []string
	// loaded is the configuration last loaded (New's, then each Reload's), under reloadMu.
	reloadMu sync.Mutex
	loaded   Config
	// periodicStop stops the running periodic loop (nil: none), under mu.
	periodicStop chan struct{}

	mu      sync.Mutex
	state   int
	stopErr error // why the scheduler stopped on its own (nil: it did not)

	// Set by Start under mu (Get, List and Categories may run meanwhile), never changed after.
	store    persistence.Store
	ownStore bool // opened by Start (Config.Store unset): Close closes it
	system   *actor.ActorSystem
	root     *actor.PID
	env      *actors.Env

	tree     *supervision.Tree
	stats    map[string]*actors.CategoryStats // guarded by catMu
	reserved map[string]*atomic.Int64         // guarded by catMu

	wg        sync.WaitGroup // goroutines started through env.Go and the background loops
	inserting sync.WaitGroup // Enqueue's inserts, which finish even when their caller leaves
	inserts   actors.InsertGate
	running   attempts      // job id -> context.CancelCauseFunc of its running attempt
	cancels   atomic.Uint64 // Cancels of running jobs so far (see runner.Run)
	lastStart atomic.Int64  // the latest attempt start time handed out, Unix ns (startStamp)
	draining  atomic.Bool   // Close began: no attempt starts any more
	quit      chan struct{} // closed by Close: stops the background loops
	done      chan struct{} // closed when the scheduler stops (Done)
	doneOnce  sync.Once
	retry     retrier
	claims    *claimTable // the Fifos claim their jobs (a store shared by several nodes; nil otherwise)
	hub       hub
	remoteFin finishedQueue // jobs finished on other nodes that are waited for here (cluster_finished.go)

	periodicRetries atomic.Uint64   // periodic ticks refused and tried again
	testHookStarted func(id string) // tests: runs between an attempt's start write and its registration
	tracer          trace.Tracer    // nil: tracing off (tracing.go)

	closeOnce sync.Once
	closeErr  error
}

// New checks cfg and returns a Scheduler that is not started yet: Register handlers, then
// Start it.
func New(cfg Config) (*Scheduler, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Scheduler{cfg: cfg, loaded: cfg, log: log, handlers: map[string]Handler{}, kinds: map[string]Kind{},
		cats: map[string]Category{}, stats: map[string]*actors.CategoryStats{},
		reserved: map[string]*atomic.Int64{}, quit: make(chan struct{}), done: make(chan struct{}), tree: supervision.NewTree()}
	s.retry.init()
	s.tracer = newTracer(cfg)
	for _, k := range cfg.Kinds {
		s.kinds[k.Name] = k
	}
	for _, c := range cfg.Categories {
		s.setCategoryLocked(c) // no other goroutine sees s yet
	}
	s.hub.init()
	return s, nil
}

// Config returns the configuration given to New, defaults filled in. Categories changed at
// runtime (PutCategory, DeleteCategory, Reload) are not in it: Categories lists those in force.
func (s *Scheduler) Config() Config { return s.cfg }

// Start opens the store, returns the jobs a stopped process left running to their queues, and
// starts the supervision tree. It returns once every actor is ready (the queues and the waiting
// jobs are loaded), or with ctx's error. A recovered job runs only after Start, so every
// handler registered before it is there.
func (s *Scheduler) Start(ctx context.Context) (err error) {
	s.mu.Lock()
	if s.state != stateNew {
		s.mu.Unlock()
		return fmt.Errorf("start: %w", ErrStarted)
	}
	s.state = stateStarting
	s.mu.Unlock()
	defer func() {
		if err != nil {
			_ = s.shutdownRuntime(context.Background()) // the start error is the one to report
			s.setState(stateClosed)
		}
	}()

	store := s.cfg.Store
	if store == nil {
		b, err := persistence.OpenBadger(persistence.BadgerOptions{
			Dir: s.cfg.Dir, Retention: s.cfg.Retention, Logger: s.log, NoSync: s.cfg.NoSync, OnSync: s.onSync})
		if err != nil {
			return fmt.Errorf("start: %w", err)
		}
		store = b
	}
	s.mu.Lock()
	s.store, s.ownStore = store, s.cfg.Store == nil
	s.mu.Unlock()
	s.attachStore()
	if err := s.recoverRunning(ctx); err != nil {
		return fmt.Errorf("start: recover running jobs: %w", err)
	}
	if err := s.loadSettings(ctx); err != nil {
		return fmt.Errorf("start: read the stored settings: %w", err)
	}

	system := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(minLevel{h: s.log.Handler(), min: slog.LevelWarn}).With("component", "protoactor")
	}))
	inForce := s.categoryList()
	cats := make([]actors.Category, len(inForce))
	stats := make(map[string]*actors.CategoryStats, len(inForce))
	for i, c := range inForce {
		cats[i] = actorCategory(c)
		stats[c.Name] = s.catStats(c.Name)
	}
	keyLimits := map[string]int{}
	for _, k := range s.cfg.Kinds {
		if k.KeyConcurrency > 0 {
			keyLimits[k.Name] = k.KeyConcurrency
		}
	}
	env := &actors.Env{
		System: system, Store: store, Runner: runner{s}, Clock: s.cfg.clock, Log: s.log,
		Categories: cats, Stats: stats, Live: actors.NewLive(cats, stats), Budget: s.cfg.Workers, BalanceInterval: s.cfg.BalanceInterval,
		FifoMemory: s.cfg.FifoMemory, Go: s.goTracked, OnEvent: s.hub.event, KeyLimits: keyLimits,
		WorkerIntensity: 10 * s.cfg.Workers, PollInterval: s.cfg.PollInterval, Inserts: &s.inserts,
	}
	if !persistence.SeqCommitOrdered(store) {
		env.Inserts = nil // other writers' inserts are not gated here: the Fifos keep no low-water mark
	}
	if c, ok := store.(persistence.Claimer); ok {
		s.claims = newClaimTable(s, c, keyLimits)
		env.Claims = s.claims
	}
	s.mu.Lock()
	s.system, s.env = system, env
	s.mu.Unlock()
	s.hookReleases(store)
	go s.retryLoop() // stopped by Close after the attempts
	ready := make(chan struct{})
	var once sync.Once
	spec := actors.Spec(s.env, s.tree, func() { once.Do(func() { close(ready) }) })
	spec.OnGiveUp = s.rootGaveUp
	root, err := system.Root.SpawnNamed(supervision.Props(spec), actors.RootName)
	if err != nil {
		return fmt.Errorf("start: spawn the tree: %w", err)
	}
	s.mu.Lock()
	s.root = root
	s.mu.Unlock()
	select {
	case <-ready:
	case <-ctx.Done():
		return fmt.Errorf("start: waiting for the tree: %w", ctx.Err())
	}
	// Running, and the background loops counted in, at once: a Close from now on stops them.
	s.mu.Lock()
	if s.state != stateStarting {
		err := s.runningErrLocked()
		s.mu.Unlock()
		return fmt.Errorf("start: %w", err)
	}
	s.state = stateRunning
	s.wg.Add(1)
	if len(s.cfg.Periodic) > 0 {
		s.wg.Add(1)
		s.periodicStop = make(chan struct{})
		go s.periodicLoop(s.cfg.Periodic, s.periodicStop, s.cfg.clock.Now())
	}
	s.mu.Unlock()
	go s.watchStore()
	s.startSettingsSync()
	s.startFinishedLoop()
	s.log.Info("jobsched started", slog.String("dir", s.cfg.Dir), slog.Int("workers", s.cfg.Workers), slog.Int("categories", len(cats)))
	return nil
}

func (s *Scheduler) recoverRunning(ctx context.Context) error {
	var ids []string
	if err := s.store.Running(ctx, func(id string) error { ids = append(ids, id); return nil }); err != nil {
		return err
	}
	now := s.cfg.clock.Now()
	for _, id := range ids {
		for n := 1; ; n++ {
			_, err := s.store.Update(ctx, id, recoverRunning(now), true)
			if err == nil || errors.Is(err, persistence.ErrSkip) {
				break
			}
			if persistence.Permanent(err) || ctx.Err() != nil {
				return err
			}
			s.log.Warn("return an interrupted job to its queue; trying again", slog.String("job", id), slog.Any("err", err))
			if !s.pause(ctx, actors.Backoff(n)) {
				return err
			}
		}
	}
	if len(ids) > 0 {
		s.log.Info("returned interrupted jobs to their queues", slog.Int("jobs", len(ids)))
	}
	return nil
}

func (s *Scheduler) onSync(d time.Duration, writes int) {
	if s.cfg.Observer != nil {
		s.cfg.Observer.StoreSynced(d, writes)
	}
}

func (s *Scheduler) setState(st int) {
	s.mu.Lock()
	s.state = st
	s.mu.Unlock()
}

// Done returns a channel closed when the scheduler stops: on its own (its root supervisor
// gave up, its store failed; Err says why) or by Close.
func (s *Scheduler) Done() <-chan struct{} { return s.done }

// Err says why the scheduler stopped on its own (it wraps ErrStopped), or nil if it did not
// (it runs, or Close stopped it).
func (s *Scheduler) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stopErr
}

// rootGaveUp is told that the root supervisor gave up (its restart intensity ran out): the
// tree is gone, so the scheduler stops taking jobs. Get, List and Wait keep working while the
// store is open; Close releases the rest.
func (s *Scheduler) rootGaveUp(reason any) {
	if err, ok := reason.(error); ok {
		s.stopWith(fmt.Errorf("%w: %w", ErrStopped, err))
		return
	}
	s.stopWith(fmt.Errorf("%w: the root supervisor gave up: %v", ErrStopped, reason))
}

// stopWith stops the scheduler on its own with err: Enqueue and the other calls that need the
// tree return it, Ready is false, Done closes.
func (s *Scheduler) stopWith(err error) {
	s.mu.Lock()
	if s.state != stateStarting && s.state != stateRunning {
		s.mu.Unlock()
		return
	}
	s.state, s.stopErr = stateStopped, err
	s.mu.Unlock()
	s.log.Error("jobsched stopped: it takes no more jobs; close it and start again", slog.Any("err", err))
	s.doneOnce.Do(func() { close(s.done) })
}

// storeErr is the store's failure, if it reports one (a failed sync makes it refuse writes).
func (s *Scheduler) storeErr() error {
	if st := s.getStore(); st != nil {
		return st.Err()
	}
	return nil
}

// watchStore stops the scheduler when its store reports a failure, until Close.
func (s *Scheduler) watchStore() {
	defer s.wg.Done()
	t := time.NewTicker(s.cfg.PollInterval)
	defer t.Stop()
	for {
		select {
		case <-s.quit:
			return
		case <-t.C:
			if err := s.storeErr(); err != nil {
				s.stopWith(fmt.Errorf("%w: the store failed: %w", ErrStopped, err))
				return
			}
		}
	}
}

// getStore returns the store (nil before Start).
func (s *Scheduler) getStore() persistence.Store {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.store
}

// Ready reports whether Start has finished and Close has not begun.
func (s *Scheduler) Ready() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state == stateRunning
}

func (s *Scheduler) checkRunning() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.runningErrLocked()
}

func (s *Scheduler) runningErrLocked() error {
	switch s.state {
	case stateRunning:
		return nil
	case stateNew, stateStarting:
		return ErrNotStarted
	case stateStopped:
		return s.stopErr
	default:
		return ErrClosed
	}
}

// admit checks that the scheduler runs and counts an insert in, atomically with Close's
// change of state, so Close waits for every insert it did not refuse.
func (s *Scheduler) admit() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.runningErrLocked(); err != nil {
		return err
	}
	s.inserting.Add(1)
	return nil
}

// goTracked runs f on a goroutine that Close waits for.
func (s *Scheduler) goTracked(f func()) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		f()
	}()
}

// Close drains the scheduler: it stops taking jobs, lets running jobs finish until ctx is done,
// then cancels them (they return to their queue, their attempt not counted), stops the actors
// and closes the store (unless Config.Store gave it: the caller closes it). A job handed to a
// worker that had not started when Close began does not start, and keeps its attempts.
// Unfinished jobs stay stored for the next Start. Close returns soon after ctx ends even if
// handlers ignore their cancelled context: it abandons them (their jobs stay running in the
// store, and the next Start returns them to their queue). It may be called more than once, and
// before Start.
func (s *Scheduler) Close(ctx context.Context) error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		prev := s.state
		s.state = stateClosing
		s.draining.Store(true) // before Ready turns false: whoever sees that sees this too
		s.mu.Unlock()
		close(s.quit)
		if prev == stateRunning {
			for _, c := range s.categoryList() {
				s.system.Root.Send(s.env.FifoPID(c.Name), &actors.Pause{})
			}
			s.drain(ctx)
		}
		s.closeErr = s.shutdownRuntime(ctx)
		s.setState(stateClosed)
		s.hub.close()
		s.doneOnce.Do(func() { close(s.done) })
		if prev == stateRunning || prev == stateStopped {
			s.log.Info("jobsched stopped")
		}
	})
	return s.closeErr
}

// closeGrace is how long Close waits, after its ctx ended, for cancelled handlers to return.
const closeGrace = 200 * time.Millisecond

// drain waits for running attempts to end; when ctx is done it cancels them.
func (s *Scheduler) drain(ctx context.Context) {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for s.runningCount() > 0 {
		select {
		case <-tick.C:
			continue
		case <-ctx.Done():
		}
		s.running.Range(func(_, v any) bool {
			v.(context.CancelCauseFunc)(ErrShutdown)
			return true
		})
		return
	}
}

func (s *Scheduler) runningCount() int {
	n := 0
	s.running.Range(func(any, any) bool { n++; return true })
	return n
}

// shutdownRuntime stops the actors, waits for every goroutine (until closeGrace after ctx
// ends) and closes the store if Start opened it.
func (s *Scheduler) shutdownRuntime(ctx context.Context) error {
	var graceOver chan struct{} // closed closeGrace after ctx ended (one grace for all steps)
	wait := func(what string, f func()) {
		done := make(chan struct{})
		go func() {
			defer close(done)
			f()
		}()
		select {
		case <-done:
			return
		case <-ctx.Done():
		}
		if graceOver == nil {
			graceOver = make(chan struct{})
			time.AfterFunc(closeGrace, func() { close(graceOver) })
		}
		select {
		case <-done:
		case <-graceOver:
			s.log.Warn("close: gave up waiting; the jobs of abandoned handlers return to their queue at the next start",
				slog.String("waiting_for", what))
		}
	}
	s.mu.Lock()
	store, own, system, root, env := s.store, s.ownStore, s.system, s.root, s.env
	s.mu.Unlock()
	wait("enqueues", s.inserting.Wait)
	if root != nil {
		wait("the tree", func() {
			if err := system.Root.StopFuture(root).Wait(); err != nil {
				s.log.Warn("stop the tree", slog.Any("err", err))
			}
		})
	}
	wait("handlers", s.wg.Wait)
	if s.claims != nil {
		wait("claimed jobs given back", func() { s.claims.giveBackLeft(context.WithoutCancel(ctx)) })
	}
	if env != nil {
		s.retry.stopOnce.Do(func() { close(s.retry.stop) })
		wait("the outcomes of attempts", func() { <-s.retry.done })
	}
	var err error
	if store != nil && own {
		err = store.Close()
	}
	if system != nil {
		system.Shutdown()
	}
	return err
}

// ActorSystem is the protoactor-go system the tree runs in, for programs that spawn their own
// actors beside it (see AddActor to put them under the tree's root).
func (s *Scheduler) ActorSystem() *actor.ActorSystem {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.system
}

// AddActor starts child as the last child of the RootSupervisor, so the tree supervises it
// (rest_for_one: it restarts when an earlier sibling does) and the tree snapshot shows it.
func (s *Scheduler) AddActor(child supervision.ChildSpec) error {
	if err := s.checkRunning(); err != nil {
		return err
	}
	if child.Name == "" || child.Producer == nil {
		return invalid("child", "needs a name and a producer")
	}
	s.system.Root.Send(s.root, &supervision.AddChild{Child: child})
	return nil
}

// Tree returns a snapshot of the live supervision tree.
func (s *Scheduler) Tree() []*supervision.Node { return s.tree.Snapshot() }

// minLevel passes on records at or above min.
type minLevel struct {
	h   slog.Handler
	min slog.Level
}

func (m minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= m.min && m.h.Enabled(ctx, l)
}
func (m minLevel) Handle(ctx context.Context, r slog.Record) error { return m.h.Handle(ctx, r) }
func (m minLevel) WithAttrs(a []slog.Attr) slog.Handler {
	return minLevel{h: m.h.WithAttrs(a), min: m.min}
}
func (m minLevel) WithGroup(n string) slog.Handler { return minLevel{h: m.h.WithGroup(n), min: m.min} }

// RestartsByRole counts actor restarts per role since Start (for metrics).
func (s *Scheduler) RestartsByRole() map[string]int { return s.tree.RestartsByRole() }

// TreeVersion increases with every change of the tree; pollers compare it to skip unchanged
// snapshots.
func (s *Scheduler) TreeVersion() uint64 { return s.tree.Version() }
