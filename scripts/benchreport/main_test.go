package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jobsched/jobsched/tester"
	"github.com/stretchr/testify/require"
)

func writeReport(t *testing.T, dir, name string, r tester.Report) {
	t.Helper()
	r.Target = "embedded"
	b, err := json.Marshal(r)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, name), b, 0o600))
}

func TestSectionFromASitting(t *testing.T) {
	in := t.TempDir()
	for i, v := range []float64{90_000, 120_000, 100_000} { // median 100,000
		writeReport(t, in, fmt.Sprintf("burst-100000.%d.json", i+1), tester.Report{CompletePerS: v, EnqueuePerS: 2 * v})
	}
	writeReport(t, in, "backlog-0.1.json", tester.Report{CompletePerS: 50_000})
	writeReport(t, in, "backlog-1000000.1.json", tester.Report{CompletePerS: 40_000, StartupS: 0.8, RssAnonMaxMiB: 150})
	writeReport(t, in, "backlog-10000.1.json", tester.Report{CompletePerS: 48_000, EnqueuePerS: 1000, StartupS: 0.1, RssAnonMaxMiB: 60})
	writeReport(t, in, "spread-1000.1.json", tester.Report{CompletePerS: 30_000})
	writeReport(t, in, "rate-500.1.json", tester.Report{StartLatencyMS: tester.Percentiles{P99: 0.7}})
	writeReport(t, in, "rss-1000000.1.json", tester.Report{StartupS: 1.5, RssAnonStartMiB: 120, RssAnonMaxMiB: 180, Backlog: 1_000_000, BacklogUnfinished: 3})
	require.NoError(t, os.WriteFile(filepath.Join(in, "daemon-100000.1.json"), []byte("{}"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(in, "river.1.txt"), []byte("river*   work 100 workers    20000 /s  (100000 in 5s)\n"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(in, "meta.txt"), []byte("mode=QUICK\nrepetitions=3\n"), 0o600))

	doc := filepath.Join(t.TempDir(), "benchmarks.md")
	require.NoError(t, os.WriteFile(doc, []byte("# Benchmarks\nbefore\n"+beginMarker+"\nold tables\n"+endMarker+"\nafter\n"), 0o600))
	png := filepath.Join(filepath.Dir(doc), "plot.png")
	require.NoError(t, run(in, doc, png))
	got, err := os.ReadFile(doc)
	require.NoError(t, err)
	s := string(got)
	require.True(t, strings.HasPrefix(s, "# Benchmarks\nbefore\n"+beginMarker))
	require.True(t, strings.HasSuffix(s, endMarker+"\nafter\n"))
	require.NotContains(t, s, "old tables")
	require.Contains(t, s, "- mode: QUICK")
	require.Contains(t, s, "| embedded burst of 100,000 | **100,000** (90,000–120,000) | **200,000** (180,000–240,000) | ≥ 100,000 ✓; 5.0× River, ≥ 4× ✓ |")
	require.Contains(t, s, "| River tuned (FetchCooldown 1 ms, poll 5 ms), PostgreSQL, same sitting | **20,000** |")
	require.Contains(t, s, "| 0 | 0.00 s | — | **50,000** | 0 MiB |")
	require.Contains(t, s, "| 1,000,000 | 0.80 s | — | **40,000** -20% ✗ | 150 MiB |")
	require.Contains(t, s, "| 10,000 | 0.10 s | **1,000** | **48,000** -4% ✓ | 60 MiB |", "within 10% of the empty queue")
	require.Contains(t, s, "| 1,000 | 1,000 | — | **30,000** |")
	require.Contains(t, s, "**0.70 ms**")
	require.Contains(t, s, "p99 ≤ 1 ms ✓")
	require.Contains(t, s, "start-up ≤ 1 s ✗, RssAnon ≤ 200 MiB ✓")
	require.Contains(t, s, "daemon-100000.1.json: no report")
	require.Contains(t, s, "rss-1000000.1.json: 0 lost, 3 of the backlog unfinished")
	st, err := os.Stat(png)
	require.NoError(t, err)
	require.Positive(t, st.Size())

	// A second pass replaces the section, it does not add one.
	require.NoError(t, run(in, doc, png))
	again, err := os.ReadFile(doc)
	require.NoError(t, err)
	require.Equal(t, s, string(again))
}

func TestDocumentWithoutMarkers(t *testing.T) {
	in := t.TempDir()
	doc := filepath.Join(t.TempDir(), "b.md")
	require.NoError(t, os.WriteFile(doc, []byte("# no section\n"), 0o600))
	err := run(in, doc, filepath.Join(t.TempDir(), "p.png"))
	require.ErrorContains(t, err, "section")
	b, rerr := os.ReadFile(doc)
	require.NoError(t, rerr)
	require.Equal(t, "# no section\n", string(b), "the document is untouched")
	require.ErrorContains(t, run("", doc, "p.png"), "-in")
}

func TestMedianAndThousands(t *testing.T) {
	require.Equal(t, stat{2.5, 1, 4}, statOfValues([]float64{4, 1, 3, 2}))
	require.Equal(t, "1,234,567", thousands(1_234_567))
	require.Equal(t, "999", thousands(999))
	require.Equal(t, "—", statOfValues(nil).rate())
}
