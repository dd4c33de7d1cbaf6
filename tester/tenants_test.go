package tester

import (
	"bytes"
	"context"
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestTenantSharesFollowTheSkew(t *testing.T) {
	require.Equal(t, []float64{0.25, 0.5, 0.75, 1}, tenantShares(4, 0), "skew 0: equal shares")
	cum := tenantShares(3, 1) // 1, 1/2, 1/3 of 11/6
	require.InDelta(t, 6.0/11, cum[0], 1e-9)
	require.InDelta(t, 9.0/11, cum[1], 1e-9)
	require.InDelta(t, 1, cum[2], 1e-9)

	const n = 200_000
	counts := make([]int, 4)
	cum = tenantShares(4, 2)
	for i := 0; i < n; i++ {
		counts[tenantOf(cum, 9, i)]++
	}
	total := 1 + 1.0/4 + 1.0/9 + 1.0/16
	for i, c := range counts {
		want := n / math.Pow(float64(i+1), 2) / total
		require.InDelta(t, want, float64(c), 0.03*want+50, "tenant %d", i)
	}
	require.Equal(t, tenantOf(cum, 9, 123), tenantOf(cum, 9, 123), "the same seed gives the same tenant")
}

func TestTenantsRunReportsEachTenantsLatency(t *testing.T) {
	for _, noFair := range []bool{false, true} {
		rep, err := Run(context.Background(), Options{Embedded: true, Data: t.TempDir(), Jobs: 1500, Batch: 50,
			Concurrency: 2, Workers: 4, Tenants: 3, Skew: 1, NoFairness: noFair, Seed: 5})
		require.NoError(t, err)
		require.Len(t, rep.Tenants, 3)
		sum := 0
		for i, tl := range rep.Tenants {
			require.Equal(t, TenantName(i), tl.Tenant)
			require.Positive(t, tl.StartLatencyMS.Max)
			sum += tl.Jobs
		}
		require.Equal(t, rep.Succeeded, sum)
		require.Greater(t, rep.Tenants[0].Jobs, rep.Tenants[2].Jobs, "skew 1: t001 has the most jobs")
		var text bytes.Buffer
		rep.Text(&text)
		require.Contains(t, text.String(), "tenant t003")
	}
}

func TestTheTextReportListsTheFirstTenants(t *testing.T) {
	rep := &Report{}
	for i := 0; i < 25; i++ {
		rep.Tenants = append(rep.Tenants, TenantLatency{Tenant: TenantName(i), Jobs: 1})
	}
	var text bytes.Buffer
	rep.Text(&text)
	require.Contains(t, text.String(), "tenant t020")
	require.NotContains(t, text.String(), "tenant t021")
	require.Contains(t, text.String(), "5 more tenants")
}

func TestTenantOptionsAreChecked(t *testing.T) {
	for _, o := range []Options{{Embedded: true, Data: "d", Tenants: -1}, {Embedded: true, Data: "d", Tenants: maxTenants + 1},
		{Embedded: true, Data: "d", Tenants: 2, Skew: -0.5}, {Embedded: true, Data: "d", Tenants: 2, Skew: math.NaN()}} {
		_, err := Run(context.Background(), o)
		require.ErrorIs(t, err, ErrOptions)
	}
}
