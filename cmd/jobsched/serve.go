package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/jobsched/jobsched/internal/daemon"
	"github.com/jobsched/jobsched/internal/dashboard"
	"github.com/spf13/cobra"
)

func newServe() *cobra.Command {
	var (
		configFile, listen, data, token, logLevel string
		store, node                               string
		lease                                     time.Duration
		workers                                   int
		insecure                                  bool
		allowedHosts                              []string
		tlsCert, tlsKey                           string
		cpuProfile                                string
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the daemon",
		Long: `Run the jobsched daemon: the scheduler on an embedded badger store, its HTTP API, the
dashboard at / and Prometheus metrics at /metrics.

With --store postgres://... several daemons share one PostgreSQL database: each runs its own
tree, and leases, fencing and claims in the database keep them correct (docs/cluster.md).

With no arguments it keeps its data in ./jobsched-data and listens on 127.0.0.1:7420 with one
category, "default". --config reads a YAML file (docs/operations.md gives every key); flags
override the file. An unknown key or a bad value is an error naming it.

The auth token can also come from the JOBSCHED_AUTH_TOKEN environment variable. A non-loopback
--listen needs a token, or --insecure-listen.

The API answers only requests whose Host is the listen address, localhost, 127.0.0.1 or [::1]
with the listen port, or an --allowed-host (DNS rebinding); it refuses changes from a page of
another origin, and bodies that are not application/json (docs/operations.md, "Security").

SIGTERM or SIGINT drains: new jobs are refused (503), /readyz turns "not ready", running jobs get
shutdown_grace to finish, then are cancelled and kept for the next start; the exit code is 0.
A second signal exits at once.

SIGHUP reads the configuration file again and applies its categories, kinds and periodic jobs
without a restart, logging each change ("reload: ..."); a bad file is refused, the error naming
the key, and the running configuration stays as it was. Other keys take effect at the next start.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			// load reads the file and lays the flags over it; SIGHUP calls it again.
			load := func() (daemon.Config, error) {
				cfg := daemon.Defaults()
				if configFile != "" {
					var err error
					if cfg, err = daemon.LoadFile(configFile); err != nil {
						return cfg, err
					}
				}
				cfg = overrideFlags(cmd, cfg, listen, data, token, workers, tlsCert, tlsKey, allowedHosts)
				if cmd.Flags().Changed("store") {
					cfg.Store = store
				}
				if cmd.Flags().Changed("node") {
					cfg.Node = node
				}
				if cmd.Flags().Changed("lease") {
					cfg.Lease = daemon.Duration(lease)
				}
				return cfg, nil
			}
			cfg, err := load()
			if err != nil {
				return usageError{err}
			}
			level, err := parseLevel(logLevel)
			if err != nil {
				return usageError{err}
			}
			log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
			if cpuProfile != "" {
				stop, err := startCPUProfile(cpuProfile)
				if err != nil {
					return err
				}
				defer stop(log)
			}
			return serve(cfg, daemon.Options{Logger: log, Insecure: insecure, Dashboard: dashboard.Handler()}, load)
		},
	}
	f := cmd.Flags()
	f.StringVar(&configFile, "config", "", "YAML configuration file")
	f.StringVar(&listen, "listen", daemon.DefaultListen, "address to listen on")
	f.StringVar(&data, "data", daemon.DefaultData, "badger data directory")
	f.StringVar(&token, "auth-token", "", "require this bearer token on the API (or JOBSCHED_AUTH_TOKEN)")
	f.IntVar(&workers, "workers", 0, "global worker budget (default 64)")
	f.StringVar(&store, "store", "", "postgres://... to share a PostgreSQL database with other nodes (docs/cluster.md); empty: badger at --data")
	f.StringVar(&node, "node", "", "this node's name in a cluster (default: host name and pid)")
	f.DurationVar(&lease, "lease", 0, "a cluster node silent this long is dead: its running jobs are rescued (default 15s)")
	f.BoolVar(&insecure, "insecure-listen", false, "allow a non-loopback --listen without an auth token")
	f.StringVar(&tlsCert, "tls-cert", "", "serve HTTPS with this PEM certificate (with --tls-key)")
	f.StringVar(&tlsKey, "tls-key", "", "the PEM private key of --tls-cert")
	f.StringSliceVar(&allowedHosts, "allowed-host", nil, "a Host name the API accepts besides the listen address and localhost (repeat, or a comma list; added to allowed_hosts)")
	f.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	f.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the daemon, from its start to its shutdown, to this file (go tool pprof)")
	return cmd
}

// startCPUProfile starts a CPU profile of the process into file; stop ends it (at the daemon's
// shutdown) and closes the file. The profile is not reachable over the API.
func startCPUProfile(file string) (stop func(*slog.Logger), err error) {
	f, err := os.Create(file)
	if err != nil {
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	return func(log *slog.Logger) {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			log.Error("--cpuprofile: close", slog.Any("err", err))
		}
	}, nil
}

// overrideFlags lays the environment and the flags given over the file's configuration.
func overrideFlags(cmd *cobra.Command, cfg daemon.Config, listen, data, token string, workers int, tlsCert, tlsKey string, allowedHosts []string) daemon.Config {
	if env := os.Getenv("JOBSCHED_AUTH_TOKEN"); env != "" && cfg.AuthToken == "" {
		cfg.AuthToken = env
	}
	f := cmd.Flags()
	if f.Changed("listen") {
		cfg.Listen = listen
	}
	if f.Changed("data") {
		cfg.Data = data
	}
	if f.Changed("auth-token") {
		cfg.AuthToken = token
	}
	if f.Changed("workers") {
		cfg.Workers = workers
	}
	if f.Changed("tls-cert") {
		cfg.TLSCert = tlsCert
	}
	if f.Changed("tls-key") {
		cfg.TLSKey = tlsKey
	}
	if f.Changed("allowed-host") {
		cfg.AllowedHosts = append(cfg.AllowedHosts, allowedHosts...)
	}
	return cfg
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.ToUpper(s))); err != nil {
		return l, fmt.Errorf("--log-level: %w", err)
	}
	return l, nil
}

func serve(cfg daemon.Config, opt daemon.Options, load func() (daemon.Config, error)) error {
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sig)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	startCtx, cancelStart := context.WithCancel(context.Background())
	defer cancelStart()
	// A signal during the start aborts it; if the start had got past the point where it can be
	// aborted, the signal is kept for the loop below (the daemon logs "serving" before Start
	// returns, so a signal sent on that line must not be lost).
	early := make(chan os.Signal, 1)
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		select {
		case s := <-sig:
			early <- s
			cancelStart()
		case <-startCtx.Done():
		}
	}()
	if limit := cfg.SoftMemoryLimit(os.Getenv("GOMEMLIMIT")); limit > 0 {
		debug.SetMemoryLimit(limit)
	}
	d, err := daemon.Start(startCtx, cfg, opt)
	cancelStart()
	<-watched
	if err != nil {
		return err
	}
	select {
	case s := <-early:
		sig <- s
	default:
	}
	for serving := true; serving; {
		select {
		case <-hup:
			reload(d, opt.Logger, load)
		case err := <-d.Done():
			return fmt.Errorf("http server: %w", err)
		case <-d.Scheduler().Done():
			// The scheduler stopped on its own (its supervision tree gave up, or its store failed):
			// exit non-zero so that the service manager starts a fresh process.
			ctx, cancel := context.WithTimeout(context.Background(), time.Duration(cfg.ShutdownGrace))
			defer cancel()
			return errors.Join(fmt.Errorf("scheduler stopped: %w", d.Scheduler().Err()), d.Shutdown(ctx))
		case s := <-sig:
			opt.Logger.Info("signal: draining", slog.String("signal", s.String()), slog.Duration("grace", time.Duration(cfg.ShutdownGrace)))
			serving = false
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(cfg.ShutdownGrace))
	defer cancel()
	go func() {
		<-sig
		opt.Logger.Warn("second signal: exiting now")
		os.Exit(1)
	}()
	return d.Shutdown(ctx)
}

// reload reads the configuration again (SIGHUP) and applies it; a bad file is logged, naming
// the key, and changes nothing.
func reload(d *daemon.Daemon, log *slog.Logger, load func() (daemon.Config, error)) {
	log.Info("signal: reloading the configuration", slog.String("signal", "hangup"))
	cfg, err := load()
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_, err = d.Reload(ctx, cfg)
	}
	if err != nil {
		log.Error("reload refused: the running configuration is unchanged", slog.Any("err", err))
	}
}
