package jobsched_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jobsched/jobsched"
	"github.com/stretchr/testify/require"
)

// The crash test runs this test binary again as a child process (crashChild, chosen by the
// environment in TestMain) that embeds a scheduler on a directory. The parent kills it with
// SIGKILL at random moments and starts it again on the same directory until every job the child
// was acknowledged has finished.

const (
	envCrashChild = "JOBSCHED_CRASH_CHILD" // the child's mode: "work" or "drain"
	envCrashDir   = "JOBSCHED_CRASH_DIR"
)

// crashChild is the child's main. Files in the directory:
//
//	acked   one id per line, written (one write each) after Enqueue returned
//	runs    one id per line, written when a handler starts
//	store/  the scheduler's badger directory
func crashChild(mode string) {
	dir := os.Getenv(envCrashDir)
	runs := openAppend(filepath.Join(dir, "runs"))
	acked := openAppend(filepath.Join(dir, "acked"))
	s, err := jobsched.New(jobsched.Config{Dir: filepath.Join(dir, "store"), Workers: 32,
		RetryBackoff: func(int) time.Duration { return 10 * time.Millisecond }})
	must(err)
	must(s.Register("work", func(ctx context.Context, j *jobsched.Job) (any, error) {
		_, _ = runs.WriteString(j.ID + "\n")
		time.Sleep(time.Duration(rand.IntN(2000)) * time.Microsecond)
		return nil, nil
	}))
	must(s.Register("poison", func(ctx context.Context, j *jobsched.Job) (any, error) {
		_, _ = runs.WriteString(j.ID + "\n")
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL) // takes the whole process down
		select {}
	}))
	registerDAG(s, dir)
	ctx := context.Background()
	must(s.Start(ctx))
	fmt.Println("ready")

	switch mode {
	case "fill-disk":
		// Enqueue until the store refuses; report the refusal. Acked ids are in "acked".
		for i := 0; ; i++ {
			j, err := s.Enqueue(ctx, jobsched.JobSpec{Kind: "work", Args: json.RawMessage(`"` + strings.Repeat("x", 2000) + `"`)})
			if err != nil {
				fmt.Println("refused:", err)
				_ = s.Close(ctx)
				os.Exit(0)
			}
			_, err = acked.WriteString(j.ID + "\n")
			must(err)
		}
	case "poison":
		// One job that kills the process each time it runs, among ordinary ones.
		for i := 0; i < 200; i++ {
			spec := jobsched.JobSpec{Kind: "work"}
			if i == 100 {
				spec = jobsched.JobSpec{Kind: "poison", MaxAttempts: 3}
			}
			j, err := s.Enqueue(ctx, spec)
			must(err)
			_, err = acked.WriteString(j.ID + "\n")
			must(err)
		}
	case "dag":
		enqueueDAG(ctx, s, acked)
	case "work":
		// Enqueue from 16 goroutines at a steady pace until killed, so a kill lands mid-work:
		// jobs being enqueued, queued, running and finishing.
		var wg sync.WaitGroup
		for g := 0; g < 16; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					j, err := s.Enqueue(ctx, jobsched.JobSpec{Kind: "work"})
					must(err)
					_, err = acked.WriteString(j.ID + "\n")
					must(err)
					time.Sleep(5 * time.Millisecond)
				}
			}()
		}
		wg.Wait()
	}
	// Work until every acknowledged job has finished, then exit 0.
	for {
		ids := readLines(filepath.Join(dir, "acked"))
		left := 0
		for _, id := range ids {
			j, err := s.Get(ctx, id)
			must(err)
			if !j.State.Finished() {
				left++
			}
		}
		if left == 0 {
			must(s.Close(ctx))
			fmt.Println("all finished")
			os.Exit(0)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func openAppend(path string) *os.File {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	must(err)
	return f
}

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "crash child:", err)
		os.Exit(4)
	}
}

func readLines(path string) []string {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	must(err)
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if len(l) == 36 { // a whole id: a line cut by a kill is not an acknowledgement
			out = append(out, l)
		}
	}
	return out
}

// child starts the test binary in a child mode and returns it with a channel that receives the
// lines it prints.
func startChild(t *testing.T, dir, mode string) (*exec.Cmd, <-chan string, <-chan error) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envCrashChild+"="+mode, envCrashDir+"="+dir)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	lines := make(chan string, 16)
	done := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		done <- cmd.Wait()
	}()
	return cmd, lines, done
}

func TestKill9LosesNoAcknowledgedJob(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills processes")
	}
	kills := 6
	if os.Getenv("JOBSCHED_CRASH_LONG") != "" {
		kills = 40
	}
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	killed, selfKills := 0, 0
	for round := 0; ; round++ {
		require.Less(t, round, 100, "the child never finished")
		mode := "drain"
		switch {
		case round == 0:
			mode = "poison" // not killed by us: the poison job kills it, three times
		case round <= kills:
			mode = "work" // enqueues until we kill it
		}
		cmd, lines, done := startChild(t, dir, mode)
		var err error
		waitChildReady(t, lines)
		var kill <-chan time.Time
		if mode == "work" {
			kill = time.After(time.Duration(20+rng.IntN(400)) * time.Millisecond)
		}
		weKilled := false
		select {
		case err = <-done:
		case <-kill:
			weKilled = cmd.Process.Signal(syscall.SIGKILL) == nil
			err = <-done
		case <-time.After(3 * time.Minute):
			t.Fatal("child stuck")
		}
		if err == nil {
			if mode == "drain" {
				break // every acknowledged job finished
			}
			continue
		}
		var exit *exec.ExitError
		require.ErrorAs(t, err, &exit)
		ws := exit.Sys().(syscall.WaitStatus)
		require.True(t, ws.Signaled() && ws.Signal() == syscall.SIGKILL, "child failed: %v", err)
		if weKilled {
			killed++
		} else {
			selfKills++ // the poison job took the process down
		}
	}

	// Every acknowledged job finished; count who ran more than once.
	acked := readLines(filepath.Join(dir, "acked"))
	require.Greater(t, len(acked), 200, "the children got jobs acknowledged")
	runs := map[string]int{}
	for _, id := range readLines(filepath.Join(dir, "runs")) {
		runs[id]++
	}
	s, err := jobsched.New(jobsched.Config{Dir: filepath.Join(dir, "store")})
	require.NoError(t, err)
	ctx := context.Background()
	require.NoError(t, s.Start(ctx))
	defer func() { require.NoError(t, s.Close(ctx)) }()
	dup, poison := 0, 0
	for _, id := range acked {
		j, err := s.Get(ctx, id)
		require.NoError(t, err, "acknowledged job %s lost", id)
		if j.Kind == "poison" {
			poison++
			require.Equal(t, jobsched.StateDead, j.State, "the poison job ends dead")
			require.Equal(t, 3, j.Attempt)
			continue
		}
		require.Equal(t, jobsched.StateSucceeded, j.State, "job %s", id)
		require.GreaterOrEqual(t, runs[id], 1, "job %s succeeded without running", id)
		if runs[id] > 1 {
			dup++
		}
	}
	summary := map[string]int{"acknowledged": len(acked), "kills": killed, "poison_self_kills": selfKills,
		"ran_more_than_once": dup, "poison_jobs_dead": poison, "lost": 0}
	b, _ := json.Marshal(summary)
	t.Logf("crash test: %s", b)
}

// waitChildReady waits until the child process says "ready", or is gone.
func waitChildReady(t *testing.T, lines <-chan string) {
	t.Helper()
	for {
		select {
		case l, ok := <-lines:
			if !ok || l == "ready" {
				return
			}
		case <-time.After(2 * time.Minute):
			t.Fatal("child did not start")
		}
	}
}
