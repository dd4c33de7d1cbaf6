package faulty_test

import (
	"context"
	"testing"
	"time"

	"github.com/jobsched/jobsched/internal/leaktest"
	"github.com/jobsched/jobsched/persistence"
	"github.com/jobsched/jobsched/persistence/faulty"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) { leaktest.VerifyTestMain(m) }

func open(t *testing.T, opt faulty.Options) *faulty.Store {
	t.Helper()
	b, err := persistence.OpenBadger(persistence.BadgerOptions{})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, b.Close()) })
	return faulty.New(b, opt)
}

func newJob() *persistence.Job {
	return &persistence.Job{ID: time.Now().Format("150405.000000000"), Kind: "k", Category: "default",
		State: persistence.StateQueued, MaxAttempts: 1}
}

func TestAWriteFailedAfterItIsMadeIsStored(t *testing.T) {
	s := open(t, faulty.Options{Seed: 1, FailAfter: 1})
	j := newJob()
	_, err := s.Insert(context.Background(), []*persistence.Job{j})
	require.ErrorIs(t, err, faulty.ErrInjected)
	got, err := s.Inner().Get(context.Background(), j.ID)
	require.NoError(t, err, "the write was made")
	require.Equal(t, persistence.StateQueued, got.State)
	require.Equal(t, uint64(1), s.Injected().FailAfter)
}

func TestAWriteFailedBeforeItIsMadeIsNot(t *testing.T) {
	s := open(t, faulty.Options{Seed: 1, FailBefore: 1})
	j := newJob()
	_, err := s.Insert(context.Background(), []*persistence.Job{j})
	require.ErrorIs(t, err, faulty.ErrInjected)
	_, err = s.Inner().Get(context.Background(), j.ID)
	require.ErrorIs(t, err, persistence.ErrNotFound)
	// Disabled, the same call goes through.
	s.Disable()
	_, err = s.Insert(context.Background(), []*persistence.Job{j})
	require.NoError(t, err)
}

func TestACallerThatLeavesGetsAnErrorWhileTheWriteLands(t *testing.T) {
	s := open(t, faulty.Options{Seed: 1, Leave: 1})
	j := newJob()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, err := s.Insert(ctx, []*persistence.Job{j})
	require.ErrorIs(t, err, context.Canceled)
	require.Eventually(t, func() bool {
		_, err := s.Inner().Get(context.Background(), j.ID)
		return err == nil
	}, 5*time.Second, time.Millisecond)
	// A caller that cannot leave (no cancellable context) waits for its answer.
	_, err = s.Insert(context.Background(), []*persistence.Job{newJob()})
	require.NoError(t, err)
}

func TestTheSameSeedInjectsTheSameFaults(t *testing.T) {
	run := func() []bool {
		s := open(t, faulty.Options{Seed: 42, FailRead: 0.5})
		out := make([]bool, 64)
		for i := range out {
			_, err := s.Queued(context.Background(), "default", 0, 10)
			out[i] = err != nil
		}
		return out
	}
	first := run()
	require.Equal(t, first, run())
	require.Contains(t, first, true)
	require.Contains(t, first, false)
}

func TestFailIsSticky(t *testing.T) {
	s := open(t, faulty.Options{})
	require.NoError(t, s.Err())
	boom := context.DeadlineExceeded
	s.Fail(boom)
	require.ErrorIs(t, s.Err(), boom)
	_, err := s.Insert(context.Background(), []*persistence.Job{newJob()})
	require.ErrorIs(t, err, boom)
	done := make(chan error, 1)
	s.UpdateAsync("x", func(*persistence.Job) error { return nil }, false, func(_ *persistence.Job, err error) { done <- err })
	require.ErrorIs(t, <-done, boom)
}
