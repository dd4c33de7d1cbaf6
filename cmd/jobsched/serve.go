package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
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
A second signal exits at once.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg := daemon.Defaults()
			if configFile != "" {
				var err error
				if cfg, err = daemon.LoadFile(configFile); err != nil {
					return usageError{err}
				}
			}
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
			if f.Changed("store") {
				cfg.Store = store
			}
			if f.Changed("node") {
				cfg.Node = node
			}
			if f.Changed("lease") {
				cfg.Lease = daemon.Duration(lease)
			}
			level, err := parseLevel(logLevel)
			if err != nil {
				return usageError{err}
			}
			log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
			return serve(cfg, daemon.Options{Logger: log, Insecure: insecure, Dashboard: dashboard.Handler()})
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
	return cmd
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.ToUpper(s))); err != nil {
		return l, fmt.Errorf("--log-level: %w", err)
	}
	return l, nil
}

func serve(cfg daemon.Config, opt daemon.Options) error {
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sig)

	startCtx, cancelStart := context.WithCancel(context.Background())
	defer cancelStart()
	go func() {
		select {
		case <-sig:
			cancelStart() // a signal during recovery aborts the start
		case <-startCtx.Done():
		}
	}()
	d, err := daemon.Start(startCtx, cfg, opt)
	cancelStart()
	if err != nil {
		return err
	}
	select {
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
