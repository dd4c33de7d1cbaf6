package tester

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// TenantLatency is one tenant's share of a --tenants run and its enqueue-to-start latency.
type TenantLatency struct {
	Tenant         string      `json:"tenant"`
	Jobs           int         `json:"jobs"`
	StartLatencyMS Percentiles `json:"start_latency_ms"`
}

// maxTenants bounds --tenants; the text report lists the first maxTenantLines.
const (
	maxTenants     = 10_000
	maxTenantLines = 20
)

// TenantName is the fairness key of tenant i (0-based): t001, t002...
func TenantName(i int) string { return fmt.Sprintf("t%03d", i+1) }

// tenantShares are the cumulative shares of n tenants under skew s: tenant i gets a share
// proportional to 1/(i+1)^s (s = 0: equal shares; s = 1: Zipf).
func tenantShares(n int, s float64) []float64 {
	cum := make([]float64, n)
	total := 0.0
	for i := range cum {
		total += 1 / math.Pow(float64(i+1), s)
		cum[i] = total
	}
	for i := range cum {
		cum[i] /= total
	}
	return cum
}

// tenantOf draws the tenant of job i of a run; the same seed gives the same tenants.
func tenantOf(cum []float64, seed uint64, i int) int {
	r := rand.New(rand.NewPCG(seed^0x7e4a47, uint64(i)))
	x := r.Float64()
	lo, hi := 0, len(cum)-1
	for lo < hi { // the first tenant whose cumulative share is above x
		mid := (lo + hi) / 2
		if cum[mid] > x {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}

// tenantHists gathers the start latencies of each tenant.
type tenantHists []*hdrhistogram.Histogram

func newTenantHists(n int) tenantHists {
	h := make(tenantHists, n)
	for i := range h {
		h[i] = hdrhistogram.New(1, 10*60*1000*1000, 3) // µs, up to 10 minutes
	}
	return h
}

func (h tenantHists) record(tenant int, us int64) {
	if tenant >= 0 && tenant < len(h) {
		_ = h[tenant].RecordValue(max(us, 1))
	}
}

// report lists the tenants that had jobs, in tenant order.
func (h tenantHists) report() []TenantLatency {
	var out []TenantLatency
	for i, hist := range h {
		if hist.TotalCount() == 0 {
			continue
		}
		out = append(out, TenantLatency{Tenant: TenantName(i), Jobs: int(hist.TotalCount()), StartLatencyMS: percentiles(hist)})
	}
	return out
}
