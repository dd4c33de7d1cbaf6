package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jobsched/jobsched"
	"github.com/jobsched/jobsched/internal/httpapi"
	"github.com/jobsched/jobsched/internal/pgtest"
	"github.com/stretchr/testify/require"
)

// Three daemons on one PostgreSQL, started as docs/cluster.md says: the schema by `jobsched
// migrate`, then `jobsched serve --store ... --node ...`. Each reads and cancels the others'
// jobs, waits for them (?wait=), and when one is killed (SIGKILL) the job it ran is rescued
// once its lease runs out.
func TestClusterOfThreeDaemons(t *testing.T) {
	dsn := pgtest.DSN(t)
	out, err := exec.Command(binary, "migrate", "--store", dsn).CombinedOutput()
	require.NoError(t, err, string(out))
	require.Contains(t, string(out), "applied 1 jobs")
	out, err = exec.Command(binary, "migrate", "--store", dsn).CombinedOutput()
	require.NoError(t, err, string(out))
	require.Contains(t, string(out), "schema up to date")
	out, err = exec.Command(binary, "migrate", "--store", "/not/a/dsn").CombinedOutput()
	require.Error(t, err)
	require.Contains(t, string(out), "--store")

	const lease = 2 * time.Second
	var nodes []*proc
	for _, name := range []string{"n1", "n2", "n3"} {
		nodes = append(nodes, startDaemon(t, "", "", "--store", dsn, "--node", name, "--lease", lease.String()))
	}
	ctx := context.Background()
	c1, c2, c3 := nodes[0].client(), nodes[1].client(), nodes[2].client()

	// A job enqueued on n1 is seen, and waited for, from n2.
	j, err := c1.Enqueue(ctx, jobsched.JobSpec{Kind: "sleep", Args: json.RawMessage(`{"ms":300}`)}, 0)
	require.NoError(t, err)
	got, err := c2.Get(ctx, j.ID)
	require.NoError(t, err)
	require.Equal(t, j.ID, got.ID)
	waitState(t, c2, j.ID, jobsched.StateSucceeded)

	// A cancel on n3 reaches the job running on n1 within a second.
	long, err := c1.Enqueue(ctx, jobsched.JobSpec{Kind: "sleep", Args: json.RawMessage(`{"ms":60000}`)}, 0)
	require.NoError(t, err)
	waitState(t, c3, long.ID, jobsched.StateRunning)
	asked := time.Now()
	_, err = c3.Cancel(ctx, long.ID)
	require.NoError(t, err)
	waitState(t, c3, long.ID, jobsched.StateCancelled)
	require.Less(t, time.Since(asked), 2*time.Second)

	// Every node lists the cluster: names, addresses, heartbeats, trees.
	var cl httpapi.ClusterJSON
	require.Eventually(t, func() bool {
		st, _, body := call(t, "GET", nodes[2].addr+"/v1/cluster", "")
		if st != 200 || json.Unmarshal(body, &cl) != nil || len(cl.Nodes) != 3 {
			return false
		}
		for i, n := range cl.Nodes {
			if n.Name != []string{"n1", "n2", "n3"}[i] || "http://"+n.Address != nodes[i].addr || len(n.Tree) == 0 {
				return false
			}
		}
		return true
	}, 10*time.Second, 50*time.Millisecond, "GET /v1/cluster: %+v", cl)

	// The node running a job dies (SIGKILL): once its lease runs out, another node rescues the
	// job and runs it.
	victim, err := c2.Enqueue(ctx, jobsched.JobSpec{Kind: "sleep", Args: json.RawMessage(`{"ms":60000}`), MaxAttempts: 5}, 0)
	require.NoError(t, err)
	waitState(t, c1, victim.ID, jobsched.StateRunning)
	k := holder(t, dsn, victim.ID) // any node may have started it: all are woken for it
	nodes[k].kill()
	killed := time.Now()
	survivor := nodes[(k+1)%3].client()
	require.Eventually(t, func() bool {
		got, err := survivor.Get(ctx, victim.ID)
		return err == nil && got.State == jobsched.StateRunning && got.Attempt == 2 && len(got.Errors) == 1 &&
			strings.Contains(got.Errors[0].Error, fmt.Sprintf(`node "n%d" lost its lease`, k+1))
	}, 30*time.Second, 20*time.Millisecond)
	failover := time.Since(killed)
	t.Logf("kill -9 to the job running on another node: %s (lease %s)", failover.Round(10*time.Millisecond), lease)
	require.Less(t, failover, lease+2*time.Second, "within the lease and a maintenance round")
	_, err = survivor.Cancel(ctx, victim.ID) // so the survivors stop at once at the end
	require.NoError(t, err)
	var live []*proc
	for i, n := range nodes {
		if i != k {
			live = append(live, n)
		}
	}
	var rescued bool
	for _, n := range live {
		st, _, body := call(t, "GET", n.addr+"/metrics", "")
		require.Equal(t, 200, st)
		require.Contains(t, string(body), "jobsched_cluster_fenced_writes_total")
		rescued = rescued || strings.Contains(string(body), "jobsched_cluster_rescued_jobs_total 1")
	}
	require.True(t, rescued, "one node's metrics count the rescue")
	st, _, body := call(t, "GET", live[0].addr+"/v1/cluster", "")
	require.Equal(t, 200, st)
	require.NoError(t, json.Unmarshal(body, &cl))
	require.Len(t, cl.Nodes, 2, "the dead node is gone: %s", body)

	// The node running a job is paused (SIGSTOP) for longer than its lease: the job is rescued,
	// and when the node continues, its late finish is refused (fencing) and it joins again.
	paused, err := live[0].client().Enqueue(ctx, jobsched.JobSpec{Kind: "sleep", Args: json.RawMessage(`{"ms":1500}`), MaxAttempts: 5}, 0)
	require.NoError(t, err)
	waitState(t, live[0].client(), paused.ID, jobsched.StateRunning)
	h := holder(t, dsn, paused.ID)
	stopped, other := nodes[h], live[0]
	if other == stopped {
		other = live[1]
	}
	name := fmt.Sprintf("n%d", h+1)
	require.NoError(t, stopped.cmd.Process.Signal(syscall.SIGSTOP))
	require.Eventually(t, func() bool {
		got, err := other.client().Get(ctx, paused.ID)
		return err == nil && len(got.Errors) > 0 && strings.Contains(got.Errors[0].Error, `node "`+name+`" lost its lease`)
	}, 30*time.Second, 20*time.Millisecond, "rescued while %s is stopped", name)
	require.NoError(t, stopped.cmd.Process.Signal(syscall.SIGCONT))
	require.Eventually(t, func() bool {
		st, _, body := call(t, "GET", stopped.addr+"/metrics", "")
		return st == 200 && strings.Contains(string(body), "jobsched_cluster_fenced_writes_total 1")
	}, 30*time.Second, 50*time.Millisecond, "the late finish was refused: %s", stopped.logs)
	got, err = other.client().Get(ctx, paused.ID)
	require.NoError(t, err)
	require.False(t, got.State == jobsched.StateSucceeded && got.Attempt == 1, "the stopped node's attempt did not finish the job")
	require.Eventually(t, func() bool {
		st, _, body := call(t, "GET", other.addr+"/v1/cluster", "")
		if st != 200 || json.Unmarshal(body, &cl) != nil || len(cl.Nodes) != 2 {
			return false
		}
		return cl.Nodes[0].Name == name || cl.Nodes[1].Name == name
	}, 30*time.Second, 50*time.Millisecond, "%s joined again", name)

	require.Equal(t, 0, live[0].stop())
	require.Equal(t, 0, live[1].stop())
}

// holder returns the index (n1 = 0) of the node that holds a running job.
func holder(t *testing.T, dsn, id string) int {
	t.Helper()
	c, err := pgx.Connect(context.Background(), dsn)
	require.NoError(t, err)
	defer c.Close(context.Background())
	var node string
	require.NoError(t, c.QueryRow(context.Background(), "SELECT node FROM jobsched_jobs WHERE id = $1 AND state = 'running'", id).Scan(&node))
	var i int
	_, err = fmt.Sscanf(node, "n%d", &i)
	require.NoError(t, err)
	return i - 1
}

// A daemon whose store fails for good stops on its own and exits non-zero, so that its service
// manager starts a fresh process, instead of staying up and running nothing. The failure made
// here is a real one of the PostgreSQL store: a second process registers the same node name,
// and the first one's store refuses every write from then on (ErrNodeTaken wraps
// ErrStoreFailed).
func TestADaemonWhoseStoreFailedExitsNonZero(t *testing.T) {
	dsn := pgtest.DSN(t)
	const lease = 2 * time.Second
	first := startDaemon(t, "", "", "--store", dsn, "--node", "same", "--lease", lease.String())
	st, _, _ := call(t, "GET", first.addr+"/readyz", "")
	require.Equal(t, 200, st)
	second := startDaemon(t, "", "", "--store", dsn, "--node", "same", "--lease", lease.String())
	select {
	case <-first.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("the first daemon did not stop after its node name was taken\n%s", first.logs)
	}
	require.Equal(t, 1, first.cmd.ProcessState.ExitCode(), "exits non-zero\n%s", first.logs)
	require.Contains(t, first.logs.String(), "node name taken over", "the log names the cause")
	// The second daemon, which holds the name now, works.
	st, _, _ = call(t, "GET", second.addr+"/readyz", "")
	require.Equal(t, 200, st)
	j, err := second.client().Enqueue(context.Background(), jobsched.JobSpec{Kind: "sleep", Args: json.RawMessage(`{"ms":1}`)}, 10*time.Second)
	require.NoError(t, err)
	require.Equal(t, jobsched.StateSucceeded, j.State)
}
