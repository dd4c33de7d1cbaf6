package persistence

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// UpdateAsync never blocks, even while the writer is held and its channel is full; the requests
// that overflowed are written after it frees, each caller's in the order sent.
func TestUpdateAsyncNeverBlocksWhenTheWriterIsBehind(t *testing.T) {
	var hold atomic.Bool
	held, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	s, err := OpenBadger(BadgerOptions{Dir: t.TempDir(), Logger: slog.New(slog.DiscardHandler), commitHook: func() error {
		if hold.Load() {
			once.Do(func() { close(held) })
			<-release
		}
		return nil
	}})
	require.NoError(t, err)
	defer s.Close()
	free := sync.OnceFunc(func() { hold.Store(false); close(release) })
	defer free() // before Close, also when the test fails
	ctx := context.Background()
	_, err = s.Insert(ctx, []*Job{queuedJob("a")})
	require.NoError(t, err)

	hold.Store(true)
	s.UpdateAsync("a", func(j *Job) error { j.Attempt++; return nil }, false, func(*Job, error) {})
	<-held         // the writer is inside a commit: nothing more is taken from the channel
	const n = 6000 // more than the channel holds
	var mu sync.Mutex
	var seen []int
	var wg sync.WaitGroup
	wg.Add(n)
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		for i := range n {
			s.UpdateAsync("a", func(j *Job) error { j.Attempt++; return nil }, false, func(_ *Job, err error) {
				if err == nil {
					mu.Lock()
					seen = append(seen, i)
					mu.Unlock()
				}
				wg.Done()
			})
		}
	}()
	select {
	case <-sent:
	case <-time.After(10 * time.Second):
		t.Fatal("UpdateAsync blocked while the writer was held")
	}
	s.async.mu.Lock()
	over := len(s.async.reqs)
	s.async.mu.Unlock()
	require.Positive(t, over, "some requests overflowed the channel")
	free()
	wg.Wait()
	require.Len(t, seen, n)
	for i := range seen {
		require.Equal(t, i, seen[i], "answered in the order sent")
	}
	j, err := s.Get(ctx, "a")
	require.NoError(t, err)
	require.Equal(t, n+1, j.Attempt)
}
