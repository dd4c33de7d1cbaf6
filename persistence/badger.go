package persistence

import (
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
)

// BadgerOptions configures OpenBadger.
type BadgerOptions struct {
	// Dir is the badger directory; empty means badger's in-memory mode (tests).
	Dir string
	// Retention is how long finished jobs are kept; <= 0 keeps them forever.
	Retention time.Duration
	// Logger receives badger's warnings and errors; nil discards them.
	Logger *slog.Logger
	// NoSync skips the disk sync of durable writes (benchmarks of the sync's cost only).
	NoSync bool
	// OnSync, if set, is told how long each group commit's sync took and how many writes it
	// covered. It runs on the writer goroutine.
	OnSync func(d time.Duration, writes int)
	// MinFreeBytes is the free disk space below which new jobs are refused with ErrDiskFull
	// (0 means 2 × MemTableSize + 64 MiB); below a quarter of it every write is refused. Badger
	// writes its log through memory-mapped files, and a write to such a file on a full disk kills
	// the process (SIGBUS) instead of returning an error: the reserve keeps that from happening.
	MinFreeBytes int64
	// MemTableSize in bytes; 0 means 16 MiB. A commit is capped at ~15% of it, so the writer
	// splits batches well before that.
	MemTableSize int64
}

// Badger is the badger/v4 Store.
type Badger struct {
	db        *badger.DB
	opt       BadgerOptions
	reqs      chan *request
	stop      chan struct{}
	done      chan struct{}
	maintDone chan struct{}
	submitMu  sync.RWMutex
	closeOnce sync.Once
	closeErr  error
	closed    atomic.Bool

	// The limits of one commit we keep to: half of badger's own, so ErrTxnTooBig never happens.
	maxTxnBytes int64
	maxTxnCount int64

	// seqs hands out each category's FIFO sequence numbers (the last one given).
	seqMu sync.Mutex
	seqs  map[string]*atomic.Uint64

	// Owned by the writer goroutine: the records of unfinished jobs it wrote (bounded), so a
	// start or finish need not read the record back from the LSM tree; and the records planned
	// in the open transaction, which become cached only once it commits.
	cache   map[string]*Job
	overlay map[string]*Job

	countsMu sync.Mutex
	counts   map[string]StateCounts

	commits, syncs, writes atomic.Uint64
}

var _ Store = (*Badger)(nil)

// request is one caller's write: an insert of jobs or an update of one job.
type request struct {
	inserts []*Job
	encoded [][]byte // the inserts' records
	id      string
	fn      Mutator
	durable bool

	// results, filled by the writer
	insertRes []InsertResult
	job       *Job
	planned   []*Job // the records this request writes, for the overlay once they are in the txn
	err       error
	deltas    []delta
	done      func(r *request)
}

type delta struct {
	category string
	from, to State
}

// OpenBadger opens (or creates) the store, counts what it holds and starts the writer.
func OpenBadger(opt BadgerOptions) (*Badger, error) {
	if opt.MemTableSize == 0 {
		opt.MemTableSize = 16 << 20
	}
	if opt.MinFreeBytes == 0 {
		opt.MinFreeBytes = 2*opt.MemTableSize + 64<<20
	}
	bo := badger.DefaultOptions(opt.Dir).
		WithInMemory(opt.Dir == "").
		WithSyncWrites(false). // we sync once per group commit instead
		WithLogger(badgerLogger{opt.Logger}).
		WithMemTableSize(opt.MemTableSize).
		WithNumMemtables(2).
		WithBlockCacheSize(16 << 20).
		WithIndexCacheSize(8 << 20).
		WithNumCompactors(2).
		WithNumLevelZeroTables(2).
		WithNumLevelZeroTablesStall(4).
		WithValueLogFileSize(64 << 20).
		WithDetectConflicts(false). // one writer: no conflicts to detect
		// Compaction's table builders dominated memory with a 1M-job backlog (each reserves twice
		// its table size, several at once, plus compression buffers): small tables and no block
		// compression (records are small binary already) keep the process near 300 MiB.
		WithBaseTableSize(1 << 20).
		WithCompression(options.None)
	db, err := badger.Open(bo)
	if err != nil {
		return nil, fmt.Errorf("open badger at %q: %w", opt.Dir, err)
	}
	s := &Badger{
		db:          db,
		opt:         opt,
		reqs:        make(chan *request, 4096),
		stop:        make(chan struct{}),
		done:        make(chan struct{}),
		maintDone:   make(chan struct{}),
		maxTxnBytes: db.MaxBatchSize() / 2,
		maxTxnCount: db.MaxBatchCount() / 2,
		seqs:        map[string]*atomic.Uint64{},
		cache:       map[string]*Job{},
		overlay:     map[string]*Job{},
		counts:      map[string]StateCounts{},
	}
	if err := s.load(); err != nil {
		_ = db.Close() // the load error is the one to report
		return nil, err
	}
	go s.writer()
	if opt.Dir != "" {
		go s.maintain()
	}
	return s, nil
}

// Stats implements Store.
func (s *Badger) Stats() Stats {
	return Stats{Commits: s.commits.Load(), Syncs: s.syncs.Load(), Writes: s.writes.Load()}
}

// Close implements Store.
func (s *Badger) Close() error {
	s.closeOnce.Do(func() {
		s.submitMu.Lock()
		s.closed.Store(true)
		s.submitMu.Unlock()
		close(s.stop)
		<-s.done
		if s.opt.Dir != "" {
			<-s.maintDone
		}
		s.closeErr = s.db.Close()
	})
	return s.closeErr
}

// badgerLogger routes badger's warnings and errors to slog and drops its chatter.
type badgerLogger struct{ l *slog.Logger }

func (b badgerLogger) Errorf(f string, a ...any) {
	if b.l != nil {
		b.l.Error("badger: " + fmt.Sprintf(f, a...))
	}
}

func (b badgerLogger) Warningf(f string, a ...any) {
	if b.l != nil {
		b.l.Warn("badger: " + fmt.Sprintf(f, a...))
	}
}
func (badgerLogger) Infof(string, ...any)  {}
func (badgerLogger) Debugf(string, ...any) {}
