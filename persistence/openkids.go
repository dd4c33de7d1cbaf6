package persistence

import "slices"

// openKids holds in memory the committed open d/ keys (a dependency whose parent's finish is not
// applied yet), by parent, so that settling a finish need not open a badger iterator per parent
// (half of what settling cost). Owned by the writer goroutine. It is filled by the start-up scan
// (recoverSettles, which reads every open d/ key) and then follows every commit that landed
// (remember, with the transaction's d/ writes from pendingDeps), so it holds exactly the open
// d/ keys of the store. Beyond maxOpenKids keys it gives up (off) and openChildren iterates the
// store again, as it did before.
type openKids struct {
	by  map[string]map[string]struct{} // parent → children with an open d/ key
	n   int                            // keys held
	off bool                           // too many: not kept, read the store
}

// maxOpenKids bounds the open dependencies held in memory.
const maxOpenKids = 1 << 21

// add records an open d/ key of parent to child.
func (o *openKids) add(parent, child string) {
	if o.off {
		return
	}
	if o.n >= maxOpenKids {
		o.by, o.n, o.off = nil, 0, true
		return
	}
	if o.by == nil {
		o.by = map[string]map[string]struct{}{}
	}
	m := o.by[parent]
	if m == nil {
		m = map[string]struct{}{}
		o.by[parent] = m
	}
	if _, ok := m[child]; !ok {
		m[child] = struct{}{}
		o.n++
	}
}

// done records that the d/ key of parent to child is no longer open.
func (o *openKids) done(parent, child string) {
	m := o.by[parent]
	if _, ok := m[child]; !ok {
		return
	}
	delete(m, child)
	o.n--
	if len(m) == 0 {
		delete(o.by, parent)
	}
}

// land applies the d/ writes of the transaction just committed (pendingDeps).
func (o *openKids) land(pending map[string]map[string]bool) {
	for parent, m := range pending {
		for child, open := range m {
			if open {
				o.add(parent, child)
			} else {
				o.done(parent, child)
			}
		}
	}
}

// open returns, in key order, up to limit children of parent whose d/ key is open as the open
// transaction sees it (pending: its own d/ writes), and whether there are more; ok is false when
// the index is off.
func (o *openKids) open(parent string, pending map[string]bool, limit int) (out []string, more, ok bool) {
	if o.off {
		return nil, false, false
	}
	for c := range o.by[parent] {
		if open, in := pending[c]; !in || open {
			out = append(out, c)
		}
	}
	for c, open := range pending {
		if _, in := o.by[parent][c]; open && !in {
			out = append(out, c)
		}
	}
	slices.Sort(out)
	if len(out) > limit {
		return out[:limit], true, true
	}
	return out, false, true
}
