package jobsched

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
)

// kindOf returns a kind's settings (the zero Kind for a kind the configuration does not name).
func (s *Scheduler) kindOf(name string) Kind {
	s.catMu.RLock()
	defer s.catMu.RUnlock()
	return s.kinds[name]
}

// Reload applies a new configuration's categories, kinds and periodic jobs while the scheduler
// runs, and returns what changed, one line each. cfg is checked whole first: a bad one is
// refused (an *InvalidError naming the key) and nothing changes. So is one that cannot be
// applied: a category it drops that still holds unfinished jobs, a different first (default)
// category, or minimums over the budget.
//
// Categories are compared with the configuration last loaded (New's, or the last Reload's): an
// entry added or changed is applied as PutCategory does (and stored: it wins over the file at
// the next start, as a runtime change does), an entry dropped is deleted as DeleteCategory does.
// A category the file did not change keeps its runtime settings. Kinds' timeout and
// max_attempts apply to the jobs enqueued from then on; a changed key_concurrency, and any
// other key (workers, data, retention...), takes effect at the next start, and is reported so.
func (s *Scheduler) Reload(ctx context.Context, cfg Config) ([]string, error) {
	if err := s.checkRunning(); err != nil {
		return nil, err
	}
	// What the file does not say, the running scheduler keeps (the store, the clock, hooks).
	cfg.Store, cfg.Logger, cfg.Observer, cfg.RetryBackoff, cfg.clock = s.cfg.Store, s.cfg.Logger, s.cfg.Observer, s.cfg.RetryBackoff, s.cfg.clock
	cfg.TracerProvider, cfg.Clock = s.cfg.TracerProvider, s.cfg.Clock
	next, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	prev := s.loaded
	var changes []string
	note := func(format string, a ...any) { changes = append(changes, fmt.Sprintf(format, a...)) }

	if next.Categories[0].Name != prev.Categories[0].Name {
		return nil, invalid("categories[0].name", "the first category is the default one (%q): changing it needs a restart", prev.Categories[0].Name)
	}
	// Plan the categories, and check the plan before doing anything.
	was := map[string]Category{}
	for _, c := range prev.Categories {
		was[c.Name] = c
	}
	now := map[string]bool{}
	var put []Category
	for _, c := range next.Categories {
		now[c.Name] = true
		if old, ok := was[c.Name]; !ok || !sameCategory(old, c) {
			put = append(put, c)
		}
	}
	var drop []string
	for _, c := range prev.Categories {
		if !now[c.Name] {
			if _, live := s.category(c.Name); live {
				drop = append(drop, c.Name)
			}
		}
	}
	after := map[string]int{}
	for _, c := range s.categoryList() {
		after[c.Name] = c.MinWorkers
	}
	for _, c := range put {
		after[c.Name] = c.MinWorkers
	}
	for _, n := range drop {
		delete(after, n)
		if u := s.unfinished(n); u > 0 {
			return nil, invalid("categories", "%q is gone from the file but holds %d unfinished jobs: cancel or finish them first", n, u)
		}
	}
	sum := 0
	for _, m := range after {
		sum += m
	}
	if sum > s.cfg.Workers {
		return nil, invalid("categories", "min_workers would add up to %d, over the budget of %d workers", sum, s.cfg.Workers)
	}
	for i, p := range next.Periodic {
		if _, ok := after[p.Category]; !ok {
			return nil, invalid(fmt.Sprintf("periodic[%d].category", i), "unknown category %q", p.Category)
		}
	}

	// Drops first, then the changes that lower a minimum: the budget is never over on the way.
	for _, n := range drop {
		if err := s.DeleteCategory(ctx, n); err != nil {
			return changes, fmt.Errorf("reload: category %q: %w", n, err)
		}
		note("category %s deleted", n)
	}
	cur := func(name string) int {
		c, _ := s.category(name)
		return c.MinWorkers
	}
	slices.SortStableFunc(put, func(a, b Category) int { return (a.MinWorkers - cur(a.Name)) - (b.MinWorkers - cur(b.Name)) })
	for _, c := range put {
		c.MinWorkers = MinWorkersValue(c.MinWorkers) // defaults are filled in: 0 means none
		if _, created, err := s.PutCategory(ctx, c); err != nil {
			return changes, fmt.Errorf("reload: category %q: %w", c.Name, err)
		} else if created {
			note("category %s added", c.Name)
		} else {
			note("category %s changed: %+v", c.Name, c)
		}
	}

	// Kinds.
	kinds := map[string]Kind{}
	for _, k := range next.Kinds {
		kinds[k.Name] = k
	}
	oldKinds := map[string]Kind{}
	for _, k := range prev.Kinds {
		oldKinds[k.Name] = k
	}
	for name, k := range kinds {
		old, ok := oldKinds[name]
		switch {
		case !ok:
			note("kind %s added", name)
		case old != k:
			note("kind %s changed: %+v", name, k)
		}
		if old.KeyConcurrency != k.KeyConcurrency {
			note("kind %s: key_concurrency %d takes effect at the next start", name, k.KeyConcurrency)
		}
	}
	for name := range oldKinds {
		if _, ok := kinds[name]; !ok {
			note("kind %s removed (its defaults apply)", name)
		}
	}
	s.catMu.Lock()
	s.kinds = kinds
	s.catMu.Unlock()

	// Periodic jobs.
	if !slices.EqualFunc(prev.Periodic, next.Periodic, func(a, b PeriodicJob) bool { return reflect.DeepEqual(a, b) }) {
		s.restartPeriodic(next.Periodic)
		note("periodic jobs: %d (were %d)", len(next.Periodic), len(prev.Periodic))
	}

	// The rest needs a restart.
	for _, k := range []struct {
		key      string
		old, new any
	}{
		{"workers", prev.Workers, next.Workers}, {"balance_interval", prev.BalanceInterval, next.BalanceInterval},
		{"retention", prev.Retention, next.Retention}, {"data", prev.Dir, next.Dir},
	} {
		if k.old != k.new {
			note("%s changed to %v: takes effect at the next start", k.key, k.new)
		}
	}
	next.Workers, next.BalanceInterval, next.Retention, next.Dir = prev.Workers, prev.BalanceInterval, prev.Retention, prev.Dir
	s.loaded = next
	for _, c := range changes {
		s.log.Info("reload: "+c, slog.String("event", "reload"))
	}
	if len(changes) == 0 {
		s.log.Info("reload: nothing changed")
	}
	return changes, nil
}

// restartPeriodic stops the periodic loop and starts one over list (none if it is empty).
func (s *Scheduler) restartPeriodic(list []PeriodicJob) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state != stateRunning {
		return
	}
	if s.periodicStop != nil {
		close(s.periodicStop)
		s.periodicStop = nil
	}
	if len(list) == 0 {
		return
	}
	stop := make(chan struct{})
	s.periodicStop = stop
	s.wg.Add(1)
	go s.periodicLoop(list, stop, s.cfg.clock.Now())
}
