package persistence

// The Go heap a Badger store keeps live under a steady write load (docs/benchmarks.md, "Session 4:
// memory at a 1,000,000 backlog"). Badger's part does not shrink by itself: its pool keeps 8
// table builders' buffers (z.AllocatorPool), each as large as the largest table it built, and
// releases one only after 2 s without a flush or a compaction; every flush builds a table of
// about the memtable's size.

// builderPool is the number of table builders' buffers badger keeps (badger.Open's
// z.NewAllocatorPool(8)).
const builderPool = 8

// builderBytes is the buffer a table builder grows to while it builds the table of a flushed
// memtable of m bytes: it starts at twice the table size the buffer was first made for (1 MiB,
// a flush's or a level-1 compaction's: 2 MiB) and each step adds a buffer twice the last (2, 6,
// 14, 30... MiB), until it holds the table (at most m). A buffer first made for a compaction
// into a deeper level, whose tables badger doubles level by level, starts at 4 or 8 MiB and
// would step to 28 or 24 MiB: the bound assumes few of those. (TableSizeMultiplier 1 would
// avoid them, and kept the pool at 52–90 MiB against 96–124 in 2 runs each, but it makes every
// table 1 MiB: a store of some GiB would hold thousands of files, each open and mapped.)
func builderBytes(m int64) int64 {
	const first = 2 << 20
	total, next := int64(first), int64(first)
	for total < m {
		next *= 2
		total += next
	}
	return total
}

// MemoryBound is the most Go heap a store opened with opt keeps live, by its settings: badger's
// 8 table builders' buffers grown to builderBytes(MemTableSize) (112 MiB for the default 14
// MiB memtable), two memtable arenas of MemTableSize + 30% (a third while one flushes is not
// counted: it is short-lived), and the writer's cache at its budget (only running jobs go past
// it, and the workers bound them). Jobs the scheduler holds (its Fifos, running attempts) are
// not counted.
func MemoryBound(opt BadgerOptions) int64 {
	if opt.MemTableSize == 0 {
		opt.MemTableSize = DefaultMemTableSize
	}
	if opt.CacheBytes == 0 {
		opt.CacheBytes = DefaultCacheBytes
	}
	arena := opt.MemTableSize * 13 / 10
	return builderPool*builderBytes(opt.MemTableSize) + 2*arena + max(opt.CacheBytes, 0)
}
