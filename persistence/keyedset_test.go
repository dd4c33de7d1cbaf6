package persistence

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// A keyed holds its first key inline and moves to a map at the second; it answers the same
// either way, and empties back to nothing.
func TestKeyedInlineThenMap(t *testing.T) {
	var k keyed[int]
	_, ok := k.get("a")
	require.False(t, ok)
	require.False(t, k.del("a"))
	k.set("a", 1)
	k.set("a", 2) // the same key stays inline
	require.Nil(t, k.more)
	v, ok := k.get("a")
	require.True(t, ok)
	require.Equal(t, 2, v)
	_, ok = k.get("b")
	require.False(t, ok)
	k.set("b", 3)
	require.NotNil(t, k.more)
	require.Equal(t, map[string]int{"a": 2, "b": 3}, k.asMap())
	require.Equal(t, 2, k.len())
	require.True(t, k.del("a"))
	require.False(t, k.del("a"))
	require.Equal(t, map[string]int{"b": 3}, k.asMap())
	require.True(t, k.del("b"))
	require.Zero(t, k.len())

	var one keyed[int]
	one.set("x", 7)
	require.False(t, one.del("y"))
	require.True(t, one.del("x"))
	require.Zero(t, one.len())
	require.Empty(t, one.asMap())
}
