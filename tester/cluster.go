package tester

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jobsched/jobsched"
	"github.com/jobsched/jobsched/internal/httpapi"
	"github.com/jobsched/jobsched/internal/pgserver"
)

// errNoNodeUp: every node of the cluster is down or stopped at this moment (chaos); the enqueue
// is tried again.
var errNoNodeUp = errors.New("no cluster node is up to take the enqueue")

// cluster is Nodes daemons the tester spawned on one PostgreSQL database (o.Store, or a server
// of its own). Enqueues go round the nodes that are up; the check reads the database.
type cluster struct {
	opt     Options
	dsn     string
	pg      *pgserver.Server // the server the tester started (nil with o.Store)
	tmpData string           // a temp dir for the nodes' config files, removed at close (no o.Data)
	db      *pgxpool.Pool
	nodes   []*clusterNode
	next    atomic.Uint64
	start   time.Duration

	// chaos
	stopped      chan struct{}
	wg           sync.WaitGroup
	kills, stops atomic.Int64
	fenced       atomic.Int64 // fenced writes counted by the nodes killed so far (read just before)
	rescued      atomic.Int64 // rescues counted so
	faultsMu     sync.Mutex
	faults       []fault
}

// clusterNode is one daemon of the cluster.
type clusterNode struct {
	*remote
	up       atomic.Bool // takes enqueues (not killed or stopped by the chaos)
	enqueued atomic.Int64
}

// newCluster starts the database (unless o.Store), applies the schema with `jobsched migrate`
// as docs/cluster.md says, and starts the nodes n1..nN.
func newCluster(ctx context.Context, o Options) (_ *cluster, err error) {
	c := &cluster{opt: o, dsn: o.Store}
	defer func() {
		if err != nil {
			_ = c.close(context.Background()) // the start-up error is the one to report
		}
	}()
	if c.opt.Data == "" {
		if c.tmpData, err = os.MkdirTemp("", "jobsched-tester-"); err != nil {
			return c, err
		}
		c.opt.Data = c.tmpData
	}
	if c.dsn == "" {
		if c.pg, err = pgserver.Start(ctx); err != nil {
			return c, fmt.Errorf("start PostgreSQL (or give --store): %w", err)
		}
		if c.dsn, err = c.pg.NewDatabase(ctx); err != nil {
			return c, err
		}
		o.Logf("cluster: started PostgreSQL on 127.0.0.1:%d", c.pg.Port)
	}
	if out, err := exec.CommandContext(ctx, o.Binary, "migrate", "--store", c.dsn).CombinedOutput(); err != nil {
		return c, fmt.Errorf("jobsched migrate: %w: %s", err, out)
	}
	if c.db, err = pgxpool.New(ctx, c.dsn); err != nil {
		return c, fmt.Errorf("connect to the cluster's database: %w", err)
	}
	began := time.Now()
	for i := range o.Nodes {
		r := newRemote(c.opt)
		r.name = "n" + strconv.Itoa(i+1)
		r.args = []string{"--store", c.dsn, "--node", r.name, "--lease", o.Lease.String()}
		n := &clusterNode{remote: r}
		c.nodes = append(c.nodes, n)
		if err := r.spawn(ctx); err != nil {
			return c, fmt.Errorf("node %s: %w", r.name, err)
		}
		n.up.Store(true)
	}
	c.start = time.Since(began)
	return c, nil
}

func (c *cluster) startup() time.Duration { return c.start }
func (c *cluster) pid() int               { return c.nodes[0].pid() }

// enqueue sends the batch to the next node that is up, and to the following ones while a node
// cannot be reached (it was killed under the request).
func (c *cluster) enqueue(ctx context.Context, specs []jobsched.JobSpec) ([]string, error) {
	k := int(c.next.Add(1))
	err := errNoNodeUp
	for i := range c.nodes {
		n := c.nodes[(k+i)%len(c.nodes)]
		if !n.up.Load() {
			continue
		}
		ids, e := n.enqueue(ctx, specs)
		if e == nil {
			n.enqueued.Add(int64(len(ids)))
			return ids, nil
		}
		if err = e; !retryable(e) {
			return nil, e
		}
	}
	return nil, err
}

// unfinished counts the unfinished jobs in the database (the nodes' counts of the others' jobs
// are up to a second old).
func (c *cluster) unfinished(ctx context.Context) (int, error) {
	var n int
	err := c.db.QueryRow(ctx, `SELECT count(*) FROM jobsched_jobs WHERE state NOT IN ('succeeded', 'dead', 'cancelled')`).Scan(&n)
	return n, err
}

// scan reads every job's record from the database, newest first.
func (c *cluster) scan(ctx context.Context, fn func(*jobsched.Job) bool) error {
	after := "\uffff"
	for {
		// A job is its record with its patch over it, when it has one (the fields a claim or a
		// success wrote in SQL: persistence/postgres, migrations/0008_patch.sql).
		rows, err := c.db.Query(ctx, `SELECT id, record, patch FROM jobsched_jobs WHERE id < $1 ORDER BY id DESC LIMIT 5000`, after)
		if err != nil {
			return err
		}
		var page []*jobsched.Job
		for rows.Next() {
			var rec, patch []byte
			if err := rows.Scan(&after, &rec, &patch); err != nil {
				rows.Close()
				return err
			}
			j := new(jobsched.Job)
			err := json.Unmarshal(rec, j)
			if err == nil && patch != nil {
				err = json.Unmarshal(patch, j)
			}
			if err != nil {
				rows.Close()
				return fmt.Errorf("job %s: %w", after, err)
			}
			page = append(page, j)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, j := range page {
			if !fn(j) {
				return nil
			}
		}
		if len(page) == 0 {
			return nil
		}
	}
}

// chaos injects one fault about every `every` until stopChaos: the kinds in turn ("kill":
// SIGKILL a random node, and start it again under its name 1.5 leases and a second later; "stop": SIGSTOP a random node for
// 1.5 leases and a second, then SIGCONT it). One fault at a time, so the other nodes stay up.
func (c *cluster) chaos(ctx context.Context, kinds []string, every time.Duration, seed uint64) {
	c.stopped = make(chan struct{})
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		rng := rand.New(rand.NewPCG(seed, 99))
		for i := 0; ; i++ {
			wait := time.Duration(float64(every) * (0.5 + rng.Float64()))
			select {
			case <-c.stopped:
				return
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
			n := c.nodes[rng.IntN(len(c.nodes))]
			switch kinds[i%len(kinds)] {
			case "kill":
				c.kill(ctx, n)
			case "stop":
				c.pause(ctx, n)
			}
		}
	}()
}

// kill SIGKILLs node n, leaves it dead for as long as a stop lasts (its lease runs out and the
// survivors rescue its running jobs: the failover), then starts it again under its name (a new
// epoch).
func (c *cluster) kill(ctx context.Context, n *clusterNode) {
	if m, err := n.counters(ctx); err == nil {
		c.fenced.Add(m.fenced) // the process's counters go with it
		c.rescued.Add(m.rescued)
	}
	n.up.Store(false)
	n.mu.RLock()
	proc, exited := n.proc, n.exited
	n.mu.RUnlock()
	_ = proc.Process.Signal(syscall.SIGKILL)
	c.noteFault("kill", n.name)
	<-exited
	c.kills.Add(1)
	c.opt.Logf("chaos: killed node %s with SIGKILL; starting it again in %s", n.name, c.faultLength())
	select {
	case <-ctx.Done():
	case <-time.After(c.faultLength()): // the fault's length is the point: past the lease
	}
	for ctx.Err() == nil {
		err := n.spawn(ctx)
		if err == nil {
			n.up.Store(true)
			return
		}
		c.opt.Logf("chaos: restart of %s failed: %v; retrying", n.name, err)
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond): // a pause before the next try, not an event
		}
	}
}

// pause SIGSTOPs node n for longer than its lease (1.5 leases and a maintenance round), so its
// running jobs are rescued, then SIGCONTs it: its late writes must be refused.
func (c *cluster) pause(ctx context.Context, n *clusterNode) {
	n.up.Store(false)
	proc := n.process()
	if err := proc.Signal(syscall.SIGSTOP); err != nil {
		c.opt.Logf("chaos: SIGSTOP %s: %v", n.name, err)
		n.up.Store(true)
		return
	}
	c.noteFault("stop", n.name)
	c.stops.Add(1)
	d := c.faultLength()
	c.opt.Logf("chaos: stopped node %s with SIGSTOP for %s", n.name, d)
	select {
	case <-ctx.Done():
	case <-time.After(d): // the fault's length is the point: longer than the lease
	}
	_ = proc.Signal(syscall.SIGCONT) // even when cancelled: never leave a node stopped
	n.up.Store(true)
}

// faultLength is how long a node stays stopped or dead: 1.5 leases (the lease counts from the
// last renewal, a third of a lease apart) and a maintenance round.
func (c *cluster) faultLength() time.Duration { return c.opt.Lease*3/2 + time.Second }

func (c *cluster) noteFault(kind, node string) {
	c.faultsMu.Lock()
	defer c.faultsMu.Unlock()
	c.faults = append(c.faults, fault{kind: kind, node: node, at: time.Now()})
}

func (r *remote) process() *os.Process {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.proc.Process
}

// stopChaos ends the faults and waits for the one under way (a stopped node is continued, a
// killed one started again).
func (c *cluster) stopChaos() {
	if c.stopped != nil {
		close(c.stopped)
		c.wg.Wait()
		c.stopped = nil
	}
}

// nodeMetrics are the figures the tester reads from a node's /metrics.
type nodeMetrics struct {
	fenced, rescued int64 // jobsched_cluster_fenced_writes_total, jobsched_cluster_rescued_jobs_total
	busy            int64 // jobsched_workers_busy, over the categories
}

// counters reads the node's fenced writes, rescued jobs and busy workers from its /metrics.
func (n *clusterNode) counters(ctx context.Context) (nodeMetrics, error) {
	var m nodeMetrics
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	n.mu.RLock()
	addr := n.addr
	n.mu.RUnlock()
	resp, err := get(ctx, addr+"/metrics", n.opt.Token)
	if err != nil {
		return m, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		i := strings.LastIndexByte(line, ' ')
		if i < 0 || strings.HasPrefix(line, "#") {
			continue
		}
		name, v := line[:i], line[i+1:]
		if j := strings.IndexByte(name, '{'); j >= 0 {
			name = name[:j]
		}
		switch name {
		case "jobsched_cluster_fenced_writes_total":
			m.fenced, _ = strconv.ParseInt(v, 10, 64)
		case "jobsched_cluster_rescued_jobs_total":
			m.rescued, _ = strconv.ParseInt(v, 10, 64)
		case "jobsched_workers_busy":
			f, _ := strconv.ParseFloat(v, 64)
			m.busy += int64(f)
		}
	}
	return m, sc.Err()
}

// members is the number of nodes GET /v1/cluster lists on node n.
func (n *clusterNode) members(ctx context.Context) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	n.mu.RLock()
	addr := n.addr
	n.mu.RUnlock()
	resp, err := get(ctx, addr+"/v1/cluster", n.opt.Token)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var cl httpapi.ClusterJSON
	if err := json.NewDecoder(resp.Body).Decode(&cl); err != nil {
		return 0, fmt.Errorf("GET /v1/cluster: %w", err)
	}
	return len(cl.Nodes), nil
}

func get(ctx context.Context, url, token string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return resp, nil
}

// finalFigures fills the cluster's part of the report once the chaos has ended and the jobs
// drained: the members listed, faults, fenced writes and rescues counted by the nodes.
func (c *cluster) finalFigures(ctx context.Context, rep *Report) {
	rep.Nodes = len(c.nodes)
	rep.Kills, rep.Stops = int(c.kills.Load()), int(c.stops.Load())
	// A node whose row was removed while it was stopped joins again at its next renewal: wait
	// for every node to be listed.
	deadline := time.Now().Add(3 * c.opt.Lease)
	for {
		m, err := c.nodes[0].members(ctx)
		if err == nil {
			rep.ClusterMembers = m
		}
		if m == len(c.nodes) || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond): // polling the API: no event for a rejoin
		}
	}
	// A continued node's attempts end (their finishes refused) once it runs again, and a write
	// it was frozen in the middle of goes on: with every job final, wait until no worker is busy
	// on any node and no session of the database is inside a transaction, twice in a row, then
	// read the counters.
	var ms []nodeMetrics
	for quiet := 0; ; {
		ms = ms[:0]
		busy := int64(0)
		for _, n := range c.nodes {
			m, err := n.counters(ctx)
			if err != nil {
				c.opt.Logf("cluster: metrics of %s: %v", n.name, err)
			}
			ms = append(ms, m)
			busy += m.busy
		}
		var inTx int
		err := c.db.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
			AND pid <> pg_backend_pid() AND state LIKE 'idle in transaction%'`).Scan(&inTx)
		if quiet = quiet + 1; busy > 0 || inTx > 0 || err != nil {
			quiet = 0
		}
		if quiet == 2 || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond): // polling the metrics: no event for an idle node
		}
	}
	fenced := c.fenced.Load()
	rep.RescuedByMetrics = int(c.rescued.Load())
	rep.EnqueuedPerNode = map[string]int{}
	for i, n := range c.nodes {
		rep.EnqueuedPerNode[n.name] = int(n.enqueued.Load())
		fenced += ms[i].fenced
		rep.RescuedByMetrics += int(ms[i].rescued)
	}
	rep.FencedWrites = int(fenced)
}

// close stops the nodes (SIGTERM, at once on every node), then the database it started.
func (c *cluster) close(ctx context.Context) error {
	c.stopChaos()
	var wg sync.WaitGroup
	for _, n := range c.nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = n.remote.close(ctx)
		}()
	}
	wg.Wait()
	if c.db != nil {
		c.db.Close()
	}
	var err error
	if c.pg != nil {
		err = c.pg.Stop()
	}
	if c.tmpData != "" {
		err = errors.Join(err, os.RemoveAll(c.tmpData))
	}
	return err
}
