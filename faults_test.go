package jobsched_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jobsched/jobsched"
	"github.com/stretchr/testify/require"
)

func TestStoreFaultsGiveClearErrors(t *testing.T) {
	ctx := context.Background()
	newSched := func(dir string) *jobsched.Scheduler {
		s, err := jobsched.New(jobsched.Config{Dir: dir})
		require.NoError(t, err)
		require.NoError(t, s.Register("k", noop))
		return s
	}

	t.Run("dir locked by another scheduler", func(t *testing.T) {
		dir := t.TempDir()
		first := newSched(dir)
		require.NoError(t, first.Start(ctx))
		defer first.Close(ctx)
		second := newSched(dir)
		err := second.Start(ctx)
		require.Error(t, err)
		require.Contains(t, err.Error(), "lock")
		require.NoError(t, second.Close(ctx))
		// The first keeps working.
		j, err := first.Enqueue(ctx, jobsched.JobSpec{Kind: "k"})
		require.NoError(t, err)
		waitJob(t, first, j.ID)
	})

	t.Run("dir is a file", func(t *testing.T) {
		f := filepath.Join(t.TempDir(), "file")
		require.NoError(t, os.WriteFile(f, []byte("x"), 0o600))
		err := newSched(f).Start(ctx)
		require.Error(t, err)
		require.Contains(t, err.Error(), f)
	})

	t.Run("corrupted manifest", func(t *testing.T) {
		dir := t.TempDir()
		s := newSched(dir)
		require.NoError(t, s.Start(ctx))
		_, err := s.Enqueue(ctx, jobsched.JobSpec{Kind: "k", Delay: jobsched.Duration(3600e9)})
		require.NoError(t, err)
		require.NoError(t, s.Close(ctx))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "MANIFEST"), []byte("not a manifest at all, just junk bytes"), 0o600))
		err = newSched(dir).Start(ctx)
		require.Error(t, err)
		require.Contains(t, strings.ToLower(err.Error()), "manifest")
	})

	t.Run("full disk", func(t *testing.T) {
		if os.Geteuid() != 0 {
			t.Skip("needs root to mount a small tmpfs")
		}
		mnt := t.TempDir()
		if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=120m", "tmpfs", mnt).CombinedOutput(); err != nil {
			t.Skipf("cannot mount a tmpfs here: %v %s", err, out)
		}
		defer exec.Command("umount", mnt).Run()
		dir := filepath.Join(mnt, "d")
		require.NoError(t, os.Mkdir(dir, 0o700))
		// The child enqueues 2 KB jobs until the store refuses; it must exit cleanly (no SIGBUS).
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), envCrashChild+"=fill-disk", envCrashDir+"="+dir)
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "the child must not crash on a full disk:\n%s", tail(string(out), 2000))
		require.Contains(t, string(out), "disk full")
		acked := readLines(filepath.Join(dir, "acked"))
		require.Greater(t, len(acked), 1000)
		// With room again, every acknowledged job is there.
		require.NoError(t, exec.Command("mount", "-o", "remount,size=400m", mnt).Run())
		s, err := jobsched.New(jobsched.Config{Dir: filepath.Join(dir, "store")})
		require.NoError(t, err)
		require.NoError(t, s.Register("work", noop))
		require.NoError(t, s.Start(ctx))
		defer s.Close(ctx)
		for _, id := range acked {
			_, err := s.Get(ctx, id)
			require.NoError(t, err, "acknowledged job %s lost", id)
		}
		t.Logf("full disk: %d jobs acknowledged before the store refused, none lost", len(acked))
	})
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
