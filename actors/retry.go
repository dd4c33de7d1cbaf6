package actors

import (
	"time"
)

// Backoff is the wait before try n+1 of a store write that failed n times: 10 ms doubling,
// at most 2 s.
func Backoff(n int) time.Duration {
	d := 10 * time.Millisecond
	for i := 1; i < n && d < 2*time.Second; i++ {
		d *= 2
	}
	return min(d, 2*time.Second)
}
