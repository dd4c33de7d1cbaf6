package actors

import "sync"

// InsertGate tracks the inserts in flight so a Fifo knows when a low-water mark it read is
// final. A store numbers a queued job when the insert begins and commits it later, so an insert
// that began before a Fifo read the head of its queue may still add a job below that head. Once
// every insert that began before the read has ended, no job below the head can become queued
// again (a job re-queued later takes a new, higher number), and the Fifo never reads below it.
type InsertGate struct {
	mu   sync.Mutex
	gen  uint64
	open map[uint64]int // inserts in flight per generation
}

// Begin registers an insert; pass its result to End when the store has answered.
func (g *InsertGate) Begin() uint64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.open == nil {
		g.open = map[uint64]int{}
	}
	g.open[g.gen]++
	return g.gen
}

// End marks an insert begun with Begin as answered (stored or not).
func (g *InsertGate) End(gen uint64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.open[gen]--; g.open[gen] <= 0 {
		delete(g.open, gen)
	}
}

// Mark returns a point in time: Settled(mark) becomes true once every insert begun before it
// has ended.
func (g *InsertGate) Mark() uint64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.gen++
	return g.gen
}

// Settled reports whether every insert begun before mark has ended.
func (g *InsertGate) Settled(mark uint64) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	for gen := range g.open {
		if gen < mark {
			return false
		}
	}
	return true
}
