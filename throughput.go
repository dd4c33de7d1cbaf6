package jobsched

import (
	"sync"
	"time"
)

// MinuteCounts counts the attempts of a category that ended in one minute.
type MinuteCounts struct {
	Minute    time.Time `json:"minute"`    // the minute's start
	Succeeded int       `json:"succeeded"` // jobs that succeeded
	Failed    int       `json:"failed"`    // attempts that failed (then retried, or dead)
	Dead      int       `json:"dead"`      // jobs that failed their last attempt
}

// ThroughputMinutes is how many minutes Throughput covers.
const ThroughputMinutes = 60

// throughput keeps each category's last hour of finished attempts in a ring of minutes, fed by
// publish from the job changes the scheduler publishes (so it costs no store read).
type throughput struct {
	mu   sync.Mutex
	cats map[string]*[ThroughputMinutes]MinuteCounts
}

// add counts a job change that ends an attempt: succeeded, retrying (a failed attempt) or dead.
// Other changes are no attempt's end and are ignored.
func (t *throughput) add(j *Job) {
	var at time.Time
	switch {
	case j.State == StateSucceeded && j.FinishedAt != nil:
		at = *j.FinishedAt
	case (j.State == StateRetrying || j.State == StateDead) && len(j.Errors) > 0 && j.Errors[len(j.Errors)-1].Attempt == j.Attempt:
		at = j.Errors[len(j.Errors)-1].At
	default:
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.cats == nil {
		t.cats = map[string]*[ThroughputMinutes]MinuteCounts{}
	}
	ring := t.cats[j.Category]
	if ring == nil {
		ring = &[ThroughputMinutes]MinuteCounts{}
		t.cats[j.Category] = ring
	}
	m := at.Truncate(time.Minute)
	slot := &ring[m.Unix()/60%ThroughputMinutes]
	if !slot.Minute.Equal(m) {
		if slot.Minute.After(m) {
			return // older than the ring holds
		}
		*slot = MinuteCounts{Minute: m}
	}
	switch j.State {
	case StateSucceeded:
		slot.Succeeded++
	case StateDead:
		slot.Failed++
		slot.Dead++
	default:
		slot.Failed++
	}
}

// last returns a category's minutes from now-59 to now, oldest first, zero where nothing ended.
func (t *throughput) last(cat string, now time.Time) []MinuteCounts {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]MinuteCounts, ThroughputMinutes)
	end := now.Truncate(time.Minute)
	ring := t.cats[cat]
	for i := range out {
		m := end.Add(time.Duration(i-ThroughputMinutes+1) * time.Minute)
		out[i] = MinuteCounts{Minute: m}
		if ring != nil {
			if slot := ring[m.Unix()/60%ThroughputMinutes]; slot.Minute.Equal(m) {
				out[i] = slot
			}
		}
	}
	return out
}

// Throughput returns, per category, the attempts that ended in each of the last 60 minutes
// (oldest first, the current minute last), as this process saw them since Start.
func (s *Scheduler) Throughput() map[string][]MinuteCounts {
	now := s.cfg.clock.Now()
	list := s.categoryList()
	out := make(map[string][]MinuteCounts, len(list))
	for _, c := range list {
		out[c.Name] = s.hub.minutes.last(c.Name, now)
	}
	return out
}
