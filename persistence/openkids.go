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
	by  map[string]map[string][]string // parent → open d/ key (its part after the parent) → children
	n   int                            // children held
	off bool                           // too many: not kept, read the store
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
		o.by = map[string]map[string][]string{}
	}
	m := o.by[parent]
	if m == nil {
		m = map[string][]string{}
		o.by[parent] = m
	}
	o.n += len(g.kids) - len(m[g.key])
	m[g.key] = g.kids
}

// done records that the d/ key of parent is no longer open.
func (o *openKids) done(parent, key string) {
	m := o.by[parent]
	kids, ok := m[key]
	if !ok {
		return
	}
	delete(m, key)
	o.n -= len(kids)
	if len(m) == 0 {
		delete(o.by, parent)
	}
}

// land applies the d/ writes of the transaction just committed (pendingDeps).
func (o *openKids) land(pending map[string]map[string]depWrite) {
	for parent, m := range pending {
		for key, w := range m {
			if w.open {
				o.add(parent, depGroup{key: key, kids: w.kids})
			} else {
				o.done(parent, key)
			}
		}
	}
}

// open returns, in key order, the open d/ keys of parent as the open transaction sees them
// (pending: its own d/ writes), whole, until they name limit children or more (at least one
// key), and whether there are more; ok is false when the index is off.
func (o *openKids) open(parent string, pending map[string]depWrite, limit int) (out []depGroup, more, ok bool) {
	if o.off {
		return nil, false, false
	}
	for key, kids := range o.by[parent] {
		if w, in := pending[key]; !in {
			out = append(out, depGroup{key: key, kids: kids})
		} else if w.open {
			out = append(out, depGroup{key: key, kids: w.kids})
		}
	}
	for key, w := range pending {
		if _, in := o.by[parent][key]; w.open && !in {
			out = append(out, depGroup{key: key, kids: w.kids})
		}
	}
	slices.SortFunc(out, func(a, b depGroup) int { return strings.Compare(a.key, b.key) })
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
