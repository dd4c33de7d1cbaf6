package daemon

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/jobsched/jobsched/persistence"
)

func TestSoftMemoryLimit(t *testing.T) {
	load := func(yaml string) Config {
		c, err := Load(strings.NewReader(yaml), "x.yaml")
		require.NoError(t, err)
		return c
	}
	def := load("workers: 4\n").SoftMemoryLimit("")
	require.Equal(t, persistence.MemoryBound(persistence.BadgerOptions{})+10_000*512+32<<20, def)
	require.Less(t, def, int64(205<<20), "the default keeps the daemon near 200 MiB")

	// Each category adds its Fifo's 10,000 jobs.
	three := load("categories:\n  - name: a\n  - name: b\n  - name: c\n").SoftMemoryLimit("")
	require.Equal(t, def+2*10_000*512, three)

	require.Equal(t, int64(300<<20), load("memory_limit: 300MiB\n").SoftMemoryLimit("100MiB"), "the key wins")
	require.Zero(t, load("workers: 4\n").SoftMemoryLimit("off"), "GOMEMLIMIT is left to the runtime")
	require.Zero(t, load("store: postgres://u@h/db\n").SoftMemoryLimit(""), "no badger, no default")
}
