package daemon

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseByteSize(t *testing.T) {
	for in, want := range map[string]ByteSize{
		"0": 0, "1048576": 1 << 20, "512B": 512, "4KiB": 4 << 10, "300MiB": 300 << 20,
		"300 MiB": 300 << 20, "2GiB": 2 << 30, "1TiB": 1 << 40,
	} {
		got, err := ParseByteSize(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	for _, in := range []string{"", "-1", "1.5GiB", "300MB", "MiB", "abc", "9999999999TiB"} {
		_, err := ParseByteSize(in)
		require.Error(t, err, in)
	}
}

func TestMemoryLimitKey(t *testing.T) {
	c, err := Load(strings.NewReader("memory_limit: 300MiB\n"), "x.yaml")
	require.NoError(t, err)
	require.Equal(t, ByteSize(300<<20), c.MemoryLimit)

	c, err = Load(strings.NewReader("workers: 4\n"), "x.yaml")
	require.NoError(t, err)
	require.Zero(t, c.MemoryLimit, "off unless set")

	_, err = Load(strings.NewReader("workers: 4\nmemory_limit: 300MB\n"), "x.yaml")
	require.ErrorContains(t, err, "line 2")
	require.ErrorContains(t, err, `"300MB"`)
}
