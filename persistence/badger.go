package persistence

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"syscall"
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
	del     bool // Delete: remove the finished job id
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

// GCInterval is how often the store runs badger's value-log garbage collection. Job records are
// small and live in the LSM tree, where compaction drops expired and deleted entries; the value
// log holds only large args and results, and this reclaims its files.
var GCInterval = 5 * time.Minute

// maintain runs value-log GC until Close.
func (s *Badger) maintain() {
	defer close(s.maintDone)
	t := time.NewTicker(GCInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			for s.db.RunValueLogGC(0.5) == nil {
				// one file rewritten; go on while there is more to reclaim
			}
		}
	}
}

// load counts the unfinished jobs by their index keys (keys only: no record is read) and finds
// each category's next sequence number.
func (s *Badger) load() error {
	return s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{PrefetchValues: false, Prefix: []byte(prefixQueued)})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			k := it.Item().Key()[len(prefixQueued):]
			i := bytes.IndexByte(k, 0)
			if i < 0 || len(k)-i-1 != 8 {
				return fmt.Errorf("corrupt queue key %q", it.Item().Key())
			}
			cat := string(k[:i])
			seq := binary.BigEndian.Uint64(k[i+1:])
			if c := s.seq(cat); seq > c.Load() {
				c.Store(seq)
			}
			s.count(cat)[StateQueued]++
		}
		for _, p := range []string{prefixScheduled, prefixRunning} {
			it2 := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(p)})
			for it2.Rewind(); it2.Valid(); it2.Next() {
				var st State
				var cat string
				err := it2.Item().Value(func(v []byte) (err error) {
					st, cat, err = parseIndexValue(v)
					return err
				})
				if err != nil {
					it2.Close()
					return fmt.Errorf("index %q: %w", it2.Item().Key(), err)
				}
				s.count(cat)[st]++
			}
			it2.Close()
		}
		return nil
	})
}

// count returns the counts of a category; the caller holds countsMu or owns s alone.
func (s *Badger) count(cat string) StateCounts {
	c := s.counts[cat]
	if c == nil {
		c = StateCounts{}
		s.counts[cat] = c
	}
	return c
}

// submit hands a request to the writer.
// It holds submitMu shared while sending, and Close takes it alone before stopping the
// writer, so no request is sent after the writer's last drain.
func (s *Badger) submit(r *request) {
	s.submitMu.RLock()
	if s.closed.Load() {
		s.submitMu.RUnlock()
		r.err = ErrClosed
		r.done(r)
		return
	}
	s.reqs <- r
	s.submitMu.RUnlock()
}

// wait submits r and waits for its result or ctx. A request whose caller left still completes.
func (s *Badger) wait(ctx context.Context, r *request) error {
	ch := make(chan struct{})
	r.done = func(*request) { close(ch) }
	s.submit(r)
	select {
	case <-ch:
		return r.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Insert implements Store. The records are numbered and encoded here, on the caller's goroutine,
// so that concurrent callers share that work instead of queueing it on the writer.
func (s *Badger) Insert(ctx context.Context, jobs []*Job) ([]InsertResult, error) {
	r := &request{inserts: make([]*Job, len(jobs)), encoded: make([][]byte, len(jobs)), durable: true}
	for i, in := range jobs {
		j := in.Clone()
		if j.State == StateQueued {
			j.Seq = s.takeSeq(j.Category)
		}
		r.inserts[i], r.encoded[i] = j, encodeJob(j)
	}
	if err := s.wait(ctx, r); err != nil {
		return nil, err
	}
	return r.insertRes, nil
}

// Update implements Store.
func (s *Badger) Update(ctx context.Context, id string, fn Mutator, durable bool) (*Job, error) {
	r := &request{id: id, fn: fn, durable: durable}
	if err := s.wait(ctx, r); err != nil {
		return r.job, err
	}
	return r.job, nil
}

// UpdateAsync implements Store.
func (s *Badger) UpdateAsync(id string, fn Mutator, durable bool, done func(*Job, error)) {
	s.submit(&request{id: id, fn: fn, durable: durable, done: func(r *request) {
		if done != nil {
			done(r.job, r.err)
		}
	}})
}

// writer is the one goroutine that writes: it takes every request waiting, commits them in as
// few transactions as fit, syncs once, then answers them all.
func (s *Badger) writer() {
	defer close(s.done)
	batch := make([]*request, 0, 1024)
	for {
		var first *request
		select {
		case first = <-s.reqs:
		case <-s.stop:
			// Answer what is still queued, then stop.
			for {
				select {
				case r := <-s.reqs:
					s.commit([]*request{r})
				default:
					return
				}
			}
		}
		batch = append(batch[:0], first)
	gather:
		for len(batch) < cap(batch) {
			select {
			case r := <-s.reqs:
				batch = append(batch, r)
			default:
				break gather
			}
		}
		s.commit(batch)
	}
}

// pendingWrite is one key a request will set or delete.
type pendingWrite struct {
	key, value []byte
	ttl        time.Duration
	del        bool
}

// commit writes a batch of requests. Each request is all or nothing; a request that fails its
// checks writes nothing and does not disturb the others.
func (s *Badger) commit(batch []*request) {
	txn := s.db.NewTransaction(true)
	var inTxn []*request // requests whose writes are in txn
	var txnBytes, txnCount int64
	var answered []*request

	flush := func() {
		if len(inTxn) == 0 {
			txn.Discard()
			clear(s.overlay)
			return
		}
		err := txn.Commit()
		if err == nil {
			s.commits.Add(1)
			s.remember()
		}
		clear(s.overlay)
		for _, r := range inTxn {
			if err != nil {
				r.err = fmt.Errorf("commit: %w", err)
				r.insertRes, r.job = nil, nil
			}
			answered = append(answered, r)
		}
		inTxn = inTxn[:0]
	}

	free := s.freeBytes()
	for _, r := range batch {
		if err := s.checkRoom(r, free); err != nil {
			r.err = err
			answered = append(answered, r)
			continue
		}
		writes, err := s.plan(txn, r)
		if err != nil {
			r.err = err
			answered = append(answered, r)
			continue
		}
		var nb, nc int64
		for _, w := range writes {
			nb += int64(len(w.key)+len(w.value)) + 64
			nc++
		}
		if nb > s.maxTxnBytes || nc > s.maxTxnCount {
			r.err = fmt.Errorf("%w: %d bytes in %d keys (limit %d bytes, %d keys)", ErrTooLarge, nb, nc, s.maxTxnBytes, s.maxTxnCount)
			r.insertRes, r.job = nil, nil
			answered = append(answered, r)
			continue
		}
		if txnBytes+nb > s.maxTxnBytes || txnCount+nc > s.maxTxnCount {
			// The plan read through txn; a fresh txn must re-plan against what is committed.
			flush()
			txn = s.db.NewTransaction(true)
			txnBytes, txnCount = 0, 0
			if writes, err = s.plan(txn, r); err != nil {
				r.err = err
				answered = append(answered, r)
				continue
			}
		}
		for _, w := range writes {
			if w.del {
				err = txn.Delete(w.key)
			} else {
				e := badger.NewEntry(w.key, w.value)
				if w.ttl > 0 {
					e = e.WithTTL(w.ttl)
				}
				err = txn.SetEntry(e)
			}
			if err != nil {
				break
			}
		}
		if err != nil {
			// Cannot happen within our limits; the txn holds a partial request, so nothing in it
			// may be committed.
			txn.Discard()
			clear(s.overlay)
			for _, q := range append(inTxn, r) {
				q.err = fmt.Errorf("write: %w", err)
				q.insertRes, q.job = nil, nil
				answered = append(answered, q)
			}
			inTxn = inTxn[:0]
			txn = s.db.NewTransaction(true)
			txnBytes, txnCount = 0, 0
			continue
		}
		txnBytes += nb
		txnCount += nc
		inTxn = append(inTxn, r)
		// Only now, with its writes in the txn, may later requests of the txn see what r wrote.
		for _, j := range r.planned {
			s.overlay[j.ID] = j
		}
	}
	flush()

	durable := false
	for _, r := range answered {
		if r.err == nil && r.durable {
			durable = true
		}
	}
	if durable && !s.opt.NoSync && s.opt.Dir != "" {
		began := time.Now()
		err := s.db.Sync()
		if s.opt.OnSync != nil && err == nil {
			s.opt.OnSync(time.Since(began), len(answered))
		}
		if err != nil {
			// Committed but not known to be on disk: nothing durable may be acknowledged.
			for _, r := range answered {
				if r.err == nil && r.durable {
					r.err = fmt.Errorf("sync: %w", err)
					r.insertRes, r.job = nil, nil
				}
			}
		} else {
			s.syncs.Add(1)
		}
	}

	s.countsMu.Lock()
	for _, r := range answered {
		if r.err != nil {
			continue
		}
		for _, d := range r.deltas {
			c := s.count(d.category)
			if d.from != "" && !d.from.Finished() {
				c[d.from]--
			}
			c[d.to]++
		}
	}
	s.countsMu.Unlock()

	for _, r := range answered {
		if r.err == nil {
			s.writes.Add(1)
		}
		r.done(r)
	}
}

// freeBytes is the free space of the store's disk (-1 when unknown or in memory).
func (s *Badger) freeBytes() int64 {
	if s.opt.Dir == "" {
		return -1
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(s.opt.Dir, &st); err != nil {
		return -1
	}
	return int64(st.Bavail) * int64(st.Bsize)
}

// checkRoom refuses a write when the disk is below its reserve: inserts below MinFreeBytes,
// anything below a quarter of it (finishing the jobs already stored needs a little room).
func (s *Badger) checkRoom(r *request, free int64) error {
	if free < 0 {
		return nil
	}
	limit := s.opt.MinFreeBytes
	if r.inserts == nil {
		limit /= 4
	}
	if free < limit {
		return fmt.Errorf("%w: %d bytes free on the store's disk, %d kept in reserve", ErrDiskFull, free, limit)
	}
	return nil
}

// plan reads what r needs through txn and returns the writes it makes, filling r's results.
// It writes nothing.
func (s *Badger) plan(txn *badger.Txn, r *request) ([]pendingWrite, error) {
	r.deltas, r.planned = r.deltas[:0], r.planned[:0]
	if r.inserts != nil {
		return s.planInsert(txn, r)
	}
	if r.del {
		return s.planDelete(txn, r)
	}
	old, err := s.lookup(txn, r.id)
	if err != nil {
		return nil, err
	}
	j := old.Clone()
	if err := r.fn(j); err != nil {
		r.job = old.Clone()
		return nil, err
	}
	if j.ID != old.ID {
		return nil, fmt.Errorf("mutator changed the id of job %s", old.ID)
	}
	if err := s.checkRevive(txn, old, j); err != nil {
		r.job = old.Clone()
		return nil, err
	}
	if j.State == StateQueued && (old.State != StateQueued || j.Category != old.Category) {
		j.Seq = s.takeSeq(j.Category)
	}
	writes, err := s.jobWrites(old, j, nil)
	if err != nil {
		return nil, err
	}
	r.planned = append(r.planned, j)
	r.job = j.Clone() // the caller's copy: the cached one is never handed out
	if old.State != j.State {
		r.deltas = append(r.deltas, delta{j.Category, old.State, j.State})
	}
	return writes, nil
}

// cacheSize bounds the writer's cache of unfinished jobs (about 300 bytes each, plus args).
const cacheSize = 1 << 16

// lookup reads a job as the open transaction sees it: planned in it, cached, or stored.
func (s *Badger) lookup(txn *badger.Txn, id string) (*Job, error) {
	if j, ok := s.overlay[id]; ok {
		return j, nil
	}
	if j, ok := s.cache[id]; ok {
		return j, nil
	}
	return s.readJob(txn, id)
}

// remember moves the committed transaction's records into the cache: unfinished jobs in (while
// there is room), finished ones out.
func (s *Badger) remember() {
	for id, j := range s.overlay {
		if j.State.Finished() {
			delete(s.cache, id)
			continue
		}
		if _, ok := s.cache[id]; ok || len(s.cache) < cacheSize {
			s.cache[id] = j
		}
	}
}

func (s *Badger) planInsert(txn *badger.Txn, r *request) ([]pendingWrite, error) {
	var writes []pendingWrite
	res := make([]InsertResult, len(r.inserts))
	claimed := map[string]*Job{} // unique keys taken earlier in this same request
	for i, j := range r.inserts {
		if j.UniqueKey != "" {
			if holder := claimed[j.UniqueKey]; holder != nil {
				res[i] = InsertResult{Job: holder.Clone(), Duplicate: true}
				continue
			}
			holder, err := s.uniqueHolder(txn, j.UniqueKey)
			if err != nil {
				return nil, err
			}
			if holder != nil {
				res[i] = InsertResult{Job: holder, Duplicate: true}
				continue
			}
		}
		w, err := s.jobWrites(nil, j, r.encoded[i])
		if err != nil {
			return nil, err
		}
		writes = append(writes, w...)
		r.planned = append(r.planned, j)
		res[i] = InsertResult{Job: j.Clone()}
		if j.UniqueKey != "" {
			claimed[j.UniqueKey] = j
		}
		r.deltas = append(r.deltas, delta{j.Category, "", j.State})
	}
	r.insertRes = res
	return writes, nil
}

// seq returns the sequence counter of a category.
func (s *Badger) seq(cat string) *atomic.Uint64 {
	s.seqMu.Lock()
	defer s.seqMu.Unlock()
	c := s.seqs[cat]
	if c == nil {
		c = &atomic.Uint64{}
		s.seqs[cat] = c
	}
	return c
}

// takeSeq hands out the next FIFO sequence number of a category. Numbers start at 1, so "after
// 0" means from the start; a number taken by a write that fails is a harmless gap.
func (s *Badger) takeSeq(cat string) uint64 { return s.seq(cat).Add(1) }

// uniqueHolder returns the unfinished job holding key, or nil.
func (s *Badger) uniqueHolder(txn *badger.Txn, key string) (*Job, error) {
	item, err := txn.Get(uniqueKey(key))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read unique key: %w", err)
	}
	id, err := item.ValueCopy(nil)
	if err != nil {
		return nil, fmt.Errorf("read unique key: %w", err)
	}
	j, err := s.readJob(txn, string(id))
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil || j.State.Finished() {
		return nil, err
	}
	return j, nil
}

// jobWrites returns the writes that take a job from old (nil for a new job) to j: the record and
// the index keys that differ. val is j's encoded record, or nil to encode it here.
func (s *Badger) jobWrites(old, j *Job, val []byte) ([]pendingWrite, error) {
	if val == nil {
		val = encodeJob(j)
	}
	var ttl time.Duration
	if j.State.Finished() && s.opt.Retention > 0 {
		ttl = s.opt.Retention
	}
	writes := []pendingWrite{{key: jobKey(j.ID), value: val, ttl: ttl}}
	newKeys := indexKeys(j)
	if old != nil {
		for _, ok := range indexKeys(old) {
			keep := false
			for _, nk := range newKeys {
				if bytes.Equal(ok.key, nk.key) {
					keep = true
				}
			}
			if !keep {
				writes = append(writes, pendingWrite{key: ok.key, del: true})
			}
		}
	}
	for _, nk := range newKeys {
		writes = append(writes, pendingWrite{key: nk.key, value: nk.value})
	}
	return writes, nil
}

func (s *Badger) readJob(txn *badger.Txn, id string) (*Job, error) {
	item, err := txn.Get(jobKey(id))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	if err != nil {
		return nil, fmt.Errorf("read job %s: %w", id, err)
	}
	var j Job
	if err := item.Value(func(v []byte) error { return decodeJob(v, &j) }); err != nil {
		return nil, fmt.Errorf("decode job %s: %w", id, err)
	}
	return &j, nil
}

// Get implements Store.
func (s *Badger) Get(ctx context.Context, id string) (*Job, error) {
	if s.closed.Load() {
		return nil, ErrClosed
	}
	var j *Job
	err := s.db.View(func(txn *badger.Txn) error {
		var err error
		j, err = s.readJob(txn, id)
		return err
	})
	return j, err
}

// List implements Store. It walks j/ backwards from the cursor and filters; a filter that
// matches few jobs reads many records.
func (s *Badger) List(ctx context.Context, opt ListOptions) ([]*Job, string, error) {
	if s.closed.Load() {
		return nil, "", ErrClosed
	}
	limit := opt.Limit
	if limit <= 0 {
		limit = DefaultListLimit
	}
	limit = min(limit, MaxListLimit)
	var out []*Job
	next := ""
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Reverse: true, PrefetchValues: false, Prefix: []byte(prefixJob)})
		defer it.Close()
		start := append(jobKey(opt.Cursor), 0xff)
		if opt.Cursor != "" {
			start = jobKey(opt.Cursor)
		}
		for it.Seek(start); it.Valid(); it.Next() {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			id := string(it.Item().Key()[len(prefixJob):])
			if opt.Cursor != "" && id >= opt.Cursor {
				continue
			}
			if len(out) == limit {
				next = out[len(out)-1].ID
				return nil
			}
			var j Job
			if err := it.Item().Value(func(v []byte) error { return decodeJob(v, &j) }); err != nil {
				return fmt.Errorf("decode job %s: %w", id, err)
			}
			if (opt.Category != "" && j.Category != opt.Category) || (opt.State != "" && j.State != opt.State) || (opt.Kind != "" && j.Kind != opt.Kind) {
				continue
			}
			out = append(out, &j)
		}
		return nil
	})
	return out, next, err
}

// Queued implements Store. It seeks to the first key after afterSeq, so the deletion markers of
// jobs already taken are never scanned (FACTS.md: tombstone scans).
func (s *Badger) Queued(ctx context.Context, category string, afterSeq uint64, limit int) ([]*Job, error) {
	if s.closed.Load() {
		return nil, ErrClosed
	}
	var out []*Job
	err := s.db.View(func(txn *badger.Txn) error {
		prefix := queuePrefix(category)
		it := txn.NewIterator(badger.IteratorOptions{PrefetchValues: true, PrefetchSize: 256, Prefix: prefix})
		defer it.Close()
		for it.Seek(queueKey(category, afterSeq+1)); it.Valid() && len(out) < limit; it.Next() {
			id, err := it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			j, err := s.readJob(txn, string(id))
			if err != nil {
				return err
			}
			out = append(out, j)
		}
		return nil
	})
	return out, err
}

// Waiting implements Store. It reads the s/ keys only.
func (s *Badger) Waiting(ctx context.Context, fn func(id string, runAt time.Time) error) error {
	return s.scanKeys(ctx, prefixScheduled, func(k []byte) error {
		at, id, err := parseScheduledKey(k)
		if err != nil {
			return err
		}
		return fn(id, at)
	})
}

// Running implements Store. It reads the r/ keys only.
func (s *Badger) Running(ctx context.Context, fn func(id string) error) error {
	return s.scanKeys(ctx, prefixRunning, func(k []byte) error { return fn(string(k[len(prefixRunning):])) })
}

// scanKeys calls fn with every key under prefix, in order, without reading values.
func (s *Badger) scanKeys(ctx context.Context, prefix string, fn func(key []byte) error) error {
	if s.closed.Load() {
		return ErrClosed
	}
	return s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{PrefetchValues: false, Prefix: []byte(prefix)})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := fn(it.Item().KeyCopy(nil)); err != nil {
				return err
			}
		}
		return nil
	})
}

// Counts implements Store.
func (s *Badger) Counts() map[string]StateCounts {
	s.countsMu.Lock()
	defer s.countsMu.Unlock()
	out := make(map[string]StateCounts, len(s.counts))
	for cat, c := range s.counts {
		cc := make(StateCounts, len(c))
		for k, v := range c {
			cc[k] = v
		}
		out[cat] = cc
	}
	return out
}

// Backlog implements Store.
func (s *Badger) Backlog(category string) int {
	s.countsMu.Lock()
	defer s.countsMu.Unlock()
	c := s.counts[category]
	return c[StateQueued] + c[StateScheduled] + c[StateRetrying]
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
