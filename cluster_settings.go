package jobsched

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/jobsched/jobsched/actors"
)

// settingsNotifier tells this node when another node changed a stored setting (a pause, a
// category's settings) in a store they share.
type settingsNotifier interface{ OnSettings(func(key string)) }

// settingsSyncTimeout bounds one reading and application of the stored settings.
const settingsSyncTimeout = 10 * time.Second

// startSettingsSync starts, on a store shared by several nodes, the loop that puts in force
// here the settings other nodes change: a pause or resume, a category put or deleted at
// runtime. A NOTIFY from the node that changed them wakes it at once; it also reads them every
// PollInterval, in case a notification was lost.
func (s *Scheduler) startSettingsSync() {
	n, ok := s.store.(settingsNotifier)
	if !ok {
		return
	}
	wake := make(chan struct{}, 1)
	n.OnSettings(func(string) {
		select {
		case wake <- struct{}{}:
		default: // a sync is due already
		}
	})
	s.goTracked(func() { s.settingsLoop(wake) })
}

func (s *Scheduler) settingsLoop(wake <-chan struct{}) {
	t := time.NewTicker(s.cfg.PollInterval)
	defer t.Stop()
	for {
		select {
		case <-s.quit:
			return
		case <-wake:
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), settingsSyncTimeout)
		go func() {
			select {
			case <-s.quit: // Close: a category change waiting for the tree gives up
				cancel()
			case <-ctx.Done():
			}
		}()
		if err := s.syncSettings(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("read the settings other nodes changed", slog.Any("err", err))
		}
		cancel() // ends the goroutine above
	}
}

// syncSettings reads the stored settings and puts in force those that differ from this
// node's: categories first (put or deleted), then pauses. It runs under catChange, as
// PutCategory, DeleteCategory, Pause and Resume do, so a change made here meanwhile is never
// undone by an older reading.
func (s *Scheduler) syncSettings(ctx context.Context) error {
	s.catChange.Lock()
	defer s.catChange.Unlock()
	settings, err := s.store.Settings(ctx)
	if err != nil {
		return err
	}
	if s.checkRunning() != nil {
		return nil
	}
	keys := make([]string, 0, len(settings))
	for k := range settings {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		name, ok := strings.CutPrefix(k, settingCategory)
		if !ok {
			continue
		}
		var cs categorySetting
		if err := json.Unmarshal(settings[k], &cs); err != nil || cs.Name != name {
			continue // loadSettings warned at the start
		}
		if cs.Deleted {
			if name == s.cfg.Categories[0].Name || !s.knownCategory(name) {
				continue
			}
			s.catMu.Lock()
			s.removeCategoryLocked(name)
			s.catMu.Unlock()
			if err := s.applyDelete(ctx, name); err != nil {
				return err
			}
			continue
		}
		c, err := cs.category().withDefaults("category", s.cfg.Workers)
		if err != nil {
			continue
		}
		if cur, ok := s.category(name); ok && sameCategory(cur, c) {
			continue
		}
		if _, err := s.applyCategory(ctx, c); err != nil {
			return err
		}
	}
	for _, c := range s.categoryList() {
		_, paused := settings[settingPause+c.Name]
		st := s.catStats(c.Name)
		if st == nil || st.Paused.Load() == paused {
			continue
		}
		st.Paused.Store(paused)
		var msg any = &actors.Resume{}
		if paused {
			msg = &actors.Pause{}
		}
		s.system.Root.Send(s.env.FifoPID(c.Name), msg)
		s.log.Info("category paused or resumed by another node", slog.String("category", c.Name), slog.Bool("paused", paused))
	}
	return nil
}
