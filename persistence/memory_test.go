package persistence

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// The builder's buffer grows 2, 6, 14, 30 MiB: a flushed memtable up to 14 MiB keeps it at 14.
func TestBuilderBytesDoubleFromTwoMiB(t *testing.T) {
	for _, c := range []struct{ memtable, want int64 }{
		{1 << 20, 2 << 20}, {2 << 20, 2 << 20}, {3 << 20, 6 << 20}, {14 << 20, 14 << 20},
		{14<<20 + 1, 30 << 20}, {20 << 20, 30 << 20},
	} {
		require.Equal(t, c.want, builderBytes(c.memtable), "memtable %d", c.memtable)
	}
}

func TestMemoryBoundOfTheDefaults(t *testing.T) {
	arena := int64(DefaultMemTableSize) * 13 / 10
	require.Equal(t, 8*int64(14<<20)+2*arena+int64(DefaultCacheBytes), MemoryBound(BadgerOptions{}))
	// A larger memtable steps the 8 builders up to 30 MiB each; no cache counts nothing.
	require.Equal(t, 8*int64(30<<20)+2*int64(20<<20)*13/10, MemoryBound(BadgerOptions{MemTableSize: 20 << 20, CacheBytes: -1}))
}
