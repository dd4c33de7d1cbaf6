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
	// covered. It runs on the syncer goroutine (pipe.go).
	OnSync func(d time.Duration, writes int)
	// MinFreeBytes is the free disk space below which new jobs are refused with ErrDiskFull
	// (0 means 2 × MemTableSize + 64 MiB); below a quarter of it every write is refused. Badger
	// writes its log through memory-mapped files, and a write to such a file on a full disk kills
	// the process (SIGBUS) instead of returning an error: the reserve keeps that from happening.
	MinFreeBytes int64
	// MemTableSize in bytes; 0 means DefaultMemTableSize. Badger caps a commit at 15% of it
	// (bytes) and at 15% of it / 96 (keys): the writer splits group commits below 90% of that,
	// and one write (an Insert of a whole batch) over it fails with ErrTooLarge.
	MemTableSize int64
	// CacheBytes bounds the writer's cache of unfinished jobs; 0 means DefaultCacheBytes, < 0
	// turns the cache off.
	CacheBytes int64

	// Test seams (package tests only): called before each commit and each sync; an error
	// stands for the commit or sync failing.
	commitHook, syncHook func() error
}

// Defaults of BadgerOptions.
const (
	// DefaultMemTableSize is badger's memtable size: 14 MiB, so one commit holds 1,981,808
	// bytes and 20,643 keys (90% of badger's cap), room for a batch of 10,000 small jobs
	// (jobsched's default batch limit) without a unique key: such a job weighs ~170 bytes in 2
	// keys; ~6,800 fit with a unique key each (3 keys). It is the smallest size that fits
	// them, because the memtable sets the memory badger keeps: each flush builds its table in
	// a buffer of badger's pool of 8 table builders, which keeps it grown (2, 6, 14, 30 MiB:
	// it doubles from 2 MiB), so the pool settles at 8 × the buffer a flushed memtable needs:
	// 14 MiB each up to a 14 MiB memtable, 30 MiB each from 16 MiB (see memory.go).
	DefaultMemTableSize = 14 << 20
	// DefaultCacheBytes is the budget of the writer's cache of unfinished jobs (their records
	// as held in memory, args included): 16 MiB, ~33,000 small jobs (~500 bytes each as the
	// cache weighs them). It was 32 MiB (docs/benchmarks.md, "Session 4: memory at a 1,000,000
	// backlog"); 8 MiB doubled the time of the 10,000-wide fan-in and parked-jobs tests.
	DefaultCacheBytes = 16 << 20
)

// Badger is the badger/v4 Store.
type Badger struct {
	db        *badger.DB
	opt       BadgerOptions
	reqs      chan *request
	async     asyncQueue // UpdateAsync's requests that found reqs full (asyncqueue.go)
	stop      chan struct{}
	done      chan struct{}
	maintDone chan struct{}
	submitMu  sync.RWMutex
	closeOnce sync.Once
	closeErr  error
	closed    atomic.Bool

	// The limits of one commit we keep to: 90% of badger's own, weighed as badger weighs
	// (weigh), so ErrTxnTooBig never happens.
	maxTxnBytes   int64
	maxTxnCount   int64
	maxValueBytes int64 // badger's limit of one value (its value-log file size)
	valThreshold  int64 // values from this size on go to the value log

	// failed holds the sticky error (wrapping ErrStoreFailed) once a commit or sync failed.
	failed atomic.Pointer[error]

	// seqs hands out each category's FIFO sequence numbers (the last one given).
	seqMu sync.Mutex
	seqs  map[string]*atomic.Uint64

	// Owned by the writer goroutine: the records of unfinished jobs it wrote (bounded), so a
	// start or finish need not read the record back from the LSM tree; and the records planned
	// in the open transaction, which become cached only once it commits.
	cache   writerCache
	overlay map[string]*Job
	// pipe is what follows the writer (pipe.go); only the writer sends to it. inFlight is the
	// last commit the writer handed to badger.
	pipe     *pipe
	inFlight *commitWait
	heldBuf  []pendingWrite // the array of a wtxn's held writes, reused (wtxn.go)
	planBuf  []pendingWrite // the array of an update's planned writes, reused (group.add)
	free     freeSpace      // the disk's free space, as freeBytes last read it (diskguard.go)

	countsMu sync.Mutex
	counts   map[string]StateCounts
	running  map[string]struct{} // the ids of the jobs stored as running

	commits, syncs, writes atomic.Uint64
	keys                   atomic.Uint64 // Stats.Keys
	// keysOpen counts the keys the requests put in the transaction keysTxn (depends.go), added to
	// keys once it is committed (remember). Owned by the writer goroutine.
	keysTxn  *wtxn
	keysOpen uint64

	releaseHook atomic.Pointer[func([]*Job)] // SetReleaseHook
	recovered   []*request                   // the settles start-up found, handed to the writer (depends.go)
	// wal syncs badger's logs without badger's lock (walsync.go); nil (in memory, or its logs
	// not found) means DB.Sync. Owned by the syncer goroutine.
	wal *walSync
	// parents holds the ids of the jobs that may have dependents not yet settled (an open d/
	// key), so a finish looks for dependents only when it may have some: a prefix iterator in
	// the writer's transaction sorts every write pending in it. Owned by the writer goroutine
	// (filled at start-up before it runs). An id may stay after its last dependent is settled
	// (a commit that failed); it is never missing while one is open.
	parents map[string]struct{}
	// pendingDeps: the d/ keys written in the open transaction, by parent and key (depWrite),
	// so that openChildren need not iterate the transaction's pending writes (depends.go).
	pendingDeps map[string]keyed[depWrite]
	waits       waitCounts // the parents counts the writer wrote (waitcounts.go)
	kids        openKids   // the open d/ keys, by parent (openkids.go)
}

var _ Store = (*Badger)(nil)

// OpenBadger opens (or creates) the store, counts what it holds and starts the writer.
func OpenBadger(opt BadgerOptions) (*Badger, error) {
	if opt.MemTableSize == 0 {
		opt.MemTableSize = DefaultMemTableSize
	}
	if opt.CacheBytes == 0 {
		opt.CacheBytes = DefaultCacheBytes
	}
	if opt.MinFreeBytes == 0 {
		opt.MinFreeBytes = 2*opt.MemTableSize + 64<<20
	}
	bo := badger.DefaultOptions(opt.Dir).
		WithInMemory(opt.Dir == "").
		WithSyncWrites(false). // we sync once per group commit instead
		WithLogger(badgerLogger{opt.Logger}).
		WithMemTableSize(opt.MemTableSize).
		// One memtable waiting for its flush besides the one written (badger then holds at most
		// 3 arenas of memtable + 30%, 2 while no flush waits): a flush of 14 MiB takes a fraction
		// of the second the next memtable needs to fill, so writes do not wait for it.
		WithNumMemtables(1).
		// No block cache (badger's advice without compression or encryption: a block is read
		// from the memory-mapped table) and no index cache (badger uses it only for encrypted
		// tables): both were Go heap for nothing.
		WithBlockCacheSize(0).
		WithIndexCacheSize(0).
		WithNumCompactors(2).
		// L0 compaction once 10 tables wait, writes stalled at 20 (badger's defaults are 5 and
		// 15; it was 2 and 4, then 5 and 10), and a base level of 64 MiB (badger's 10 MiB):
		// fewer, larger compactions into fewer levels. A job's record is written three times
		// (insert, start, finish) and its q/ key set, rewritten and deleted, mostly in different
		// memtables once the queue spills, so most of what L0 holds is obsolete by the time it
		// is compacted: compacting it later and in bigger merges drops it with less rewriting.
		// Tester burst of 1,000,000 (docs/benchmarks.md, "Session 6: 1M burst and daemon"):
		// compaction CPU -12 to -42% (6 pairs), the run -12% (3 pairs, same binary); ~50 MiB more of
		// obsolete versions on disk until they are compacted.
		WithNumLevelZeroTables(10).
		WithNumLevelZeroTablesStall(20).
		WithBaseLevelSize(64 << 20).
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
		parents:       map[string]struct{}{},
		pendingDeps:   map[string]keyed[depWrite]{},
		db:            db,
		opt:           opt,
		reqs:          make(chan *request, 4096),
		async:         asyncQueue{wake: make(chan struct{}, 1)},
		stop:          make(chan struct{}),
		done:          make(chan struct{}),
		maintDone:     make(chan struct{}),
		maxTxnBytes:   db.MaxBatchSize() * 9 / 10,
		maxTxnCount:   db.MaxBatchCount() * 9 / 10,
		maxValueBytes: db.Opts().ValueLogFileSize,
		valThreshold:  db.Opts().ValueThreshold,
		seqs:          map[string]*atomic.Uint64{},
		cache:         newWriterCache(opt.CacheBytes),
		overlay:       map[string]*Job{},
		counts:        map[string]StateCounts{},
		running:       map[string]struct{}{},
	}
	if err := s.load(); err != nil {
		_ = db.Close() // the load error is the one to report
		return nil, err
	}
	if err := s.recoverSettles(); err != nil {
		_ = db.Close() // the scan's error is the one to report
		return nil, err
	}
	if opt.Dir != "" && !opt.NoSync {
		// Without it (badger's logs not where walSync looks), DB.Sync: durable, and a sync
		// stops badger's commits and reads while it lasts.
		if w, err := newWALSync(opt.Dir); err == nil {
			s.wal = w
		}
	}
	s.pipe = newPipe(s)
	go s.writer()
	if opt.Dir != "" {
		go s.maintain()
	}
	return s, nil
}

// Stats implements Store.
func (s *Badger) Stats() Stats {
	return Stats{Commits: s.commits.Load(), Syncs: s.syncs.Load(), Writes: s.writes.Load(), Keys: s.keys.Load()}
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
		if s.wal != nil {
			s.wal.close() // the syncer stopped with the writer
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
