package jobsched

import (
	"sync"
	"testing"
)

// waited (asked by a store's listener, for jobs other nodes finish) and waitFor's register and
// unregister (by Wait callers) touch the waiters at once; under -race this fails if they are not
// guarded by one lock.
func TestHubWaitedAndWaitForShareTheirLock(t *testing.T) {
	var h hub
	h.init()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for range 2000 {
			_, stop := h.waitFor("j")
			stop()
		}
	}()
	go func() {
		defer wg.Done()
		for range 2000 {
			h.waited("j")
		}
	}()
	wg.Wait()
	if h.waited("j") {
		t.Fatal("nobody waits any more")
	}
}
