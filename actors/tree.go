package actors

import (
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/jobsched/jobsched/supervision"
)

// Spec declares the whole tree. onReady is called once every actor is ready: the Fifos and the
// Waiter have read the store.
func Spec(env *Env, tree *supervision.Tree, onReady func()) supervision.Spec {
	if env.Live == nil {
		env.Live = NewLive(env.Categories, env.Stats)
	}
	// The Categories supervisor's children are the categories in force when it starts: a
	// restart of it (by the root) brings back those added at runtime, with their settings of
	// the moment, and not those deleted.
	categories := func() supervision.Spec {
		cats := make([]supervision.ChildSpec, 0, len(env.Categories))
		for _, c := range env.Live.List() {
			_, st, _ := env.Live.Get(c.Name)
			cats = append(cats, CategoryChild(env, c, st))
		}
		return supervision.Spec{Strategy: supervision.OneForOne, Intensity: 5, Period: 10 * time.Second, Children: cats}
	}
	categoriesChild := supervision.Supervisor("categories", "Categories", categories())
	categoriesChild.Producer = func() actor.Actor {
		return supervision.Supervisor("categories", "Categories", categories()).Producer()
	}
	return supervision.Spec{
		Name: RootName, Role: "RootSupervisor", Tree: tree, OnReady: onReady,
		// A later child depends on the earlier ones: the Dispatcher routes to the categories.
		Strategy: supervision.RestForOne, Intensity: 3, Period: 10 * time.Second,
		Children: []supervision.ChildSpec{
			categoriesChild,
			{Name: "waiter", Role: "Waiter", Producer: NewWaiter(env)},
			{Name: "dispatcher", Role: "Dispatcher", Producer: NewDispatcher(env)},
			{Name: "balancer", Role: "WorkerBalancer", Producer: NewBalancer(env)},
		},
	}
}

// CategorySpec declares one category's supervisor: its Fifo, WorkerRegistry and Workers, in
// that order (rest_for_one: the registry and the workers depend on the Fifo).
func CategorySpec(env *Env, c Category) supervision.Spec {
	workers := make([]supervision.ChildSpec, 0, c.MinWorkers)
	for i := 0; i < c.MinWorkers; i++ {
		workers = append(workers, WorkerSpec(env, c.Name))
	}
	intensity := max(env.WorkerIntensity, 100)
	return supervision.Spec{
		Strategy: supervision.RestForOne, Intensity: 5, Period: 10 * time.Second,
		Children: []supervision.ChildSpec{
			{Name: "fifo", Role: "Fifo", Producer: NewFifo(env, c.Name)},
			{Name: "registry", Role: "WorkerRegistry", Producer: NewWorkerRegistry(env, c.Name, c.MinWorkers)},
			supervision.Supervisor("workers", "Workers", supervision.Spec{
				Strategy: supervision.OneForOne, Intensity: intensity, Period: time.Second, Children: workers}),
		},
	}
}
