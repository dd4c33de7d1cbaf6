package tester

import (
	"bytes"
	"slices"
	"sort"

	"github.com/google/uuid"
)

// ackSet holds the ids of the acknowledged jobs until the check finds them. A run of 1,000,000
// jobs holds 1,000,000 ids through its whole drain: as a map of strings (a pointer each) the
// garbage collector marked them all at every cycle, a cost the run then measured as the
// scheduler's (~4 µs per job of GC marking at 1,000,000 against ~1.3 at 100,000). Job ids are
// UUIDs, so they are kept as 16 bytes without pointers, which the collector does not scan; an
// id that is not a UUID goes to a map of strings.
//
// The UUIDs are appended while the run enqueues and sorted at the first lookup (the check,
// after the drain): a map of them cost the enqueuers ~0.5 µs a job of cache misses inside the
// measured window, an append ~10 ns. An id acknowledged twice is kept twice, and the check
// must find it twice.
type ackSet struct {
	ids     []uuid.UUID // in the order acknowledged until sorted
	sorted  bool
	found   []bool // by position in the sorted ids: the check found it (remove)
	removed int
	other   map[string]struct{}
}

func newAckSet(n int) *ackSet {
	return &ackSet{ids: make([]uuid.UUID, 0, n), other: map[string]struct{}{}}
}

// key returns id as a UUID if it is one in the canonical text form (36 characters, lower case),
// so that its String gives id back.
func key(id string) (uuid.UUID, bool) {
	if len(id) != 36 {
		return uuid.UUID{}, false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c >= 'A' && c <= 'F' {
			return uuid.UUID{}, false
		}
	}
	u, err := uuid.Parse(id)
	return u, err == nil
}

func (a *ackSet) add(id string) {
	if u, ok := key(id); ok {
		a.ids = append(a.ids, u)
		a.sorted = false
		return
	}
	a.other[id] = struct{}{}
}

// seal sorts the UUIDs for lookups; an add after it sorts them again at the next lookup.
func (a *ackSet) seal() {
	if a.sorted {
		return
	}
	found := make(map[uuid.UUID]int, a.removed) // what the check found before this add
	for i, u := range a.ids[:len(a.found)] {
		if a.found[i] {
			found[u]++
		}
	}
	slices.SortFunc(a.ids, func(x, y uuid.UUID) int { return bytes.Compare(x[:], y[:]) })
	a.found = make([]bool, len(a.ids))
	for i, u := range a.ids {
		if found[u] > 0 {
			found[u]--
			a.found[i] = true
		}
	}
	a.sorted = true
}

// at returns the position of a copy of u not yet found, or -1.
func (a *ackSet) at(u uuid.UUID) int {
	a.seal()
	i := sort.Search(len(a.ids), func(i int) bool { return bytes.Compare(a.ids[i][:], u[:]) >= 0 })
	for ; i < len(a.ids) && a.ids[i] == u; i++ {
		if !a.found[i] {
			return i
		}
	}
	return -1
}

func (a *ackSet) has(id string) bool {
	if u, ok := key(id); ok {
		return a.at(u) >= 0
	}
	_, in := a.other[id]
	return in
}

func (a *ackSet) remove(id string) {
	if u, ok := key(id); ok {
		if i := a.at(u); i >= 0 {
			a.found[i] = true
			a.removed++
		}
		return
	}
	delete(a.other, id)
}

func (a *ackSet) len() int { return len(a.ids) - a.removed + len(a.other) }

// each calls fn with every id left.
func (a *ackSet) each(fn func(id string)) {
	for i, u := range a.ids {
		if i >= len(a.found) || !a.found[i] {
			fn(u.String())
		}
	}
	for id := range a.other {
		fn(id)
	}
}
