package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// chromium finds Debian's chromium; CI installs it (.ci/run) and sets JOBSCHED_REQUIRE_BROWSER
// so that a missing browser fails the test instead of skipping it.
func chromium(t *testing.T) string {
	for _, p := range []string{"/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	if os.Getenv("JOBSCHED_REQUIRE_BROWSER") != "" {
		t.Fatal("chromium is not installed (apt-get install chromium)")
	}
	t.Skip("chromium is not installed")
	return ""
}

// TestDashboardInARealBrowser opens the dashboard of a real daemon in headless Chromium.
// Screenshots go to a temp dir, or to JOBSCHED_SCREENSHOTS (e.g. docs/) when set.
func TestDashboardInARealBrowser(t *testing.T) {
	chromium(t) // skips (or fails, in CI) before a daemon starts when there is no browser
	d := startDaemon(t, "", `
workers: 8
balance_interval: 200ms
categories:
  - name: email
    priority: 3
    min_workers: 1
  - name: sms
    min_workers: 1
`)
	p := newPage(t)
	ctx, shots := p.ctx, p.shots

	shot := func(name string) {
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(shots, name), png, 0o644))
	}
	// text reads an element's text ("" if it is not there yet).
	text := func(sel string) (string, error) {
		js, _ := json.Marshal(sel)
		return chromedp.Run(ctx, chromedp.Evaluate[string](`(document.querySelector(`+string(js)+`) || {}).textContent || ""`))
	}
	css := func(sel string) chromedp.CSS { return chromedp.CSS(sel) }
	// waitText polls an element's text until ok says yes.
	waitText := func(sel string, ok func(string) bool, what string) string {
		deadline := time.Now().Add(60 * time.Second)
		for {
			s, err := text(sel)
			if err == nil && ok(s) {
				return s
			}
			if time.Now().After(deadline) {
				shot("failure.png")
				t.Fatalf("%s: %q is %q", what, sel, s)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	// The page loads, connects to the event stream and draws the tree with the categories.
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(d.addr+"/"), chromedp.WaitVisible(css("#conn.on"))))
	require.NoError(t, chromedp.Do(ctx, chromedp.WaitVisible(css(`.node[data-role="CategorySupervisor"]`))))
	cats, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](
		`[...document.querySelectorAll('.node[data-role="CategorySupervisor"] .name')].map(e => e.textContent)`))
	require.NoError(t, err)
	require.Contains(t, cats, "email")
	require.Contains(t, cats, "sms")
	tree, err := text("#tree")
	require.NoError(t, err)
	require.Contains(t, tree, "RootSupervisor")
	require.Contains(t, tree, "WorkerBalancer")

	// Enqueue 500 sleep jobs from the form: the counters move and all reach succeeded.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.SetValue(css("#enq-cat"), "email"),
		chromedp.SetValue(css("#enq-count"), "500"),
		chromedp.SetValue(css("#enq-ms"), "20"),
		chromedp.Click(css("#enq-go"))))
	waitText("#enq-msg", func(s string) bool { return strings.HasPrefix(s, "enqueued 500 jobs") }, "the form enqueued")
	// While they run, the busy workers show and the balancer gives email more workers.
	waitText(`tr[data-category="email"] .workers-cell`, func(s string) bool {
		parts := strings.Split(s, " / ")
		alloc, _ := strconv.Atoi(strings.TrimSpace(parts[len(parts)-1]))
		return alloc > 1
	}, "email got more workers")
	waitText("#resizes", func(s string) bool { return strings.Contains(s, "email: 1 → ") }, "the balancer's resize is listed")
	shot("dashboard.png")
	waitText(`tr[data-category="email"] .succeeded`, func(s string) bool { return s == "500" }, "all 500 succeeded")

	// The job view shows the last job, live.
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(css(`#lookup button`))))
	waitText("#job-state", func(s string) bool { return s == "succeeded" }, "the job view")

	// A panicking job crashes its worker: the tree shows the restarts.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.SetValue(css("#enq-cat"), "sms"),
		chromedp.SetValue(css("#enq-count"), "2"),
		chromedp.SetValue(css("#enq-ms"), "1"),
		chromedp.SetValue(css("#enq-panic"), "1"),
		chromedp.Click(css("#enq-go"))))
	waitText("#restarts", func(s string) bool {
		n, _ := strconv.Atoi(strings.Trim(strings.Fields(s + " x")[0], "("))
		return n >= 1
	}, "a restart shows in the tree")
	waitText(`tr[data-category="sms"] .dead`, func(s string) bool { return s == "2" }, "the panicking jobs end dead")
	shot("dashboard-restarts.png")

	// Pause and resume from the page.
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(css(`tr[data-category="sms"] button`))))
	waitText(`tr[data-category="sms"] td`, func(s string) bool { return strings.Contains(s, "paused") }, "paused")
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(css(`tr[data-category="sms"] button`))))
	waitText(`tr[data-category="sms"] td`, func(s string) bool { return !strings.Contains(s, "paused") }, "resumed")
	t.Logf("screenshots in %s", shots)
}
