package httpapi

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// The budget is taken whole or not at all, never above its limit, and given back once.
func TestLimitsTakeWithinTheBudget(t *testing.T) {
	l := &limits{maxBytes: 100, maxStreams: 1}
	r60, err := l.takeBytes(60)
	require.NoError(t, err)
	_, err = l.takeBytes(50)
	require.ErrorIs(t, err, errOverloaded)
	r40, err := l.takeBytes(40)
	require.NoError(t, err, "a refused request leaves no trace: 40 more fit")
	r60()
	r60() // given back once
	require.Equal(t, int64(40), l.bytes.Load())
	r40()
	require.Zero(t, l.bytes.Load())

	rs, err := l.takeStream()
	require.NoError(t, err)
	_, err = l.takeStream()
	require.ErrorIs(t, err, errOverloaded)
	rs()
	require.Zero(t, l.streams.Load())
}

// Under concurrent takers the total never passes the limit.
func TestLimitsNeverExceedTheBudget(t *testing.T) {
	l := &limits{maxBytes: 1000, maxStreams: 1}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 2000 {
				if release, err := l.takeBytes(300); err == nil {
					if v := l.bytes.Load(); v > 1000 {
						t.Errorf("%d bytes held, over the budget", v)
					}
					release()
				}
			}
		}()
	}
	wg.Wait()
	require.Zero(t, l.bytes.Load())
}
