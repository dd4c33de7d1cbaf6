package actors

import (
	"log/slog"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/jobsched/jobsched/persistence"
)

// dispatcher is the entry point of ready jobs that the Waiter, a settle or a retry promote: it
// routes each to its category's Fifo (Route). The jobs of an insert skip it: the scheduler
// routes them itself, one actor hop less between the commit and a worker.
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
	if msg, ok := ctx.Message().(*Enqueued); ok {
		Route(d.env, msg.Jobs)
	}
}

// Route sends ready jobs to their categories' Fifos: one Enqueued per category, each in the
// order of jobs, from the calling goroutine. Messages sent from one goroutine arrive in the
// order sent, so a caller that routes the jobs of each insert as it commits keeps the inserts
// in commit order.
func Route(env *Env, jobs []*persistence.Job) {
	if len(jobs) == 0 {
		return
	}
	at := time.Now() // every caller routes jobs already stored (see Enqueued.At)
	if allIn(jobs, jobs[0].Category) {
		route(env, jobs[0].Category, &Enqueued{Jobs: jobs, At: at})
		return
	}
	byCat := map[string][]*persistence.Job{}
	var order []string
	for _, j := range jobs {
		if _, seen := byCat[j.Category]; !seen {
			order = append(order, j.Category)
		}
		byCat[j.Category] = append(byCat[j.Category], j)
	}
	for _, cat := range order {
		route(env, cat, &Enqueued{Jobs: byCat[cat], At: at})
	}
}

func route(env *Env, cat string, msg *Enqueued) {
	if !env.Live.Has(cat) {
		// The scheduler validates categories before storing, so the category was removed
		// meanwhile (or this is a bug); the jobs stay stored and run once the category is
		// there again.
		env.Log.Error("dispatcher: jobs of an unknown category", slog.String("category", cat), slog.Int("jobs", len(msg.Jobs)))
		return
	}
	env.send(env.FifoPID(cat), msg)
}

func allIn(jobs []*persistence.Job, cat string) bool {
	for _, j := range jobs {
		if j.Category != cat {
			return false
		}
	}
	return true
}
