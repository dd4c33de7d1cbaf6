package jobsched

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jobsched/jobsched/actors"
	"github.com/jobsched/jobsched/persistence"
	"github.com/jobsched/jobsched/supervision"
)

// ErrCategoryInUse: DeleteCategory refuses a category that holds unfinished jobs, or that is
// the default category (the first one of the configuration, which jobs naming none go to).
var ErrCategoryInUse = errors.New("category in use")

// Keys of the settings the scheduler stores (persistence.Store.Settings).
const (
	settingCategory = "category/" // + name → categorySetting
	settingPause    = "pause/"    // + name → "1" while the category is paused
)

// settingWriteTimeout bounds the store write of a pause (Pause and Resume take no context).
const settingWriteTimeout = 10 * time.Second

// categoryGuard is a store shared by several nodes that holds a category's deletion across them
// (the PostgreSQL store): DeleteCategory counts the category's unfinished jobs in the store and
// stores the deletion in one transaction, which every insert into it serialises with, and from
// then on refuses inserts into it with an error that has a DeletedCategory method, until
// PutCategory stores it again. Each writes the setting as PutSetting would.
type categoryGuard interface {
	DeleteCategory(ctx context.Context, category, key string, val []byte) (unfinished int64, err error)
	PutCategory(ctx context.Context, category, key string, val []byte) error
}

// deletedCategory turns a store's refusal of an insert into a deleted category (categoryGuard)
// into the error an unknown category gets.
func deletedCategory(err error) error {
	var d interface{ DeletedCategory() string }
	if errors.As(err, &d) {
		return invalid("category", "unknown category %q (deleted)", d.DeletedCategory())
	}
	return err
}

// categorySetting is a category as stored: its settings, or a tombstone for a category of the
// configuration that was deleted at runtime.
type categorySetting struct {
	Name       string  `json:"name"`
	Priority   int     `json:"priority"`
	MinWorkers int     `json:"min_workers"`
	MaxWorkers int     `json:"max_workers"`
	QueueLimit int     `json:"queue_limit"`
	RateLimit  float64 `json:"rate_limit"`
	RateBurst  int     `json:"rate_burst"`
	Deleted    bool    `json:"deleted,omitempty"`
	// FairnessWeights: Category.FairnessWeights.
	FairnessWeights map[string]int `json:"fairness_weights,omitempty"`
}

// toSetting stores a category with its defaults filled in; its min_workers 0 is stored as
// NoWorkers, so that reading it back (and filling in defaults again) keeps it 0.
func toSetting(c Category) categorySetting {
	return categorySetting{Name: c.Name, Priority: c.Priority, MinWorkers: MinWorkersValue(c.MinWorkers), MaxWorkers: c.MaxWorkers,
		QueueLimit: c.QueueLimit, RateLimit: c.RateLimit, RateBurst: c.RateBurst, FairnessWeights: c.FairnessWeights}
}

func (cs categorySetting) category() Category {
	return Category{Name: cs.Name, Priority: cs.Priority, MinWorkers: cs.MinWorkers, MaxWorkers: cs.MaxWorkers,
		QueueLimit: cs.QueueLimit, RateLimit: cs.RateLimit, RateBurst: cs.RateBurst, FairnessWeights: cs.FairnessWeights}
}

func actorCategory(c Category) actors.Category {
	return actors.Category{Name: c.Name, Priority: c.Priority, MinWorkers: c.MinWorkers, MaxWorkers: c.MaxWorkers,
		RateLimit: c.RateLimit, RateBurst: c.RateBurst, FairnessWeights: maps.Clone(c.FairnessWeights)}
}

// category returns a category's settings, if it exists.
func (s *Scheduler) category(name string) (Category, bool) {
	s.catMu.RLock()
	defer s.catMu.RUnlock()
	c, ok := s.cats[name]
	return c, ok
}

// knownCategory reports whether a category is in force.
func (s *Scheduler) knownCategory(name string) bool {
	_, ok := s.category(name)
	return ok
}

// categoryList returns the categories in force, in order: the configuration's, then those added
// at runtime.
func (s *Scheduler) categoryList() []Category {
	s.catMu.RLock()
	defer s.catMu.RUnlock()
	out := make([]Category, 0, len(s.catOrder))
	for _, n := range s.catOrder {
		out = append(out, s.cats[n])
	}
	return out
}

// catStats returns a category's live figures (nil for a name never seen). Entries are never
// removed, so a late reader of a deleted category finds them.
func (s *Scheduler) catStats(name string) *actors.CategoryStats {
	s.catMu.RLock()
	defer s.catMu.RUnlock()
	return s.stats[name]
}

// catReserved returns a category's counter of queue room held by inserts in flight.
func (s *Scheduler) catReserved(name string) *atomic.Int64 {
	s.catMu.RLock()
	defer s.catMu.RUnlock()
	return s.reserved[name]
}

// setCategoryLocked adds or changes a category in the scheduler's maps; s.catMu is held.
func (s *Scheduler) setCategoryLocked(c Category) *actors.CategoryStats {
	if _, ok := s.cats[c.Name]; !ok {
		s.catOrder = append(s.catOrder, c.Name)
	}
	s.cats[c.Name] = c
	if s.stats[c.Name] == nil {
		s.stats[c.Name] = &actors.CategoryStats{}
		s.reserved[c.Name] = &atomic.Int64{}
	}
	return s.stats[c.Name]
}

func (s *Scheduler) removeCategoryLocked(name string) {
	delete(s.cats, name)
	s.catOrder = slices.DeleteFunc(s.catOrder, func(n string) bool { return n == name })
}

// checkCategory validates c (its defaults filled in) and checks that the minimums of every
// category, with c in place of any category of its name, fit in the budget.
func (s *Scheduler) checkCategory(c Category) (Category, error) {
	c, err := c.withDefaults("category", s.cfg.Workers)
	if err != nil {
		return c, err
	}
	sum := c.MinWorkers
	for _, o := range s.categoryList() {
		if o.Name != c.Name {
			sum += o.MinWorkers
		}
	}
	if sum > s.cfg.Workers {
		return c, invalid("category.min_workers", "the categories' min_workers would add up to %d, over the budget of %d workers", sum, s.cfg.Workers)
	}
	return c, nil
}

// loadSettings applies what the store holds over the configuration, before the tree starts: a
// category set at runtime wins over the configuration's entry of that name (it stays until it is
// changed or deleted again), a category deleted at runtime stays deleted, a pause stays.
func (s *Scheduler) loadSettings(ctx context.Context) error {
	settings, err := s.store.Settings(ctx)
	if err != nil {
		return err
	}
	keys := make([]string, 0, len(settings))
	for k := range settings {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	s.catMu.Lock()
	defer s.catMu.Unlock()
	for _, k := range keys {
		name, ok := strings.CutPrefix(k, settingCategory)
		if !ok {
			continue
		}
		var cs categorySetting
		if err := json.Unmarshal(settings[k], &cs); err != nil || cs.Name != name {
			s.log.Warn("ignoring a stored category that cannot be read", slog.String("key", k), slog.Any("err", err))
			continue
		}
		if cs.Deleted {
			if name != s.cfg.Categories[0].Name {
				s.removeCategoryLocked(name)
			}
			continue
		}
		c, err := cs.category().withDefaults("category", s.cfg.Workers)
		if err != nil {
			s.log.Warn("ignoring a stored category", slog.String("key", k), slog.Any("err", err))
			continue
		}
		s.setCategoryLocked(c)
	}
	for _, k := range keys {
		if name, ok := strings.CutPrefix(k, settingPause); ok {
			if st := s.stats[name]; st != nil {
				st.Paused.Store(true)
			}
		}
	}
	return nil
}

// PutCategory creates a category, or changes the settings of one, while the scheduler runs.
// The change is stored (it survives a restart, and wins over the configuration's entry of that
// name until it is changed or deleted again) and takes effect at once: a new category gets its
// CategorySupervisor under Categories, changed priority and worker bounds reach the balancer,
// a changed queue limit the next enqueue. A changed rate limit restarts the category's actors
// (a running job of the category is interrupted and goes back to its queue). It returns the
// category as stored, and whether it was created.
func (s *Scheduler) PutCategory(ctx context.Context, c Category) (Category, bool, error) {
	if err := s.checkRunning(); err != nil {
		return c, false, err
	}
	s.catChange.Lock()
	defer s.catChange.Unlock()
	c, err := s.checkCategory(c)
	if err != nil {
		return c, false, err
	}
	val, err := json.Marshal(toSetting(c))
	if err != nil {
		return c, false, fmt.Errorf("put category: %w", err)
	}
	if g, ok := s.store.(categoryGuard); ok {
		err = g.PutCategory(ctx, c.Name, settingCategory+c.Name, val)
	} else {
		err = s.store.PutSetting(ctx, settingCategory+c.Name, val)
	}
	if err != nil {
		return c, false, fmt.Errorf("put category %q: %w", c.Name, err)
	}
	created, err := s.applyCategory(ctx, c)
	return c, created, err
}

// applyCategory puts in force a category's settings already stored (by PutCategory, or by
// another node sharing the store); the caller holds catChange.
func (s *Scheduler) applyCategory(ctx context.Context, c Category) (created bool, err error) {
	old, existed := s.category(c.Name)
	s.catMu.Lock()
	st := s.setCategoryLocked(c)
	s.catMu.Unlock()
	ac := actorCategory(c)
	s.env.Live.Put(ac, st)
	switch {
	case !existed:
		if err := s.startCategory(ctx, ac, st); err != nil {
			return true, err
		}
	case old.RateLimit != c.RateLimit || old.RateBurst != c.RateBurst || !maps.Equal(old.FairnessWeights, c.FairnessWeights):
		if err := s.stopCategory(ctx, c.Name); err != nil {
			return false, err
		}
		if err := s.startCategory(ctx, ac, st); err != nil {
			return false, err
		}
	}
	s.system.Root.Send(s.env.BalancerPID(), &actors.CategoriesChanged{Names: []string{c.Name}})
	if existed {
		s.log.Info("category changed", slog.String("category", c.Name), slog.Any("from", old), slog.Any("to", c))
	} else {
		s.log.Info("category added", slog.String("category", c.Name), slog.Any("settings", c))
	}
	return !existed, nil
}

// DeleteCategory removes a category while the scheduler runs: its actors stop and the removal
// is stored. A category that holds unfinished jobs (queued, scheduled, retrying, running...) is
// refused with ErrCategoryInUse, and so is the default category; an unknown one is ErrNotFound.
func (s *Scheduler) DeleteCategory(ctx context.Context, name string) error {
	if err := s.checkRunning(); err != nil {
		return err
	}
	s.catChange.Lock()
	defer s.catChange.Unlock()
	old, ok := s.category(name)
	if !ok {
		return fmt.Errorf("%w: category %q", ErrNotFound, name)
	}
	if name == s.cfg.Categories[0].Name {
		return fmt.Errorf("delete category %q: %w: it is the default category (the configuration's first)", name, ErrCategoryInUse)
	}
	// Out of the maps first, so no new enqueue is admitted; then look for unfinished jobs,
	// counting the inserts in flight.
	s.catMu.Lock()
	s.removeCategoryLocked(name)
	s.catMu.Unlock()
	restore := func() {
		s.catMu.Lock()
		s.setCategoryLocked(old)
		s.catMu.Unlock()
	}
	if n := s.unfinished(name); n > 0 {
		restore()
		return fmt.Errorf("delete category %q: %w: it holds %d unfinished jobs", name, ErrCategoryInUse, n)
	}
	val, _ := json.Marshal(categorySetting{Name: name, Deleted: true}) // cannot fail
	if g, ok := s.store.(categoryGuard); ok {
		// Other nodes' inserts are in no count of this node yet: the store counts and deletes
		// in one transaction, which their inserts serialise with.
		n, err := g.DeleteCategory(ctx, name, settingCategory+name, val)
		if err == nil && n > 0 {
			err = fmt.Errorf("%w: it holds %d unfinished jobs", ErrCategoryInUse, n)
		}
		if err != nil {
			restore()
			return fmt.Errorf("delete category %q: %w", name, err)
		}
	} else if err := s.store.PutSetting(ctx, settingCategory+name, val); err != nil {
		restore()
		return fmt.Errorf("delete category %q: %w", name, err)
	}
	if err := s.store.DeleteSetting(ctx, settingPause+name); err != nil {
		s.log.Warn("forget the pause of a deleted category", slog.String("category", name), slog.Any("err", err))
	}
	return s.applyDelete(ctx, name)
}

// applyDelete takes out of force a category already removed from the maps and stored as
// deleted (by DeleteCategory, or by another node sharing the store); the caller holds
// catChange.
func (s *Scheduler) applyDelete(ctx context.Context, name string) error {
	if st := s.catStats(name); st != nil {
		st.Paused.Store(false)
	}
	s.env.Live.Remove(name)
	if err := s.stopCategory(ctx, name); err != nil {
		return err
	}
	if s.claims != nil {
		s.claims.GiveBackAll(name) // a claim that raced the deletion (another node's)
	}
	s.system.Root.Send(s.env.BalancerPID(), &actors.CategoriesChanged{Names: []string{name}})
	s.log.Info("category deleted", slog.String("category", name))
	return nil
}

// unfinished counts a category's unfinished jobs, and the inserts in flight to it.
func (s *Scheduler) unfinished(name string) int64 {
	n := s.catReserved(name).Load()
	for st, c := range s.store.Counts()[name] {
		if !st.Finished() {
			n += int64(c)
		}
	}
	return n
}

// startCategory adds a category's supervisor under Categories and waits until it is in the tree.
func (s *Scheduler) startCategory(ctx context.Context, c actors.Category, st *actors.CategoryStats) error {
	s.system.Root.Send(s.env.CategoriesPID(), &supervision.AddChild{Child: actors.CategoryChild(s.env, c, st)})
	return s.waitTree(ctx, s.env.FifoPID(c.Name).Id, true)
}

// stopCategory stops a category's supervisor and waits until it has left the tree.
func (s *Scheduler) stopCategory(ctx context.Context, name string) error {
	pid := s.env.CategoryPID(name)
	if err := s.system.Root.StopFuture(pid).Wait(); err != nil {
		s.log.Warn("stop a category's supervisor", slog.String("category", name), slog.Any("err", err))
	}
	return s.waitTree(ctx, pid.Id, false)
}

// waitTree waits until the tree has (present) or has not the node id.
func (s *Scheduler) waitTree(ctx context.Context, id string, present bool) error {
	t := time.NewTicker(2 * time.Millisecond)
	defer t.Stop()
	for {
		if (s.tree.Find(id) != nil) == present {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for the tree (%s): %w", id, ctx.Err())
		case <-t.C:
		}
	}
}

// ForgetPauses removes every stored pause from a store that no running scheduler uses, so that
// the next scheduler on it runs every category. It is for tools that fill a store through a
// scheduler with its categories paused (the tester's pre-fill); people use Resume.
func ForgetPauses(ctx context.Context, store persistence.Store) error {
	settings, err := store.Settings(ctx)
	if err != nil {
		return err
	}
	for k := range settings {
		if strings.HasPrefix(k, settingPause) {
			if err := store.DeleteSetting(ctx, k); err != nil {
				return err
			}
		}
	}
	return nil
}
