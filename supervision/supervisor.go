package supervision

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// supervisor is the actor behind Props. It implements actor.SupervisorStrategy itself, so the
// failures of its children are handled on its own goroutine with its own state: the ordered
// children, the restart history and what each child still has to do.
//
// It works one child at a time, as OTP does: at most one child has a command outstanding
// (busy), and step picks the next command once that child has answered. A failure only marks
// which children must restart; step then ends their incarnations in reverse start order, each
// gone before the next, and starts them again in start order, each ready before the next. The
// first start is the same walk with nothing to end.
type supervisor struct {
	spec     Spec
	ctx      ops
	self     *actor.PID
	root     bool
	children []*child
	// busy is the child with a command outstanding (spawn, restart or stop), nil if none.
	busy    *child
	history []time.Time
	ready   bool
	// closing is set once this incarnation is ending (stopping, restarting, escalated or given
	// up): its children are going too, and nothing new starts.
	closing bool
	gaveUp  bool
}

// ops is what the supervisor does with its own context. protoactor-go passes the same context
// to Receive and, as its Supervisor, to HandleFailure.
type ops interface {
	actor.Context
	actor.Supervisor
}

// childState is where a child is in its life.
type childState int

const (
	idle     childState = iota // no process: not spawned yet, or terminated
	starting                   // spawned or restarted; waiting for its ChildReady
	running                    // ready
	failed                     // crashed; protoactor suspended it, its incarnation has yet to end
	parking                    // asked to end its incarnation; waiting for its placeholder
	parked                     // its incarnation ended; a placeholder holds its PID and mailbox
	stopping                   // asked to stop for good
)

type child struct {
	spec  ChildSpec
	pid   *actor.PID
	line  *lifeline
	state childState
	// restart: it must be (re)started. remove: it must be stopped for good (a temporary child
	// caught in a sibling's restart).
	restart, remove bool
}

// alive reports whether the child's incarnation has yet to end before it can start again.
func (c *child) alive() bool { return c.state == running || c.state == failed }

var (
	_ actor.Actor              = (*supervisor)(nil)
	_ actor.SupervisorStrategy = (*supervisor)(nil)
	_ ReadySignaler            = (*supervisor)(nil)
)

func newSupervisor(spec Spec) *supervisor {
	if spec.Strategy == "" {
		spec.Strategy = OneForOne
	}
	if spec.Intensity == 0 && spec.Period == 0 {
		spec.Intensity, spec.Period = 1, 5*time.Second
	}
	return &supervisor{spec: spec}
}

// SignalsReady marks supervisors as ready only once all their children are.
func (*supervisor) SignalsReady() {}

// countChildren asks a supervisor how many children it holds (tests).
type countChildren struct{}

// Receive implements actor.Actor.
func (s *supervisor) Receive(ctx actor.Context) {
	defer s.guard()
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		o, ok := ctx.(ops)
		if !ok {
			panic(fmt.Sprintf("supervision: a supervisor's context must be protoactor's own, got %T", ctx))
		}
		s.ctx, s.self, s.root = o, ctx.Self(), ctx.Parent() == nil
		if s.root {
			s.spec.Tree.add("", s.self.Id, s.spec.Name, s.spec.Role, s.spec.Strategy)
		}
		s.children = make([]*child, 0, len(s.spec.Children))
		for _, cs := range s.spec.Children {
			s.children = append(s.children, &child{spec: cs, restart: true})
		}
		s.step()
	case *ChildReady:
		c := s.find(msg.PID)
		if c == nil || c.state != starting || msg.Gen != c.line.gen.Load() {
			return // a stale ready of an earlier incarnation
		}
		c.state = running
		s.spec.Tree.setStatus(msg.PID.Id, StatusRunning)
		s.answered(c)
	case *childParked:
		c := s.find(msg.PID)
		if c == nil || c.state != parking || msg.Gen != c.line.gen.Load() {
			return
		}
		c.state = parked
		s.answered(c)
	case *AddChild:
		s.addChild(ctx, msg.Child)
	case *actor.Terminated:
		s.terminated(msg.Who)
	case *actor.Restarting, *actor.Stopping:
		// OTP stops children in reverse start order, each gone before the next; protoactor-go
		// would stop them all at once. Children stop quickly (their Stopping handlers are
		// trivial), so this short wait in Receive is bounded.
		s.closing = true
		for i := len(s.children) - 1; i >= 0; i-- {
			if c := s.children[i]; c.pid != nil && c.state != idle {
				_ = ctx.StopFuture(c.pid).Wait() // a timeout leaves protoactor's own stop to finish it
			}
		}
	case *actor.Stopped:
		if s.root {
			s.spec.Tree.remove(s.self.Id)
		}
	case *countChildren:
		ctx.Respond(len(s.children))
	}
}

// guard makes a failure of the root supervisor itself a give-up: it has no parent to escalate
// to, and protoactor-go's default strategy would restart it ten times and then stop it without
// telling anyone. A child supervisor's failure goes to its parent as usual.
func (s *supervisor) guard() {
	if !s.root {
		return
	}
	r := recover()
	if r == nil {
		return
	}
	if s.closing {
		s.ctx.Logger().Error("supervision: root supervisor failed while stopping", slog.Any("reason", r))
		return
	}
	s.giveUp(fmt.Errorf("%w: %s failed: %v", ErrGaveUp, s.self.Id, r))
}

func (s *supervisor) addChild(ctx actor.Context, cs ChildSpec) {
	if s.closing {
		return // stopping or restarting: a new child would outlive the stop
	}
	err := cs.validate()
	for _, c := range s.children {
		if err == nil && c.spec.Name == cs.Name {
			err = errors.New("name taken")
		}
	}
	if err != nil {
		ctx.Logger().Warn("supervision: AddChild ignored", slog.String("supervisor", s.self.Id),
			slog.String("child", cs.Name), slog.Any("error", err))
		return
	}
	s.children = append(s.children, &child{spec: cs, restart: true})
	s.step()
}

// answered clears the busy child once it has answered its command, and moves on.
func (s *supervisor) answered(c *child) {
	if s.busy == c {
		s.busy = nil
	}
	s.step()
}

// step sends the next command, unless a child has one outstanding. First the children due to
// restart (or to go for good) end their incarnation, the last started first; then those due to
// restart start, in start order; once none is left, the supervisor is ready.
func (s *supervisor) step() {
	if s.busy != nil || s.closing {
		return
	}
	for i := len(s.children) - 1; i >= 0; i-- {
		c := s.children[i]
		if (c.restart || c.remove) && c.alive() {
			s.busy = c
			if c.remove {
				c.state = stopping
				s.ctx.StopChildren(c.pid)
				return
			}
			c.state = parking
			c.line.park.Store(true)
			c.line.gen.Store(generations.Add(1))
			s.spec.Tree.setStatus(c.pid.Id, StatusRestarting)
			s.ctx.RestartChildren(c.pid)
			return
		}
	}
	for _, c := range s.children {
		if !c.restart || (c.state != idle && c.state != parked) {
			continue
		}
		s.busy = c
		c.restart = false
		if c.state == idle {
			s.spawn(c)
			return
		}
		c.state = starting
		c.line.park.Store(false)
		c.line.gen.Store(generations.Add(1))
		s.spec.Tree.restarted(c.pid.Id)
		s.ctx.RestartChildren(c.pid)
		return
	}
	s.markReady()
}

func (s *supervisor) spawn(c *child) {
	line := &lifeline{}
	line.gen.Store(generations.Add(1))
	opts := append([]actor.PropsOption{actor.WithReceiverMiddleware(lifelineMiddleware(line)),
		actor.WithMailbox(guardedMailboxes)}, c.spec.Options...)
	tree, produce := s.spec.Tree, c.spec.Producer
	props := actor.PropsFromProducer(func() actor.Actor {
		if line.park.Load() {
			return placeholder{}
		}
		a := produce()
		if sub, ok := a.(*supervisor); ok && sub.spec.Tree == nil {
			sub.spec.Tree = tree // a child supervisor shares its parent's tree
		}
		return a
	}, opts...)
	id := s.self.Id + "/" + c.spec.Name
	// Record the child before it exists: a child supervisor records its own children as soon as
	// it starts, and they must find their parent in the tree.
	s.spec.Tree.add(s.self.Id, id, c.spec.Name, c.spec.Role, c.spec.strategy)
	if c.pid != nil {
		s.spec.Tree.restarted(id) // started again after it stopped
	}
	pid, err := s.ctx.SpawnNamed(props, c.spec.Name)
	if err != nil {
		s.spec.Tree.remove(id)
		// A name still taken means the old incarnation has not gone yet: fail, and let our own
		// supervisor decide.
		panic("supervision: spawn " + c.spec.Name + ": " + err.Error())
	}
	c.pid, c.line, c.state = pid, line, starting
}

func (s *supervisor) markReady() {
	if s.ready {
		return
	}
	s.ready = true
	if s.root {
		s.spec.Tree.setStatus(s.self.Id, StatusRunning)
	}
	Ready(s.ctx)
	if s.spec.OnReady != nil {
		s.spec.OnReady()
	}
}

// HandleFailure implements actor.SupervisorStrategy for this supervisor's children.
func (s *supervisor) HandleFailure(_ *actor.ActorSystem, sup actor.Supervisor, pid *actor.PID, _ *actor.RestartStatistics, reason, message any) {
	defer s.guard()
	c := s.find(pid)
	if c == nil || s.closing {
		sup.StopChildren(pid)
		return
	}
	if s.busy == c {
		s.busy = nil
	}
	if c.spec.Restart == Temporary {
		// OTP: a temporary child is never restarted; its exit restarts no sibling and does not
		// count toward the intensity.
		c.state, c.restart, c.remove = stopping, false, false
		sup.StopChildren(pid)
		s.step()
		return
	}
	c.state = failed
	if s.tooMany() {
		s.escalate(c, reason, message)
		return
	}
	s.schedule(c)
	s.step()
}

// tooMany records a restart and reports whether it is one more than Intensity within Period.
func (s *supervisor) tooMany() bool {
	now := time.Now()
	keep := s.history[:0]
	for _, t := range s.history {
		if now.Sub(t) <= s.spec.Period {
			keep = append(keep, t)
		}
	}
	s.history = append(keep, now)
	return len(s.history) > s.spec.Intensity
}

// escalate gives up, as OTP does past the intensity: a child supervisor fails to its parent,
// whose strategy decides; the root has no parent and stops for good.
func (s *supervisor) escalate(c *child, reason, message any) {
	if s.root {
		s.giveUp(fmt.Errorf("%w: %s: more than %d restarts within %s; the last: %s: %v",
			ErrGaveUp, s.self.Id, s.spec.Intensity, s.spec.Period, c.spec.Name, reason))
		return
	}
	s.closing = true
	s.spec.Tree.setStatus(s.self.Id, StatusEscalated)
	s.ctx.EscalateFailure(reason, message)
}

// giveUp stops the root for good and tells Spec.OnGiveUp, once.
func (s *supervisor) giveUp(reason error) {
	if s.gaveUp {
		return
	}
	s.gaveUp, s.closing = true, true
	s.spec.Tree.setStatus(s.self.Id, StatusEscalated)
	if s.spec.OnGiveUp != nil {
		s.spec.OnGiveUp(reason)
	}
	s.ctx.Stop(s.self)
}

// schedule marks the children a failure (or exit) of c restarts, by the strategy.
func (s *supervisor) schedule(c *child) {
	affected := []*child{c}
	switch s.spec.Strategy {
	case OneForAll:
		affected = s.children
	case RestForOne:
		for i, x := range s.children {
			if x == c {
				affected = s.children[i:]
				break
			}
		}
	}
	for _, x := range affected {
		switch {
		case x.state == stopping:
		case x.spec.Restart == Temporary && x != c:
			x.remove = x.state != idle
		default:
			x.restart = true
			if x.alive() {
				s.spec.Tree.setStatus(x.pid.Id, StatusRestarting)
			}
		}
	}
}

// terminated handles a child that stopped.
func (s *supervisor) terminated(pid *actor.PID) {
	c := s.find(pid)
	if c == nil {
		return
	}
	if s.closing {
		s.spec.Tree.remove(pid.Id)
		return
	}
	if s.busy == c {
		s.busy = nil
	}
	asked := c.state == stopping
	c.state = idle
	switch {
	case asked || c.remove || c.spec.Restart == Temporary || c.spec.Restart == Transient:
		// Gone for good (stopped by us, or a temporary or transient child that stopped on its
		// own): forget it, spec and all.
		s.drop(c)
	case c.restart:
		// Already due to restart (a sibling failed): step starts it again.
	default:
		// OTP: a permanent child is restarted even after a normal stop, by the strategy, and
		// the restart counts toward the intensity.
		if s.tooMany() {
			s.escalate(c, fmt.Sprintf("permanent child %s stopped", c.spec.Name), nil)
			return
		}
		s.schedule(c)
	}
	s.step()
}

func (s *supervisor) drop(c *child) {
	s.spec.Tree.remove(c.pid.Id)
	for i, x := range s.children {
		if x == c {
			s.children = append(s.children[:i], s.children[i+1:]...)
			return
		}
	}
}

func (s *supervisor) find(pid *actor.PID) *child {
	for _, c := range s.children {
		if c.pid != nil && c.pid.Id == pid.Id {
			return c
		}
	}
	return nil
}
