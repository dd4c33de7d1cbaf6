package actors

import (
	"sort"
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
}

// Allocate divides a worker budget among categories. Each gets its minimum; the rest of the
// budget goes to categories in proportion to Backlog × Priority, each capped by its maximum and
// by its backlog (a worker without a job is no use), with the integer remainders handed out by
// largest fraction. Idle categories keep their minimum. The sum never exceeds the budget, unless
// the minimums alone do (the configuration forbids that).
func Allocate(budget int, loads []Load) []int {
	out := make([]int, len(loads))
	caps := make([]int, len(loads))
	left := budget
	for i, l := range loads {
		out[i] = l.MinWorkers
		left -= l.MinWorkers
		caps[i] = min(l.MaxWorkers, max(l.MinWorkers, l.Backlog))
	}
	// Water-filling: share what is left by weight among the categories under their cap; a
	// category that reaches its cap leaves the share to the others.
	for left > 0 {
		var open []int
		total := 0.0
		for i, l := range loads {
			if out[i] < caps[i] && l.Backlog > 0 {
				open = append(open, i)
				total += float64(l.Backlog) * float64(max(l.Priority, 1))
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
			w := float64(loads[i].Backlog) * float64(max(loads[i].Priority, 1))
			exact := float64(left) * w / total
			n := int(exact)
			if out[i]+n >= caps[i] {
				n = caps[i] - out[i]
				capped = true
				exact = float64(n)
			}
			out[i] += n
			given += n
			shares = append(shares, share{i, exact - float64(n), w})
		}
		left -= given
		if capped {
			continue // re-share among those still open
		}
		// Largest remainder: one more worker to the largest fractions (ties: heavier, then first).
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
		if given == 0 && left > 0 {
			// Every share rounded to zero and the remainders are handed out: loop again only
			// if someone can still take more.
			continue
		}
	}
	return out
}

// balancer re-divides the worker budget every BalanceInterval, and at once (at most every
// 50 ms) when a category gets work while none of its workers is free.
type balancer struct {
	env   *Env
	last  map[string]int // what each registry was last told; absent: unknown (tell it)
	timer Timer
	soon  bool
	at    time.Time
}

// NewBalancer returns the WorkerBalancer's producer.
func NewBalancer(env *Env) actor.Producer {
	return func() actor.Actor {
		b := &balancer{env: env, last: map[string]int{}}
		for _, c := range env.Live.List() {
			b.last[c.Name] = c.MinWorkers // a registry starts with its minimum
		}
		return b
	}
}

type balanceSoon struct{}

func (b *balancer) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		b.rebalance(ctx)
		b.arm(ctx)
	case *tick:
		b.rebalance(ctx)
		b.arm(ctx)
	case *Backlogged:
		if b.soon {
			return
		}
		if wait := 50*time.Millisecond - b.env.Clock.Now().Sub(b.at); wait > 0 {
			b.soon = true
			self := ctx.Self()
			b.env.Clock.AfterFunc(wait, func() { b.env.send(self, &balanceSoon{}) })
			return
		}
		b.rebalance(ctx)
	case *balanceSoon:
		b.soon = false
		b.rebalance(ctx)
	case *CategoriesChanged:
		for _, n := range msg.Names {
			delete(b.last, n)
		}
		b.rebalance(ctx)
	case *actor.Stopping, *actor.Restarting:
		if b.timer != nil {
			b.timer.Stop()
		}
	}
}

func (b *balancer) arm(ctx actor.Context) {
	self := ctx.Self()
	b.timer = b.env.Clock.AfterFunc(b.env.BalanceInterval, func() { b.env.send(self, &tick{}) })
}

func (b *balancer) rebalance(ctx actor.Context) {
	b.at = b.env.Clock.Now()
	counts := b.env.Store.Counts()
	cats := b.env.Live.List()
	loads := make([]Load, len(cats))
	for i, c := range cats {
		cc := counts[c.Name]
		loads[i] = Load{Priority: c.Priority, MinWorkers: c.MinWorkers, MaxWorkers: c.MaxWorkers,
			Backlog: cc[persistence.StateQueued] + cc[persistence.StateRunning]}
	}
	alloc := Allocate(b.env.Budget, loads)
	for i, c := range cats {
		last, known := b.last[c.Name]
		if known && !worthResizing(last, alloc[i], c.MinWorkers) {
			continue
		}
		b.env.event(Event{Type: "resize", Category: c.Name, From: last, To: alloc[i]})
		if _, st, ok := b.env.Live.Get(c.Name); ok && st != nil {
			st.Resizes.Add(1)
		}
		b.last[c.Name] = alloc[i]
		ctx.Send(b.env.RegistryPID(c.Name), &Resize{Workers: alloc[i]})
	}
}

// worthResizing avoids thrashing: a change of one worker is not applied, except to wake an idle
// category or to let one fall back to its minimum.
func worthResizing(cur, next, minWorkers int) bool {
	switch {
	case cur == next:
		return false
	case next == minWorkers || cur == minWorkers:
		return true
	default:
		d := next - cur
		return d >= 2 || d <= -2
	}
}
