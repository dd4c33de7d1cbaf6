package supervision

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/require"
)

type load struct{}
type readyNow struct{}

// gated is a ReadySignaler that logs its start and says it is ready only when told (*readyNow).
// On *crash it panics. If capture is set, its first incarnation's Ready is captured there
// instead of being sent (to replay it later as a stale message).
type gated struct {
	name    string
	ev      *events
	capture *capturedReady
}

type capturedReady struct {
	mu  sync.Mutex
	msg *ChildReady
}

// capturingContext is a context whose Send keeps a *ChildReady instead of sending it.
type capturingContext struct {
	actor.Context
	into *capturedReady
}

func (c capturingContext) Send(pid *actor.PID, msg any) {
	if r, ok := msg.(*ChildReady); ok {
		c.into.mu.Lock()
		c.into.msg = r
		c.into.mu.Unlock()
		return
	}
	c.Context.Send(pid, msg)
}

func (*gated) SignalsReady() {}

func (g *gated) Receive(ctx actor.Context) {
	switch ctx.Message().(type) {
	case *actor.Started:
		g.ev.add("start:" + g.name)
	case *actor.Restarting:
		g.ev.add("restarting:" + g.name)
	case *readyNow:
		if g.capture != nil {
			Ready(capturingContext{Context: ctx, into: g.capture})
			g.capture = nil
		}
		Ready(ctx)
	case *crash:
		panic("crash " + g.name)
	}
}

// flaky is a ReadySignaler whose ready phase (a load it sends itself) panics the first time.
type flaky struct {
	ev    *events
	tries *atomic.Int32
}

func (*flaky) SignalsReady() {}

func (f *flaky) Receive(ctx actor.Context) {
	switch ctx.Message().(type) {
	case *actor.Started:
		f.ev.add("start:flaky")
		ctx.Send(ctx.Self(), &load{})
	case *load:
		if f.tries.Add(1) == 1 {
			panic("first load fails")
		}
		Ready(ctx)
	}
}

// barrier returns once the supervisor at pid has handled every message sent to it before.
func barrier(t *testing.T, f *fixture, pid *actor.PID) int {
	t.Helper()
	n, err := f.sys.Root.RequestFuture(pid, &countChildren{}, 5*time.Second).Result()
	require.NoError(t, err)
	return n.(int)
}

func (f *fixture) sup() *actor.PID { return actor.NewPID(f.sys.Address(), f.root.Id+"/sup") }

func restarts(f *fixture, name string) int {
	if n := f.tree.Find(f.pid(name).Id); n != nil {
		return n.Restarts
	}
	return -1
}

// Issue 10, point 3: a child that fails before its first ready is restarted like any other,
// the supervisor becomes ready, and later failures are still restarted.
func TestChildFailingBeforeItsFirstReadyIsRestarted(t *testing.T) {
	ev := newEvents()
	var tries atomic.Int32
	spec := Spec{Strategy: RestForOne, Intensity: 5, Period: time.Minute, Children: []ChildSpec{
		rec(ev, "a", Permanent),
		{Name: "flaky", Role: "Flaky", Producer: func() actor.Actor { return &flaky{ev: ev, tries: &tries} }},
		rec(ev, "c", Permanent)}}
	f := start(t, spec) // fails unless the root's OnReady is called
	require.Equal(t, []string{"start:a", "start:flaky", "start:flaky", "start:c"}, ev.waitFor(t, 0, "start:c"))
	require.Equal(t, int32(2), tries.Load())
	require.Equal(t, 1, restarts(f, "flaky"))
	require.Equal(t, StatusRunning, nodeStatus(f, "flaky"))
	require.Equal(t, StatusRunning, f.tree.Find(f.sup().Id).Status)

	m := ev.mark()
	f.sys.Root.Send(f.pid("a"), &crash{})
	ev.waitFor(t, m, "restarting:c", "restarting:a", "start:a", "start:flaky", "start:c")
	require.Eventually(t, func() bool { return nodeStatus(f, "c") == StatusRunning }, 5*time.Second, 5*time.Millisecond)
	require.Equal(t, 1, restarts(f, "a"))
	require.Equal(t, 2, restarts(f, "flaky"))
}

// rest_for_one: the later siblings end in reverse start order, each gone before the next (the
// grandchild of "c" stops before "b" ends), then start in order, each ready before the next.
func TestRestForOneEndsInReverseAndStartsEachReadyBeforeTheNext(t *testing.T) {
	ev := newEvents()
	spec := Spec{Strategy: RestForOne, Intensity: 5, Period: time.Minute, Children: []ChildSpec{
		rec(ev, "a", Permanent),
		{Name: "b", Role: "Gated", Producer: func() actor.Actor { return &gated{name: "b", ev: ev} }},
		Supervisor("c", "Sub", Spec{Children: []ChildSpec{rec(ev, "c1", Permanent)}}),
	}}
	f := startWith(t, spec, func(f *fixture) {
		ev.waitFor(t, 0, "start:b")
		f.sys.Root.Send(f.pid("b"), &readyNow{})
	})
	ev.waitFor(t, 0, "start:c1")

	m := ev.mark()
	f.sys.Root.Send(f.pid("b"), &crash{})
	ev.waitFor(t, m, "stopped:c1", "restarting:b", "start:b")
	// b has not said it is ready: c must not start yet.
	barrier(t, f, f.sup())
	require.Equal(t, 0, restarts(f, "c"), "c started before b was ready")
	require.Equal(t, StatusRestarting, nodeStatus(f, "c"))
	require.Equal(t, StatusRestarting, nodeStatus(f, "b"))

	f.sys.Root.Send(f.pid("b"), &readyNow{})
	got := ev.waitFor(t, m, "start:c1")
	require.Equal(t, []string{"stopped:c1", "restarting:b", "start:b", "start:c1"}, got)
	require.Eventually(t, func() bool { return nodeStatus(f, "c") == StatusRunning }, 5*time.Second, 5*time.Millisecond)
	require.Equal(t, 0, restarts(f, "a"))
	require.Equal(t, 1, restarts(f, "b"))
	require.Equal(t, 1, restarts(f, "c"))
}

// Issue 10, point 6: a Ready that an earlier incarnation sent, still in the supervisor's
// mailbox, does not pass for the current incarnation's.
func TestStaleReadyOfAnEarlierIncarnationIsIgnored(t *testing.T) {
	ev := newEvents()
	captured := &capturedReady{}
	first := true
	spec := Spec{Strategy: RestForOne, Intensity: 5, Period: time.Minute, Children: []ChildSpec{
		{Name: "b", Role: "Gated", Producer: func() actor.Actor {
			g := &gated{name: "b", ev: ev}
			if first { // producers run one at a time (spawn, then each restart)
				g.capture, first = captured, false
			}
			return g
		}},
		rec(ev, "c", Permanent),
	}}
	f := startWith(t, spec, func(f *fixture) {
		ev.waitFor(t, 0, "start:b")
		f.sys.Root.Send(f.pid("b"), &readyNow{})
	})
	ev.waitFor(t, 0, "start:c")
	captured.mu.Lock()
	stale := captured.msg
	captured.mu.Unlock()
	require.NotNil(t, stale)
	require.NotZero(t, stale.Gen, "Ready carries the incarnation's generation")

	m := ev.mark()
	f.sys.Root.Send(f.pid("b"), &crash{})
	ev.waitFor(t, m, "restarting:c", "restarting:b", "start:b")
	f.sys.Root.Send(f.sup(), stale)
	barrier(t, f, f.sup())
	require.Equal(t, StatusRestarting, nodeStatus(f, "b"), "the stale ready was taken for the new incarnation's")
	require.Equal(t, 0, restarts(f, "c"))

	f.sys.Root.Send(f.pid("b"), &readyNow{})
	ev.waitFor(t, m, "start:b", "start:c")
	require.Eventually(t, func() bool { return nodeStatus(f, "b") == StatusRunning && nodeStatus(f, "c") == StatusRunning },
		5*time.Second, 5*time.Millisecond)
}

// startWith is start, with release run while the tree starts (to let gated children through).
func startWith(t *testing.T, spec Spec, release func(f *fixture)) *fixture {
	t.Helper()
	f := &fixture{sys: actor.NewActorSystem(actor.WithLoggerFactory(quietLogger)), tree: NewTree(), ev: newEvents()}
	ready := make(chan struct{}, 8)
	root := Spec{Name: "root", Role: "Root", Strategy: OneForOne, Intensity: 10, Period: time.Second, Tree: f.tree,
		Children: []ChildSpec{Supervisor("sup", "Sup", spec)},
		OnReady:  func() { ready <- struct{}{} }}
	var err error
	f.root, err = f.sys.Root.SpawnNamed(Props(root), "root-"+strings.ReplaceAll(t.Name(), "/", "-"))
	require.NoError(t, err)
	t.Cleanup(func() {
		require.NoError(t, f.sys.Root.StopFuture(f.root).Wait())
		f.sys.Shutdown()
	})
	release(f)
	select {
	case <-ready:
	case <-time.After(5 * time.Second):
		t.Fatal("tree not ready")
	}
	return f
}

// Issue 10: temporary children's exits do not count toward the intensity and are never
// restarted; a sibling's restart stops them for good.
func TestTemporaryChildrenDoNotCountTowardIntensity(t *testing.T) {
	ev := newEvents()
	spec := Spec{Strategy: OneForOne, Intensity: 1, Period: time.Minute, Children: []ChildSpec{
		rec(ev, "perm", Permanent), rec(ev, "t1", Temporary), rec(ev, "t2", Temporary), rec(ev, "t3", Temporary)}}
	f := start(t, spec)
	ev.waitFor(t, 0, "start:t3")
	f.sys.Root.Send(f.pid("t1"), &crash{})
	f.sys.Root.Send(f.pid("t2"), &crash{})
	f.sys.Root.Send(f.pid("t3"), &quit{})
	ev.waitFor(t, 0, "stopped:t1")
	ev.waitFor(t, 0, "stopped:t2")
	ev.waitFor(t, 0, "stopped:t3")
	require.Eventually(t, func() bool { return barrier(t, f, f.sup()) == 1 }, 5*time.Second, 5*time.Millisecond)
	require.Len(t, f.tree.Find(f.sup().Id).Children, 1)

	// One restart is within the intensity of 1: had the temporary exits counted, this would
	// escalate.
	m := ev.mark()
	f.sys.Root.Send(f.pid("perm"), &crash{})
	ev.waitFor(t, m, "restarting:perm", "start:perm")
	require.Eventually(t, func() bool { return nodeStatus(f, "perm") == StatusRunning }, 5*time.Second, 5*time.Millisecond)
	sup := f.tree.Find(f.sup().Id)
	require.Equal(t, 0, sup.Restarts)
	require.Equal(t, StatusRunning, sup.Status)
	ev.mu.Lock()
	defer ev.mu.Unlock()
	starts := 0
	for _, e := range ev.log {
		if e == "start:t1" || e == "start:t2" || e == "start:t3" {
			starts++
		}
	}
	require.Equal(t, 3, starts, "a temporary child is never restarted")
}

func TestOneForAllStopsATemporarySiblingForGood(t *testing.T) {
	ev := newEvents()
	spec := Spec{Strategy: OneForAll, Intensity: 5, Period: time.Minute, Children: []ChildSpec{
		rec(ev, "a", Permanent), rec(ev, "temp", Temporary), rec(ev, "c", Transient)}}
	f := start(t, spec)
	ev.waitFor(t, 0, "start:c")
	m := ev.mark()
	f.sys.Root.Send(f.pid("a"), &crash{})
	got := ev.waitFor(t, m, "restarting:c", "stopped:temp", "restarting:a", "start:a", "start:c")
	require.NotContains(t, got, "start:temp")
	require.Eventually(t, func() bool { return nodeStatus(f, "c") == StatusRunning }, 5*time.Second, 5*time.Millisecond)
	require.Nil(t, f.tree.Find(f.pid("temp").Id))
	require.Equal(t, 2, barrier(t, f, f.sup()))
}

// Issue 10, point 9: a pool that grows and shrinks holds only its live members.
func TestAddChildForgetsChildrenThatEnd(t *testing.T) {
	ev := newEvents()
	f := start(t, Spec{Strategy: OneForOne, Intensity: 10, Period: time.Second})
	const n = 50
	for i := 0; i < n; i++ {
		f.sys.Root.Send(f.sup(), &AddChild{Child: rec(ev, fmt.Sprintf("w%d", i), Transient)})
	}
	f.sys.Root.Send(f.sup(), &AddChild{Child: rec(ev, "w0", Transient)})           // name taken: ignored
	f.sys.Root.Send(f.sup(), &AddChild{Child: ChildSpec{Name: "nothing to make"}}) // invalid: ignored
	ev.waitFor(t, 0, fmt.Sprintf("start:w%d", n-1))
	require.Equal(t, n, barrier(t, f, f.sup()))
	for i := 0; i < n; i++ {
		f.sys.Root.Send(f.pid(fmt.Sprintf("w%d", i)), &quit{})
	}
	require.Eventually(t, func() bool { return barrier(t, f, f.sup()) == 0 }, 5*time.Second, 5*time.Millisecond)
	require.Empty(t, f.tree.Find(f.sup().Id).Children)
	// The pool grows again under the same names.
	f.sys.Root.Send(f.sup(), &AddChild{Child: rec(ev, "w0", Transient)})
	require.Eventually(t, func() bool { return nodeStatus(f, "w0") == StatusRunning }, 5*time.Second, 5*time.Millisecond)
	require.Equal(t, 1, barrier(t, f, f.sup()))
}

// watcher reports when the actor it watches terminates.
type watcher struct {
	who  *actor.PID
	done chan struct{}
}

func (w *watcher) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		ctx.Watch(w.who)
	case *actor.Terminated:
		if msg.Who.Equal(w.who) {
			close(w.done)
		}
	}
}

// rootFixture spawns spec as the root supervisor, with OnGiveUp counting its calls.
type rootFixture struct {
	sys     *actor.ActorSystem
	root    *actor.PID
	gaveUp  atomic.Int32
	reason  chan any
	stopped chan struct{}
}

func startRoot(t *testing.T, spec Spec) *rootFixture {
	t.Helper()
	r := &rootFixture{sys: actor.NewActorSystem(actor.WithLoggerFactory(quietLogger)), reason: make(chan any, 4), stopped: make(chan struct{})}
	ready := make(chan struct{}, 1)
	spec.OnReady = func() { ready <- struct{}{} }
	spec.OnGiveUp = func(reason any) {
		r.gaveUp.Add(1)
		r.reason <- reason
	}
	var err error
	r.root, err = r.sys.Root.SpawnNamed(Props(spec), "root-"+strings.ReplaceAll(t.Name(), "/", "-"))
	require.NoError(t, err)
	r.sys.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return &watcher{who: r.root, done: r.stopped} }))
	select {
	case <-ready:
	case <-time.After(5 * time.Second):
		t.Fatal("root not ready")
	}
	t.Cleanup(func() {
		_ = r.sys.Root.StopFuture(r.root).Wait() // already stopped in most tests
		r.sys.Shutdown()
	})
	return r
}

func (r *rootFixture) pid(name string) *actor.PID {
	return actor.NewPID(r.sys.Address(), r.root.Id+"/"+name)
}

func (r *rootFixture) waitStopped(t *testing.T) {
	t.Helper()
	select {
	case <-r.stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("the root did not stop")
	}
}

// Issue 10, point 4: past its intensity the root gives up: OnGiveUp is called once, and the
// root stops for good (protoactor-go's default strategy would restart it).
func TestRootPastItsIntensityGivesUpOnce(t *testing.T) {
	ev := newEvents()
	tree := NewTree()
	r := startRoot(t, Spec{Name: "root", Role: "Root", Tree: tree, Strategy: OneForOne, Intensity: 1, Period: time.Minute,
		Children: []ChildSpec{rec(ev, "a", Permanent), rec(ev, "b", Permanent)}})
	ev.waitFor(t, 0, "start:b")
	m := ev.mark()
	r.sys.Root.Send(r.pid("a"), &crash{})
	ev.waitFor(t, m, "restarting:a", "start:a")
	require.Zero(t, r.gaveUp.Load())

	m = ev.mark()
	r.sys.Root.Send(r.pid("a"), &crash{})
	r.waitStopped(t)
	got := ev.waitFor(t, m, "stopped:b", "stopped:a")
	require.Equal(t, []string{"stopped:b", "stopped:a"}, got, "the children stop in reverse order and none starts again")
	require.Equal(t, int32(1), r.gaveUp.Load())
	reason := <-r.reason
	err, ok := reason.(error)
	require.True(t, ok)
	require.ErrorIs(t, err, ErrGaveUp)
	require.Contains(t, err.Error(), "crash a")
	require.Empty(t, tree.Snapshot())
}

// A failure of the root supervisor itself (here a child producer that panics) is a give-up
// too, not a silent restart.
func TestRootOwnFailureGivesUp(t *testing.T) {
	ev := newEvents()
	r := startRoot(t, Spec{Name: "root", Children: []ChildSpec{rec(ev, "a", Permanent)}})
	r.sys.Root.Send(r.root, &AddChild{Child: ChildSpec{Name: "bad", Producer: func() actor.Actor { panic("cannot make it") }}})
	r.waitStopped(t)
	require.Equal(t, int32(1), r.gaveUp.Load())
	err := (<-r.reason).(error)
	require.ErrorIs(t, err, ErrGaveUp)
	require.Contains(t, err.Error(), "cannot make it")
}

// A stop someone asks for (Stop or Poison of the root, as Scheduler.Close does) is not a
// give-up.
func TestRequestedStopOfTheRootIsNotAGiveUp(t *testing.T) {
	for _, how := range []string{"stop", "poison"} {
		t.Run(how, func(t *testing.T) {
			ev := newEvents()
			r := startRoot(t, Spec{Name: "root", Strategy: OneForAll, Intensity: 1, Period: time.Minute,
				Children: []ChildSpec{rec(ev, "a", Permanent), rec(ev, "b", Transient)}})
			m := ev.mark()
			var err error
			if how == "stop" {
				err = r.sys.Root.StopFuture(r.root).Wait()
			} else {
				err = r.sys.Root.PoisonFuture(r.root).Wait()
			}
			require.NoError(t, err)
			r.waitStopped(t)
			require.Equal(t, []string{"stopped:b", "stopped:a"}, ev.waitFor(t, m, "stopped:b", "stopped:a"))
			require.Zero(t, r.gaveUp.Load())
		})
	}
}

// A failure while a restart is under way joins it: the children due to restart end (in reverse
// order) before any starts again, and each child starts once per round.
func TestFailureDuringARestartJoinsIt(t *testing.T) {
	ev := newEvents()
	spec := Spec{Strategy: OneForAll, Intensity: 5, Period: time.Minute, Children: []ChildSpec{
		rec(ev, "a", Permanent),
		{Name: "b", Role: "Gated", Producer: func() actor.Actor { return &gated{name: "b", ev: ev} }},
		rec(ev, "c", Permanent),
	}}
	f := startWith(t, spec, func(f *fixture) {
		ev.waitFor(t, 0, "start:b")
		f.sys.Root.Send(f.pid("b"), &readyNow{})
	})
	ev.waitFor(t, 0, "start:c")

	m := ev.mark()
	f.sys.Root.Send(f.pid("a"), &crash{})
	ev.waitFor(t, m, "restarting:c", "restarting:b", "restarting:a", "start:a", "start:b")
	// b is starting (not ready yet) when a fails again.
	m2 := ev.mark()
	require.Equal(t, StatusRunning, nodeStatus(f, "a"))
	f.sys.Root.Send(f.pid("a"), &crash{})
	require.Eventually(t, func() bool { return nodeStatus(f, "a") == StatusRestarting }, 5*time.Second, time.Millisecond,
		"the supervisor has seen the failure")
	f.sys.Root.Send(f.pid("b"), &readyNow{})
	ev.waitFor(t, m2, "restarting:b", "restarting:a", "start:a", "start:b")
	f.sys.Root.Send(f.pid("b"), &readyNow{})
	got := ev.waitFor(t, m, "start:c")
	require.Equal(t, []string{"restarting:c", "restarting:b", "restarting:a", "start:a", "start:b",
		"restarting:b", "restarting:a", "start:a", "start:b", "start:c"}, got)
	require.Eventually(t, func() bool { return nodeStatus(f, "c") == StatusRunning }, 5*time.Second, 5*time.Millisecond)
	require.Equal(t, 2, restarts(f, "a"))
	require.Equal(t, 2, restarts(f, "b"))
	require.Equal(t, 1, restarts(f, "c"))
}

type ping struct{}

// echoer answers *ping with its incarnation's number.
type echoer struct{ n int }

func (e *echoer) Receive(ctx actor.Context) {
	if _, ok := ctx.Message().(*ping); ok {
		ctx.Respond(e.n)
	}
}

// Messages that reach a child between the end of its incarnation and the start of the next are
// handed to the next one, with their sender: a restarted child keeps its mailbox.
func TestMessagesToAParkedChildReachItsNextIncarnation(t *testing.T) {
	ev := newEvents()
	var incarnations atomic.Int32
	spec := Spec{Strategy: RestForOne, Intensity: 5, Period: time.Minute, Children: []ChildSpec{
		{Name: "b", Role: "Gated", Producer: func() actor.Actor { return &gated{name: "b", ev: ev} }},
		{Name: "c", Role: "Echo", Producer: func() actor.Actor { return &echoer{n: int(incarnations.Add(1))} }},
	}}
	f := startWith(t, spec, func(f *fixture) {
		ev.waitFor(t, 0, "start:b")
		f.sys.Root.Send(f.pid("b"), &readyNow{})
	})
	n, err := f.sys.Root.RequestFuture(f.pid("c"), &ping{}, 5*time.Second).Result()
	require.NoError(t, err)
	require.Equal(t, 1, n)

	m := ev.mark()
	f.sys.Root.Send(f.pid("b"), &crash{})
	ev.waitFor(t, m, "restarting:b", "start:b") // c ended before b did; b waits to be told it is ready
	answer := f.sys.Root.RequestFuture(f.pid("c"), &ping{}, 5*time.Second)
	barrier(t, f, f.sup())
	require.Equal(t, StatusRestarting, nodeStatus(f, "c"))
	require.Equal(t, int32(1), incarnations.Load(), "c started again before b was ready")
	f.sys.Root.Send(f.pid("b"), &readyNow{})
	n, err = answer.Result()
	require.NoError(t, err)
	require.Equal(t, 2, n, "the next incarnation answers")
}
