package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/jobsched/jobsched/internal/client"
	"github.com/jobsched/jobsched/tester"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

func newTester() *cobra.Command {
	var (
		o          tester.Options
		cats, dur  string
		asJSON     bool
		chaosEvery time.Duration
		cpuProfile string
		spread     int
		caFile     string
	)
	cmd := &cobra.Command{
		Use:   "tester",
		Short: "Drive a scheduler with load, check that nothing is lost, report throughput and latency",
		Long: `The load generator. It enqueues sleep jobs, tracks every acknowledged job until it has
finished, and reports enqueued, succeeded, dead, cancelled, lost (acknowledged but not finished by
the deadline) and duplicates (ran again after a crash), the enqueue and completion rates, and the
latency from enqueue to start and to finish. It exits 1 if any job was lost, or ran more often
than its failures and interruptions explain (its attempts do not add up).

A cluster run (--nodes) reads every job from the database at the end, and reports beside that
the faults injected, the jobs rescued from a node whose lease ran out, the late writes fencing
refused (the nodes' /metrics), the time each fault took to fail over, and the nodes GET
/v1/cluster lists; --unique-keys N races N unique keys across the nodes (exit 1 if one made two
jobs).

Targets:
  --addr URL               a running daemon
  --embedded --data DIR    a scheduler in this process
  --spawn --data DIR       a daemon it starts itself (this binary, a free loopback port)
  --spawn --chaos kill     ... and kills with SIGKILL about every --chaos-every, restarting it
  --nodes N [--store DSN]  N daemons (serve --store --node n1..nN --lease) on one PostgreSQL:
                           the DSN's database, or a server it starts in a temp dir (Debian's
                           postgresql package); enqueues go round the nodes
  --nodes N --chaos kill,stop   ... and, in turn, SIGKILLs a random node (restarting it 1.5
                           leases and a second later) and SIGSTOPs one as long (then SIGCONT)

Examples:
  jobsched tester --embedded --data /tmp/t --jobs 100000 --batch 1000 --workers 100
  jobsched tester --spawn --data /tmp/t --jobs 100000 --batch 100 --chaos kill --chaos-every 3s
  jobsched tester --addr http://127.0.0.1:7420 --rate 500 --jobs 5000 --json
  jobsched tester --nodes 3 --lease 2s --chaos kill,stop --chaos-every 3s --rate 500 --jobs 10000 --unique-keys 50
  jobsched tester --nodes 3 --store postgres://jobsched:secret@127.0.0.1/jobsched --jobs 50000 --batch 100
  jobsched tester --embedded --data /tmp/t --backlog 1000000 --jobs 100000 --batch 1000
  jobsched tester --embedded --data /tmp/t --spread 100 --jobs 100000 --batch 1000
  jobsched tester --embedded --data /tmp/t --tenants 10 --skew 1.5 --jobs 50000 --batch 100
  jobsched tester --embedded --data /tmp/t --dag-size 100 --dag-depth 5 --jobs 50000

With --backlog N, N jobs are queued in the store (every category paused) before the scheduler
the run drives starts: the report then gives its start-up time with them waiting, its RssAnon
(after the start-up and the peak), and the completion rate of the backlog and the run's jobs
together, from the end of the start-up to the last finish.

scripts/bench.sh runs the whole benchmark table of docs/benchmarks.md with this command.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if o.Categories, err = tester.ParseCategories(cats); err != nil {
				return usageError{err}
			}
			if cmd.Flags().Changed("spread") {
				if cmd.Flags().Changed("categories") {
					return usageError{errors.New("--spread and --categories exclude each other")}
				}
				if o.Categories, err = tester.SpreadCategories(spread); err != nil {
					return usageError{err}
				}
			}
			if o.Duration, err = tester.ParseDist(dur); err != nil {
				return usageError{err}
			}
			o.ChaosEvery = chaosEvery
			if o.Spawn || o.Nodes > 0 || o.Store != "" {
				if o.Binary, err = os.Executable(); err != nil {
					return err
				}
			}
			if o.Token == "" {
				o.Token = os.Getenv("JOBSCHED_TOKEN")
			}
			if caFile == "" {
				caFile = os.Getenv("JOBSCHED_CA_FILE")
			}
			if caFile != "" {
				pool, err := client.LoadCA(caFile)
				if err != nil {
					return usageError{fmt.Errorf("--ca-file: %w", err)}
				}
				o.RootCAs = pool
			}
			o.Progress = cmd.ErrOrStderr()
			o.Interactive = term.IsTerminal(int(os.Stderr.Fd()))
			o.Logf = func(f string, a ...any) { fmt.Fprintf(cmd.ErrOrStderr(), f+"\n", a...) }
			if cpuProfile != "" {
				f, err := os.Create(cpuProfile)
				if err != nil {
					return err
				}
				defer f.Close()
				if err := pprof.StartCPUProfile(f); err != nil {
					return err
				}
				defer pprof.StopCPUProfile()
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			rep, err := tester.Run(ctx, o)
			if rep != nil {
				if asJSON {
					if perr := printJSON(cmd.OutOrStdout(), rep); perr != nil {
						return perr
					}
				} else {
					rep.Text(cmd.OutOrStdout())
				}
			}
			if errors.Is(err, tester.ErrOptions) {
				return usageError{err}
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Addr, "addr", "", "a running daemon, e.g. http://127.0.0.1:7420")
	f.StringVar(&o.Token, "token", "", "bearer token of the daemon (or JOBSCHED_TOKEN)")
	f.StringVar(&caFile, "ca-file", "", "PEM file of the CA to trust for an https:// --addr (or JOBSCHED_CA_FILE)")
	f.BoolVar(&o.Embedded, "embedded", false, "run a scheduler in this process on --data")
	f.BoolVar(&o.Spawn, "spawn", false, "start a daemon on --data and stop it at the end")
	f.StringVar(&o.Data, "data", "", "data directory of an embedded or spawned scheduler")
	f.IntVar(&o.Workers, "workers", 100, "worker budget of an embedded or spawned scheduler")
	f.IntVar(&o.Jobs, "jobs", 10000, "jobs to enqueue (0 with --backlog: only drain the backlog)")
	f.IntVar(&o.Backlog, "backlog", 0, "jobs queued in the store before the scheduler starts (--embedded or --spawn)")
	f.IntVar(&o.Tenants, "tenants", 0, "spread the jobs over N tenants (fairness keys t001..tN) and report each one's enqueue→start latency")
	f.Float64Var(&o.Skew, "skew", 1, "with --tenants: tenant i gets a share of the jobs ∝ 1/(i+1)^SKEW (0: equal shares)")
	f.BoolVar(&o.NoFairness, "no-fairness", false, "with --tenants: leave the fairness keys off (the baseline; tenants still reported)")
	f.IntVar(&o.DAGSize, "dag-size", 0, "enqueue the jobs as random DAGs of N jobs, one batch each, and check that none started before its parents finished")
	f.IntVar(&o.DAGDepth, "dag-depth", 4, "with --dag-size: levels of each DAG (2..--dag-size)")
	f.StringVar(&o.DAGShape, "dag-shape", "random", "with --dag-size: random (levels), fan-in (every job of a DAG but the last is a parent of the last) or fan-out (the first is the parent of every other)")
	f.IntVar(&spread, "spread", 1, "spread the jobs evenly over N categories c0001..cN (instead of --categories)")
	f.Float64Var(&o.Rate, "rate", 0, "jobs per second offered (0: as fast as possible)")
	f.IntVar(&o.Batch, "batch", 1, "jobs per enqueue call")
	f.IntVar(&o.Concurrency, "concurrency", 16, "concurrent enqueue clients")
	f.StringVar(&cats, "categories", "default", "categories and their share of the jobs, e.g. a:3,b:1")
	f.StringVar(&dur, "duration-ms", "0", "job duration in ms: a number, or exp:MEAN")
	f.Float64Var(&o.FailRate, "fail-rate", 0, "probability that an attempt fails")
	f.Float64Var(&o.PanicRate, "panic-rate", 0, "probability that an attempt panics (restarts a worker)")
	f.IntVar(&o.MaxAttempts, "max-attempts", 3, "attempts per job")
	f.Uint64Var(&o.Seed, "seed", 0, "random seed (0: random)")
	f.IntVar(&o.Nodes, "nodes", 0, "spawn N daemons on one PostgreSQL (--store, or a server of the tester's own)")
	f.StringVar(&o.Store, "store", "", "postgres:// DSN of the database the --nodes share (default: start a PostgreSQL in a temp dir)")
	f.IntVar(&o.UniqueKeys, "unique-keys", 0, "with --nodes: race N unique keys across the nodes during the run (one job each must exist)")
	f.DurationVar(&o.Lease, "lease", 15*time.Second, "lease of the --nodes (a stop lasts 1.5 leases and a second)")
	f.StringVar(&o.Chaos, "chaos", "", `faults, in turn: "kill" (SIGKILL the spawned daemon or a random node, and restart it), "stop" (--nodes: SIGSTOP a node for longer than its lease); e.g. kill,stop`)
	f.DurationVar(&chaosEvery, "chaos-every", 3*time.Second, "mean time between chaos faults")
	f.DurationVar(&o.Deadline, "deadline", 2*time.Minute, "a job not finished this long after the last enqueue is lost")
	f.BoolVar(&asJSON, "json", false, "print the report as one JSON object")
	f.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the run to this file (go tool pprof)")
	f.StringVar(&o.DaemonCPUProfile, "daemon-cpuprofile", "", "with --spawn or --nodes: the spawned daemon writes a CPU profile to this file (serve --cpuprofile; a node's name is appended)")
	return cmd
}
