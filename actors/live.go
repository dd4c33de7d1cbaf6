package actors

import (
	"slices"
	"sync"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/jobsched/jobsched/supervision"
)

// Live is the set of categories in force. Categories are added, changed and removed while the
// tree runs (the scheduler's PutCategory, DeleteCategory, a reload of the configuration); the
// WorkerBalancer and the Dispatcher read it at each use. Its methods are safe for concurrent use.
type Live struct {
	mu    sync.RWMutex
	cats  []Category
	stats map[string]*CategoryStats
}

// NewLive returns a Live holding cats, in that order, with their stats (every category of cats
// needs an entry).
func NewLive(cats []Category, stats map[string]*CategoryStats) *Live {
	l := &Live{cats: slices.Clone(cats), stats: map[string]*CategoryStats{}}
	for _, c := range cats {
		l.stats[c.Name] = stats[c.Name]
	}
	return l
}

// List returns the categories, in order.
func (l *Live) List() []Category {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return slices.Clone(l.cats)
}

// Get returns a category's settings and stats.
func (l *Live) Get(name string) (Category, *CategoryStats, bool) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	for _, c := range l.cats {
		if c.Name == name {
			return c, l.stats[name], true
		}
	}
	return Category{}, nil, false
}

// StatsOf returns a category's stats (nil: no such category).
func (l *Live) StatsOf(name string) *CategoryStats {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.stats[name]
}

// Has reports whether the category is there.
func (l *Live) Has(name string) bool {
	l.mu.RLock()
	defer l.mu.RUnlock()
	_, ok := l.stats[name]
	return ok
}

// Put adds a category at the end, or changes one in place.
func (l *Live) Put(c Category, st *CategoryStats) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.stats[c.Name] = st
	for i := range l.cats {
		if l.cats[i].Name == c.Name {
			l.cats[i] = c
			return
		}
	}
	l.cats = append(l.cats, c)
}

// Remove takes a category out.
func (l *Live) Remove(name string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.stats, name)
	l.cats = slices.DeleteFunc(l.cats, func(c Category) bool { return c.Name == name })
}

// forCategory returns a copy of e for one category's actors: its Categories and Stats hold
// that category alone.
func (e *Env) forCategory(c Category, st *CategoryStats) *Env {
	ce := *e
	ce.Categories = []Category{c}
	ce.Stats = map[string]*CategoryStats{c.Name: st}
	return &ce
}

// CategoriesPID is the PID of the Categories supervisor (the parent of every
// CategorySupervisor).
func (e *Env) CategoriesPID() *actor.PID { return e.pid(RootName + "/categories") }

// CategoryPID is the PID of a category's CategorySupervisor.
func (e *Env) CategoryPID(cat string) *actor.PID { return e.pid(e.categoryID(cat)) }

// CategoryChild declares a category's supervisor as a child of Categories. It is transient: a
// stop that someone asked for (DeleteCategory) removes it for good, a failure restarts it. Its
// actors see an Env of their own that holds this category alone, so that the Env they read
// never changes under them.
func CategoryChild(env *Env, c Category, st *CategoryStats) supervision.ChildSpec {
	ce := env.forCategory(c, st)
	cs := supervision.Supervisor(c.Name, "CategorySupervisor", CategorySpec(ce, c))
	cs.Restart = supervision.Transient
	return cs
}

// CategoriesChanged tells the WorkerBalancer that categories were added, changed or removed:
// it forgets what it last told their registries and divides the budget again at once.
type CategoriesChanged struct{ Names []string }
