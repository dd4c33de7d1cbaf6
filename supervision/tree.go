package supervision

import (
	"sync"
)

// Status of a supervised actor in the tree.
const (
	StatusStarting   = "starting"
	StatusRunning    = "running"
	StatusRestarting = "restarting"
	StatusEscalated  = "escalated"
)

// Node is one actor in a snapshot of the tree.
type Node struct {
	Name     string  `json:"name"`
	PID      string  `json:"pid"`
	Role     string  `json:"role"`
	Status   string  `json:"status"`
	Restarts int     `json:"restarts"`
	Strategy string  `json:"strategy,omitempty"`
	Children []*Node `json:"children,omitempty"`
}

// Tree records the live supervision tree. Supervisors write it as things happen; readers take a
// Snapshot. It is safe for concurrent use.
type Tree struct {
	mu      sync.Mutex
	nodes   map[string]*treeEntry
	roots   []string
	byRole  map[string]int
	version uint64
}

type treeEntry struct {
	node     Node
	parent   string
	children []string
}

// NewTree returns an empty tree.
func NewTree() *Tree {
	return &Tree{nodes: map[string]*treeEntry{}, byRole: map[string]int{}}
}

// changed counts a change and releases the lock its caller holds.
func (t *Tree) changed() {
	t.version++
	t.mu.Unlock()
}

// add records an actor under parent ("" for a root).
func (t *Tree) add(parent, id, name, role string, strategy Strategy) {
	if t == nil {
		return
	}
	t.mu.Lock()
	if e, ok := t.nodes[id]; ok {
		// Respawned under the same name: keep its restart count.
		e.node.Status = StatusStarting
		t.changed()
		return
	}
	t.nodes[id] = &treeEntry{node: Node{Name: name, PID: id, Role: role, Status: StatusStarting, Strategy: string(strategy)}, parent: parent}
	if p, ok := t.nodes[parent]; ok {
		p.children = append(p.children, id)
	} else {
		t.roots = append(t.roots, id)
	}
	t.changed()
}

func (t *Tree) setStatus(id, status string) {
	if t == nil {
		return
	}
	t.mu.Lock()
	if e, ok := t.nodes[id]; ok && e.node.Status != status {
		e.node.Status = status
		t.changed()
		return
	}
	t.mu.Unlock()
}

func (t *Tree) restarted(id string) {
	if t == nil {
		return
	}
	t.mu.Lock()
	if e, ok := t.nodes[id]; ok {
		e.node.Restarts++
		e.node.Status = StatusRestarting
		t.byRole[e.node.Role]++
		t.changed()
		return
	}
	t.mu.Unlock()
}

// remove drops an actor and its subtree.
func (t *Tree) remove(id string) {
	if t == nil {
		return
	}
	t.mu.Lock()
	e, ok := t.nodes[id]
	if !ok {
		t.mu.Unlock()
		return
	}
	var drop func(string)
	drop = func(id string) {
		if e, ok := t.nodes[id]; ok {
			for _, c := range e.children {
				drop(c)
			}
			delete(t.nodes, id)
		}
	}
	drop(id)
	if p, ok := t.nodes[e.parent]; ok {
		p.children = without(p.children, id)
	} else {
		t.roots = without(t.roots, id)
	}
	t.changed()
}

func without(ids []string, id string) []string {
	out := ids[:0:0]
	for _, x := range ids {
		if x != id {
			out = append(out, x)
		}
	}
	return out
}

// Snapshot returns a deep copy of the tree's roots and everything under them.
func (t *Tree) Snapshot() []*Node {
	t.mu.Lock()
	defer t.mu.Unlock()
	var build func(id string) *Node
	build = func(id string) *Node {
		e := t.nodes[id]
		n := e.node
		n.Children = nil
		for _, c := range e.children {
			n.Children = append(n.Children, build(c))
		}
		return &n
	}
	out := make([]*Node, 0, len(t.roots))
	for _, r := range t.roots {
		out = append(out, build(r))
	}
	return out
}

// Find returns a copy of the node with that PID id (with its subtree), or nil.
func (t *Tree) Find(id string) *Node {
	var walk func([]*Node) *Node
	walk = func(ns []*Node) *Node {
		for _, n := range ns {
			if n.PID == id {
				return n
			}
			if f := walk(n.Children); f != nil {
				return f
			}
		}
		return nil
	}
	return walk(t.Snapshot())
}

// RestartsByRole counts restarts per role since the tree was made (removed actors included).
func (t *Tree) RestartsByRole() map[string]int {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make(map[string]int, len(t.byRole))
	for k, v := range t.byRole {
		out[k] = v
	}
	return out
}

// Version increases with every change; a poller compares it to skip unchanged snapshots.
func (t *Tree) Version() uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.version
}

// Walk calls fn for every node of a snapshot, parents before children, roots in order.
func Walk(nodes []*Node, fn func(n *Node, depth int)) {
	var walk func([]*Node, int)
	walk = func(ns []*Node, d int) {
		for _, n := range ns {
			fn(n, d)
			walk(n.Children, d+1)
		}
	}
	walk(nodes, 0)
}

// Roles counts the nodes of a snapshot by role.
func Roles(nodes []*Node) map[string]int {
	out := map[string]int{}
	Walk(nodes, func(n *Node, _ int) { out[n.Role]++ })
	return out
}
