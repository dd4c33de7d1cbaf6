package tester

import (
	"sort"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

func TestAckSetKeepsUUIDsAndOtherIDs(t *testing.T) {
	a := newAckSet(4)
	u := uuid.Must(uuid.NewV7()).String()
	upper := "0193A2B4-0000-7000-8000-000000000001" // a UUID, but not as the scheduler writes it
	for _, id := range []string{u, "job-1", upper} {
		a.add(id)
	}
	require.Equal(t, 3, a.len())
	require.Len(t, a.ids, 1, "the canonical UUID is kept as 16 bytes")
	for _, id := range []string{u, "job-1", upper} {
		require.True(t, a.has(id), id)
	}
	require.False(t, a.has(uuid.Must(uuid.NewV7()).String()))
	require.False(t, a.has("job-2"))

	var left []string
	a.each(func(id string) { left = append(left, id) })
	sort.Strings(left)
	want := []string{u, "job-1", upper}
	sort.Strings(want)
	require.Equal(t, want, left, "each gives the ids back as they were added")

	a.remove(u)
	a.remove("job-1")
	require.False(t, a.has(u))
	require.Equal(t, 1, a.len())
}

// An id acknowledged twice must be found twice; ids added after a lookup are found too, and
// what was found before stays found.
func TestAckSetCountsRepeatsAndAddsAfterLookups(t *testing.T) {
	a := newAckSet(0)
	ids := make([]string, 50)
	for i := range ids {
		ids[i] = uuid.Must(uuid.NewRandom()).String() // random order, unlike UUIDv7
		a.add(ids[i])
	}
	a.add(ids[7])
	require.Equal(t, 51, a.len())
	a.remove(ids[7])
	require.True(t, a.has(ids[7]), "the second acknowledgement is still open")
	a.remove(ids[7])
	require.False(t, a.has(ids[7]))
	a.remove(ids[3])

	late := uuid.Must(uuid.NewRandom()).String()
	a.add(late)
	require.True(t, a.has(late))
	require.False(t, a.has(ids[3]), "found before the add, still found after the re-sort")
	require.False(t, a.has(ids[7]))
	require.Equal(t, 49, a.len())
	n := 0
	a.each(func(id string) {
		require.NotEqual(t, ids[3], id)
		require.NotEqual(t, ids[7], id)
		n++
	})
	require.Equal(t, 49, n)
}
