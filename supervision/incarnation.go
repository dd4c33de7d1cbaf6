package supervision

import (
	"sync/atomic"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/ctxext"
)

// A restart here is two steps, as in OTP: the old incarnation ends (its Restarting handler runs
// and its own children stop), and later, once the siblings it depends on are back, a new one
// starts. protoactor-go's restart does both at once, so the supervisor restarts a child twice:
// the first restart installs a placeholder, which only holds the child's PID and mailbox; the
// second brings the real actor back. Messages that reach the placeholder are handed to the new
// incarnation after its *actor.Started, so a restarted child keeps its mailbox as before.

// generations numbers every incarnation in the process. A PID survives restarts, so a word from
// an earlier incarnation (a ChildReady still in the supervisor's mailbox) would otherwise pass
// for the current one's.
var generations atomic.Uint64

// lifeline is what a supervisor shares with one spawned child for the child's whole life (its
// props are reused at each restart).
type lifeline struct {
	// gen is the generation of the incarnation the supervisor last asked for; it changes only
	// when the supervisor sends the child a command (spawn, restart), and the supervisor sends
	// the next one only after the child's answer, so the incarnation that starts reads its own.
	gen atomic.Uint64
	// park makes the next incarnation a placeholder.
	park atomic.Bool
	// held are the messages that reached a placeholder. Only the child's goroutine touches it.
	held []*actor.MessageEnvelope
}

// placeholder stands in for a child between the end of one incarnation and the start of the
// next. The lifeline middleware handles all its messages.
type placeholder struct{}

func (placeholder) Receive(actor.Context) {}

// childParked tells a supervisor that a child's incarnation has ended (a placeholder stands in).
type childParked struct {
	PID *actor.PID
	Gen uint64
}

// incarnation is the context extension holding the generation of an actor's current
// incarnation, for Ready.
type incarnation struct{ gen uint64 }

var incarnationID = ctxext.NextContextExtensionID()

// ExtensionID implements ctxext.ContextExtension.
func (*incarnation) ExtensionID() ctxext.ContextExtensionID { return incarnationID }

// generationOf returns the generation of the incarnation in ctx, 0 if a supervisor of this
// package did not spawn it.
func generationOf(ctx actor.ExtensionContext) (gen uint64) {
	// Get indexes a slice that only a Set of this id grows: an actor spawned elsewhere may not
	// have it, and then 0 is the answer.
	defer func() {
		if recover() != nil {
			gen = 0
		}
	}()
	if inc, ok := ctx.Get(incarnationID).(*incarnation); ok {
		return inc.gen
	}
	return 0
}

// lifelineMiddleware records each incarnation's generation, tells the parent when a plain child
// is ready (after its *actor.Started) or when a placeholder has taken its place, and holds the
// messages that reach a placeholder for the next incarnation. It is the child's outermost
// middleware.
func lifelineMiddleware(line *lifeline) actor.ReceiverMiddleware {
	return func(next actor.ReceiverFunc) actor.ReceiverFunc {
		return func(c actor.ReceiverContext, env *actor.MessageEnvelope) {
			_, parked := c.Actor().(placeholder)
			switch env.Message.(type) {
			case *actor.Started:
				gen := line.gen.Load()
				c.Set(&incarnation{gen: gen})
				if parked {
					c.ActorSystem().Root.Send(c.Parent(), &childParked{PID: c.Self(), Gen: gen})
					return
				}
				next(c, env)
				if _, self := c.Actor().(ReadySignaler); !self && c.Parent() != nil {
					c.ActorSystem().Root.Send(c.Parent(), &ChildReady{PID: c.Self(), Gen: gen})
				}
				line.replay(c, next)
				return
			case *actor.Restarting, *actor.Stopping, *actor.Stopped:
				if parked {
					return
				}
			default:
				if parked {
					line.held = append(line.held, env)
					return
				}
			}
			next(c, env)
		}
	}
}

// replay hands the held messages to the incarnation that just started, oldest first. One that
// panics is dropped (as protoactor drops the message an actor panicked on); the rest wait for
// the next incarnation.
func (l *lifeline) replay(c actor.ReceiverContext, next actor.ReceiverFunc) {
	for len(l.held) > 0 {
		env := l.held[0]
		l.held[0] = nil
		l.held = l.held[1:]
		next(c, env)
	}
	l.held = nil
}
