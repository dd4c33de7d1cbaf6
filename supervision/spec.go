package supervision

import (
	"errors"
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// Strategy says which children restart when one fails.
type Strategy string

// The OTP strategies.
const (
	// OneForOne restarts the failed child alone.
	OneForOne Strategy = "one_for_one"
	// OneForAll restarts every child.
	OneForAll Strategy = "one_for_all"
	// RestForOne restarts the failed child and every child started after it.
	RestForOne Strategy = "rest_for_one"
)

// Restart says whether a child is restarted.
type Restart string

// The OTP restart types.
const (
	// Permanent children are always restarted, also after they stop on their own.
	Permanent Restart = "permanent"
	// Transient children are restarted after a failure (panic), not after a normal stop.
	Transient Restart = "transient"
	// Temporary children are never restarted: a failure stops them.
	Temporary Restart = "temporary"
)

// ChildSpec declares one child.
type ChildSpec struct {
	// Name is unique among the supervisor's children; the child's PID id is <parent id>/<name>.
	Name string
	// Role names what the child is (shown in the tree), e.g. "Fifo" or "Worker".
	Role string
	// Producer makes the actor; it runs again at each restart, so state starts fresh.
	Producer actor.Producer
	// Options are extra props options (mailbox, middleware). Do not set a supervisor strategy:
	// a supervisor child supervises with its own Spec.
	Options []actor.PropsOption
	// Restart is the child's restart type; "" means Permanent.
	Restart Restart

	strategy Strategy // set by Supervisor, for the tree
}

// Spec declares a supervisor.
type Spec struct {
	// Name is shown in the tree for the supervisor itself when it is the root.
	Name string
	// Role is shown in the tree for the root supervisor.
	Role string
	// Strategy is OneForOne, OneForAll or RestForOne; "" means OneForOne.
	Strategy Strategy
	// Intensity and Period: more than Intensity restarts within Period make the supervisor
	// escalate. Zero values mean OTP's defaults: 1 restart in 5 seconds.
	Intensity int
	Period    time.Duration
	// Children in start order.
	Children []ChildSpec
	// Tree, when set, records this supervisor's subtree. Child supervisors share it.
	Tree *Tree
	// OnReady, when set, is called (on the supervisor's goroutine) once per incarnation of the
	// supervisor, when it has started all its children; a root supervisor has no parent to tell.
	OnReady func()
	// OnGiveUp, when set on the root spec (a supervisor spawned from the actor system's root
	// context), is called once if the root gives up: more than Intensity restarts within Period,
	// or a failure of the root supervisor itself. reason is an error wrapping ErrGaveUp. It is
	// called on the supervisor's goroutine and must not block; the root then stops its children
	// (in reverse start order) and itself, for good. A stop someone asked for (Stop or Poison of
	// the root) does not call it. Ignored on a spec that is not the root's: a child supervisor
	// escalates to its parent instead.
	OnGiveUp func(reason any)
}

// ErrGaveUp is wrapped by the reason given to Spec.OnGiveUp.
var ErrGaveUp = errors.New("supervision: the root supervisor gave up")

// Supervisor returns a ChildSpec for a child that is itself a supervisor of spec. The child
// shares the parent's Tree unless spec names its own.
func Supervisor(name, role string, spec Spec) ChildSpec {
	if spec.Strategy == "" {
		spec.Strategy = OneForOne
	}
	return ChildSpec{Name: name, Role: role, Restart: Permanent, strategy: spec.Strategy,
		Producer: func() actor.Actor { return newSupervisor(spec) }}
}

// Props returns the props of a supervisor actor for spec.
func Props(spec Spec) *actor.Props {
	return actor.PropsFromProducer(func() actor.Actor { return newSupervisor(spec) })
}

// Validate reports the first thing wrong with spec.
func (s Spec) Validate() error {
	switch s.Strategy {
	case "", OneForOne, OneForAll, RestForOne:
	default:
		return fmt.Errorf("supervision: unknown strategy %q", s.Strategy)
	}
	if s.Intensity < 0 || s.Period < 0 {
		return fmt.Errorf("supervision: intensity and period must not be negative")
	}
	seen := map[string]bool{}
	for i, c := range s.Children {
		if err := c.validate(); err != nil {
			return fmt.Errorf("supervision: child %d (%q): %w", i, c.Name, err)
		}
		if seen[c.Name] {
			return fmt.Errorf("supervision: two children named %q", c.Name)
		}
		seen[c.Name] = true
	}
	return nil
}

func (c ChildSpec) validate() error {
	if c.Name == "" || c.Producer == nil {
		return errors.New("needs a name and a producer")
	}
	switch c.Restart {
	case "", Permanent, Transient, Temporary:
	default:
		return fmt.Errorf("unknown restart type %q", c.Restart)
	}
	return nil
}

// Messages a supervisor understands. Send them with the actor system's root context or from any
// actor.

// AddChild starts one more child at the end of the supervisor's children (a pool grows). A
// child that later ends for good (a temporary child's exit, a transient child's normal stop) is
// forgotten with its spec, so a pool that grows and shrinks holds only its live members. An
// invalid child, or one whose name is taken, is logged and ignored.
type AddChild struct{ Child ChildSpec }

// ChildReady tells a supervisor its child is ready. Children that implement ReadySignaler send
// it through Ready; the supervisor's middleware sends it for the others.
type ChildReady struct {
	PID *actor.PID
	// Gen is the incarnation it speaks for; the supervisor ignores a ChildReady whose Gen is not
	// the child's current incarnation (one sent by an earlier incarnation, still in its mailbox).
	Gen uint64
}

// ReadySignaler is implemented by an actor that says itself when it is ready (by calling Ready),
// instead of being ready as soon as it has handled *actor.Started.
type ReadySignaler interface {
	SignalsReady()
}

// Ready tells the parent of the actor in ctx that it is ready. The message carries the
// generation of the actor's current incarnation, so a Ready that an incarnation sent just before
// it crashed does not pass for its successor's.
func Ready(ctx actor.Context) {
	if ctx.Parent() != nil {
		ctx.Send(ctx.Parent(), &ChildReady{PID: ctx.Self(), Gen: generationOf(ctx)})
	}
}
