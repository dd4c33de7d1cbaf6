package supervision_test

import (
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/jobsched/jobsched/supervision"
)

type counter struct{ n int }

func (c *counter) Receive(ctx actor.Context) {
	switch ctx.Message().(type) {
	case string:
		c.n++
		ctx.Respond(c.n)
	case error:
		panic("asked to crash")
	}
}

// Supervise your own protoactor-go actors the OTP way: children in start order, a strategy, an
// intensity, restart types, and a live tree.
func Example() {
	system := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}))
	defer system.Shutdown()
	tree := supervision.NewTree()
	ready := make(chan struct{}, 1)
	spec := supervision.Spec{
		Name: "app", Role: "App", Tree: tree,
		Strategy: supervision.RestForOne, Intensity: 3, Period: 5 * time.Second,
		Children: []supervision.ChildSpec{
			{Name: "db", Role: "Conn", Producer: func() actor.Actor { return &counter{} }},
			{Name: "cache", Role: "Cache", Producer: func() actor.Actor { return &counter{} }, Restart: supervision.Transient},
		},
		OnReady: func() { ready <- struct{}{} },
	}
	root, _ := system.Root.SpawnNamed(supervision.Props(spec), "app")
	<-ready

	db := actor.NewPID(system.Address(), "app/db")
	n, _ := system.Root.RequestFuture(db, "inc", time.Second).Result()
	fmt.Println("db counted", n)
	system.Root.Send(db, fmt.Errorf("crash"))
	// rest_for_one: db and the cache started after it restart, in order; their state is fresh.
	for tree.Find("app/cache").Restarts == 0 || tree.Find("app/cache").Status != supervision.StatusRunning {
		time.Sleep(time.Millisecond)
	}
	n, _ = system.Root.RequestFuture(db, "inc", time.Second).Result()
	fmt.Println("db counted", n, "after its restart")
	supervision.Walk(tree.Snapshot(), func(n *supervision.Node, depth int) {
		fmt.Printf("%*s%s %s restarts=%d\n", 2*depth, "", n.Role, n.Name, n.Restarts)
	})
	_ = system.Root.StopFuture(root).Wait()
	// Output:
	// db counted 1
	// db counted 1 after its restart
	// App app restarts=0
	//   Conn db restarts=1
	//   Cache cache restarts=1
}
