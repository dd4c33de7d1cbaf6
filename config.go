package jobsched

import (
	"fmt"
	"log/slog"
	"maps"
	"math"
	"regexp"
	"time"

	"github.com/jobsched/jobsched/actors"
	"github.com/jobsched/jobsched/persistence"
	"github.com/robfig/cron/v3"
	"go.opentelemetry.io/otel/trace"
)

// Defaults of Config, Category and Kind.
const (
	DefaultWorkers         = 64
	DefaultBalanceInterval = time.Second
	DefaultRetention       = 24 * time.Hour
	DefaultShutdownGrace   = 30 * time.Second
	DefaultCategory        = "default"
	DefaultQueueLimit      = 1_000_000
	DefaultMaxAttempts     = 25
	DefaultMaxArgsBytes    = 1 << 20 // 1 MiB
	DefaultMaxBatch        = 10_000
	DefaultFifoMemory      = 10_000
	DefaultPollInterval    = time.Second
	MinPollInterval        = 10 * time.Millisecond
)

// Config configures a Scheduler. Zero values mean the documented defaults.
type Config struct {
	// Dir is the badger directory. Empty means an in-memory store (nothing survives Close):
	// for tests only.
	Dir string
	// Workers is the global worker budget (default 64).
	Workers int
	// BalanceInterval is how often the WorkerBalancer re-divides the budget (default 1s).
	BalanceInterval time.Duration
	// Retention is how long finished jobs are kept (default 24h; negative keeps them forever).
	Retention time.Duration
	// Categories of jobs; default one category "default" that may use the whole budget.
	Categories []Category
	// Kinds hold per-kind defaults (timeout, max attempts); a kind needs no entry to be used.
	Kinds []Kind
	// Periodic jobs, enqueued once per cron tick while the scheduler runs.
	Periodic []PeriodicJob
	// Logger receives the scheduler's logs; nil discards them.
	Logger *slog.Logger
	// RetryBackoff gives the wait before attempt n+1 after attempt n failed; default
	// DefaultBackoff (exponential with jitter).
	RetryBackoff func(attempt int) time.Duration
	// MaxArgsBytes caps a job's args (default 1 MiB); MaxBatch caps EnqueueBatch (default 10,000).
	// A batch must also fit in one store commit (docs/durability.md): 10,000 jobs with small
	// args do; larger ones fail with ErrTooLarge naming the limit.
	MaxArgsBytes int
	MaxBatch     int
	// FifoMemory is how many ready jobs a category keeps in memory (default 10,000); the rest
	// wait in the store and are read back in order.
	FifoMemory int
	// Observer, if set, is told of every enqueue, start and finish (for metrics). Its methods
	// run on the scheduler's hot paths and must be quick.
	Observer Observer
	// RefuseUnknownKinds makes Enqueue refuse a job whose kind has no registered handler
	// (*InvalidError naming "kind"). It is off by default so that a program may enqueue jobs
	// for other nodes of a shared store, or for handlers it registers on its next start; the
	// daemon turns it on, since there a job that can never run is bad input.
	RefuseUnknownKinds bool
	// NoSync skips the disk sync of enqueues. Only for measuring what the sync costs: an
	// acknowledged job may then be lost in a power failure.
	NoSync bool
	// PollInterval is how often each category's Fifo and the Waiter look for their work in the
	// store again, whatever messages said (default 1s, at least 10ms): a job stored while its
	// caller left, or whose message a restarted actor lost, waits at most about this long.
	// A periodic tick the store refused is tried again at this pace too.
	PollInterval time.Duration
	// Store, if set, is the store the Scheduler uses instead of opening badger at Dir (Dir,
	// Retention and NoSync are then the store's business). The caller owns it: Close leaves it
	// open. For tests that wrap a store (persistence/faulty) and programs that share one (the
	// PostgreSQL store of persistence/postgres, shared by several nodes).
	Store persistence.Store

	// TracerProvider, if set, traces the scheduler with OpenTelemetry: a span for each enqueue
	// call and one for each attempt, the child of its enqueue's span even after a restart (the
	// enqueue's trace context is stored with the job), so the spans a handler starts from its
	// ctx join the enqueuer's trace. nil (the default) traces nothing and costs nothing.
	TracerProvider trace.TracerProvider
	// Clock, if set, is the time the scheduler reads and waits on: run_at, retry backoffs, the
	// polls. nil is the wall clock. For tests that move time themselves (jobschedtest.Clock);
	// a store's own timers (PostgreSQL leases) keep real time.
	Clock Clock

	clock clock // Clock, or the wall clock
}

// Clock is the time of a Scheduler (Config.Clock): Now, and timers that fire when it passes.
type Clock = actors.Clock

// Timer is a timer of a Clock.
type Timer = actors.Timer

// Category is a queue of jobs with its share of the worker budget.
type Category struct {
	// Name: letters, digits, '.', '_' and '-', at most 64.
	Name string
	// Priority is the category's weight in the balancer (default 1).
	Priority int
	// MinWorkers is kept even when idle (default 1; NoWorkers for none: the category then
	// gets workers from the balancer only while it has jobs, or had some in the last
	// balance interval); MaxWorkers is never exceeded
	// (default: the budget).
	MinWorkers int
	MaxWorkers int
	// QueueLimit caps the jobs waiting (queued, scheduled, retrying); past it Enqueue returns
	// ErrQueueFull (default 1,000,000).
	QueueLimit int
	// RateLimit caps the jobs started per second (0: unlimited); RateBurst is how many may start
	// at once after a quiet spell (default: the rate rounded up, at least 1).
	RateLimit float64
	RateBurst int
	// FairnessWeights weighs fairness keys (config fairness_weights): a key of weight w is
	// served up to w jobs per round-robin turn, so under a backlog it gets w times the starts of
	// a key of weight 1 (the default of every key not listed; "" is the key of jobs without one).
	// Weights are 1..MaxFairnessWeight.
	FairnessWeights map[string]int
}

// Kind holds the defaults of one job kind.
type Kind struct {
	Name string
	// Timeout of one attempt; 0 means none.
	Timeout time.Duration
	// MaxAttempts before a failing job is dead (default 25).
	MaxAttempts int
	// KeyConcurrency caps the running jobs of this kind that share a concurrency_key, per
	// category (0: unlimited). Jobs over the cap wait in order without taking a worker.
	KeyConcurrency int
}

// PeriodicJob is a job enqueued on a cron schedule ("*/5 * * * *": minute, hour, day of month,
// month, day of week; or descriptors such as "@every 10s", "@hourly").
type PeriodicJob struct {
	Name     string // unique; default "<kind>@<cron>"
	Cron     string
	Kind     string
	Category string
	Args     []byte // JSON
}

// Observer receives the events metrics are made of. Methods must be quick and must not block.
type Observer interface {
	// JobEnqueued: a new job was stored. On the Badger store it is called at the commit, before
	// the sync (and before the job can start), on the store's goroutine: after a failed sync, a
	// job it told of may be lost though its enqueue returned an error.
	JobEnqueued(j *Job)
	// JobStarted: an attempt began, wait after the job was due (run_at). j is the record the
	// handler gets next: read it during the call only (keep a Clone to use it later).
	JobStarted(j *Job, wait time.Duration)
	// JobFinished: an attempt ended after run; j is in its new state (succeeded, retrying,
	// dead, cancelled, or queued when shutdown interrupted it).
	JobFinished(j *Job, run time.Duration)
	// StoreSynced: the store synced a group commit of writes to disk, in d.
	StoreSynced(d time.Duration, writes int)
}

// NoWorkers, as Category.MinWorkers, keeps no worker for the category while it is idle (the
// zero value means the default, 1). The configuration file's and the API's min_workers: 0 is it.
const NoWorkers = -1

// MinWorkersValue turns a min_workers as people write it (0: none) into Category.MinWorkers.
func MinWorkersValue(n int) int {
	if n == 0 {
		return NoWorkers
	}
	return n
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// withDefaults validates c and fills in its defaults.
func (c Config) withDefaults() (Config, error) {
	if c.Workers == 0 {
		c.Workers = DefaultWorkers
	}
	if c.Workers < 1 {
		return c, invalid("workers", "must be at least 1, got %d", c.Workers)
	}
	if c.BalanceInterval == 0 {
		c.BalanceInterval = DefaultBalanceInterval
	}
	if c.BalanceInterval < 10*time.Millisecond {
		return c, invalid("balance_interval", "must be at least 10ms, got %s", c.BalanceInterval)
	}
	if c.Retention == 0 {
		c.Retention = DefaultRetention
	}
	if c.Retention > 0 && c.Retention < time.Second {
		return c, invalid("retention", "must be at least 1s (or negative: keep forever), got %s", c.Retention)
	}
	if c.RetryBackoff == nil {
		c.RetryBackoff = DefaultBackoff
	}
	if c.PollInterval == 0 {
		c.PollInterval = DefaultPollInterval
	}
	if c.PollInterval < MinPollInterval {
		return c, invalid("poll_interval", "must be at least %s, got %s", MinPollInterval, c.PollInterval)
	}
	if c.MaxArgsBytes == 0 {
		c.MaxArgsBytes = DefaultMaxArgsBytes
	}
	if c.MaxBatch == 0 {
		c.MaxBatch = DefaultMaxBatch
	}
	if c.FifoMemory == 0 {
		c.FifoMemory = DefaultFifoMemory
	}
	if c.MaxArgsBytes < 0 || c.MaxBatch < 0 || c.FifoMemory < 2 {
		return c, invalid("limits", "max_args_bytes and max_batch must be positive, fifo_memory at least 2")
	}
	if len(c.Categories) == 0 {
		c.Categories = []Category{{Name: DefaultCategory}}
	}
	cats := make([]Category, len(c.Categories))
	seen := map[string]bool{}
	sumMin := 0
	for i, cat := range c.Categories {
		field := fmt.Sprintf("categories[%d]", i)
		if seen[cat.Name] {
			return c, invalid(field+".name", "%q appears twice", cat.Name)
		}
		seen[cat.Name] = true
		cat, err := cat.withDefaults(field, c.Workers)
		if err != nil {
			return c, err
		}
		sumMin += cat.MinWorkers
		cats[i] = cat
	}
	if sumMin > c.Workers {
		return c, invalid("categories", "min_workers add up to %d, over the budget of %d workers", sumMin, c.Workers)
	}
	c.Categories = cats
	kinds := make([]Kind, len(c.Kinds))
	seenKind := map[string]bool{}
	for i, k := range c.Kinds {
		field := fmt.Sprintf("kinds[%d]", i)
		if k.Name == "" || seenKind[k.Name] {
			return c, invalid(field+".name", "must be set and unique, got %q", k.Name)
		}
		seenKind[k.Name] = true
		if k.MaxAttempts == 0 {
			k.MaxAttempts = DefaultMaxAttempts
		}
		if k.MaxAttempts < 1 {
			return c, invalid(field+".max_attempts", "must be at least 1, got %d", k.MaxAttempts)
		}
		if k.KeyConcurrency < 0 {
			return c, invalid(field+".key_concurrency", "must not be negative, got %d", k.KeyConcurrency)
		}
		if k.Timeout < 0 {
			return c, invalid(field+".timeout", "must not be negative, got %s", k.Timeout)
		}
		kinds[i] = k
	}
	c.Kinds = kinds
	per := make([]PeriodicJob, len(c.Periodic))
	seenP := map[string]bool{}
	for i, p := range c.Periodic {
		field := fmt.Sprintf("periodic[%d]", i)
		if _, err := parseCron(p.Cron); err != nil {
			return c, invalid(field+".cron", "%q: %v", p.Cron, err)
		}
		if p.Kind == "" {
			return c, invalid(field+".kind", "must be set")
		}
		if p.Category == "" {
			p.Category = c.Categories[0].Name
		}
		if !seen[p.Category] {
			return c, invalid(field+".category", "unknown category %q", p.Category)
		}
		if p.Name == "" {
			p.Name = p.Kind + "@" + p.Cron
		}
		if seenP[p.Name] {
			return c, invalid(field+".name", "%q appears twice", p.Name)
		}
		seenP[p.Name] = true
		per[i] = p
	}
	c.Periodic = per
	if c.clock == nil {
		c.clock = c.Clock
	}
	if c.clock == nil {
		c.clock = realClock{}
	}
	return c, nil
}

// withDefaults validates a category and fills in its defaults; field names it in errors
// ("categories[2]"), workers is the global budget.
func (cat Category) withDefaults(field string, workers int) (Category, error) {
	if !nameRE.MatchString(cat.Name) {
		return cat, invalid(field+".name", "%q must be 1-64 letters, digits, '.', '_' or '-'", cat.Name)
	}
	if cat.Priority == 0 {
		cat.Priority = 1
	}
	switch cat.MinWorkers {
	case 0:
		cat.MinWorkers = 1
	case NoWorkers:
		cat.MinWorkers = 0
	}
	if cat.MaxWorkers == 0 {
		cat.MaxWorkers = workers
	}
	if cat.QueueLimit == 0 {
		cat.QueueLimit = DefaultQueueLimit
	}
	switch {
	case cat.Priority < 1:
		return cat, invalid(field+".priority", "must be at least 1, got %d", cat.Priority)
	case cat.MinWorkers < 0:
		return cat, invalid(field+".min_workers", "must not be negative, got %d", cat.MinWorkers)
	case cat.MaxWorkers < cat.MinWorkers:
		return cat, invalid(field+".max_workers", "%d is below min_workers %d", cat.MaxWorkers, cat.MinWorkers)
	case cat.QueueLimit < 1:
		return cat, invalid(field+".queue_limit", "must be at least 1, got %d", cat.QueueLimit)
	case cat.RateLimit < 0:
		return cat, invalid(field+".rate_limit", "must not be negative, got %g", cat.RateLimit)
	case cat.RateBurst < 0:
		return cat, invalid(field+".rate_burst", "must not be negative, got %d", cat.RateBurst)
	}
	if err := checkFairnessWeights(cat.FairnessWeights, field+".fairness_weights"); err != nil {
		return cat, err
	}
	cat.FairnessWeights = maps.Clone(cat.FairnessWeights) // the caller's map may change later
	if cat.RateLimit > 0 && cat.RateBurst == 0 {
		cat.RateBurst = max(1, int(math.Ceil(cat.RateLimit)))
	}
	return cat, nil
}

var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// parseCron parses a cron expression; robfig/cron panics on some inputs ("TZ=", found by
// FuzzCron), so a panic is returned as an error.
func parseCron(expr string) (s cron.Schedule, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("cannot parse: %v", p)
		}
	}()
	return cronParser.Parse(expr)
}

// DefaultBackoff waits 2^(attempt-1) seconds (1s, 2s, 4s, ...) capped at one hour, each ±20%
// at random so that jobs that failed together do not retry together.
func DefaultBackoff(attempt int) time.Duration {
	d := time.Hour
	if attempt < 13 {
		d = min(time.Duration(1<<max(attempt-1, 0))*time.Second, time.Hour)
	}
	return jitter(d, 0.2)
}
