package tester

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// readRssAnon returns the RssAnon of process pid (its own anonymous resident memory: heap,
// stacks, mmap'd anonymous regions; not the page cache of badger's files) in bytes.
func readRssAnon(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return parseRssAnon(f)
}

// parseRssAnon reads the "RssAnon:   1234 kB" line of a /proc/PID/status.
func parseRssAnon(r io.Reader) (int64, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "RssAnon:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("RssAnon: unexpected line %q", sc.Text())
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("RssAnon: %w", err)
		}
		return kb << 10, nil
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("no RssAnon line in the status")
}

// rssSampler reads a process's RssAnon every interval and keeps the largest; stop ends it.
type rssSampler struct {
	peak atomic.Int64
	quit chan struct{}
	wg   sync.WaitGroup
}

// sampleRss starts sampling pid; with pid 0 (a daemon the tester does not own) it samples
// nothing and reports 0.
func sampleRss(pid int, every time.Duration) *rssSampler {
	s := &rssSampler{quit: make(chan struct{})}
	if pid == 0 {
		return s
	}
	s.sample(pid)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-s.quit:
				return
			case <-tick.C:
				s.sample(pid)
			}
		}
	}()
	return s
}

func (s *rssSampler) sample(pid int) {
	v, err := readRssAnon(pid)
	if err != nil {
		return // the process is gone or restarting (chaos): the next tick reads again
	}
	for {
		old := s.peak.Load()
		if v <= old || s.peak.CompareAndSwap(old, v) {
			return
		}
	}
}

// stop ends the sampling and returns the peak in MiB.
func (s *rssSampler) stop() float64 {
	close(s.quit)
	s.wg.Wait()
	return mib(s.peak.Load())
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }
