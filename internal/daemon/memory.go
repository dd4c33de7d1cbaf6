package daemon

import (
	"github.com/jobsched/jobsched"
	"github.com/jobsched/jobsched/persistence"
)

// fifoJobBytes is what one job a Fifo holds in memory is reckoned to weigh (its record and
// small args) in the default memory limit.
const fifoJobBytes = 512

// memoryHeadroom is the default limit's allowance for the rest of the process (HTTP, actors,
// runtime) and the garbage of the cycle in progress.
const memoryHeadroom = 32 << 20

// SoftMemoryLimit is the soft memory limit (debug.SetMemoryLimit) the daemon sets, in bytes: the
// memory_limit key when given; else 0 (the runtime's own) when the GOMEMLIMIT environment
// variable is set (gomemlimit: its value; "off" turns the limit off) or the store is
// PostgreSQL; else the default, derived from the badger store's settings:
// persistence.MemoryBound (badger's table builders and memtables, the writer's cache), plus
// 10,000 jobs of 512 bytes for each category's Fifo, plus 32 MiB. With one category that is
// ~201 MiB: the GC then collects before the heap doubles a live set of ~135–165 MiB, which is
// what kept the peak RssAnon of a daemon draining 1,000,000 queued jobs under 200 MiB.
func (c Config) SoftMemoryLimit(gomemlimit string) int64 {
	switch {
	case c.MemoryLimit > 0:
		return int64(c.MemoryLimit)
	case gomemlimit != "" || c.Postgres():
		return 0
	}
	cats := int64(max(len(c.Categories), 1))
	return persistence.MemoryBound(persistence.BadgerOptions{}) + cats*jobsched.DefaultFifoMemory*fifoJobBytes + memoryHeadroom
}
