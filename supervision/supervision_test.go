package supervision

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/require"
)

// events is a log the test actors write and the tests read.
type events struct {
	mu  sync.Mutex
	log []string
	ch  chan struct{}
}

func newEvents() *events { return &events{ch: make(chan struct{}, 1)} }

func (e *events) add(s string) {
	e.mu.Lock()
	e.log = append(e.log, s)
	e.mu.Unlock()
	select {
	case e.ch <- struct{}{}:
	default:
	}
}

// waitFor waits until the log holds want (in order) after mark, and returns that part.
func (e *events) waitFor(t *testing.T, mark int, want ...string) []string {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		e.mu.Lock()
		got := append([]string(nil), e.log[mark:]...)
		e.mu.Unlock()
		if containsInOrder(got, want) {
			return got
		}
		select {
		case <-e.ch:
		case <-time.After(10 * time.Millisecond):
		case <-deadline:
			t.Fatalf("timed out waiting for %v; log since mark: %v", want, got)
		}
	}
}

func (e *events) mark() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.log)
}

func containsInOrder(got, want []string) bool {
	i := 0
	for _, g := range got {
		if i < len(want) && g == want[i] {
			i++
		}
	}
	return i == len(want)
}

type crash struct{}
type quit struct{}

// recorder logs its life to an events log; it panics on *crash and stops on *quit.
type recorder struct {
	name string
	ev   *events
}

func (r *recorder) Receive(ctx actor.Context) {
	switch ctx.Message().(type) {
	case *actor.Started:
		r.ev.add("start:" + r.name)
	case *actor.Restarting:
		r.ev.add("restarting:" + r.name)
	case *actor.Stopped:
		r.ev.add("stopped:" + r.name)
	case *crash:
		panic("crash " + r.name)
	case *quit:
		ctx.Stop(ctx.Self())
	}
}

func rec(ev *events, name string, restart Restart) ChildSpec {
	return ChildSpec{Name: name, Role: "Recorder", Restart: restart, Producer: func() actor.Actor { return &recorder{name: name, ev: ev} }}
}

type fixture struct {
	sys  *actor.ActorSystem
	tree *Tree
	ev   *events
	root *actor.PID
}

// start spawns a root supervisor (one_for_one) holding one child supervisor "sup" of spec.
func start(t *testing.T, spec Spec) *fixture {
	t.Helper()
	f := &fixture{sys: actor.NewActorSystem(actor.WithLoggerFactory(quietLogger)), tree: NewTree(), ev: newEvents()}
	ready := make(chan struct{}, 8)
	root := Spec{Name: "root", Role: "Root", Strategy: OneForOne, Intensity: 10, Period: time.Second, Tree: f.tree,
		Children: []ChildSpec{Supervisor("sup", "Sup", spec)},
		OnReady:  func() { ready <- struct{}{} }}
	var err error
	f.root, err = f.sys.Root.SpawnNamed(Props(root), fmt.Sprintf("root-%s", strings.ReplaceAll(t.Name(), "/", "-")))
	require.NoError(t, err)
	select {
	case <-ready:
	case <-time.After(5 * time.Second):
		t.Fatal("tree not ready")
	}
	t.Cleanup(func() {
		require.NoError(t, f.sys.Root.StopFuture(f.root).Wait())
		f.sys.Shutdown()
	})
	return f
}

func (f *fixture) pid(name string) *actor.PID {
	return actor.NewPID(f.sys.Address(), f.root.Id+"/sup/"+name)
}

func threeChildren(ev *events, strategy Strategy) Spec {
	return Spec{Strategy: strategy, Intensity: 5, Period: time.Second, Children: []ChildSpec{
		rec(ev, "a", Permanent), rec(ev, "b", Permanent), rec(ev, "c", Permanent)}}
}

func TestStartsChildrenInOrder(t *testing.T) {
	ev := newEvents()
	f := start(t, threeChildren(ev, OneForOne))
	f.ev = ev
	require.Equal(t, []string{"start:a", "start:b", "start:c"}, ev.waitFor(t, 0, "start:a", "start:b", "start:c"))
	roots := f.tree.Snapshot()
	require.Len(t, roots, 1)
	require.Equal(t, StatusRunning, roots[0].Status)
	sup := roots[0].Children[0]
	require.Equal(t, "one_for_one", sup.Strategy)
	var names []string
	for _, c := range sup.Children {
		names = append(names, c.Name)
		require.Equal(t, StatusRunning, c.Status)
	}
	require.Equal(t, []string{"a", "b", "c"}, names)
}

func TestStrategiesRestartTheRightChildrenInOrder(t *testing.T) {
	cases := []struct {
		strategy Strategy
		want     []string
	}{
		{OneForOne, []string{"restarting:b", "start:b"}},
		// OTP: the affected children end in reverse start order, then start again in order.
		{OneForAll, []string{"restarting:c", "restarting:b", "restarting:a", "start:a", "start:b", "start:c"}},
		{RestForOne, []string{"restarting:c", "restarting:b", "start:b", "start:c"}},
	}
	for _, tc := range cases {
		t.Run(string(tc.strategy), func(t *testing.T) {
			ev := newEvents()
			f := start(t, threeChildren(ev, tc.strategy))
			ev.waitFor(t, 0, "start:c")
			m := ev.mark()
			f.sys.Root.Send(f.pid("b"), &crash{})
			ev.waitFor(t, m, tc.want...)
			// Give a wrong extra restart the chance to show, then compare exactly.
			require.Eventually(t, func() bool { return nodeStatus(f, "c") == StatusRunning && nodeStatus(f, "b") == StatusRunning }, 5*time.Second, 5*time.Millisecond)
			time.Sleep(50 * time.Millisecond)
			got := ev.waitFor(t, m, tc.want...)
			require.Equal(t, tc.want, got)
			for _, name := range []string{"a", "b", "c"} {
				want := 0
				for _, w := range tc.want {
					if w == "start:"+name {
						want = 1
					}
				}
				require.Equal(t, want, f.tree.Find(f.pid(name).Id).Restarts, name)
			}
		})
	}
}

func nodeStatus(f *fixture, name string) string {
	n := f.tree.Find(f.pid(name).Id)
	if n == nil {
		return ""
	}
	return n.Status
}

func TestIntensityExceededEscalates(t *testing.T) {
	ev := newEvents()
	spec := threeChildren(ev, OneForOne)
	spec.Intensity, spec.Period = 2, time.Minute
	f := start(t, spec)
	ev.waitFor(t, 0, "start:c")
	for i := 0; i < 2; i++ {
		m := ev.mark()
		f.sys.Root.Send(f.pid("a"), &crash{})
		ev.waitFor(t, m, "start:a")
	}
	// The third crash within the period is one too many: "sup" escalates, the root restarts it,
	// and "sup" starts all its children afresh, in order.
	m := ev.mark()
	f.sys.Root.Send(f.pid("a"), &crash{})
	got := ev.waitFor(t, m, "stopped:c", "stopped:b", "stopped:a", "start:a", "start:b", "start:c")
	require.NotContains(t, got, "restarting:a", "past the intensity the child is not restarted by its supervisor")
	require.Eventually(t, func() bool {
		n := f.tree.Find(f.root.Id + "/sup")
		return n != nil && n.Restarts == 1 && n.Status == StatusRunning && len(n.Children) == 3
	}, 5*time.Second, 5*time.Millisecond)
}

func TestRestartTypes(t *testing.T) {
	ev := newEvents()
	spec := Spec{Strategy: OneForOne, Intensity: 10, Period: time.Second, Children: []ChildSpec{
		rec(ev, "perm", Permanent), rec(ev, "trans", Transient), rec(ev, "temp", Temporary)}}
	f := start(t, spec)
	ev.waitFor(t, 0, "start:temp")

	// A temporary child is not restarted after a crash.
	m := ev.mark()
	f.sys.Root.Send(f.pid("temp"), &crash{})
	ev.waitFor(t, m, "stopped:temp")
	require.Eventually(t, func() bool { return f.tree.Find(f.pid("temp").Id) == nil }, 5*time.Second, 5*time.Millisecond)

	// A transient child is restarted after a crash, not after a normal stop.
	m = ev.mark()
	f.sys.Root.Send(f.pid("trans"), &crash{})
	ev.waitFor(t, m, "restarting:trans", "start:trans")
	m = ev.mark()
	f.sys.Root.Send(f.pid("trans"), &quit{})
	ev.waitFor(t, m, "stopped:trans")
	require.Eventually(t, func() bool { return f.tree.Find(f.pid("trans").Id) == nil }, 5*time.Second, 5*time.Millisecond)

	// A permanent child is started again even after a normal stop.
	m = ev.mark()
	f.sys.Root.Send(f.pid("perm"), &quit{})
	ev.waitFor(t, m, "stopped:perm", "start:perm")
	require.Eventually(t, func() bool { return nodeStatus(f, "perm") == StatusRunning }, 5*time.Second, 5*time.Millisecond)
}

func TestAddChildGrowsAPool(t *testing.T) {
	ev := newEvents()
	f := start(t, Spec{Strategy: OneForOne, Intensity: 10, Period: time.Second})
	for _, n := range []string{"w1", "w2"} {
		f.sys.Root.Send(actor.NewPID(f.sys.Address(), f.root.Id+"/sup"), &AddChild{Child: rec(ev, n, Transient)})
	}
	ev.waitFor(t, 0, "start:w1", "start:w2")
	require.Eventually(t, func() bool { return len(f.tree.Find(f.root.Id+"/sup").Children) == 2 }, 5*time.Second, 5*time.Millisecond)
}

func TestValidate(t *testing.T) {
	p := func() actor.Actor { return &recorder{} }
	require.Error(t, Spec{Strategy: "one_for_most"}.Validate())
	require.Error(t, Spec{Children: []ChildSpec{{Name: "a", Producer: p}, {Name: "a", Producer: p}}}.Validate())
	require.Error(t, Spec{Children: []ChildSpec{{Name: "a", Producer: p, Restart: "sometimes"}}}.Validate())
	require.NoError(t, Spec{Strategy: RestForOne, Children: []ChildSpec{{Name: "a", Producer: p}}}.Validate())
}
