package jobsched_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jobsched/jobsched"
	"github.com/stretchr/testify/require"
)

// TestLargeBacklog measures what issue 3 asks of a large backlog, in fresh child processes so
// RSS is the process's own: filling a store with JOBSCHED_BACKLOG unfinished jobs (e.g.
// 1000000), then the start-up time (recovery included) and the RSS of a scheduler holding them
// while it drains. It is a measurement, not a CI test: set the variable to run it.
func TestLargeBacklog(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("JOBSCHED_BACKLOG"))
	if n == 0 {
		t.Skip("set JOBSCHED_BACKLOG=1000000 to measure")
	}
	dir := t.TempDir()
	run := func(mode string) map[string]float64 {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), envCrashChild+"="+mode, envCrashDir+"="+dir, "JOBSCHED_BACKLOG="+strconv.Itoa(n))
		cmd.Stderr = os.Stderr
		out, err := cmd.Output()
		require.NoError(t, err)
		var res map[string]float64
		require.NoError(t, json.Unmarshal(out, &res), string(out))
		return res
	}
	fill := run("backlog-fill")
	t.Logf("fill: %v", fill)
	measure := run("backlog-start")
	t.Logf("start: %v", measure)
}

// TestSoakDiskUse pushes JOBSCHED_SOAK no-op jobs (e.g. 5000000) through one store with a
// retention of 2 s and reports the disk used along the way: finished jobs expire and compaction
// reclaims them, so the disk must level off rather than grow with the total. A measurement.
func TestSoakDiskUse(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("JOBSCHED_SOAK"))
	if n == 0 {
		t.Skip("set JOBSCHED_SOAK=5000000 to measure")
	}
	dir := t.TempDir()
	s, err := jobsched.New(jobsched.Config{Dir: dir, Workers: 100, Retention: 2 * time.Second,
		Categories: []jobsched.Category{{Name: "default", MinWorkers: 100, QueueLimit: 200_000}}})
	require.NoError(t, err)
	require.NoError(t, s.Register("noop", noop))
	ctx := context.Background()
	require.NoError(t, s.Start(ctx))
	defer s.Close(ctx)
	specs := make([]jobsched.JobSpec, 1000)
	for i := range specs {
		specs[i] = jobsched.JobSpec{Kind: "noop", Args: json.RawMessage(`{"to":"someone@example.com","n":12345}`)}
	}
	began := time.Now()
	for sent := 0; sent < n; sent += len(specs) {
		for {
			_, err := s.EnqueueBatch(ctx, specs)
			if err == nil {
				break
			}
			require.ErrorIs(t, err, jobsched.ErrQueueFull)
			time.Sleep(5 * time.Millisecond)
		}
		if (sent+len(specs))%(n/10) == 0 {
			t.Logf("%8d jobs  %5.1fs  disk %6.1f MiB  rss %5.0f MiB", sent+len(specs), time.Since(began).Seconds(), dirMiB(dir), rssMiB("VmRSS"))
		}
	}
}

func dirMiB(dir string) float64 {
	var total int64
	_ = filepath.Walk(dir, func(_ string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			if st, ok := info.Sys().(*syscall.Stat_t); ok {
				total += st.Blocks * 512 // allocated, not the sparse size
			}
		}
		return nil
	})
	return float64(total) / (1 << 20)
}

// backlogChild is the child's side of TestLargeBacklog.
func backlogChild(mode string) {
	dir := filepath.Join(os.Getenv(envCrashDir), "store")
	n, _ := strconv.Atoi(os.Getenv("JOBSCHED_BACKLOG"))
	ctx := context.Background()
	cfg := jobsched.Config{Dir: dir, Workers: 100, Categories: []jobsched.Category{
		{Name: "default", MinWorkers: 100, QueueLimit: 10_000_000}}}
	s, err := jobsched.New(cfg)
	must(err)
	must(s.Register("noop", func(context.Context, *jobsched.Job) (any, error) { return nil, nil }))
	began := time.Now()
	must(s.Start(ctx))
	startup := time.Since(began)
	res := map[string]float64{}
	switch mode {
	case "backlog-fill":
		must(s.Pause("default"))
		began = time.Now()
		specs := make([]jobsched.JobSpec, 1000)
		delay, _ := time.ParseDuration(os.Getenv("JOBSCHED_BACKLOG_DELAY")) // e.g. 1h: a scheduled backlog
		for i := range specs {
			specs[i] = jobsched.JobSpec{Kind: "noop", Delay: jobsched.Duration(delay), Args: json.RawMessage(`{"to":"someone@example.com","n":12345}`)}
		}
		for sent := 0; sent < n; sent += len(specs) {
			_, err := s.EnqueueBatch(ctx, specs)
			must(err)
		}
		res["jobs"] = float64(n)
		res["fill_seconds"] = time.Since(began).Seconds()
		res["rss_mib_after_fill"] = rssMiB("VmRSS")
		res["rss_anon_mib_after_fill"] = rssMiB("RssAnon")
		must(s.Close(ctx))
	case "backlog-start":
		res["startup_seconds"] = startup.Seconds()
		res["rss_mib_at_ready"] = rssMiB("VmRSS")
		res["queued_at_ready"] = float64(s.Categories()[0].Counts[jobsched.StateQueued])
		res["scheduled_at_ready"] = float64(s.Categories()[0].Counts[jobsched.StateScheduled])
		res["in_memory_at_ready"] = float64(s.Categories()[0].InMemory)
		// Drain for 10 s: the Fifo reads the queue back from the store as workers take jobs.
		began = time.Now()
		for time.Since(began) < 10*time.Second {
			time.Sleep(100 * time.Millisecond)
		}
		c := s.Categories()[0]
		res["drained_in_10s"] = float64(c.Counts[jobsched.StateSucceeded])
		res["rss_mib_peak"] = rssMiB("VmHWM")
		res["rss_mib_after_10s"] = rssMiB("VmRSS")
		res["rss_anon_mib_after_10s"] = rssMiB("RssAnon")
		res["rss_file_mib_after_10s"] = rssMiB("RssFile")
		if p := os.Getenv("JOBSCHED_HEAPPROFILE"); p != "" {
			f, err := os.Create(p)
			must(err)
			must(pprof.WriteHeapProfile(f))
			f.Close()
		}
		must(s.Close(ctx))
	}
	b, _ := json.Marshal(res)
	fmt.Println(string(b))
	os.Exit(0)
}

// rssMiB reads a field of /proc/self/status (VmRSS, VmHWM) in MiB.
func rssMiB(field string) float64 {
	f, err := os.Open("/proc/self/status")
	must(err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), field+":") {
			kb, _ := strconv.Atoi(strings.Fields(sc.Text())[1])
			return float64(kb) / 1024
		}
	}
	return 0
}
