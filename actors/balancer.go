package actors

import (
	"sort"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/jobsched/jobsched/persistence"
)

// Load is one category's input to Allocate.
type Load struct {
	Priority   int // weight, >= 1
	MinWorkers int
	MaxWorkers int
	Backlog    int // jobs queued or running
	// Recent is the work the category had lately: the jobs handed to its workers in about the
	// last balance interval. It bounds the idle workers the category keeps ahead of its
	// backlog (its headroom).
	Recent int
}

// Allocate divides a worker budget among categories, in two passes.
//
// Backlog first: each category gets its minimum, and one with a backlog and no minimum its
// first worker (the heaviest first, while the budget lasts); the rest of the budget goes to
// categories in proportion to Backlog × Priority, each capped by its maximum and by its
// backlog, with the integer remainders handed out by largest fraction. This pass alone decides whenever the
// backlogs can use the whole budget, so fairness between busy categories is unchanged.
//
// Headroom second: what the backlogs leave is shared the same way, in proportion to
// (Backlog + Recent) × Priority, among the categories that had work lately, each capped by its
// maximum and by Backlog + Recent. So a category that gets jobs in bursts has idle workers
// waiting for the next one instead of a worker per job already queued; spare budget is never
// left idle while such a category is under its bound; and a category that had no work in the
// last interval (Backlog and Recent 0) falls back to its minimum.
//
// The sum never exceeds the budget, unless the minimums alone do (the configuration forbids
// that).
func Allocate(budget int, loads []Load) []int {
	out := make([]int, len(loads))
	caps := make([]int, len(loads))
	weights := make([]float64, len(loads))
	left := budget
	for i, l := range loads {
		out[i] = l.MinWorkers
		left -= l.MinWorkers
		caps[i] = min(l.MaxWorkers, max(l.MinWorkers, l.Backlog))
		weights[i] = float64(max(l.Backlog, 0)) * float64(max(l.Priority, 1))
	}
	left = firstWorkers(out, caps, weights, left)
	left = fill(out, caps, weights, left)
	for i, l := range loads {
		work := max(l.Backlog, 0) + max(l.Recent, 0)
		caps[i] = min(l.MaxWorkers, max(l.MinWorkers, work))
		weights[i] = float64(work) * float64(max(l.Priority, 1))
	}
	fill(out, caps, weights, left)
	return out
}

// firstWorkers gives one worker to each category with a backlog and none yet (min_workers 0),
// the heaviest first (ties: the first), while left lasts; it returns what is left. Shared by
// weight alone, such a category's share rounds to zero beside a much heavier backlog, and its
// jobs would wait for the whole of the other's.
func firstWorkers(out, caps []int, weights []float64, left int) int {
	var want []int
	for i := range out {
		if out[i] == 0 && caps[i] > 0 && weights[i] > 0 {
			want = append(want, i)
		}
	}
	sort.SliceStable(want, func(a, b int) bool { return weights[want[a]] > weights[want[b]] })
	for _, i := range want {
		if left <= 0 {
			break
		}
		out[i]++
		left--
	}
	return left
}

// fill shares left workers among the categories under their cap with a weight above zero, in
// proportion to the weights (water-filling: a category that reaches its cap leaves its share to
// the others; integer remainders go to the largest fractions, ties to the heavier, then the
// first). It returns what no category could take.
func fill(out, caps []int, weights []float64, left int) int {
	for left > 0 {
		var open []int
		total := 0.0
		for i := range out {
			if out[i] < caps[i] && weights[i] > 0 {
				open = append(open, i)
				total += weights[i]
			}
		}
		if len(open) == 0 {
			break
		}
		type share struct {
			i    int
			frac float64
			w    float64
		}
		shares := make([]share, 0, len(open))
		given := 0
		capped := false
		for _, i := range open {
			exact := float64(left) * weights[i] / total
			n := int(exact)
			if out[i]+n >= caps[i] {
				n = caps[i] - out[i]
				capped = true
				exact = float64(n)
			}
			out[i] += n
			given += n
			shares = append(shares, share{i, exact - float64(n), weights[i]})
		}
		left -= given
		if capped {
			continue // re-share among those still open
		}
		sort.SliceStable(shares, func(a, b int) bool {
			if shares[a].frac != shares[b].frac {
				return shares[a].frac > shares[b].frac
			}
			return shares[a].w > shares[b].w
		})
		for _, s := range shares {
			if left == 0 {
				break
			}
			if out[s.i] < caps[s.i] {
				out[s.i]++
				left--
			}
		}
	}
	return left
}

// balancer re-divides the worker budget every BalanceInterval. A category that gets work while
// none of its workers is free (Backlogged) is served at once when the budget has workers to
// spare and the category is under its maximum; otherwise at most every 50 ms.
type balancer struct {
	env   *Env
	last  map[string]int // what each registry was last told; absent: unknown (tell it)
	work  map[string]*recentWork
	timer Timer
	soon  bool
	at    time.Time
}

// recentWork follows a category's CategoryStats.Dispatched from tick to tick.
type recentWork struct {
	mark     int64 // Dispatched at the last tick
	interval int   // jobs dispatched between the two last ticks
}

// recent is the category's Load.Recent: the jobs dispatched in the last whole interval or
// since the last tick, whichever is more. At a tick the interval just ended becomes the last
// whole one, so a category without work for a whole interval comes down to 0.
func (b *balancer) recent(cat string, st *CategoryStats, tick bool) int {
	if st == nil {
		return 0
	}
	w := b.work[cat]
	now := st.Dispatched.Load()
	if w == nil {
		w = &recentWork{mark: now}
		b.work[cat] = w
	}
	since := int(max(now-w.mark, 0))
	if tick {
		w.mark, w.interval = now, since
		return since
	}
	return max(w.interval, since)
}

// NewBalancer returns the WorkerBalancer's producer. The first incarnation knows each
// registry holds its minimum (a registry starts with it); a restarted one knows nothing of what
// its predecessor told them, so its first rebalance tells every registry its allocation (else a
// registry left above its minimum would keep those workers beside the budget given to others).
func NewBalancer(env *Env) actor.Producer {
	var started atomic.Bool // the producer may be called again from a supervisor's goroutine
	return func() actor.Actor {
		b := &balancer{env: env, last: map[string]int{}, work: map[string]*recentWork{}}
		if !started.Swap(true) {
			for _, c := range env.Live.List() {
				b.last[c.Name] = c.MinWorkers // a registry starts with its minimum
			}
		}
		return b
	}
}

type balanceSoon struct{}

func (b *balancer) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		b.rebalance(ctx, false)
		b.arm(ctx)
	case *tick:
		b.rebalance(ctx, true)
		b.arm(ctx)
	case *Backlogged:
		if b.canGrow(msg.Category) {
			b.rebalance(ctx, false) // spare workers: no reason to wait
			return
		}
		if b.soon {
			return
		}
		if wait := 50*time.Millisecond - b.env.Clock.Now().Sub(b.at); wait > 0 {
			b.soon = true
			self := ctx.Self()
			b.env.Clock.AfterFunc(wait, func() { b.env.send(self, &balanceSoon{}) })
			return
		}
		b.rebalance(ctx, false)
	case *balanceSoon:
		b.soon = false
		b.rebalance(ctx, false)
	case *RegistryStarted:
		delete(b.last, msg.Category)
		b.rebalance(ctx, false)
	case *CategoriesChanged:
		for _, n := range msg.Names {
			delete(b.last, n)
			delete(b.work, n)
		}
		b.rebalance(ctx, false)
	case *actor.Stopping, *actor.Restarting:
		if b.timer != nil {
			b.timer.Stop()
		}
	}
}

// canGrow reports whether the budget has workers no registry was given and the category is
// under its maximum.
func (b *balancer) canGrow(cat string) bool {
	c, _, ok := b.env.Live.Get(cat)
	if !ok {
		return false
	}
	last, known := b.last[cat]
	if known && last >= c.MaxWorkers {
		return false
	}
	given := 0
	for _, n := range b.last {
		given += n
	}
	return given < b.env.Budget
}

func (b *balancer) arm(ctx actor.Context) {
	self := ctx.Self()
	b.timer = b.env.Clock.AfterFunc(b.env.BalanceInterval, func() { b.env.send(self, &tick{}) })
}

// rebalance divides the budget again; tick: called by the interval's timer (the recent work
// of each category is measured from tick to tick).
func (b *balancer) rebalance(ctx actor.Context, tick bool) {
	b.at = b.env.Clock.Now()
	counts := b.env.Store.Counts()
	cats := b.env.Live.List()
	loads := make([]Load, len(cats))
	for i, c := range cats {
		cc := counts[c.Name]
		loads[i] = Load{Priority: c.Priority, MinWorkers: c.MinWorkers, MaxWorkers: c.MaxWorkers,
			Backlog: cc[persistence.StateQueued] + cc[persistence.StateRunning],
			Recent:  b.recent(c.Name, b.env.Live.StatsOf(c.Name), tick)}
	}
	alloc := Allocate(b.env.Budget, loads)
	last := make([]int, len(cats))
	known := make([]bool, len(cats))
	mins := make([]int, len(cats))
	for i, c := range cats {
		last[i], known[i] = b.last[c.Name]
		mins[i] = c.MinWorkers
	}
	apply := toApply(b.env.Budget, last, known, alloc, mins)
	for i, c := range cats {
		if !apply[i] {
			continue
		}
		b.env.event(Event{Type: "resize", Category: c.Name, From: last[i], To: alloc[i]})
		if _, st, ok := b.env.Live.Get(c.Name); ok && st != nil {
			st.Resizes.Add(1)
		}
		b.last[c.Name] = alloc[i]
		ctx.Send(b.env.RegistryPID(c.Name), &Resize{Workers: alloc[i]})
	}
}

// toApply says which categories are told their new allocation: those whose registry was never
// told one (known false) and those where worthResizing; a shrink by one worker is left out
// unless the budget needs it for a growth applied elsewhere, so what the registries are told
// never sums above the budget when the allocation does not.
func toApply(budget int, last []int, known []bool, alloc, mins []int) []bool {
	apply := make([]bool, len(alloc))
	told := 0
	for i := range alloc {
		apply[i] = !known[i] || worthResizing(last[i], alloc[i], mins[i])
		if apply[i] {
			told += alloc[i]
		} else {
			told += last[i]
		}
	}
	for i := range alloc {
		if told <= budget {
			break
		}
		if !apply[i] && alloc[i] < last[i] {
			apply[i] = true
			told -= last[i] - alloc[i]
		}
	}
	return apply
}

// worthResizing avoids thrashing: a shrink of one worker is not applied, except to let a
// category fall back to its minimum. A growth always is: the balancer grows a category that
// has work for more workers, at once when it reports work and no free worker (Backlogged).
func worthResizing(cur, next, minWorkers int) bool {
	switch {
	case cur == next:
		return false
	case next > cur, next == minWorkers:
		return true
	default:
		return cur-next >= 2
	}
}
