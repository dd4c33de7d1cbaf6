package persistence

import (
	"slices"
	"strings"
)

// openKids holds in memory the committed open d/ keys (dependencies whose parent's finish is not
// applied yet), by parent, each with the children it names (dependlists.go), so that settling a
// finish need not open a badger iterator per parent (half of what settling cost). Owned by the
// writer goroutine. It is filled by the start-up scan (recoverSettles, which reads every open
// d/ key) and then follows every commit that landed (remember, with the transaction's d/ writes
// from pendingDeps), so it holds exactly the open d/ keys of the store. Beyond maxOpenKids
// children it gives up (off) and openChildren iterates the store again, as it did before.
type openKids struct {
	by  map[string]keyed[[]string] // parent → open d/ key (its part after the parent) → children
	n   int                        // children held
	off bool                       // too many: not kept, read the store
}

// maxOpenKids bounds the open dependencies held in memory.
const maxOpenKids = 1 << 21

// add records an open d/ key of parent.
func (o *openKids) add(parent string, g depGroup) {
	if o.off {
		return
	}
	if o.n+len(g.kids) > maxOpenKids {
		o.by, o.n, o.off = nil, 0, true
		return
	}
	if o.by == nil {
		o.by = map[string]keyed[[]string]{}
	}
	m := o.by[parent]
	had, _ := m.get(g.key)
	o.n += len(g.kids) - len(had)
	m.set(g.key, g.kids)
	o.by[parent] = m
}

// done records that the d/ key of parent is no longer open.
func (o *openKids) done(parent, key string) {
	m, ok := o.by[parent]
	if !ok {
		return
	}
	kids, ok := m.get(key)
	if !ok {
		return
	}
	m.del(key)
	o.n -= len(kids)
	if m.len() == 0 {
		delete(o.by, parent)
	} else {
		o.by[parent] = m
	}
}

// land applies the d/ writes of the transaction just committed (pendingDeps).
func (o *openKids) land(pending map[string]keyed[depWrite]) {
	for parent, m := range pending {
		m.each(func(key string, w depWrite) {
			if w.open {
				o.add(parent, depGroup{key: key, kids: w.kids})
			} else {
				o.done(parent, key)
			}
		})
	}
}

// groups returns the open d/ keys held of parent, with their children (for tests).
func (o *openKids) groups(parent string) map[string][]string {
	m := o.by[parent]
	return m.asMap()
}

// all returns every open d/ key held, by parent (for tests).
func (o *openKids) all() map[string]map[string][]string {
	out := make(map[string]map[string][]string, len(o.by))
	for parent, m := range o.by {
		out[parent] = m.asMap()
	}
	return out
}

// open returns, in key order, the open d/ keys of parent as the open transaction sees them
// (pending: its own d/ writes), whole, until they name limit children or more (at least one
// key), and whether there are more; ok is false when the index is off.
func (o *openKids) open(parent string, pending keyed[depWrite], limit int) (out []depGroup, more, ok bool) {
	if o.off {
		return nil, false, false
	}
	held := o.by[parent]
	held.each(func(key string, kids []string) {
		if w, in := pending.get(key); !in {
			out = append(out, depGroup{key: key, kids: kids})
		} else if w.open {
			out = append(out, depGroup{key: key, kids: w.kids})
		}
	})
	pending.each(func(key string, w depWrite) {
		if _, in := held.get(key); w.open && !in {
			out = append(out, depGroup{key: key, kids: w.kids})
		}
	})
	if len(out) > 1 {
		slices.SortFunc(out, func(a, b depGroup) int { return strings.Compare(a.key, b.key) })
	}
	out, more = takeGroups(out, limit)
	return out, more, true
}

// takeGroups returns the first of groups that name limit children or more (at least one), and
// whether some are left.
func takeGroups(groups []depGroup, limit int) ([]depGroup, bool) {
	n := 0
	for i, g := range groups {
		if i > 0 && n+len(g.kids) > limit {
			return groups[:i], true
		}
		n += len(g.kids)
	}
	return groups, false
}
