package postgres

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A counts refresh waiting for the writes in flight does not hold new writes back (a plain
// Lock would: TryRLock fails as soon as it waits), and takes the lock once they are done.
func TestQuietLockLetsNewWritesPass(t *testing.T) {
	var c counts
	c.writing.RLock() // a write in flight
	locked := make(chan struct{})
	go func() {
		c.quietLock(time.Hour)
		close(locked)
	}()
	require.Never(t, func() bool {
		if !c.writing.TryRLock() {
			return true // a new write would wait
		}
		c.writing.RUnlock()
		return false
	}, 100*time.Millisecond, time.Millisecond)
	c.writing.RUnlock()
	<-locked
	require.False(t, c.writing.TryRLock(), "the refresh holds the lock")
	c.writing.Unlock()

	// Past its wait, it waits for the writes in flight as a plain Lock does.
	c.writing.RLock()
	locked = make(chan struct{})
	go func() {
		c.quietLock(time.Millisecond)
		close(locked)
	}()
	require.Eventually(t, func() bool {
		if c.writing.TryRLock() {
			c.writing.RUnlock()
			return false
		}
		return true
	}, 5*time.Second, time.Millisecond, "new writes wait behind the refresh")
	c.writing.RUnlock()
	<-locked
	c.writing.Unlock()
}
