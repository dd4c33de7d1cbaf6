package httpapi

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jobsched/jobsched"
	"github.com/jobsched/jobsched/internal/synchold"
	"github.com/stretchr/testify/require"
)

// A caller of POST /v1/jobs?wait= that leaves while its job runs has the job cancelled, also when
// it leaves before the enqueue was acknowledged (the job starts at its commit, before the sync).
func TestAWaitingCallerWhoLeavesBeforeTheSyncHasItsJobCancelled(t *testing.T) {
	h := synchold.New()
	s, err := jobsched.New(jobsched.Config{Dir: t.TempDir(), Workers: 1, Observer: h})
	require.NoError(t, err)
	started := make(chan struct{})
	var once sync.Once
	require.NoError(t, s.Register("k", func(ctx context.Context, _ *jobsched.Job) (any, error) {
		once.Do(func() { close(started) })
		<-ctx.Done()
		return nil, ctx.Err()
	}))
	require.NoError(t, s.Register("w", func(context.Context, *jobsched.Job) (any, error) { return nil, nil }))
	require.NoError(t, s.Start(context.Background()))
	t.Cleanup(func() {
		h.Release()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, s.Close(ctx))
	})
	a, err := New(s, Options{EventInterval: time.Hour})
	require.NoError(t, err)
	srv := httptest.NewServer(a)
	defer srv.Close()
	defer h.Release() // before srv.Close, which waits for the held request, also when the test fails

	// The scheduler's start-up writes and its Fifo's first read of the store are done before
	// the hold: a first job runs to its end.
	warm, err := s.Enqueue(context.Background(), jobsched.JobSpec{Kind: "w"})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		j, err := s.Get(context.Background(), warm.ID)
		return err == nil && j.State == jobsched.StateSucceeded
	}, 10*time.Second, 5*time.Millisecond, "the first job ran")
	h.Arm()

	ctx, leave := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "POST", srv.URL+"/v1/jobs?wait=30s", strings.NewReader(`{"kind":"k"}`))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	errc := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	select {
	case <-started: // running, its insert's sync held: the enqueue is not acknowledged
	case <-time.After(10 * time.Second):
		t.Fatal("the job did not start")
	}
	page, _, err := s.List(context.Background(), jobsched.ListOptions{State: jobsched.StateRunning})
	require.NoError(t, err)
	require.Len(t, page, 1)
	id := page[0].ID
	leave()
	require.Error(t, <-errc)
	h.Release()
	require.Eventually(t, func() bool {
		j, err := s.Get(context.Background(), id)
		return err == nil && j.State == jobsched.StateCancelled
	}, 10*time.Second, 5*time.Millisecond, "the job of the caller who left is cancelled")
}
