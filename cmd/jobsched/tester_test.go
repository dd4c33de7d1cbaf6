package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jobsched/jobsched/internal/pgtest"
	"github.com/stretchr/testify/require"
)

func TestTesterStartsADaemonOnABacklog(t *testing.T) {
	out, err := exec.Command(binary, "tester", "--spawn", "--data", t.TempDir(), "--backlog", "3000", "--jobs", "200",
		"--batch", "100", "--spread", "3", "--workers", "20", "--json").Output()
	require.NoError(t, err, string(out))
	var rep struct {
		Enqueued, Succeeded, Lost, Backlog int
		Unfinished                         int     `json:"backlog_unfinished"`
		StartupS                           float64 `json:"startup_s"`
		RssStart                           float64 `json:"rss_anon_start_mib"`
		RssMax                             float64 `json:"rss_anon_max_mib"`
		CompletePerS                       float64 `json:"complete_per_s"`
	}
	require.NoError(t, json.Unmarshal(out, &rep), string(out))
	require.Equal(t, 3000, rep.Backlog)
	require.Zero(t, rep.Unfinished)
	require.Equal(t, 200, rep.Succeeded)
	require.Zero(t, rep.Lost)
	require.Positive(t, rep.StartupS, "exec to serving")
	require.Positive(t, rep.RssStart, "the daemon's RssAnon, read in /proc")
	require.GreaterOrEqual(t, rep.RssMax, rep.RssStart)
	require.Positive(t, rep.CompletePerS)
}

// TestTesterProfilesTheSpawnedDaemon: --daemon-cpuprofile has the spawned daemon (serve
// --cpuprofile) write a CPU profile of its life, there when the tester returns.
func TestTesterProfilesTheSpawnedDaemon(t *testing.T) {
	prof := filepath.Join(t.TempDir(), "daemon.cpu")
	out, err := exec.Command(binary, "tester", "--spawn", "--data", t.TempDir(), "--jobs", "2000", "--batch", "500",
		"--concurrency", "2", "--workers", "20", "--daemon-cpuprofile", prof, "--json").Output()
	require.NoError(t, err, string(out))
	var rep struct{ Succeeded, Lost int }
	require.NoError(t, json.Unmarshal(out, &rep), string(out))
	require.Equal(t, 2000, rep.Succeeded)
	b, err := os.ReadFile(prof)
	require.NoError(t, err, "the daemon wrote its profile at its shutdown")
	require.True(t, bytes.HasPrefix(b, []byte{0x1f, 0x8b}), "a pprof profile is gzipped protobuf")
}

func TestTesterRefusesBadBenchOptions(t *testing.T) {
	for _, args := range [][]string{
		{"--embedded", "--data", t.TempDir(), "--spread", "3", "--categories", "a,b"},
		{"--embedded", "--data", t.TempDir(), "--spread", "0"},
		{"--addr", "http://127.0.0.1:1", "--backlog", "10"},
		{"--embedded", "--data", t.TempDir(), "--backlog", "-1"},
		{"--embedded", "--data", t.TempDir(), "--tenants", "-1"},
		{"--embedded", "--data", t.TempDir(), "--tenants", "3", "--skew", "-1"},
		{"--embedded", "--data", t.TempDir(), "--dag-size", "1"},
		{"--embedded", "--data", t.TempDir(), "--dag-size", "10", "--dag-depth", "20"},
		{"--embedded", "--data", t.TempDir(), "--daemon-cpuprofile", filepath.Join(t.TempDir(), "p")},
	} {
		out, err := exec.Command(binary, append([]string{"tester"}, args...)...).CombinedOutput()
		require.Error(t, err, args)
		require.Equal(t, 2, err.(*exec.ExitError).ExitCode(), "%v: %s", args, out)
	}
}

// The chaos run of docs/cluster.md, short: three daemons on one PostgreSQL that the tester starts
// itself, the jobs spread over them, one node killed (SIGKILL, then started again) and one stopped
// (SIGSTOP) for longer than its lease. Nothing acknowledged is lost or left unfinished, every
// job ran only as often as its interruptions explain, the killed and the stopped nodes' running
// jobs were rescued, the stopped node's late finishes were refused, every node is listed, and
// unique keys raced across the nodes made one job each.
//
// Each node claims the batches enqueued on it at once, one batch every 100 ms; jobs of 400 ms
// keep a few batches running on every node at any moment, so a fault always cuts some off.
func TestTesterChaosOnAClusterOfThree(t *testing.T) {
	pgtest.Require(t)
	cmd := exec.Command(binary, "tester", "--nodes", "3", "--lease", "2s", "--chaos", "kill,stop",
		"--chaos-every", "2s", "--seed", "7", "--jobs", "3000", "--rate", "300", "--batch", "10",
		"--duration-ms", "400", "--deadline", "40s", "--unique-keys", "20", "--json")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "%s\n%s", out, stderr.String())
	var rep struct {
		Enqueued, Succeeded, Lost, Stranded, Kills, Stops, Nodes, Rescued int
		Unaccounted                                                       int            `json:"unaccounted_attempts"`
		Fenced                                                            int            `json:"fenced_writes"`
		Members                                                           int            `json:"cluster_members"`
		UniqueKeys                                                        int            `json:"unique_keys"`
		UniqueViolations                                                  int            `json:"unique_violations"`
		PerNode                                                           map[string]int `json:"enqueued_per_node"`
		Faults                                                            []struct {
			Kind, Node string
			Jobs       int
			RescueS    float64 `json:"rescue_s"`
		}
	}
	require.NoError(t, json.Unmarshal(out, &rep), string(out))
	t.Logf("%+v", rep)
	require.Equal(t, 3000, rep.Enqueued)
	require.Equal(t, 3000, rep.Succeeded, "no job failed, none was lost: %s", out)
	require.Zero(t, rep.Lost)
	require.Zero(t, rep.Stranded)
	require.Zero(t, rep.Unaccounted, "a job ran again only after an interruption")
	require.GreaterOrEqual(t, rep.Kills, 1)
	require.GreaterOrEqual(t, rep.Stops, 1)
	require.Equal(t, 3, rep.Nodes)
	require.Equal(t, 3, rep.Members, "every node is listed again at the end")
	require.Len(t, rep.PerNode, 3)
	for name, n := range rep.PerNode {
		require.Positive(t, n, "node %s took enqueues", name)
	}
	require.Positive(t, rep.Rescued, "the killed and the stopped nodes' running jobs were rescued")
	require.Positive(t, rep.Fenced, "the stopped node's late finishes were refused")
	require.Equal(t, 20, rep.UniqueKeys, "each key raced on the nodes up")
	require.Zero(t, rep.UniqueViolations, "one job a key across the nodes")
	require.Len(t, rep.Faults, rep.Kills+rep.Stops)
	for _, f := range rep.Faults {
		// A killed node's jobs are rescued by the survivors once its lease ran out, before the
		// node is started again (1.5 leases and a second after the kill: 4 s).
		if f.Kind == "kill" && f.Jobs > 0 {
			require.Less(t, f.RescueS, 4.0, "failover of %s: %+v", f.Node, f)
		}
	}
}

// With --store the nodes share the database given (here the test package's server), after
// `jobsched migrate` on it; the jobs are read back from it.
func TestTesterClusterOnAGivenDatabase(t *testing.T) {
	dsn := pgtest.DSN(t)
	out, err := exec.Command(binary, "tester", "--nodes", "2", "--store", dsn, "--jobs", "400", "--batch", "20",
		"--unique-keys", "3", "--json").Output()
	require.NoError(t, err, string(out))
	var rep struct {
		Enqueued, Succeeded, Lost, Nodes int
		Members                          int            `json:"cluster_members"`
		PerNode                          map[string]int `json:"enqueued_per_node"`
	}
	require.NoError(t, json.Unmarshal(out, &rep), string(out))
	require.Equal(t, 400, rep.Succeeded)
	require.Zero(t, rep.Lost)
	require.Equal(t, 2, rep.Nodes)
	require.Equal(t, 2, rep.Members)
	require.Equal(t, map[string]int{"n1": 200, "n2": 200}, rep.PerNode, "the batches went round the nodes")
	c, err := pgx.Connect(context.Background(), dsn)
	require.NoError(t, err)
	defer c.Close(context.Background())
	var n int
	require.NoError(t, c.QueryRow(context.Background(), `SELECT count(*) FROM jobsched_jobs WHERE state = 'succeeded'`).Scan(&n))
	require.Equal(t, 400, n, "the jobs are in the database given")
	require.NoError(t, c.QueryRow(context.Background(), `SELECT count(*) FROM jobsched_jobs WHERE state = 'cancelled' AND unique_key IS NOT NULL`).Scan(&n))
	require.Equal(t, 3, n, "one job a raced key, cancelled after the race")
}

func TestTesterRunsDAGsOnADaemon(t *testing.T) {
	out, err := exec.Command(binary, "tester", "--spawn", "--data", t.TempDir(), "--jobs", "600", "--dag-size", "60",
		"--dag-depth", "5", "--workers", "8", "--fail-rate", "0.05", "--max-attempts", "1", "--seed", "3", "--json").Output()
	require.NoError(t, err, string(out))
	var rep struct {
		Enqueued, Succeeded, Dead, Cancelled, Lost int
		Edges                                      int `json:"dag_edges"`
		Violations                                 int `json:"order_violations"`
	}
	require.NoError(t, json.Unmarshal(out, &rep), string(out))
	require.Equal(t, 600, rep.Enqueued)
	require.Equal(t, 600, rep.Succeeded+rep.Dead+rep.Cancelled, "every job final")
	require.Zero(t, rep.Lost)
	require.Positive(t, rep.Cancelled, "the dependents of the dead jobs")
	require.Greater(t, rep.Edges, 10*(60-60/5))
	require.Zero(t, rep.Violations)
}
