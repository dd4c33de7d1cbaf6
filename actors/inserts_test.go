package actors

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestInsertGateSettlesOnlyTheInsertsBegunBeforeAMark(t *testing.T) {
	var g InsertGate
	before := g.Begin()
	mark := g.Mark()
	after := g.Begin() // began after the mark: does not hold it
	require.False(t, g.Settled(mark), "an insert begun before the mark is open")
	g.End(before)
	require.True(t, g.Settled(mark), "only an insert begun after the mark is open")
	require.False(t, g.Settled(g.Mark()), "a later mark waits for it")
	g.End(after)
	require.True(t, g.Settled(g.Mark()))
}

func TestBackoffDoublesToItsCap(t *testing.T) {
	require.Equal(t, 10*time.Millisecond, Backoff(1))
	require.Equal(t, 20*time.Millisecond, Backoff(2))
	require.Equal(t, 2*time.Second, Backoff(100))
}
