package httpapi

import (
	"errors"
	"fmt"
	"sync/atomic"
)

// errOverloaded: the API holds as many request bodies or event streams as it may.
var errOverloaded = errors.New("overloaded")

// limits bounds what the API holds at once: request body bytes and event streams. Taking is
// non-blocking: over the limit the request is refused (503, Retry-After) rather than queued.
type limits struct {
	maxBytes, maxStreams int64
	bytes, streams       atomic.Int64
}

// takeBytes reserves n bytes of the in-flight budget.
func (l *limits) takeBytes(n int64) (func(), error) {
	if !reserve(&l.bytes, n, l.maxBytes) {
		return func() {}, fmt.Errorf("%w: request bodies in flight would exceed %d bytes; retry later", errOverloaded, l.maxBytes)
	}
	var once atomic.Bool
	return func() {
		if once.CompareAndSwap(false, true) {
			l.bytes.Add(-n)
		}
	}, nil
}

// takeStream reserves one event stream.
func (l *limits) takeStream() (func(), error) {
	if !reserve(&l.streams, 1, l.maxStreams) {
		return func() {}, fmt.Errorf("%w: %d event streams are open, the most this daemon serves; retry later", errOverloaded, l.maxStreams)
	}
	return func() { l.streams.Add(-1) }, nil
}

// reserve adds n to v if the sum stays within max. It never goes over, not even for a moment, so
// a refused request cannot make another one that fits be refused too.
func reserve(v *atomic.Int64, n, max int64) bool {
	for {
		cur := v.Load()
		if cur+n > max {
			return false
		}
		if v.CompareAndSwap(cur, cur+n) {
			return true
		}
	}
}
