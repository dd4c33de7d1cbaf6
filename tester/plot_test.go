package tester

import (
	"context"
	"os"
	"testing"

	"github.com/jobsched/jobsched/internal/plot"
	"github.com/stretchr/testify/require"
)

// TestLatencyPlot runs the embedded tester at several offered rates (5 s each, 100 workers,
// no-op jobs, durable store) and draws enqueue→start latency against the rate:
// JOBSCHED_PLOT=docs/latency.png go test -run TestLatencyPlot ./tester (a document, not a check).
func TestLatencyPlot(t *testing.T) {
	out := os.Getenv("JOBSCHED_PLOT")
	if out == "" {
		t.Skip("set JOBSCHED_PLOT=path.png to draw the plot")
	}
	rates := []float64{250, 500, 1000, 2000, 4000, 8000}
	p50 := plot.Series{Name: "p50"}
	p90 := plot.Series{Name: "p90"}
	p99 := plot.Series{Name: "p99"}
	for _, r := range rates {
		rep, err := Run(context.Background(), Options{Embedded: true, Data: t.TempDir(), Jobs: int(r * 5), Rate: r, Workers: 100, Seed: 1})
		require.NoError(t, err)
		t.Logf("rate %5.0f/s: start latency %+v, lost %d", r, rep.StartLatencyMS, rep.Lost)
		for _, s := range []*plot.Series{&p50, &p90, &p99} {
			s.X = append(s.X, r)
		}
		p50.Y = append(p50.Y, rep.StartLatencyMS.P50)
		p90.Y = append(p90.Y, rep.StartLatencyMS.P90)
		p99.Y = append(p99.Y, rep.StartLatencyMS.P99)
	}
	require.NoError(t, plot.Lines(out, "Enqueue → start latency, embedded, durable, 100 workers", "jobs/s offered", "ms", []plot.Series{p50, p90, p99}))
}
