package tester

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jobsched/jobsched"
	"github.com/jobsched/jobsched/internal/client"
	"github.com/jobsched/jobsched/internal/daemon"
	"github.com/jobsched/jobsched/internal/kinds"
)

// target is what the tester drives: an embedded scheduler or a daemon over HTTP.
type target interface {
	// enqueue stores the jobs and returns their ids, in order.
	enqueue(ctx context.Context, specs []jobsched.JobSpec) ([]string, error)
	// unfinished is the number of jobs not yet finished (pending, queued, scheduled, retrying, running).
	unfinished(ctx context.Context) (int, error)
	// scan calls fn for every job, newest first, until fn returns false.
	scan(ctx context.Context, fn func(*jobsched.Job) bool) error
	close(ctx context.Context) error
	// startup is how long the scheduler took to start (0 for a daemon the tester did not start).
	startup() time.Duration
	// pid is the scheduler's process (0 for a daemon the tester did not start).
	pid() int
}

// embedded is a scheduler in this process.
type embedded struct {
	s     *jobsched.Scheduler
	fin   *finishes
	start time.Duration
}

func newEmbedded(ctx context.Context, o Options) (*embedded, error) {
	began := time.Now()
	cfg := schedulerConfig(o, storeDir(o))
	fin := &finishes{}
	cfg.Observer = fin
	s, err := jobsched.New(cfg)
	if err != nil {
		return nil, err
	}
	if err := kinds.Register(s, kinds.Options{}); err != nil {
		return nil, err
	}
	if err := s.Start(ctx); err != nil {
		return nil, err
	}
	return &embedded{s: s, fin: fin, start: time.Since(began)}, nil
}

func (e *embedded) startup() time.Duration { return e.start }
func (e *embedded) pid() int               { return os.Getpid() }

func (e *embedded) enqueue(ctx context.Context, specs []jobsched.JobSpec) ([]string, error) {
	if len(specs) == 1 {
		j, err := e.s.Enqueue(ctx, specs[0])
		if err != nil {
			return nil, err
		}
		return []string{j.ID}, nil
	}
	jobs, err := e.s.EnqueueBatch(ctx, specs)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(jobs))
	for i, j := range jobs {
		ids[i] = j.ID
	}
	return ids, nil
}

func (e *embedded) unfinished(context.Context) (int, error) {
	n := 0
	for _, c := range e.s.Categories() {
		n += c.Counts[jobsched.StatePending] + c.Counts[jobsched.StateQueued] + c.Counts[jobsched.StateScheduled] + c.Counts[jobsched.StateRetrying] + c.Counts[jobsched.StateRunning]
	}
	return n, nil
}

func (e *embedded) scan(ctx context.Context, fn func(*jobsched.Job) bool) error {
	cursor := ""
	for {
		jobs, next, err := e.s.List(ctx, jobsched.ListOptions{Limit: 1000, Cursor: cursor})
		if err != nil {
			return err
		}
		for _, j := range jobs {
			if !fn(j) {
				return nil
			}
		}
		if next == "" {
			return nil
		}
		cursor = next
	}
}

func (e *embedded) close(ctx context.Context) error { return e.s.Close(ctx) }

// remote is a daemon over HTTP. With a process (spawn), it can be killed and restarted.
type remote struct {
	mu  sync.RWMutex
	c   *client.Client
	opt Options

	// spawn only
	name    string   // a cluster node's name ("" for the single daemon)
	args    []string // more flags of serve (a cluster node's --store, --node, --lease)
	addr    string   // base URL of the running process
	proc    *exec.Cmd
	exited  chan struct{}
	kills   int
	stopped chan struct{}
	wg      sync.WaitGroup
	start   time.Duration // of the first spawn: process start to serving
}

func newRemote(o Options) *remote {
	c := client.New(o.Addr, o.Token)
	c.SetRootCAs(o.RootCAs)
	return &remote{c: c, opt: o}
}

func (r *remote) client() *client.Client {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.c
}

// retryable says whether an enqueue may be tried again: the daemon is down (chaos) or full.
func retryable(err error) bool {
	var apiErr *client.APIError
	if errors.As(err, &apiErr) {
		return apiErr.Status == 429 || apiErr.Status == 503
	}
	if errors.Is(err, errNoNodeUp) {
		return true
	}
	var netErr net.Error
	return errors.As(err, &netErr) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || strings.Contains(err.Error(), "connection")
}

func (r *remote) enqueue(ctx context.Context, specs []jobsched.JobSpec) ([]string, error) {
	if len(specs) == 1 {
		j, err := r.client().Enqueue(ctx, specs[0], 0)
		if err != nil {
			return nil, err
		}
		return []string{j.ID}, nil
	}
	return r.client().EnqueueBatchIDs(ctx, specs)
}

func (r *remote) startup() time.Duration { return r.start }

func (r *remote) pid() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.proc == nil {
		return 0
	}
	return r.proc.Process.Pid
}

func (r *remote) unfinished(ctx context.Context) (int, error) {
	cats, err := r.client().Categories(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, c := range cats {
		n += c.Pending + c.Queued + c.Scheduled + c.Retrying + c.Running
	}
	return n, nil
}

func (r *remote) scan(ctx context.Context, fn func(*jobsched.Job) bool) error {
	cursor := ""
	for {
		page, err := r.client().List(ctx, jobsched.ListOptions{Limit: 1000, Cursor: cursor})
		if err != nil {
			return err
		}
		for _, j := range page.Jobs {
			if !fn(j) {
				return nil
			}
		}
		if page.NextCursor == "" {
			return nil
		}
		cursor = page.NextCursor
	}
}

// spawn starts the daemon binary on a free loopback port and the data dir, and waits until it
// is ready.
func (r *remote) spawn(ctx context.Context) error {
	cfg := fmt.Sprintf("workers: %d\nshutdown_grace: 10s\ncategories:\n", r.opt.Workers)
	for _, c := range r.opt.Categories {
		cfg += fmt.Sprintf("  - name: %q\n    priority: %d\n    queue_limit: 10000000\n", c.Name, max(1, int(c.Weight)))
	}
	if err := os.MkdirAll(r.opt.Data, 0o700); err != nil {
		return err
	}
	cfgPath := filepath.Join(r.opt.Data, "tester.yaml")
	args := []string{"serve", "--listen", "127.0.0.1:0", "--config", cfgPath}
	if r.name != "" {
		cfgPath = filepath.Join(r.opt.Data, "tester-"+r.name+".yaml")
		args = append([]string{"serve", "--listen", "127.0.0.1:0", "--config", cfgPath}, r.args...)
	} else {
		args = append(args, "--data", storeDir(r.opt))
	}
	if prof := r.opt.DaemonCPUProfile; prof != "" {
		if r.name != "" {
			prof += "." + r.name
		}
		args = append(args, "--cpuprofile", prof)
	}
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return err
	}
	began := time.Now()
	cmd := exec.Command(r.opt.Binary, args...)
	cmd.SysProcAttr = daemonAttr()
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("spawn %s: %w", r.opt.Binary, err)
	}
	addr := make(chan string, 1)
	exited := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if a, ok := daemon.ServingAddr(sc.Text()); ok {
				addr <- a
			}
		}
		_ = cmd.Wait()
		close(exited)
	}()
	select {
	case a := <-addr:
		r.mu.Lock()
		r.addr = "http://" + a
		r.c = client.New(r.addr, r.opt.Token)
		r.proc, r.exited = cmd, exited
		if r.start == 0 {
			r.start = time.Since(began)
		}
		r.mu.Unlock()
		return nil
	case <-exited:
		return fmt.Errorf("the spawned daemon exited before it was ready")
	case <-ctx.Done():
		_ = cmd.Process.Kill()
		return ctx.Err()
	}
}

// chaos kills the daemon with SIGKILL at random moments (around every), restarting it on the
// same data dir, until stop is closed.
func (r *remote) chaos(ctx context.Context, every time.Duration, seed uint64, logf func(string, ...any)) {
	r.stopped = make(chan struct{})
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		rng := rand.New(rand.NewPCG(seed, 99))
		for {
			wait := time.Duration(float64(every) * (0.5 + rng.Float64()))
			select {
			case <-r.stopped:
				return
			case <-time.After(wait):
			}
			r.mu.RLock()
			proc, exited := r.proc, r.exited
			r.mu.RUnlock()
			_ = proc.Process.Signal(syscall.SIGKILL)
			<-exited
			r.kills++
			logf("chaos: killed the daemon with SIGKILL (kill %d); restarting it", r.kills)
			for ctx.Err() == nil {
				if err := r.spawn(ctx); err == nil {
					break
				} else {
					logf("chaos: restart failed: %v; retrying", err)
					time.Sleep(200 * time.Millisecond)
				}
			}
		}
	}()
}

// stopChaos ends the kills (if any) and waits for a restart in progress; it returns the number
// of kills. The daemon is up afterwards.
func (r *remote) stopChaos() int {
	if r.stopped != nil {
		close(r.stopped)
		r.wg.Wait()
		r.stopped = nil
	}
	return r.kills
}

func (r *remote) close(ctx context.Context) error {
	r.stopChaos()
	r.mu.RLock()
	proc, exited := r.proc, r.exited
	r.mu.RUnlock()
	if proc == nil {
		return nil
	}
	_ = proc.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-ctx.Done():
		_ = proc.Process.Kill()
		<-exited
	}
	return nil
}
