package actors

import (
	"log/slog"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/jobsched/jobsched/persistence"
)

// dispatcher is the entry point of ready jobs: it routes each to its category's Fifo.
type dispatcher struct {
	env *Env
}

// NewDispatcher returns the Dispatcher's producer.
func NewDispatcher(env *Env) actor.Producer {
	return func() actor.Actor {
		return &dispatcher{env: env}
	}
}

func (d *dispatcher) Receive(ctx actor.Context) {
	msg, ok := ctx.Message().(*Enqueued)
	if !ok {
		return
	}
	if len(msg.Jobs) > 0 && allIn(msg.Jobs, msg.Jobs[0].Category) {
		d.route(ctx, msg.Jobs[0].Category, msg)
		return
	}
	byCat := map[string][]*persistence.Job{}
	var order []string
	for _, j := range msg.Jobs {
		if _, seen := byCat[j.Category]; !seen {
			order = append(order, j.Category)
		}
		byCat[j.Category] = append(byCat[j.Category], j)
	}
	for _, cat := range order {
		d.route(ctx, cat, &Enqueued{Jobs: byCat[cat]})
	}
}

func (d *dispatcher) route(ctx actor.Context, cat string, msg *Enqueued) {
	if _, _, ok := d.env.Live.Get(cat); !ok {
		// The scheduler validates categories before storing, so the category was removed
		// meanwhile (or this is a bug); the jobs stay stored and run once the category is
		// there again.
		d.env.Log.Error("dispatcher: jobs of an unknown category", slog.String("category", cat), slog.Int("jobs", len(msg.Jobs)))
		return
	}
	ctx.Send(d.env.FifoPID(cat), msg)
}

func allIn(jobs []*persistence.Job, cat string) bool {
	for _, j := range jobs {
		if j.Category != cat {
			return false
		}
	}
	return true
}
