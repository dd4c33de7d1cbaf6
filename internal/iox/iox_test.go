package iox

import (
	"bytes"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/require"
)

func TestReadAllReadsWhateverTheLengthSays(t *testing.T) {
	body := strings.Repeat("0123456789", 1000)
	for _, size := range []int64{-1, 0, 10, int64(len(body)), int64(len(body)) + 5, maxPrealloc + 1} {
		got, err := ReadAll(iotest.HalfReader(strings.NewReader(body)), size)
		require.NoError(t, err, "size %d", size)
		require.Equal(t, body, string(got), "size %d", size)
	}
	_, err := ReadAll(iotest.ErrReader(bytes.ErrTooLarge), 10)
	require.ErrorIs(t, err, bytes.ErrTooLarge)
}
