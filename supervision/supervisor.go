package supervision

import (
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// supervisor is the actor behind Props. It implements actor.SupervisorStrategy itself, so the
// failures of its children are handled on its own goroutine with its own state: the ordered
// children, the restart history and the restart queue.
type supervisor struct {
	spec     Spec
	self     *actor.PID
	children []*child
	// starting is the index of the child being started in the initial sequence; len(children)
	// once all have started.
	starting int
	// restartQ holds the children waiting to restart, in start order; restarting is the one
	// restarting now (nil if none).
	restartQ   []*child
	restarting *child
	history    []time.Time
	ready      bool
	// closing is set once this incarnation stops or restarts: its children are going too.
	closing bool
	// readyGen, set by the parent that spawned this supervisor, is the generation its
	// ChildReady must carry.
	readyGen *atomic.Uint64
}

// generations numbers every spawn and restart in the process. A PID survives restarts, so a
// ChildReady from an earlier incarnation (still in the mailbox) would otherwise pass for the
// current one.
var generations atomic.Uint64

type child struct {
	spec ChildSpec
	pid  *actor.PID
	// stopping is set when the supervisor stopped the child on purpose (temporary child).
	stopping bool
	// gen is the generation of the child's current incarnation.
	gen atomic.Uint64
}

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
	spec.Children = append([]ChildSpec(nil), spec.Children...)
	return &supervisor{spec: spec}
}

// SignalsReady marks supervisors as ready only once all their children are.
func (*supervisor) SignalsReady() {}

// readyMiddleware tells the parent a child is ready once it has handled *actor.Started, unless
// the child says so itself.
func readyMiddleware(gen *atomic.Uint64) actor.ReceiverMiddleware {
	return func(next actor.ReceiverFunc) actor.ReceiverFunc {
		return func(c actor.ReceiverContext, env *actor.MessageEnvelope) {
			next(c, env)
			if _, ok := env.Message.(*actor.Started); !ok {
				return
			}
			if _, self := c.Actor().(ReadySignaler); self || c.Parent() == nil {
				return
			}
			c.ActorSystem().Root.Send(c.Parent(), &ChildReady{PID: c.Self(), Gen: gen.Load()})
		}
	}
}

// Receive implements actor.Actor.
func (s *supervisor) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		s.self = ctx.Self()
		if ctx.Parent() == nil {
			s.spec.Tree.add("", s.self.Id, s.spec.Name, s.spec.Role, s.spec.Strategy)
		}
		s.children = s.children[:0]
		for _, cs := range s.spec.Children {
			s.children = append(s.children, &child{spec: cs})
		}
		s.starting = 0
		s.startNext(ctx)
	case *ChildReady:
		s.childReady(ctx, msg)
	case *AddChild:
		if s.closing {
			return // stopping or restarting: a new child would outlive the stop (or be started twice)
		}
		s.spec.Children = append(s.spec.Children, msg.Child)
		s.children = append(s.children, &child{spec: msg.Child})
		if s.starting == len(s.children)-1 {
			s.startNext(ctx)
		}
	case *actor.Terminated:
		s.terminated(ctx, msg.Who)
	case *actor.Restarting, *actor.Stopping:
		// OTP stops children in reverse start order, each gone before the next; protoactor-go
		// would stop them all at once. Children stop quickly (their Stopping handlers are
		// trivial), so this short wait in Receive is bounded.
		s.closing = true
		started := s.started()
		for i := len(started) - 1; i >= 0; i-- {
			_ = ctx.StopFuture(started[i].pid).Wait() // a timeout leaves protoactor's own stop to finish it
		}
	case *actor.Stopped:
		if ctx.Parent() == nil {
			s.spec.Tree.remove(s.self.Id)
		}
	}
}

// startNext starts the child at s.starting, if any; the next one starts when it is ready.
func (s *supervisor) startNext(ctx actor.Context) {
	if s.starting >= len(s.children) {
		s.markReady(ctx)
		return
	}
	s.spawn(ctx, s.children[s.starting])
}

func (s *supervisor) spawn(ctx actor.Context, c *child) {
	c.gen.Store(generations.Add(1))
	opts := append([]actor.PropsOption{actor.WithReceiverMiddleware(readyMiddleware(&c.gen))}, c.spec.Options...)
	tree, produce := s.spec.Tree, c.spec.Producer
	props := actor.PropsFromProducer(func() actor.Actor {
		a := produce()
		if sub, ok := a.(*supervisor); ok {
			sub.readyGen = &c.gen
			if sub.spec.Tree == nil {
				sub.spec.Tree = tree // a child supervisor shares its parent's tree
			}
		}
		return a
	}, opts...)
	// Record the child before it exists: a child supervisor records its own children as soon as
	// it starts, and they must find their parent in the tree.
	s.spec.Tree.add(s.self.Id, s.self.Id+"/"+c.spec.Name, c.spec.Name, c.spec.Role, c.spec.strategy)
	pid, err := ctx.SpawnNamed(props, c.spec.Name)
	if err != nil {
		s.spec.Tree.remove(s.self.Id + "/" + c.spec.Name)
		// A name still taken means the old incarnation has not gone yet: fail, and let our own
		// supervisor decide.
		panic("supervision: spawn " + c.spec.Name + ": " + err.Error())
	}
	c.pid = pid
	c.stopping = false
}

func (s *supervisor) markReady(ctx actor.Context) {
	if s.ready || s.restarting != nil {
		return
	}
	s.ready = true
	if ctx.Parent() == nil {
		s.spec.Tree.setStatus(s.self.Id, StatusRunning)
	}
	if ctx.Parent() != nil {
		msg := &ChildReady{PID: ctx.Self()}
		if s.readyGen != nil {
			msg.Gen = s.readyGen.Load()
		}
		ctx.Send(ctx.Parent(), msg)
	}
	if s.spec.OnReady != nil {
		s.spec.OnReady()
	}
}

func (s *supervisor) childReady(ctx actor.Context, msg *ChildReady) {
	c := s.find(msg.PID)
	if c == nil || (msg.Gen != 0 && msg.Gen != c.gen.Load()) {
		return // a stale ready of an earlier incarnation
	}
	s.spec.Tree.setStatus(msg.PID.Id, StatusRunning)
	if s.starting < len(s.children) && s.children[s.starting] == c {
		s.starting++
		s.startNext(ctx)
		return
	}
	if s.restarting == c {
		s.restarting = nil
		s.pump(ctx.(restarter))
	}
}

// HandleFailure implements actor.SupervisorStrategy for this supervisor's children.
func (s *supervisor) HandleFailure(_ *actor.ActorSystem, sup actor.Supervisor, pid *actor.PID, _ *actor.RestartStatistics, reason, message any) {
	c := s.find(pid)
	if c == nil || s.closing {
		sup.StopChildren(pid)
		return
	}
	now := time.Now()
	keep := s.history[:0]
	for _, t := range s.history {
		if now.Sub(t) <= s.spec.Period {
			keep = append(keep, t)
		}
	}
	s.history = append(keep, now)
	if len(s.history) > s.spec.Intensity {
		// OTP: past the intensity the supervisor gives up and its parent decides.
		if s.self != nil {
			s.spec.Tree.setStatus(s.self.Id, StatusEscalated)
		}
		sup.EscalateFailure(reason, message)
		return
	}
	for _, x := range s.affected(c) {
		if x.spec.Restart == Temporary {
			x.stopping = true
			sup.StopChildren(x.pid)
			continue
		}
		s.enqueueRestart(x)
	}
	s.pump(sup)
}

// affected lists the children a failure of c restarts, in start order.
func (s *supervisor) affected(c *child) []*child {
	switch s.spec.Strategy {
	case OneForAll:
		return append([]*child(nil), s.started()...)
	case RestForOne:
		started := s.started()
		for i, x := range started {
			if x == c {
				return append([]*child(nil), started[i:]...)
			}
		}
	}
	return []*child{c}
}

// started lists the children that have a PID, in start order.
func (s *supervisor) started() []*child {
	var out []*child
	for _, c := range s.children {
		if c.pid != nil {
			out = append(out, c)
		}
	}
	return out
}

func (s *supervisor) enqueueRestart(c *child) {
	if s.restarting == c {
		// It failed again while restarting: restart it once more, first.
		s.restarting = nil
	}
	for _, q := range s.restartQ {
		if q == c {
			return
		}
	}
	s.spec.Tree.setStatus(c.pid.Id, StatusRestarting)
	s.restartQ = append(s.restartQ, c)
	order := map[*child]int{}
	for i, x := range s.children {
		order[x] = i
	}
	// Keep start order: a later failure may queue an earlier child.
	for i := len(s.restartQ) - 1; i > 0 && order[s.restartQ[i]] < order[s.restartQ[i-1]]; i-- {
		s.restartQ[i], s.restartQ[i-1] = s.restartQ[i-1], s.restartQ[i]
	}
}

// restarter is what pump needs: protoactor's Supervisor (in HandleFailure) or Context.
type restarter interface {
	RestartChildren(pids ...*actor.PID)
}

// pump restarts the next queued child unless one is restarting; the one after it goes when it
// is ready (childReady).
func (s *supervisor) pump(r restarter) {
	if s.restarting != nil || len(s.restartQ) == 0 {
		return
	}
	c := s.restartQ[0]
	s.restartQ = s.restartQ[1:]
	s.restarting = c
	c.gen.Store(generations.Add(1))
	s.spec.Tree.restarted(c.pid.Id)
	r.RestartChildren(c.pid)
}

// terminated handles a child that stopped.
func (s *supervisor) terminated(ctx actor.Context, pid *actor.PID) {
	c := s.find(pid)
	if c == nil {
		return
	}
	if !s.closing && !c.stopping && (c.spec.Restart == Permanent || c.spec.Restart == "") {
		// OTP: a permanent child is restarted even after a normal stop.
		s.spec.Tree.restarted(pid.Id)
		s.spawn(ctx, c)
		return
	}
	s.spec.Tree.remove(pid.Id)
	for i, x := range s.children {
		if x == c {
			s.children = append(s.children[:i], s.children[i+1:]...)
			if i < s.starting {
				s.starting--
			}
			break
		}
	}
	for i, q := range s.restartQ {
		if q == c {
			s.restartQ = append(s.restartQ[:i], s.restartQ[i+1:]...)
			break
		}
	}
	if s.restarting == c {
		s.restarting = nil
		s.pump(ctx.(restarter))
	}
	if s.starting < len(s.children) && !s.closing && s.children[s.starting].pid == nil {
		s.startNext(ctx)
	}
}

func (s *supervisor) find(pid *actor.PID) *child {
	for _, c := range s.children {
		if c.pid != nil && c.pid.Equal(pid) {
			return c
		}
	}
	return nil
}
