package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jobsched/jobsched/persistence"
)

// Errors of the PostgreSQL store.
var (
	// ErrFenced: a start or finish was refused because this node's lease no longer holds the
	// job (the node lost its lease and the job was rescued, or the job is held by another node).
	// It wraps persistence.ErrSkip: the job was left as it was.
	ErrFenced = fmt.Errorf("fenced: this node's lease no longer holds the job: %w", persistence.ErrSkip)
	// ErrNodeTaken: another process registered this node's name; this store stops writing.
	ErrNodeTaken = errors.New("node name taken over by another process")
)

// Defaults of Options.
const (
	DefaultLease        = 15 * time.Second
	DefaultMaxConns     = 16
	DefaultAsyncWorkers = 2
	DefaultCountsEvery  = time.Second
	DefaultBatchWindow  = 5 * time.Millisecond
)

// Options configures Open.
type Options struct {
	// DSN is the connection string: postgres://user:pass@host:port/db?sslmode=...
	DSN string
	// Node is this node's name in the cluster (default: host name and pid). Two live processes
	// must not share a name: the later one takes it over and the earlier one stops (ErrNodeTaken).
	Node string
	// Lease is how long this node stays alive without renewing (default 15s); it renews every
	// third of it. Past it, another node rescues its running jobs and refuses its late writes.
	Lease time.Duration
	// Retention is how long finished jobs are kept; <= 0 keeps them forever.
	Retention time.Duration
	// Logger receives warnings and errors; nil discards them.
	Logger *slog.Logger
	// MaxConns caps the connection pool (default 16; Open makes up to 8 of them at once, their
	// hot statements prepared, so the first jobs do not wait for them); AsyncWorkers is how many batches of
	// UpdateAsync requests run at once (default 2). Each worker applies in one transaction the
	// requests waiting when it takes them, so fewer workers make fewer, larger transactions: in
	// a 20,000-job run PostgreSQL spent 2.0–2.1 s of CPU with 8, 1.5–1.6 s with 4, 1.3–1.4 s
	// with 2 (1: no less, and a slower work rate).
	MaxConns     int32
	AsyncWorkers int
	// BatchWindow is how long an async worker that took fewer than batchFull requests waits
	// for more before it writes them (default 5ms; < 0: it does not wait), as River's
	// completer gathers its finishes: fewer, larger transactions, each one commit flushed to
	// disk, for finishes stored up to this much later (the handlers do not wait for them).
	BatchWindow time.Duration
	// CountsEvery is how often Counts and Backlog are read again from the database (default
	// 1s); between reads, this node's own writes are applied to them at once.
	CountsEvery time.Duration
	// Rescue is the mutation of a running job whose node lost its lease (default: the attempt
	// counts; back to queued, dead on its last attempt, cancelled if a cancel was asked).
	Rescue func(now time.Time, node string) persistence.Mutator
	// MaintainEvery is how often this node tries to run the maintenance (rescue, retention)
	// under the advisory lock (default: a second, or a third of the lease if that is shorter).
	MaintainEvery time.Duration
}

// Store is the PostgreSQL persistence.Store. Its methods are safe for concurrent use.
type Store struct {
	pool  *pgxpool.Pool
	opt   Options
	node  string
	epoch atomic.Int64

	closed    atomic.Bool
	submitMu  sync.RWMutex // held shared while submitting an async update; Close takes it alone
	asyncReqs chan *asyncReq
	overflow  asyncOverflow // async updates submitted while asyncReqs was full (async.go)
	stop      chan struct{}
	ctx       context.Context // cancelled by Close: the background loops' context
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error

	counts counts

	commits, syncs, writes atomic.Uint64
	fenced, rescued        atomic.Uint64
	claimed                atomic.Uint64
	held                   heldSet // jobs this node started and holds as running

	stickyErr atomic.Pointer[error] // ErrNodeTaken
	leaseErr  atomic.Pointer[error] // the last lease renewal's failure, nil once one succeeds

	onQueued   atomic.Pointer[func(category string)]
	listening  chan struct{} // closed once the listener first listens
	listenOnce sync.Once
	onCancel   atomic.Pointer[func(id string)]
	onFinished atomic.Pointer[func(id string)]
	onSettings atomic.Pointer[func(key string)]
}

var _ persistence.Store = (*Store)(nil)
var _ persistence.Claimer = (*Store)(nil)

// Open connects, applies the migrations, registers this node's lease and starts the store's
// background work (lease renewal, maintenance, counts, notifications). Close stops it.
func Open(ctx context.Context, opt Options) (*Store, error) {
	if opt.DSN == "" {
		return nil, errors.New("postgres: DSN is empty")
	}
	if opt.Lease == 0 {
		opt.Lease = DefaultLease
	}
	if opt.Lease < time.Second {
		return nil, fmt.Errorf("postgres: lease must be at least 1s, got %s", opt.Lease)
	}
	if opt.Node == "" {
		host, err := os.Hostname()
		if err != nil {
			host = "node"
		}
		opt.Node = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	if opt.MaxConns == 0 {
		opt.MaxConns = DefaultMaxConns
	}
	if opt.BatchWindow == 0 {
		opt.BatchWindow = DefaultBatchWindow
	}
	if opt.AsyncWorkers == 0 {
		opt.AsyncWorkers = DefaultAsyncWorkers
	}
	if opt.CountsEvery == 0 {
		opt.CountsEvery = DefaultCountsEvery
	}
	if opt.Rescue == nil {
		opt.Rescue = Rescue
	}
	if opt.MaintainEvery == 0 {
		opt.MaintainEvery = min(time.Second, opt.Lease/3)
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	cfg, err := pgxpool.ParseConfig(opt.DSN)
	if err != nil {
		return nil, fmt.Errorf("postgres: parse DSN: %w", err)
	}
	cfg.MaxConns = opt.MaxConns
	if _, set := cfg.ConnConfig.RuntimeParams[idleParam]; !set {
		cfg.ConnConfig.RuntimeParams[idleParam] = strconv.FormatInt(IdleInTransactionTimeout(opt.Lease).Milliseconds(), 10)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	s := &Store{pool: pool, opt: opt, node: opt.Node, asyncReqs: make(chan *asyncReq, 4096), stop: make(chan struct{}),
		overflow:  asyncOverflow{wake: make(chan struct{}, 1)},
		listening: make(chan struct{})}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.counts.init()
	if _, err := Migrate(ctx, pool); err != nil {
		pool.Close()
		s.cancel()
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if err := s.register(ctx); err != nil {
		pool.Close()
		s.cancel()
		return nil, fmt.Errorf("postgres: register node %q: %w", s.node, err)
	}
	s.counts.opened = time.Now()
	if err := s.refreshCounts(ctx); err != nil {
		pool.Close()
		s.cancel()
		return nil, fmt.Errorf("postgres: read counts: %w", err)
	}
	if err := s.warm(ctx); err != nil {
		opt.Logger.Warn("jobsched postgres: warm the pool", "err", err) // the pool opens them on demand
	}
	for i := 0; i < opt.AsyncWorkers; i++ {
		s.goLoop(s.asyncWorker)
	}
	s.goLoop(s.renewLoop)
	s.goLoop(s.maintainLoop)
	s.goLoop(s.countsLoop)
	s.goLoop(s.listenLoop)
	// Return once this node hears the others, so no wake-up, cancel or finish sent after Open
	// is missed.
	select {
	case <-s.listening:
	case <-ctx.Done():
		err := fmt.Errorf("postgres: waiting for the listener: %w", ctx.Err())
		_ = s.Close() // the wait's error is the one to report
		return nil, err
	}
	return s, nil
}

// idleParam is the PostgreSQL setting that ends a session left idle inside a transaction.
const idleParam = "idle_in_transaction_session_timeout"

// IdleInTransactionTimeout is the idle_in_transaction_session_timeout the store's connections
// get for a lease (a third of it, at least a second), unless the DSN sets its own: a node frozen
// (SIGSTOP, a VM paused) in the middle of a transaction has its session ended by the server
// within that time, so the rows it locked are free again before its lease runs out and the
// rescue (FOR UPDATE SKIP LOCKED) does not pass over them. The frozen node's write on that
// session fails when it resumes (and would be fenced anyway).
func IdleInTransactionTimeout(lease time.Duration) time.Duration {
	return max(lease/3, time.Second)
}

// goLoop starts one of the store's goroutines; Close waits for all of them.
func (s *Store) goLoop(f func()) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		f()
	}()
}

// Node is this node's name.
func (s *Store) Node() string { return s.node }

// Pool is the store's connection pool (for callers' own queries, such as a transaction that
// InsertTx joins). Its sessions end a transaction left idle (no statement running) for longer
// than IdleInTransactionTimeout of the lease, unless the DSN sets
// idle_in_transaction_session_timeout itself.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Err implements persistence.Store: nil while healthy; once another process took this node's
// name, ErrNodeTaken for good (it wraps persistence.ErrStoreFailed: this store can no longer
// acknowledge a start or a finish). A failing lease renewal is not sticky and does not show
// here (the database may come back before the lease runs out); LeaseErr reports it.
func (s *Store) Err() error {
	if e := s.stickyErr.Load(); e != nil {
		return *e
	}
	return nil
}

// LeaseErr is the last lease renewal's failure, nil once one succeeds (and while the store is
// healthy).
func (s *Store) LeaseErr() error {
	if e := s.leaseErr.Load(); e != nil {
		return *e
	}
	return nil
}

// SeqCommitOrdered implements persistence.SeqOrdering: false. Sequence numbers come from a
// PostgreSQL sequence when a transaction writes the row, and concurrent transactions (on this
// node or another) commit in any order, so a queued job with a lower Seq may appear after a
// reader saw a higher one.
func (s *Store) SeqCommitOrdered() bool { return false }

// ClusterStats are the multi-node figures of a store.
type ClusterStats struct {
	// Fenced counts the starts and finishes this node wrote late and the store refused.
	Fenced uint64
	// Rescued counts the jobs this node's maintenance took back from dead nodes.
	Rescued uint64
	// Claimed counts the jobs this node claimed (Claim): over a cluster, the sum is the number
	// of starts made by claims, each of a different attempt.
	Claimed uint64
}

// ClusterStats returns this store's fencing and rescue totals.
func (s *Store) ClusterStats() ClusterStats {
	return ClusterStats{Fenced: s.fenced.Load(), Rescued: s.rescued.Load(), Claimed: s.claimed.Load()}
}

// Stats implements persistence.Store: Syncs counts the durable commits (each is flushed to the
// write-ahead log before it returns, synchronous_commit on).
func (s *Store) Stats() persistence.Stats {
	return persistence.Stats{Commits: s.commits.Load(), Syncs: s.syncs.Load(), Writes: s.writes.Load()}
}

// Close implements persistence.Store: it finishes the async updates already submitted, stops
// the background work, gives up this node's lease (its remaining running jobs are rescued by
// the next maintenance) and closes the pool. It may be called more than once.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.submitMu.Lock()
		s.closed.Store(true)
		s.submitMu.Unlock()
		close(s.stop)
		s.cancel()
		s.wg.Wait()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.closeErr = s.release(ctx)
		s.pool.Close()
	})
	return s.closeErr
}
