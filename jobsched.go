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
)

type clock = actors.Clock
type realClock = actors.RealClock

const (
	stateNew int = iota
	stateStarting
	stateRunning
	stateClosing
	stateClosed
)

// Scheduler runs jobs. Its methods are safe for concurrent use.
type Scheduler struct {
	cfg      Config
	log      *slog.Logger
	handlers map[string]Handler
	kinds    map[string]Kind
	cats     map[string]Category

	mu    sync.Mutex
	state int

	store    persistence.Store
	ownStore bool // the scheduler opened the store, and closes it
	system   *actor.ActorSystem
	root     *actor.PID
	env      *actors.Env
	tree     *supervision.Tree
	stats    map[string]*actors.CategoryStats
	reserved map[string]*atomic.Int64

	wg      sync.WaitGroup // goroutines started through env.Go and the periodic loop
	running sync.Map       // job id -> context.CancelCauseFunc of its running attempt
	reload  reloader       // jobs other nodes made ready (a shared store only)
	quit    chan struct{}  // closed by Close: stops the periodic loop
	hub     hub

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
	s := &Scheduler{cfg: cfg, log: log, handlers: map[string]Handler{}, kinds: map[string]Kind{},
		cats: map[string]Category{}, stats: map[string]*actors.CategoryStats{},
		reserved: map[string]*atomic.Int64{}, quit: make(chan struct{}), tree: supervision.NewTree()}
	for _, k := range cfg.Kinds {
		s.kinds[k.Name] = k
	}
	for _, c := range cfg.Categories {
		s.cats[c.Name] = c
		s.stats[c.Name] = &actors.CategoryStats{}
		s.reserved[c.Name] = &atomic.Int64{}
	}
	s.hub.init()
	return s, nil
}

// Config returns the configuration in force, defaults filled in.
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
			s.shutdownRuntime()
			s.setState(stateClosed)
		}
	}()

	if s.cfg.Store != nil {
		s.store = s.cfg.Store
	} else {
		b, err := persistence.OpenBadger(persistence.BadgerOptions{
			Dir: s.cfg.Dir, Retention: s.cfg.Retention, Logger: s.log, NoSync: s.cfg.NoSync, OnSync: s.onSync})
		if err != nil {
			return fmt.Errorf("start: %w", err)
		}
		s.store, s.ownStore = b, true
	}
	s.attachStore()
	if err := s.recoverRunning(ctx); err != nil {
		return fmt.Errorf("start: recover running jobs: %w", err)
	}

	s.system = actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(minLevel{h: s.log.Handler(), min: slog.LevelWarn}).With("component", "protoactor")
	}))
	cats := make([]actors.Category, len(s.cfg.Categories))
	for i, c := range s.cfg.Categories {
		cats[i] = actors.Category{Name: c.Name, Priority: c.Priority, MinWorkers: c.MinWorkers, MaxWorkers: c.MaxWorkers,
			RateLimit: c.RateLimit, RateBurst: c.RateBurst}
	}
	keyLimits := map[string]int{}
	for _, k := range s.cfg.Kinds {
		if k.KeyConcurrency > 0 {
			keyLimits[k.Name] = k.KeyConcurrency
		}
	}
	s.env = &actors.Env{
		System: s.system, Store: s.store, Runner: runner{s}, Clock: s.cfg.clock, Log: s.log,
		Categories: cats, Stats: s.stats, Budget: s.cfg.Workers, BalanceInterval: s.cfg.BalanceInterval,
		FifoMemory: s.cfg.FifoMemory, Go: s.goTracked, OnEvent: s.hub.event, KeyLimits: keyLimits,
		WorkerIntensity: 10 * s.cfg.Workers,
	}
	ready := make(chan struct{})
	var once sync.Once
	spec := actors.Spec(s.env, s.tree, func() { once.Do(func() { close(ready) }) })
	if s.root, err = s.system.Root.SpawnNamed(supervision.Props(spec), actors.RootName); err != nil {
		return fmt.Errorf("start: spawn the tree: %w", err)
	}
	select {
	case <-ready:
	case <-ctx.Done():
		return fmt.Errorf("start: waiting for the tree: %w", ctx.Err())
	}
	if len(s.cfg.Periodic) > 0 {
		s.wg.Add(1)
		go s.periodicLoop()
	}
	s.startReloader()
	s.setState(stateRunning)
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
		if _, err := s.store.Update(ctx, id, recoverRunning(now), true); err != nil && !errors.Is(err, persistence.ErrSkip) {
			return err
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

// Ready reports whether Start has finished and Close has not begun.
func (s *Scheduler) Ready() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state == stateRunning
}

func (s *Scheduler) checkRunning() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch s.state {
	case stateRunning:
		return nil
	case stateNew, stateStarting:
		return ErrNotStarted
	default:
		return ErrClosed
	}
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
// and closes the store. Unfinished jobs stay stored for the next Start. It may be called more
// than once, and before Start.
func (s *Scheduler) Close(ctx context.Context) error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		prev := s.state
		s.state = stateClosing
		s.mu.Unlock()
		close(s.quit)
		if prev == stateRunning {
			for name := range s.cats {
				s.system.Root.Send(s.env.FifoPID(name), &actors.Pause{})
			}
			s.drain(ctx)
		}
		s.closeErr = s.shutdownRuntime()
		s.setState(stateClosed)
		s.hub.close()
		if prev == stateRunning {
			s.log.Info("jobsched stopped")
		}
	})
	return s.closeErr
}

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

// shutdownRuntime stops the actors, waits for every goroutine and closes the store.
func (s *Scheduler) shutdownRuntime() error {
	if s.root != nil {
		if err := s.system.Root.StopFuture(s.root).Wait(); err != nil {
			s.log.Warn("stop the tree", slog.Any("err", err))
		}
	}
	s.wg.Wait()
	var err error
	if s.store != nil && s.ownStore {
		err = s.store.Close()
	}
	if s.system != nil {
		s.system.Shutdown()
	}
	return err
}

// ActorSystem is the protoactor-go system the tree runs in, for programs that spawn their own
// actors beside it (see AddActor to put them under the tree's root).
func (s *Scheduler) ActorSystem() *actor.ActorSystem { return s.system }

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
