package daemon

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jobsched/jobsched"
	"github.com/jobsched/jobsched/internal/httpapi"
	"github.com/jobsched/jobsched/internal/kinds"
	"github.com/jobsched/jobsched/internal/metrics"
	"github.com/jobsched/jobsched/persistence/postgres"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// ErrInsecureListen: a non-loopback address without an auth token.
var ErrInsecureListen = errors.New("refusing to listen on a non-loopback address without auth_token")

// Options are what the serve command adds to the file.
type Options struct {
	Logger *slog.Logger
	// Insecure allows a non-loopback listen address without a token.
	Insecure bool
	// Dashboard serves GET /; nil serves none.
	Dashboard http.Handler
}

// Daemon is a running server.
type Daemon struct {
	cfg   Config
	log   *slog.Logger
	sched *jobsched.Scheduler
	store *postgres.Store          // nil on badger (the scheduler owns that one)
	tp    *sdktrace.TracerProvider // nil: tracing off
	// infoStop ends the goroutine that publishes this node's info (cluster only); infoDone
	// is closed when it has ended.
	infoStop, infoDone chan struct{}
	stopInfo           sync.Once
	srv                *http.Server
	ln                 net.Listener
	done               chan error
}

// Start checks cfg, starts the scheduler (recovery included) and the HTTP server.
func Start(ctx context.Context, cfg Config, opt Options) (*Daemon, error) {
	log := opt.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := checkListen(cfg.Listen, cfg.AuthToken, opt.Insecure); err != nil {
		return nil, err
	}
	sc, err := cfg.SchedulerConfig()
	if err != nil {
		return nil, err
	}
	m := metrics.New()
	sc.Logger, sc.Observer = log, m
	st, err := openStore(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	if st != nil {
		sc.Store = st
	}
	tp, err := startTracing(ctx, cfg.OTel, log)
	if err != nil {
		closeStore(st)
		return nil, err
	}
	if tp != nil {
		sc.TracerProvider = tp
	}
	abort := func() { // undo the above when Start fails
		closeStore(st)
		_ = stopTracing(context.Background(), tp) // nothing to flush: nothing ran
	}
	s, err := jobsched.New(sc)
	if err == nil {
		err = kinds.Register(s, kinds.Options{ExecAllow: cfg.Exec.Allow, ExecEnv: cfg.Exec.Env,
			ExecDirRoots: cfg.Exec.DirRoots, HTTPAllowHosts: cfg.HTTP.AllowHosts})
	}
	if err == nil {
		err = checkPeriodicKinds(sc.Periodic, s.HandledKinds())
	}
	if err != nil {
		abort()
		return nil, err
	}
	m.Attach(s)
	if st != nil {
		m.AttachCluster(func() uint64 { return st.ClusterStats().Fenced }, func() uint64 { return st.ClusterStats().Rescued })
	}
	tlsConfig, err := loadTLS(cfg)
	if err != nil {
		abort()
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		abort()
		return nil, fmt.Errorf("listen: %w", err)
	}
	if tlsConfig == nil && !loopback(cfg.Listen) {
		log.Warn("serving plain HTTP on a non-loopback address: the token and the jobs cross the network in clear; set tls_cert and tls_key, or put a TLS proxy in front",
			slog.String("listen", cfg.Listen))
	}
	d := &Daemon{cfg: cfg, log: log, sched: s, store: st, tp: tp, ln: ln, done: make(chan error, 1), infoStop: make(chan struct{}), infoDone: make(chan struct{})}
	apiOpt := httpapi.Options{AuthToken: cfg.AuthToken, Logger: log, Metrics: m.Handler(),
		Dashboard: opt.Dashboard, ListenAddr: ln.Addr().String(), AllowedHosts: cfg.AllowedHosts, TLS: tlsConfig != nil}
	if st != nil {
		apiOpt.Cluster = d.clusterNodes
	}
	api, err := httpapi.New(s, apiOpt)
	if err != nil {
		_ = ln.Close()
		abort()
		return nil, &jobsched.InvalidError{Field: "allowed_hosts", Reason: err.Error()}
	}
	d.srv = &http.Server{Handler: api, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute,
		WriteTimeout: httpapi.MaxWait + time.Minute, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn), TLSConfig: tlsConfig}
	// Serve at once: /healthz answers and /readyz says "not ready" while recovery runs.
	go func() {
		if tlsConfig != nil {
			d.done <- d.srv.ServeTLS(ln, "", "") // the certificate is in TLSConfig
			return
		}
		d.done <- d.srv.Serve(ln)
	}()
	if err := s.Start(ctx); err != nil {
		_ = d.srv.Close()
		<-d.done
		abort()
		return nil, err
	}
	if st != nil {
		go func() {
			defer close(d.infoDone)
			d.publishInfo(d.infoStop)
		}()
	} else {
		close(d.infoDone)
	}
	log.Info(servingMsg, slog.String("listen", ln.Addr().String()), slog.String("data", cfg.Data), slog.Bool("tls", tlsConfig != nil))
	return d, nil
}

// servingMsg starts the log line that says where the daemon listens; ServingAddr reads it.
const servingMsg = "jobsched serving"

var servingRE = regexp.MustCompile(`msg="` + servingMsg + `" listen=(\S+)`)

// ServingAddr finds the listen address in the daemon's "jobsched serving" log line (text
// format), for programs that start the daemon on port 0 and must learn its port: the tester's
// --spawn and the tests.
func ServingAddr(line string) (string, bool) {
	m := servingRE.FindStringSubmatch(line)
	if m == nil {
		return "", false
	}
	return m[1], true
}

// Addr is the address the server listens on.
func (d *Daemon) Addr() string { return d.ln.Addr().String() }

// Scheduler is the daemon's scheduler.
func (d *Daemon) Scheduler() *jobsched.Scheduler { return d.sched }

// Done is closed with the server's error when it stops serving on its own.
func (d *Daemon) Done() <-chan error { return d.done }

// Shutdown drains: the scheduler stops taking jobs (enqueue answers 503, /readyz "not ready"),
// running jobs get until ctx ends (the shutdown grace), the HTTP server closes its connections
// (waiting streams included), and the store closes.
func (d *Daemon) Shutdown(ctx context.Context) error {
	d.log.Info("jobsched draining")
	d.stopInfo.Do(func() { close(d.infoStop) })
	<-d.infoDone
	closeErr := d.sched.Close(ctx)
	hctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := d.srv.Shutdown(hctx); err != nil {
		_ = d.srv.Close()
	}
	if d.store != nil {
		if err := d.store.Close(); err != nil && closeErr == nil {
			closeErr = err
		}
	}
	// The last spans (the drain's attempts) are sent before the daemon ends.
	tctx, cancelT := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancelT()
	if err := stopTracing(tctx, d.tp); err != nil {
		d.log.Warn("otel: flush spans at shutdown", slog.Any("err", err))
	}
	return closeErr
}

// openStore opens the PostgreSQL store when the config names one (nil for badger, which the
// scheduler opens itself).
func openStore(ctx context.Context, cfg Config, log *slog.Logger) (*postgres.Store, error) {
	if !cfg.Postgres() {
		return nil, nil
	}
	st, err := postgres.Open(ctx, postgres.Options{DSN: cfg.Store, Node: cfg.Node, Lease: time.Duration(cfg.Lease),
		Retention: retention(cfg), Logger: log})
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	return st, nil
}

// retention is the config's retention with the scheduler's default.
func retention(cfg Config) time.Duration {
	if cfg.Retention == 0 {
		return jobsched.DefaultRetention
	}
	return time.Duration(cfg.Retention)
}

func closeStore(st *postgres.Store) {
	if st != nil {
		_ = st.Close() // an error of a store we give up on at start has no one to go to
	}
}

func checkListen(addr, token string, insecure bool) error {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return &jobsched.InvalidError{Field: "listen", Reason: err.Error()}
	}
	if token != "" || insecure || loopback(addr) {
		return nil
	}
	return fmt.Errorf("%w (%s): set auth_token, or pass --insecure-listen", ErrInsecureListen, addr)
}

// checkPeriodicKinds refuses at start a periodic job whose kind has no handler: it could never
// run, and every tick would be refused.
func checkPeriodicKinds(periodic []jobsched.PeriodicJob, handled []string) error {
	for i, p := range periodic {
		if !slices.Contains(handled, p.Kind) {
			return &jobsched.InvalidError{Field: fmt.Sprintf("periodic[%d].kind", i),
				Reason: fmt.Sprintf("no handler for kind %q (the daemon has %s)", p.Kind, strings.Join(handled, ", "))}
		}
	}
	return nil
}

// loopback reports whether a listen address is on loopback only.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// loadTLS reads tls_cert and tls_key; nil when TLS is off.
func loadTLS(cfg Config) (*tls.Config, error) {
	if cfg.TLSCert == "" && cfg.TLSKey == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
	if err != nil {
		return nil, &jobsched.InvalidError{Field: "tls_cert", Reason: err.Error()}
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}
