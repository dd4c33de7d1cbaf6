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
	// Without recent work, a small backlog takes no more workers than it has jobs.
	require.Equal(t, []int{3, 7}, Allocate(10, []Load{{Priority: 10, MinWorkers: 1, MaxWorkers: 10, Backlog: 3}, {Priority: 1, MinWorkers: 1, MaxWorkers: 10, Backlog: 50}}))
}

func TestAllocateHeadroom(t *testing.T) {
	// 500 jobs/s of short jobs: at any moment 0–3 are queued or running, but 500 were handed
	// out in the last interval. The category keeps the budget's spare workers idle, waiting for
	// the next burst, instead of one worker per job already there.
	require.Equal(t, []int{100}, Allocate(100, []Load{{Priority: 1, MinWorkers: 1, MaxWorkers: 100, Backlog: 2, Recent: 500}}))
	require.Equal(t, []int{100}, Allocate(100, []Load{{Priority: 1, MinWorkers: 1, MaxWorkers: 100, Recent: 500}}), "between bursts too")
	// Bounded by the work it had: 4 jobs lately and 1 now keep 5 workers, not the budget.
	require.Equal(t, []int{5}, Allocate(100, []Load{{Priority: 1, MinWorkers: 1, MaxWorkers: 100, Backlog: 1, Recent: 4}}))
	// ...and by max_workers.
	require.Equal(t, []int{8}, Allocate(100, []Load{{Priority: 1, MinWorkers: 1, MaxWorkers: 8, Recent: 500}}))
	// Backlogs first: a category with jobs waiting gets a worker for each before any other
	// gets headroom. Here busy's 60 jobs take 60 of 64; the 4 left are shared by
	// (backlog + recent) × priority, 660 : 300 (2.75 and 1.25; the fraction .75 wins the last).
	require.Equal(t, []int{63, 1, 0}, Allocate(64, []Load{
		{Priority: 1, MaxWorkers: 64, Backlog: 60, Recent: 600},
		{Priority: 1, MaxWorkers: 64, Recent: 300},
		{Priority: 1, MaxWorkers: 64},
	}))
	// Headroom is shared by (backlog + recent) × priority: 40 spare workers, weights 100 : 300.
	require.Equal(t, []int{11, 31, 0}, Allocate(42, []Load{
		{Priority: 1, MinWorkers: 1, MaxWorkers: 42, Recent: 100},
		{Priority: 3, MinWorkers: 1, MaxWorkers: 42, Recent: 100},
		{Priority: 1, MaxWorkers: 42},
	}))
	// When the backlogs use the whole budget, headroom changes nothing (the worked example).
	require.Equal(t, []int{14, 5, 1}, Allocate(20, []Load{
		{Priority: 3, MinWorkers: 1, MaxWorkers: 20, Backlog: 100, Recent: 1000},
		{Priority: 1, MinWorkers: 1, MaxWorkers: 20, Backlog: 100, Recent: 1000},
		{Priority: 1, MinWorkers: 1, MaxWorkers: 20, Recent: 1000},
	}))
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
				Backlog:    rapid.SampledFrom([]int{0, 0, 1, 2, 5, 17, 100, 10_000}).Draw(t, "backlog"),
				Recent:     rapid.SampledFrom([]int{0, 0, 1, 3, 40, 500}).Draw(t, "recent")}
			sumMin += minW
		}
		budget := sumMin + rapid.IntRange(0, 200).Draw(t, "budget over minimums")
		out := Allocate(budget, loads)

		sum, capSum := 0, 0
		demand := make([]int, n) // the workers the backlog can use
		caps := make([]int, n)   // ... and the headroom the recent work allows
		given := make([]int, n)  // the workers that serve a backlog
		spare := make([]int, n)  // the rest: idle workers ahead of it
		for i, l := range loads {
			demand[i] = min(l.MaxWorkers, max(l.MinWorkers, l.Backlog))
			caps[i] = min(l.MaxWorkers, max(l.MinWorkers, l.Backlog+l.Recent))
			given[i] = min(out[i], demand[i])
			spare[i] = out[i] - given[i]
			capSum += caps[i]
			sum += out[i]
			require.GreaterOrEqual(t, out[i], l.MinWorkers, "min holds")
			require.LessOrEqual(t, out[i], l.MaxWorkers, "max holds")
			require.LessOrEqual(t, out[i], caps[i], "no more workers than the jobs it has and had lately, above the minimum")
			if l.Backlog == 0 && l.Recent == 0 {
				require.Equal(t, l.MinWorkers, out[i], "an idle category falls back to its minimum")
			}
		}
		require.LessOrEqual(t, sum, budget, "the budget is never exceeded")
		require.Equal(t, min(budget, capSum), sum, "no worker is left idle while a category could use it")
		for i := range loads {
			if spare[i] > 0 {
				for j := range loads {
					require.Equal(t, demand[j], given[j], "headroom only once every backlog is served: %v → %v", loads, out)
				}
			}
		}
		// No category gets workers beyond its minimum (or first worker) while another with a
		// backlog has none.
		for i, l := range loads {
			if out[i] == 0 && l.Backlog > 0 && l.MaxWorkers > 0 {
				for j := range loads {
					require.Equal(t, firstMin(loads[j], out[j]), out[j], "a backlog without a worker waits for nobody's extras: %v → %v", loads, out)
				}
			}
		}
		// Fairness between backlogs, as without headroom: the workers serving them are shared by
		// weighted backlog.
		for a := range loads {
			for b := range loads {
				wa := loads[a].Backlog * loads[a].Priority
				wb := loads[b].Backlog * loads[b].Priority
				// A category with a backlog and no minimum gets its first worker before any
				// share by weight (firstWorkers): that worker counts as its minimum.
				extraA, extraB := given[a]-firstMin(loads[a], given[a]), given[b]-firstMin(loads[b], given[b])
				if wa > wb && extraA < extraB {
					require.Equal(t, demand[a], given[a], "more weighted backlog gets fewer extra workers only at its cap: %v → %v", loads, out)
				}
				if wa == wb && extraA < extraB-1 {
					require.Equal(t, demand[a], given[a], "equal weighted backlogs differ by one worker at most: %v → %v", loads, out)
				}
				// The headroom is shared the same way, by (backlog + recent) × priority.
				ha := (loads[a].Backlog + loads[a].Recent) * loads[a].Priority
				hb := (loads[b].Backlog + loads[b].Recent) * loads[b].Priority
				if ha > hb && spare[a] < spare[b] {
					require.Equal(t, caps[a], out[a], "more recent work gets less headroom only at its cap: %v → %v", loads, out)
				}
			}
		}
		// Stable: the same input gives the same answer (no thrashing from the function itself).
		require.Equal(t, out, Allocate(budget, loads))
	})
}

// firstMin is the minimum a category's share by weight starts from: its min_workers, or the
// first worker a category with a backlog and no minimum got.
func firstMin(l Load, given int) int {
	if l.MinWorkers == 0 && l.Backlog > 0 && given > 0 {
		return 1
	}
	return l.MinWorkers
}

func TestWorthResizing(t *testing.T) {
	require.False(t, worthResizing(5, 5, 1))
	require.True(t, worthResizing(5, 6, 1), "one worker more is applied: the category has work for it")
	require.False(t, worthResizing(5, 4, 1), "one worker less is not worth a resize")
	require.True(t, worthResizing(5, 3, 1))
	require.True(t, worthResizing(5, 7, 1))
	require.True(t, worthResizing(2, 1, 1), "back to the minimum")
	require.True(t, worthResizing(1, 2, 1), "waking an idle category")
}

func TestToldNeverExceedsTheBudget(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(1, 6).Draw(t, "categories")
		budget := rapid.IntRange(n, 40).Draw(t, "budget")
		// Two allocations in a row, each within the budget: the registries were told the first
		// where worth it, then the second.
		draw := func(label string) []int {
			a := make([]int, n)
			left := budget
			for i := range a {
				a[i] = rapid.IntRange(0, left).Draw(t, label)
				left -= a[i]
			}
			return a
		}
		mins := make([]int, n)
		known := make([]bool, n)
		for i := range known {
			known[i] = true
		}
		told := draw("first")
		next := draw("second")
		apply := toApply(budget, told, known, next, mins)
		sum := 0
		for i := range next {
			if apply[i] {
				told[i] = next[i]
			} else if told[i] != next[i] {
				require.Equal(t, 1, told[i]-next[i], "only a shrink by one is left out")
			}
			sum += told[i]
		}
		require.LessOrEqual(t, sum, budget)
	})
}

// TestAllocateGivesEveryBacklogAWorker: a category with no minimum (min_workers 0) that has
// jobs gets a worker even while another category's flood outweighs it by far (docs/operations.md:
// "the balancer gives it workers as soon as it has jobs"); shared by weight alone, its share
// rounds to zero and its jobs wait for the whole flood.
func TestAllocateGivesEveryBacklogAWorker(t *testing.T) {
	got := Allocate(4, []Load{
		{Priority: 1, MinWorkers: 1, MaxWorkers: 4, Backlog: 100},
		{Priority: 1, MaxWorkers: 4, Backlog: 1},
	})
	require.Equal(t, []int{3, 1}, got)
	got = Allocate(16, []Load{
		{Priority: 5, MinWorkers: 1, MaxWorkers: 16, Backlog: 10_000},
		{Priority: 1, MaxWorkers: 16, Backlog: 5},
		{Priority: 1, MaxWorkers: 16, Backlog: 2},
	})
	require.Equal(t, []int{14, 1, 1}, got)
	// A budget too small for every backlog's first worker gives it by weight (then order).
	got = Allocate(2, []Load{
		{Priority: 1, MinWorkers: 1, MaxWorkers: 4, Backlog: 100},
		{Priority: 1, MaxWorkers: 4, Backlog: 1},
		{Priority: 2, MaxWorkers: 4, Backlog: 1},
	})
	require.Equal(t, []int{1, 0, 1}, got)
}
