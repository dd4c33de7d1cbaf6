package main

import (
	"encoding/json"
	"os/exec"
	"testing"

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
	} {
		out, err := exec.Command(binary, append([]string{"tester"}, args...)...).CombinedOutput()
		require.Error(t, err, args)
		require.Equal(t, 2, err.(*exec.ExitError).ExitCode(), "%v: %s", args, out)
	}
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
