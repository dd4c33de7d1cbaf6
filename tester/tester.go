// Package tester is jobsched's load generator: it drives an embedded scheduler or a daemon with
// sleep jobs, tracks every acknowledged job until it has finished, and reports what was lost,
// what ran twice, throughput and latency. "jobsched tester" is its command line.
package tester

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/jobsched/jobsched"
	"github.com/jobsched/jobsched/persistence"
	"github.com/schollz/progressbar/v3"
	"golang.org/x/time/rate"
)

// Options of a run. Zero values get the defaults of the command line.
type Options struct {
	// Target: Addr of a running daemon, or Embedded (a scheduler in this process on Data), or
	// Spawn (start Binary as a daemon on Data, stopped at the end).
	Addr     string
	Token    string
	RootCAs  *x509.CertPool // CAs to trust for an https:// Addr (nil: the system's)
	Embedded bool
	Spawn    bool
	Binary   string
	Data     string
	Workers  int // worker budget of an embedded or spawned scheduler
	// DaemonCPUProfile, with Spawn or Nodes: each spawned daemon writes a CPU profile of its
	// life to this file (serve --cpuprofile; a node's name is appended in a cluster run; a
	// restarted daemon overwrites its killed predecessor's).
	DaemonCPUProfile string

	Jobs int
	// Backlog jobs are queued in the store before the scheduler the run drives starts (Embedded
	// or Spawn): the run then times the start-up with them waiting, and the drain of them all
	// while Jobs more are enqueued.
	Backlog     int
	Rate        float64 // jobs/s offered; 0 = as fast as possible
	Batch       int
	Concurrency int
	Categories  []CategoryWeight
	Duration    Dist
	FailRate    float64
	PanicRate   float64
	MaxAttempts int
	Seed        uint64
	// Tenants spreads the jobs over N tenants (fairness keys t001..tN), tenant i getting a share
	// proportional to 1/(i+1)^Skew; the report gives each tenant's enqueue-to-start latency.
	// NoFairness leaves the keys off the jobs (the tenants are still tracked): the baseline.
	Tenants    int
	Skew       float64
	NoFairness bool
	// DAGSize > 0 enqueues the jobs as random DAGs of DAGSize jobs over DAGDepth levels, one
	// batch each (dag.go); the check then also verifies that no job started before its parents
	// finished.
	DAGSize  int
	DAGDepth int
	// DAGShape is the shape of each DAG: "" or "random" (levels, above), "fan-in" (every job
	// but the last is a root and the last depends on all of them: a batch's callback), or
	// "fan-out" (one root and every other job depends on it).
	DAGShape string

	// Nodes > 0 spawns a cluster: Nodes daemons (Binary serve --store --node n1..nN --lease Lease)
	// on one PostgreSQL database, Store (a postgres:// DSN), or a server the tester starts for the
	// run in a temp dir (internal/pgserver). Enqueues go round the nodes; the check reads the
	// database. Store alone means one node.
	Nodes int
	Store string
	Lease time.Duration // the nodes' lease (default 15s)
	// UniqueKeys (with Nodes): while the load runs, race that many unique keys across the nodes
	// (each key's job enqueued on every node at once: one job must exist).
	UniqueKeys int

	// Chaos, a comma-separated list of faults injected in turn about every ChaosEvery: "kill"
	// (with Spawn or Nodes): SIGKILL the daemon, or a random node, and start it again; "stop"
	// (with Nodes): SIGSTOP a random node for 1.5 leases and a second, then SIGCONT it.
	Chaos      string
	ChaosEvery time.Duration
	// Deadline: a job not finished this long after the last enqueue is lost.
	Deadline time.Duration

	// Progress, if set, shows a progress bar (a terminal) or plain lines.
	Progress    io.Writer
	Interactive bool
	Logf        func(format string, a ...any)
}

// Percentiles of a latency, in milliseconds.
type Percentiles struct {
	P50 float64 `json:"p50"`
	P90 float64 `json:"p90"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

// Report is the outcome of a run.
type Report struct {
	Target          string      `json:"target"`
	Enqueued        int         `json:"enqueued"`
	Succeeded       int         `json:"succeeded"`
	Dead            int         `json:"dead"`
	Cancelled       int         `json:"cancelled"`
	Lost            int         `json:"lost"`
	Duplicates      int         `json:"duplicates"`
	EnqueuePerS     float64     `json:"enqueue_per_s"`
	CompletePerS    float64     `json:"complete_per_s"`
	StartLatencyMS  Percentiles `json:"start_latency_ms"`
	FinishLatencyMS Percentiles `json:"finish_latency_ms"`
	Kills           int         `json:"kills"`
	// Stranded: acknowledged jobs stored but not finished at the deadline (counted in Lost too).
	Stranded int `json:"stranded"`
	// Unaccounted: finished jobs whose attempts do not add up (an attempt ran without its error
	// kept, or two finishes): a job may run again only after a failure or an interruption.
	Unaccounted    int      `json:"unaccounted_attempts"`
	UnaccountedIDs []string `json:"unaccounted_ids,omitempty"`
	// A cluster run (Nodes): the nodes, the SIGSTOPs of the chaos, the jobs rescued from a node
	// whose lease ran out (read from the jobs: an attempt interrupted so), the nodes' own count of
	// rescues and of the late writes fencing refused (their /metrics; a killed node's read just
	// before the kill), the members GET /v1/cluster listed at the end, the enqueues per node.
	Nodes            int            `json:"nodes,omitempty"`
	Stops            int            `json:"stops,omitempty"`
	Rescued          int            `json:"rescued,omitempty"`
	RescuedByMetrics int            `json:"rescued_by_metrics,omitempty"`
	FencedWrites     int            `json:"fenced_writes,omitempty"`
	ClusterMembers   int            `json:"cluster_members,omitempty"`
	EnqueuedPerNode  map[string]int `json:"enqueued_per_node,omitempty"`
	// Faults: each fault of the chaos, and how long the cluster took to take its jobs over.
	Faults []Fault `json:"faults,omitempty"`
	// UniqueKeys raced across the nodes, and those for which more than one job was made.
	UniqueKeys       int `json:"unique_keys,omitempty"`
	UniqueViolations int `json:"unique_violations"`

	losses   []leaseLoss // the rescues read by the check
	ElapsedS float64     `json:"elapsed_s"`
	// Backlog: jobs queued before the start; BacklogUnfinished of them (and of the run's) were
	// still unfinished at the deadline.
	Backlog           int `json:"backlog,omitempty"`
	BacklogUnfinished int `json:"backlog_unfinished,omitempty"`
	// StartupS: the scheduler's start-up (embedded: New to Start returned; spawned: process
	// start to serving), backlog read back included.
	StartupS float64 `json:"startup_s,omitempty"`
	// RssAnonStartMiB just after the start-up, RssAnonMaxMiB the peak over the run (sampled every
	// 50 ms): of the tester's own process when embedded, of the daemon when spawned (of node n1's
	// first process in a cluster run).
	RssAnonStartMiB float64 `json:"rss_anon_start_mib,omitempty"`
	RssAnonMaxMiB   float64 `json:"rss_anon_max_mib,omitempty"`
	// Store figures of an embedded run, from the start-up to the drain: commits, disk syncs,
	// write requests (an insert of a batch is one request; a start or a finish is one each) and
	// the keys they set or deleted (badger).
	StoreCommits uint64   `json:"store_commits,omitempty"`
	StoreSyncs   uint64   `json:"store_syncs,omitempty"`
	StoreWrites  uint64   `json:"store_writes,omitempty"`
	StoreKeys    uint64   `json:"store_keys,omitempty"`
	LostIDs      []string `json:"lost_ids,omitempty"`
	// Tenants: each tenant's jobs and enqueue-to-start latency (a --tenants run).
	Tenants []TenantLatency `json:"tenants,omitempty"`
	// DAGEdges dependencies of a --dag run were checked; OrderViolations of them had the child
	// start before its parent finished (or run after it failed), OrderExample tells of one.
	DAGEdges        int    `json:"dag_edges,omitempty"`
	OrderViolations int    `json:"order_violations,omitempty"`
	OrderExample    string `json:"order_example,omitempty"`
}

// ErrLost is returned by Run (with the report) when an acknowledged job was lost.
var ErrLost = errors.New("acknowledged jobs were lost")

// ErrUnaccounted is returned by Run (with the report) when a job's attempts do not add up.
var ErrUnaccounted = errors.New("jobs ran more often than their failures and interruptions explain")

// ErrUniqueBroken is returned by Run (with the report) when a unique key raced across the
// nodes made more than one job.
var ErrUniqueBroken = errors.New("a unique key made more than one job across the nodes")

// ErrOrder is returned by Run (with the report) when a job of a --dag run started before one
// of its parents finished.
var ErrOrder = errors.New("a job started before its parents finished")

// ErrOptions marks an error in the Options (the command line): nothing was run.
var ErrOptions = errors.New("bad tester options")

func (o *Options) defaults() error {
	if err := o.check(); err != nil {
		return fmt.Errorf("%w: %w", ErrOptions, err)
	}
	if o.Jobs == 0 && o.Backlog == 0 {
		o.Jobs = 10_000
	}
	if o.DAGSize > 0 {
		o.Batch = o.DAGSize
	}
	if o.Batch <= 0 {
		o.Batch = 1
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 16
	}
	if o.Workers <= 0 {
		o.Workers = 100
	}
	if len(o.Categories) == 0 {
		o.Categories = []CategoryWeight{{Name: jobsched.DefaultCategory, Weight: 1}}
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 3
	}
	if o.Deadline <= 0 {
		o.Deadline = 2 * time.Minute
	}
	if o.Store != "" && o.Nodes == 0 {
		o.Nodes = 1
	}
	if o.Lease <= 0 {
		o.Lease = 15 * time.Second
	}
	if o.ChaosEvery <= 0 {
		o.ChaosEvery = 3 * time.Second
	}
	if o.Seed == 0 {
		o.Seed = rand.Uint64()
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	return nil
}

// check reports the first thing wrong with the options.
func (o *Options) check() error {
	switch {
	case o.FailRate < 0 || o.FailRate > 1 || o.PanicRate < 0 || o.PanicRate+o.FailRate > 1:
		return fmt.Errorf("--fail-rate and --panic-rate must be within 0..1 together")
	case o.Nodes < 0:
		return fmt.Errorf("--nodes must not be negative, got %d", o.Nodes)
	case o.Store != "" && !strings.HasPrefix(o.Store, "postgres://") && !strings.HasPrefix(o.Store, "postgresql://"):
		return fmt.Errorf("--store: want a postgres:// DSN, got %q", o.Store)
	case o.clustered() && (o.Embedded || o.Addr != ""):
		return fmt.Errorf("--nodes and --store spawn their daemons: not with --embedded or --addr")
	case o.UniqueKeys < 0 || (o.UniqueKeys > 0 && !o.clustered()):
		return fmt.Errorf("--unique-keys: want a number ≥ 0, with --nodes; got %d", o.UniqueKeys)
	case o.clustered() && o.Backlog > 0:
		return fmt.Errorf("--backlog is not supported with --nodes")
	case o.Lease < 0 || (o.Lease > 0 && o.Lease < time.Second):
		return fmt.Errorf("--lease must be at least 1s, got %s", o.Lease)
	case (o.Embedded || o.Spawn) && !o.clustered() && o.Data == "":
		return fmt.Errorf("--data is needed with --embedded and --spawn")
	case o.Embedded && o.Spawn:
		return fmt.Errorf("--embedded and --spawn exclude each other")
	case !o.Embedded && !o.Spawn && !o.clustered() && o.Addr == "":
		return fmt.Errorf("give --addr, --embedded or --spawn")
	case o.Jobs < 0:
		return fmt.Errorf("--jobs must not be negative, got %d", o.Jobs)
	case o.Backlog < 0:
		return fmt.Errorf("--backlog must not be negative, got %d", o.Backlog)
	case o.Tenants < 0 || o.Tenants > maxTenants:
		return fmt.Errorf("--tenants: want 0..%d, got %d", maxTenants, o.Tenants)
	case o.Skew < 0 || math.IsNaN(o.Skew) || math.IsInf(o.Skew, 0):
		return fmt.Errorf("--skew must be a number ≥ 0, got %g", o.Skew)
	case o.DaemonCPUProfile != "" && !o.Spawn && !o.clustered():
		return fmt.Errorf("--daemon-cpuprofile needs --spawn or --nodes: the tester passes it to the daemons it starts")
	case o.Backlog > 0 && !o.Embedded && !o.Spawn:
		return fmt.Errorf("--backlog needs --embedded or --spawn: the tester fills the store before the scheduler starts")
	}
	if _, err := o.chaosKinds(); err != nil {
		return err
	}
	return o.checkDAG()
}

// clustered says whether the run spawns a cluster on PostgreSQL.
func (o *Options) clustered() bool { return o.Nodes > 0 || o.Store != "" }

// chaosKinds parses Chaos ("kill", "stop", "kill,stop") against the target.
func (o *Options) chaosKinds() ([]string, error) {
	if o.Chaos == "" {
		return nil, nil
	}
	var kinds []string
	for _, k := range strings.Split(o.Chaos, ",") {
		switch k = strings.TrimSpace(k); {
		case k == "kill" && (o.Spawn || o.clustered()):
		case k == "kill":
			return nil, fmt.Errorf("--chaos kill needs --spawn or --nodes: the tester must own the daemons to kill them")
		case k == "stop" && o.clustered():
		case k == "stop":
			return nil, fmt.Errorf("--chaos stop needs --nodes: a stopped node's jobs are rescued by the others")
		default:
			return nil, fmt.Errorf("--chaos: want kill and/or stop, got %q", k)
		}
		kinds = append(kinds, k)
	}
	return kinds, nil
}

// Run runs the load and checks it. It returns the report, and ErrLost if any acknowledged job
// was lost.
func Run(ctx context.Context, o Options) (*Report, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	rep := &Report{Backlog: o.Backlog}
	if o.Backlog > 0 {
		if err := prefill(ctx, o); err != nil {
			return nil, err
		}
	}
	var t target
	switch {
	case o.clustered():
		c, err := newCluster(ctx, o)
		if err != nil {
			return nil, err
		}
		t, rep.Target = c, fmt.Sprintf("%d spawned nodes on PostgreSQL", o.Nodes)
		if kinds, _ := o.chaosKinds(); len(kinds) > 0 {
			c.chaos(ctx, kinds, o.ChaosEvery, o.Seed)
		}
	case o.Embedded:
		e, err := newEmbedded(ctx, o)
		if err != nil {
			return nil, err
		}
		t, rep.Target = e, "embedded"
	case o.Spawn:
		r := newRemote(o)
		if err := r.spawn(ctx); err != nil {
			return nil, err
		}
		t, rep.Target = r, "spawned daemon"
		if o.Chaos == "kill" {
			r.chaos(ctx, o.ChaosEvery, o.Seed, o.Logf)
		}
	default:
		t, rep.Target = newRemote(o), "daemon at "+o.Addr
	}
	rep.StartupS = t.startup().Seconds()
	rss := sampleRss(t.pid(), 50*time.Millisecond)
	rep.RssAnonStartMiB = mib(rss.peak.Load())
	var stats0 persistence.Stats
	if e, ok := t.(*embedded); ok {
		stats0 = e.s.StoreStats()
	}
	began := time.Now()
	tenants := map[string]int{}
	var uniq sync.WaitGroup
	var uniqErr error
	if c, ok := t.(*cluster); ok && o.UniqueKeys > 0 {
		uniq.Add(1)
		go func() {
			defer uniq.Done()
			rep.UniqueKeys, rep.UniqueViolations, uniqErr = c.uniqueRace(ctx, o.UniqueKeys)
		}()
	}
	acked, enqueueDur, err := enqueueAll(ctx, t, o, tenants)
	uniq.Wait()
	if err == nil && uniqErr != nil {
		err = uniqErr
	}
	if err != nil {
		rss.stop()
		_ = t.close(context.Background())
		return nil, err
	}
	rep.Enqueued = acked.len()
	if acked.len() > 0 {
		rep.EnqueuePerS = float64(acked.len()) / enqueueDur.Seconds()
	}

	// Wait for the backlog to drain (or the deadline); then stop the chaos and wait again, so the
	// check reads a daemon that stays up.
	drained, left := waitDrained(ctx, t, o, acked.len()+o.Backlog, o.Deadline)
	if r, ok := t.(*remote); ok && r.stopped != nil {
		rep.Kills = r.stopChaos()
		drained, left = waitDrained(ctx, t, o, acked.len()+o.Backlog, o.Deadline)
	}
	if c, ok := t.(*cluster); ok {
		if c.stopped != nil {
			c.stopChaos()
			drained, left = waitDrained(ctx, t, o, acked.len(), o.Deadline)
		}
		c.finalFigures(ctx, rep)
	}
	rep.RssAnonMaxMiB = rss.stop()
	if e, ok := t.(*embedded); ok {
		st := e.s.StoreStats()
		rep.StoreCommits, rep.StoreSyncs, rep.StoreWrites = st.Commits-stats0.Commits, st.Syncs-stats0.Syncs, st.Writes-stats0.Writes
		rep.StoreKeys = st.Keys - stats0.Keys
	}
	var order dagOrder
	if o.DAGSize > 0 {
		order = dagOrder{}
	}
	if err := check(ctx, t, acked, tenants, o.Tenants, order, rep); err != nil {
		_ = t.close(context.Background())
		return nil, err
	}
	if c, ok := t.(*cluster); ok {
		c.faultsMu.Lock()
		rep.Faults = faultFigures(c.faults, rep.losses, began)
		c.faultsMu.Unlock()
	}
	if o.Backlog > 0 {
		if left > rep.Lost {
			rep.BacklogUnfinished = left - rep.Lost // the acknowledged ones left are counted as lost
		}
		rep.CompletePerS = drainRate(o.Backlog-left+rep.Succeeded+rep.Dead+rep.Cancelled, began, drained, t)
	}
	rep.ElapsedS = time.Since(began).Seconds()
	closeCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := t.close(closeCtx); err != nil {
		return rep, err
	}
	if rep.Lost > 0 {
		return rep, fmt.Errorf("%d of %d: %w", rep.Lost, rep.Enqueued, ErrLost)
	}
	if rep.OrderViolations > 0 {
		return rep, fmt.Errorf("%d of %d dependencies (%s): %w", rep.OrderViolations, rep.DAGEdges, rep.OrderExample, ErrOrder)
	}
	if rep.BacklogUnfinished > 0 {
		return rep, fmt.Errorf("%d of the backlog of %d unfinished at the deadline: %w", rep.BacklogUnfinished, rep.Backlog, ErrLost)
	}
	if rep.Unaccounted > 0 {
		return rep, fmt.Errorf("%d of %d: %w", rep.Unaccounted, rep.Enqueued, ErrUnaccounted)
	}
	if rep.UniqueViolations > 0 {
		return rep, fmt.Errorf("%d of %d keys: %w", rep.UniqueViolations, rep.UniqueKeys, ErrUniqueBroken)
	}
	return rep, nil
}

// enqueueAll offers the jobs from o.Concurrency clients and returns the acknowledged ids; with
// o.Tenants it notes each job's tenant in tenants.
func enqueueAll(ctx context.Context, t target, o Options, tenants map[string]int) (*ackSet, time.Duration, error) {
	var shares []float64
	if o.Tenants > 0 {
		shares = tenantShares(o.Tenants, o.Skew)
	}
	var limiter *rate.Limiter
	if o.Rate > 0 {
		limiter = rate.NewLimiter(rate.Limit(o.Rate), max(o.Batch, 1))
	}
	var next atomic.Int64
	var mu sync.Mutex
	acked := newAckSet(o.Jobs)
	bar := newBar(o, "enqueue")
	errc := make(chan error, o.Concurrency)
	began := time.Now()
	var wg sync.WaitGroup
	for c := 0; c < o.Concurrency; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				first := int(next.Add(int64(o.Batch))) - o.Batch
				if first >= o.Jobs || ctx.Err() != nil {
					return
				}
				n := min(o.Batch, o.Jobs-first)
				specs := makeSpecs(o, first, n)
				if o.DAGSize > 0 {
					dagShaped(specs, o.Seed, first, o.DAGDepth, o.DAGShape)
				}
				for i := range specs {
					if shares != nil && !o.NoFairness {
						specs[i].FairnessKey = TenantName(tenantOf(shares, o.Seed, first+i))
					}
				}
				if limiter != nil {
					if err := limiter.WaitN(ctx, n); err != nil {
						return
					}
				}
				for {
					ids, err := t.enqueue(ctx, specs)
					if err == nil {
						mu.Lock()
						for i, id := range ids {
							acked.add(id)
							if shares != nil {
								tenants[id] = tenantOf(shares, o.Seed, first+i)
							}
						}
						mu.Unlock()
						bar.add(n)
						break
					}
					if ctx.Err() != nil {
						return
					}
					if !retryable(err) && !errors.Is(err, jobsched.ErrQueueFull) {
						errc <- fmt.Errorf("enqueue: %w", err)
						return
					}
					time.Sleep(20 * time.Millisecond) // the daemon is restarting, or the queue is full
				}
			}
		}()
	}
	wg.Wait()
	bar.finish()
	close(errc)
	if err := <-errc; err != nil {
		return nil, 0, err
	}
	return acked, time.Since(began), ctx.Err()
}

// makeSpecs builds jobs first..first+n-1; the same seed gives the same jobs.
func makeSpecs(o Options, first, n int) []jobsched.JobSpec {
	specs := make([]jobsched.JobSpec, n)
	for i := range specs {
		r := rand.New(rand.NewPCG(o.Seed, uint64(first+i)))
		args := sleepArgs(o.Duration.draw(r), o.FailRate, o.PanicRate, o.Seed+uint64(first+i)+1)
		specs[i] = jobsched.JobSpec{Kind: "sleep", Category: pick(o.Categories, r), Args: args, MaxAttempts: o.MaxAttempts}
	}
	return specs
}

// sleepArgs writes the sleep kind's args by hand: json.Marshal of a map cost the tester ~2.4% of
// the CPU of a burst it shares with the scheduler it measures.
func sleepArgs(ms, failRate, panicRate float64, seed uint64) json.RawMessage {
	b := make([]byte, 0, 80)
	b = append(b, `{"fail_rate":`...)
	b = strconv.AppendFloat(b, failRate, 'g', -1, 64)
	b = append(b, `,"ms":`...)
	b = strconv.AppendFloat(b, ms, 'g', -1, 64)
	b = append(b, `,"panic_rate":`...)
	b = strconv.AppendFloat(b, panicRate, 'g', -1, 64)
	b = append(b, `,"seed":`...)
	b = strconv.AppendUint(b, seed, 10)
	return append(b, '}')
}

// waitDrained polls until nothing is unfinished (with every job enqueued) or the deadline. It
// returns when it saw the queue empty, and how many jobs were left unfinished (-1: unknown).
func waitDrained(ctx context.Context, t target, o Options, total int, deadline time.Duration) (time.Time, int) {
	bar := newBar(o, "finish")
	bar.total = total
	defer bar.finish()
	end := time.Now().Add(deadline)
	done, left := 0, -1
	every := 10 * time.Millisecond
	if o.clustered() {
		// A count of the cluster's unfinished jobs is a query on the PostgreSQL the nodes work
		// on: polled every 10 ms it took a good part of the database's CPU from the run it
		// measures. The rate is read from the jobs' own timestamps, not from this poll.
		every = 100 * time.Millisecond
	}
	for time.Now().Before(end) && ctx.Err() == nil {
		n, err := t.unfinished(ctx)
		if err == nil {
			left = n
			if d := total - n; d > done {
				bar.add(d - done)
				done = d
			}
			if n == 0 {
				return time.Now(), 0
			}
		}
		time.Sleep(every)
	}
	return time.Now(), left
}

// drainRate is the completion rate of a run with a backlog: the jobs finished from the moment
// the workers could start (began, the end of the start-up) to the last finish (embedded: told
// by the Observer; a daemon: when the poll saw the queue empty).
func drainRate(finished int, began, drained time.Time, t target) float64 {
	end := drained
	if e, ok := t.(*embedded); ok && !e.fin.lastAt().IsZero() {
		end = e.fin.lastAt()
	}
	if d := end.Sub(began).Seconds(); d > 0 && finished > 0 {
		return float64(finished) / d
	}
	return 0
}

// check reads every job and compares it with what was acknowledged.
// tenants (of nTenants) gives each job's tenant in a --tenants run; order, if not nil, gathers
// the jobs of a --dag run for the order check.
func check(ctx context.Context, t target, acked *ackSet, tenants map[string]int, nTenants int, order dagOrder, rep *Report) error {
	perTenant := newTenantHists(nTenants)
	start := hdrhistogram.New(1, 10*60*1000*1000, 3) // µs, up to 10 minutes
	finish := hdrhistogram.New(1, 60*60*1000*1000, 3)
	seen := 0
	var firstCreated, lastFinished time.Time
	err := t.scan(ctx, func(j *jobsched.Job) bool {
		if !acked.has(j.ID) {
			return true
		}
		seen++
		acked.remove(j.ID)
		if order != nil {
			order.add(j)
		}
		switch j.State {
		case jobsched.StateSucceeded:
			rep.Succeeded++
		case jobsched.StateDead:
			rep.Dead++
		case jobsched.StateCancelled:
			rep.Cancelled++
		default:
			rep.Lost++ // acknowledged, not finished within the deadline
			rep.Stranded++
			rep.LostIDs = append(rep.LostIDs, j.ID)
			return true
		}
		for _, e := range j.Errors {
			if strings.HasPrefix(e.Error, "interrupted") {
				rep.Duplicates++ // it ran again after the process died under it
				break
			}
		}
		if l := leaseLosses(j); len(l) > 0 {
			rep.Rescued++
			rep.losses = append(rep.losses, l...)
		}
		if !attemptsAccounted(j) {
			rep.Unaccounted++
			if len(rep.UnaccountedIDs) < 20 {
				rep.UnaccountedIDs = append(rep.UnaccountedIDs, j.ID)
			}
		}
		if firstCreated.IsZero() || j.CreatedAt.Before(firstCreated) {
			firstCreated = j.CreatedAt
		}
		if j.FinishedAt != nil {
			if j.FinishedAt.After(lastFinished) {
				lastFinished = *j.FinishedAt
			}
			_ = finish.RecordValue(max(j.FinishedAt.Sub(j.CreatedAt).Microseconds(), 1))
		}
		if j.Attempt == 1 && j.StartedAt != nil {
			_ = start.RecordValue(max(j.StartedAt.Sub(j.CreatedAt).Microseconds(), 1))
			if tn, ok := tenants[j.ID]; ok {
				perTenant.record(tn, j.StartedAt.Sub(j.CreatedAt).Microseconds())
			}
		}
		return acked.len() > 0
	})
	if err != nil {
		return fmt.Errorf("check: %w", err)
	}
	acked.each(func(id string) {
		rep.Lost++ // acknowledged, and not in the store at all
		rep.LostIDs = append(rep.LostIDs, id)
	})
	if len(rep.LostIDs) > 20 {
		rep.LostIDs = rep.LostIDs[:20]
	}
	if !lastFinished.IsZero() {
		rep.CompletePerS = float64(rep.Succeeded+rep.Dead+rep.Cancelled) / lastFinished.Sub(firstCreated).Seconds()
	}
	rep.StartLatencyMS = percentiles(start)
	rep.FinishLatencyMS = percentiles(finish)
	rep.Tenants = perTenant.report()
	if order != nil {
		rep.DAGEdges, rep.OrderViolations, rep.OrderExample = order.check()
	}
	return nil
}

func percentiles(h *hdrhistogram.Histogram) Percentiles {
	ms := func(us int64) float64 { return float64(us) / 1000 }
	return Percentiles{P50: ms(h.ValueAtQuantile(50)), P90: ms(h.ValueAtQuantile(90)),
		P99: ms(h.ValueAtQuantile(99)), Max: ms(h.Max())}
}

// Text writes the report for a person.
func (r *Report) Text(w io.Writer) {
	fmt.Fprintf(w, "target      %s\n", r.Target)
	fmt.Fprintf(w, "enqueued    %d  (%.0f/s)\n", r.Enqueued, r.EnqueuePerS)
	fmt.Fprintf(w, "finished    succeeded %d, dead %d, cancelled %d  (%.0f/s)\n", r.Succeeded, r.Dead, r.Cancelled, r.CompletePerS)
	fmt.Fprintf(w, "lost        %d  (stranded %d: stored, not finished)\n", r.Lost, r.Stranded)
	fmt.Fprintf(w, "duplicates  %d  (ran again after a crash or a rescue)\n", r.Duplicates)
	fmt.Fprintf(w, "attempts    %d jobs whose attempts do not add up\n", r.Unaccounted)
	if r.Kills > 0 || r.Stops > 0 {
		fmt.Fprintf(w, "chaos       %d kills (SIGKILL), %d stops (SIGSTOP)\n", r.Kills, r.Stops)
	}
	if r.Nodes > 0 {
		fmt.Fprintf(w, "cluster     %d nodes (%d listed at the end), enqueues %v\n", r.Nodes, r.ClusterMembers, r.EnqueuedPerNode)
		fmt.Fprintf(w, "rescued     %d jobs (an attempt cut off by a lost lease; the nodes counted %d rescues)\n", r.Rescued, r.RescuedByMetrics)
		fmt.Fprintf(w, "fenced      %d late writes refused\n", r.FencedWrites)
	}
	if r.UniqueKeys > 0 {
		fmt.Fprintf(w, "unique      %d keys raced across the nodes, %d made more than one job\n", r.UniqueKeys, r.UniqueViolations)
	}
	for _, f := range r.Faults {
		fmt.Fprintf(w, "fault       %s %s at %.1f s: %d running jobs rescued after %.2f s, running again after %.2f s\n",
			f.Kind, f.Node, f.AtS, f.Jobs, f.RescueS, f.RunningS)
	}
	p := func(name string, q Percentiles) {
		fmt.Fprintf(w, "%s p50 %.2f ms  p90 %.2f ms  p99 %.2f ms  max %.2f ms\n", name, q.P50, q.P90, q.P99, q.Max)
	}
	p("enqueue→start ", r.StartLatencyMS)
	p("enqueue→finish", r.FinishLatencyMS)
	for i, tl := range r.Tenants {
		if i == maxTenantLines {
			fmt.Fprintf(w, "tenant ...   %d more tenants (--json lists them all)\n", len(r.Tenants)-i)
			break
		}
		q := tl.StartLatencyMS
		fmt.Fprintf(w, "tenant %-6s %7d jobs  enqueue→start p50 %.2f ms  p99 %.2f ms\n", tl.Tenant, tl.Jobs, q.P50, q.P99)
	}
	if r.DAGEdges > 0 {
		fmt.Fprintf(w, "order       %d dependencies checked, %d violated\n", r.DAGEdges, r.OrderViolations)
	}
	if r.Backlog > 0 {
		fmt.Fprintf(w, "backlog     %d queued before the start, %d unfinished at the end\n", r.Backlog, r.BacklogUnfinished)
	}
	if r.StoreCommits > 0 {
		fmt.Fprintf(w, "store       %d commits, %d syncs, %d write requests, %d keys\n", r.StoreCommits, r.StoreSyncs, r.StoreWrites, r.StoreKeys)
	}
	if r.StartupS > 0 {
		fmt.Fprintf(w, "start-up    %.3f s\n", r.StartupS)
	}
	if r.RssAnonMaxMiB > 0 {
		fmt.Fprintf(w, "RssAnon     %.0f MiB after start-up, %.0f MiB peak\n", r.RssAnonStartMiB, r.RssAnonMaxMiB)
	}
	fmt.Fprintf(w, "elapsed     %.1f s\n", r.ElapsedS)
}

// bar is a progress bar on a terminal, or a line every second otherwise.
type bar struct {
	pb    *progressbar.ProgressBar
	w     io.Writer
	name  string
	n     atomic.Int64
	total int
	last  atomic.Int64
}

func newBar(o Options, name string) *bar {
	b := &bar{w: o.Progress, name: name, total: o.Jobs}
	if o.Progress != nil && o.Interactive {
		b.pb = progressbar.NewOptions(o.Jobs, progressbar.OptionSetWriter(o.Progress), progressbar.OptionSetDescription(name),
			progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionSetItsString("jobs"),
			progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionClearOnFinish())
	}
	return b
}

func (b *bar) add(n int) {
	v := b.n.Add(int64(n))
	switch {
	case b.pb != nil:
		_ = b.pb.Add(n)
	case b.w != nil:
		now := time.Now().Unix()
		if old := b.last.Load(); now > old && b.last.CompareAndSwap(old, now) {
			fmt.Fprintf(b.w, "%s: %d/%d\n", b.name, v, b.total)
		}
	}
}

func (b *bar) finish() {
	if b.pb != nil {
		_ = b.pb.Finish()
	} else if b.w != nil {
		fmt.Fprintf(b.w, "%s: %d/%d done\n", b.name, b.n.Load(), b.total)
	}
}

// keptErrors is how many attempt errors the scheduler keeps on a job (runner.go).
const keptErrors = 16

// attemptsAccounted says whether a finished job ran only as often as its failures and
// interruptions explain: its kept errors are of attempts 1, 2, ... in turn, one each, up to the
// attempt before the last (succeeded) or the last (dead). A job run twice for one attempt, or
// finished twice, breaks the count. Cancelled jobs are not checked (a cancel may end a job
// between attempts).
func attemptsAccounted(j *jobsched.Job) bool {
	var want int
	switch j.State {
	case jobsched.StateSucceeded:
		want = j.Attempt - 1
	case jobsched.StateDead:
		want = j.Attempt
	default:
		return true
	}
	if want > keptErrors {
		return len(j.Errors) == keptErrors // the scheduler keeps the first and the last 8
	}
	if len(j.Errors) != want {
		return false
	}
	for i, e := range j.Errors {
		if e.Attempt != i+1 {
			return false
		}
	}
	return true
}
