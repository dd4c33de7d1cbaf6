package persistence

import (
	"bytes"
	"fmt"
	"time"
)

// The d/ keys come in two forms (keys.go):
//
//	d/<parent>\x00<child>              one dependency (every store before this layout wrote only
//	                                   these; revive still does): value empty while open,
//	                                   dependDone once its parent's finish was applied
//	d/<parent>\x00<first child>\x00    a list: the children of parent inserted by one write (a
//	                                   DAG arrives as one batch), first among them; value a flag
//	                                   (listOpen, listDone) and the children's ids
//
// A list is written once at the insert and once when its parent's finish is applied to all of
// its children together: a parent of k children of one batch costs two keys, not 2k. A list
// holds at most maxListKids children, whose records weigh at most an eighth of a commit at the
// insert, so that settling one list nearly always fits a write; when it does not (the records
// grew: a failure appends an error naming the parent's, which may be long), the write marks the
// list done naming the children it settled and moves the rest to a new open list (settleGroup),
// both in one commit. The key of a list never equals a single dependency's key (its trailing \x00), so a
// revived child's single key (revive.go) never overwrites a list. An older binary does not read
// lists: going back a version after lists were written strands their children.

// The first byte of a list's value.
const (
	listOpen = 0
	listDone = 1
)

// maxListKids bounds the children of one d/ list.
const maxListKids = 512

// depGroup is one d/ key of a parent: its part after the parent (a child id, or a list's first
// child and \x00) and the children it names.
type depGroup struct {
	key  string
	kids []string
}

// depWrite is a d/ key written in the open transaction (pendingDeps): its children and whether
// it is open.
type depWrite struct {
	kids []string
	open bool
}

// parseDepend splits a d/ key (without its prefix d/) and its value into parent, group and
// whether it is open. Reading the value is left to value, called only for a list.
func parseDepend(k []byte, value func() ([]byte, error), size int) (string, depGroup, bool, error) {
	i := bytes.IndexByte(k, 0)
	if i < 0 {
		return "", depGroup{}, false, fmt.Errorf("corrupt dependency key %q", k)
	}
	parent, rest := string(k[:i]), k[i+1:]
	j := bytes.IndexByte(rest, 0)
	if j < 0 { // one dependency
		return parent, depGroup{key: string(rest), kids: []string{string(rest)}}, size == 0, nil
	}
	v, err := value()
	if err != nil {
		return "", depGroup{}, false, fmt.Errorf("read dependency list %q: %w", k, err)
	}
	kids, open, err := decodeDependList(v)
	if err != nil {
		return "", depGroup{}, false, fmt.Errorf("dependency list %q: %w", k, err)
	}
	return parent, depGroup{key: string(rest), kids: kids}, open, nil
}

// dependListKey is the key of parent's list whose first child is first.
func dependListKey(parent, first string) []byte { return append(dependKey(parent, first), 0) }

// encodeDependList is the value of a list of kids, open or done.
func encodeDependList(kids []string, open bool) []byte {
	n := 1
	for _, k := range kids {
		n += 2 + len(k)
	}
	b := make([]byte, 1, n)
	if !open {
		b[0] = listDone
	}
	for _, k := range kids {
		b = appendString(b, k)
	}
	return b
}

// decodeDependList reads a list's value.
func decodeDependList(v []byte) ([]string, bool, error) {
	if len(v) < 1 || v[0] > listDone {
		return nil, false, fmt.Errorf("corrupt value %q", v)
	}
	d := &decoder{b: v[1:]}
	var kids []string
	for len(d.b) > 0 && d.err == nil {
		kids = append(kids, d.string())
	}
	if d.err != nil || len(kids) == 0 {
		return nil, false, fmt.Errorf("corrupt value %q", v)
	}
	return kids, v[0] == listOpen, nil
}

// groupWrite is the write of a parent's group, open or marked done (with the retention TTL).
func groupWrite(parent string, g depGroup, open bool, ttl time.Duration) pendingWrite {
	if len(g.kids) == 1 && g.key == g.kids[0] { // one dependency
		w := pendingWrite{key: dependKey(parent, g.key), value: []byte{}}
		if !open {
			w.value, w.ttl = dependDone, ttl
		}
		return w
	}
	w := pendingWrite{key: append(dependPrefix(parent), g.key...), value: encodeDependList(g.kids, open)}
	if !open {
		w.ttl = ttl
	}
	return w
}

// depLists gathers the dependencies an insert writes, by parent, into lists (one key per parent
// and insert unless a list fills up).
type depLists struct {
	maxBytes int
	order    []depListID
	by       map[depListID]*depList
	full     []depListOut // lists that filled up
}

type depListID struct {
	parent string
	open   bool
}

type depList struct {
	kids  []string
	bytes int
}

type depListOut struct {
	depListID
	kids []string
}

// add records that child (its record weighing size bytes) depends on parent, open or (the
// parent already finished) done.
func (d *depLists) add(parent, child string, open bool, size int) {
	id := depListID{parent, open}
	if d.by == nil {
		d.by = map[depListID]*depList{}
	}
	l := d.by[id]
	if l == nil {
		l = &depList{}
		d.by[id] = l
		d.order = append(d.order, id)
	}
	if len(l.kids) > 0 && (len(l.kids) >= maxListKids || l.bytes+size > d.maxBytes) {
		d.full = append(d.full, depListOut{id, l.kids})
		l.kids, l.bytes = nil, 0
	}
	l.kids = append(l.kids, child)
	l.bytes += size
}

// writes appends the d/ writes of the lists gathered.
func (d *depLists) writes(writes []pendingWrite, ttl time.Duration) []pendingWrite {
	put := func(id depListID, kids []string) {
		g := depGroup{key: kids[0], kids: kids}
		if len(kids) > 1 {
			g.key += "\x00"
		}
		writes = append(writes, groupWrite(id.parent, g, id.open, ttl))
	}
	for _, l := range d.full {
		put(l.depListID, l.kids)
	}
	for _, id := range d.order {
		if l := d.by[id]; len(l.kids) > 0 {
			put(id, l.kids)
		}
	}
	return writes
}
