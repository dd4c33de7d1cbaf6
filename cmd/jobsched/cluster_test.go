package main

import (
	"context"
	"encoding/json"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

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

	// n2 dies while it runs a job: once its lease runs out, another node rescues the job.
	victim, err := c2.Enqueue(ctx, jobsched.JobSpec{Kind: "sleep", Args: json.RawMessage(`{"ms":60000}`), MaxAttempts: 5}, 0)
	require.NoError(t, err)
	waitState(t, c1, victim.ID, jobsched.StateRunning)
	nodes[1].kill()
	killed := time.Now()
	require.Eventually(t, func() bool {
		got, err := c1.Get(ctx, victim.ID)
		return err == nil && len(got.Errors) > 0 && strings.Contains(got.Errors[0].Error, `node "n2" lost its lease`)
	}, 30*time.Second, 20*time.Millisecond)
	failover := time.Since(killed)
	t.Logf("kill -9 to rescue: %s (lease %s)", failover.Round(10*time.Millisecond), lease)
	require.Less(t, failover, lease+2*time.Second, "rescued within the lease and a maintenance round")
	var rescued bool
	for _, n := range []*proc{nodes[0], nodes[2]} {
		st, _, body := call(t, "GET", n.addr+"/metrics", "")
		require.Equal(t, 200, st)
		require.Contains(t, string(body), "jobsched_cluster_fenced_writes_total")
		rescued = rescued || strings.Contains(string(body), "jobsched_cluster_rescued_jobs_total 1")
	}
	require.True(t, rescued, "one node's metrics count the rescue")
	st, _, body := call(t, "GET", nodes[0].addr+"/v1/cluster", "")
	require.Equal(t, 200, st)
	require.NoError(t, json.Unmarshal(body, &cl))
	require.Len(t, cl.Nodes, 2, "the dead node is gone: %s", body)

	// n1 is paused (SIGSTOP) for twice its lease while it runs a job: the job is rescued, and when
	// n1 continues, its late finish is refused (fencing) and n1 joins the cluster again.
	paused, err := c1.Enqueue(ctx, jobsched.JobSpec{Kind: "sleep", Args: json.RawMessage(`{"ms":1500}`), MaxAttempts: 5}, 0)
	require.NoError(t, err)
	waitState(t, c3, paused.ID, jobsched.StateRunning)
	require.NoError(t, nodes[0].cmd.Process.Signal(syscall.SIGSTOP))
	require.Eventually(t, func() bool {
		got, err := c3.Get(ctx, paused.ID)
		return err == nil && len(got.Errors) > 0 && strings.Contains(got.Errors[0].Error, `node "n1" lost its lease`)
	}, 30*time.Second, 20*time.Millisecond, "rescued while n1 is stopped")
	require.NoError(t, nodes[0].cmd.Process.Signal(syscall.SIGCONT))
	require.Eventually(t, func() bool {
		st, _, body := call(t, "GET", nodes[0].addr+"/metrics", "")
		return st == 200 && strings.Contains(string(body), "jobsched_cluster_fenced_writes_total 1")
	}, 30*time.Second, 50*time.Millisecond, "n1's late finish was refused: %s", nodes[0].logs)
	got, err = c3.Get(ctx, paused.ID)
	require.NoError(t, err)
	require.NotEqual(t, 1, got.Attempt*boolInt(got.State == jobsched.StateSucceeded), "n1's attempt did not finish the job")
	require.Eventually(t, func() bool {
		st, _, body := call(t, "GET", nodes[2].addr+"/v1/cluster", "")
		return st == 200 && json.Unmarshal(body, &cl) == nil && len(cl.Nodes) == 2 && cl.Nodes[0].Name == "n1"
	}, 30*time.Second, 50*time.Millisecond, "n1 joined again")

	require.Equal(t, 0, nodes[0].stop())
	require.Equal(t, 0, nodes[2].stop())
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
