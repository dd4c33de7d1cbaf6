package actors

import (
	"testing"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"
)

func TestAllocateWorkedExample(t *testing.T) {
	// The example of docs/balancer.md: budget 20; email (priority 3, backlog 100), sms (priority 1,
	// backlog 100), reports idle. Minimums 1 each leave 17 to share 300:100 → 12.75 and 4.25;
	// the fractions give the last worker to email.
	got := Allocate(20, []Load{
		{Priority: 3, MinWorkers: 1, MaxWorkers: 20, Backlog: 100},
		{Priority: 1, MinWorkers: 1, MaxWorkers: 20, Backlog: 100},
		{Priority: 1, MinWorkers: 1, MaxWorkers: 20, Backlog: 0},
	})
	require.Equal(t, []int{14, 5, 1}, got)
	// Everyone idle: each keeps its minimum (the seed's balancer divided by zero here).
	require.Equal(t, []int{1, 2, 0}, Allocate(10, []Load{{Priority: 1, MinWorkers: 1, MaxWorkers: 5}, {Priority: 9, MinWorkers: 2, MaxWorkers: 5}, {Priority: 1, MaxWorkers: 5}}))
	// A category with no minimum gets nothing idle, and workers as soon as it has a backlog.
	require.Equal(t, []int{1, 0}, Allocate(4, []Load{{Priority: 1, MinWorkers: 1, MaxWorkers: 4}, {Priority: 1, MaxWorkers: 4}}))
	require.Equal(t, []int{1, 3}, Allocate(4, []Load{{Priority: 1, MinWorkers: 1, MaxWorkers: 4}, {Priority: 1, MaxWorkers: 4, Backlog: 3}}))
	// A small backlog takes no more workers than it has jobs.
	require.Equal(t, []int{3, 7}, Allocate(10, []Load{{Priority: 10, MinWorkers: 1, MaxWorkers: 10, Backlog: 3}, {Priority: 1, MinWorkers: 1, MaxWorkers: 10, Backlog: 50}}))
}

func TestAllocateProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(1, 8).Draw(t, "categories")
		loads := make([]Load, n)
		sumMin := 0
		for i := range loads {
			minW := rapid.IntRange(0, 4).Draw(t, "min")
			loads[i] = Load{Priority: rapid.IntRange(1, 10).Draw(t, "priority"), MinWorkers: minW,
				MaxWorkers: minW + rapid.IntRange(0, 60).Draw(t, "extra max"),
				Backlog:    rapid.SampledFrom([]int{0, 0, 1, 2, 5, 17, 100, 10_000}).Draw(t, "backlog")}
			sumMin += minW
		}
		budget := sumMin + rapid.IntRange(0, 200).Draw(t, "budget over minimums")
		out := Allocate(budget, loads)

		sum, capSum := 0, 0
		caps := make([]int, n)
		for i, l := range loads {
			caps[i] = min(l.MaxWorkers, max(l.MinWorkers, l.Backlog))
			capSum += caps[i]
			sum += out[i]
			require.GreaterOrEqual(t, out[i], l.MinWorkers, "min holds")
			require.LessOrEqual(t, out[i], l.MaxWorkers, "max holds")
			require.LessOrEqual(t, out[i], caps[i], "no more workers than jobs, above the minimum")
			if l.Backlog == 0 {
				require.Equal(t, l.MinWorkers, out[i], "an idle category falls back to its minimum")
			}
		}
		require.LessOrEqual(t, sum, budget, "the budget is never exceeded")
		require.Equal(t, min(budget, capSum), sum, "no worker is left idle while a category could use it")
		for a := range loads {
			for b := range loads {
				wa := loads[a].Backlog * loads[a].Priority
				wb := loads[b].Backlog * loads[b].Priority
				extraA, extraB := out[a]-loads[a].MinWorkers, out[b]-loads[b].MinWorkers
				if wa > wb && extraA < extraB {
					require.Equal(t, caps[a], out[a], "more weighted backlog gets fewer extra workers only at its cap: %v → %v", loads, out)
				}
				if wa == wb && extraA < extraB-1 {
					require.Equal(t, caps[a], out[a], "equal weighted backlogs differ by one worker at most: %v → %v", loads, out)
				}
			}
		}
		// Stable: the same input gives the same answer (no thrashing from the function itself).
		require.Equal(t, out, Allocate(budget, loads))
	})
}

func TestWorthResizing(t *testing.T) {
	require.False(t, worthResizing(5, 5, 1))
	require.False(t, worthResizing(5, 6, 1), "one worker more is not worth a resize")
	require.False(t, worthResizing(5, 4, 1))
	require.True(t, worthResizing(5, 7, 1))
	require.True(t, worthResizing(2, 1, 1), "back to the minimum")
	require.True(t, worthResizing(1, 2, 1), "waking an idle category")
}
