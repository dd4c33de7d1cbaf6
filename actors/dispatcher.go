package actors

import (
	"log/slog"

	"github.com/asynkron/protoactor-go/actor"
)

// dispatcher is the entry point of ready jobs: it routes each to its category's Fifo.
type dispatcher struct {
	env   *Env
	known map[string]bool
}

// NewDispatcher returns the Dispatcher's producer.
func NewDispatcher(env *Env) actor.Producer {
	return func() actor.Actor {
		d := &dispatcher{env: env, known: map[string]bool{}}
		for _, c := range env.Categories {
			d.known[c.Name] = true
		}
		return d
	}
}

func (d *dispatcher) Receive(ctx actor.Context) {
	if msg, ok := ctx.Message().(*Enqueued); ok {
		if !d.known[msg.Job.Category] {
			// The scheduler validates categories before storing, so this is a bug; the job stays
			// stored and runs after a restart with that category configured.
			d.env.Log.Error("dispatcher: job of an unknown category", slog.String("job", msg.Job.ID), slog.String("category", msg.Job.Category))
			return
		}
		ctx.Send(d.env.FifoPID(msg.Job.Category), msg)
	}
}
