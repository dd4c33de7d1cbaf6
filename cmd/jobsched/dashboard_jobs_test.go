package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/jobsched/jobsched"
	"github.com/jobsched/jobsched/internal/client"
	"github.com/stretchr/testify/require"
)

// page drives one headless Chromium tab for a test.
type page struct {
	t     *testing.T
	ctx   context.Context
	shots string
}

func newPage(t *testing.T) *page {
	exe := chromium(t)
	shots := os.Getenv("JOBSCHED_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.Headless,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true), chromedp.NoFirstRun,
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1400, 1000))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	ctx, cancelT := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(func() { cancelT(); cancel(); cancelAlloc() })
	return &page{t: t, ctx: ctx, shots: shots}
}

func (p *page) do(actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	if err := chromedp.Do(p.ctx, actions...); err != nil {
		p.shot("failure.png")
		p.t.Fatalf("browser: %v", err)
	}
}

// click clicks the element sel with the mouse. A list that refreshes live may replace the
// element between the lookup and the click ("Could not find node"): then it looks again.
func (p *page) click(sel string) {
	p.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := chromedp.Do(p.ctx, chromedp.Click(chromedp.CSS(sel)))
		if err == nil {
			return
		}
		if !strings.Contains(err.Error(), "Could not find node") || time.Now().After(deadline) {
			p.shot("failure.png")
			p.t.Fatalf("browser: click %s: %v", sel, err)
		}
	}
}

// clickUntil clicks sel until js holds. A click can land on an element the page replaces at that
// moment (a list re-rendered for an event that just came), and then does nothing: it is made again.
func (p *page) clickUntil(sel, js, what string) {
	p.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		p.click(sel)
		for wait := time.Now().Add(3 * time.Second); time.Now().Before(wait); {
			if ok, err := chromedp.Run(p.ctx, chromedp.Evaluate[bool](js)); err == nil && ok {
				return
			}
			time.Sleep(50 * time.Millisecond) // a poll of the page: no event tells the test
		}
		if time.Now().After(deadline) {
			p.waitFor(js, what) // fails, with the page
			return
		}
	}
}

func (p *page) shot(name string) {
	if png, err := chromedp.Run(p.ctx, chromedp.FullScreenshot(100)); err == nil {
		_ = os.WriteFile(filepath.Join(p.shots, name), png, 0o644) // a failed screenshot must not hide the failure
	}
}

// eval runs a JavaScript expression and returns its value.
func eval[T any](p *page, js string) T {
	p.t.Helper()
	v, err := chromedp.Run(p.ctx, chromedp.Evaluate[T](js))
	if err != nil {
		p.shot("failure.png")
		p.t.Fatalf("browser: %s: %v", js, err)
	}
	return v
}

// waitFor polls a JavaScript expression until it is true.
func (p *page) waitFor(js, what string) {
	p.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		if ok, err := chromedp.Run(p.ctx, chromedp.Evaluate[bool](js)); err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			p.shot("failure.png")
			body := eval[string](p, `document.querySelector('main').innerText`)
			p.t.Fatalf("%s: never true: %s\npage:\n%s", what, js, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func textIs(sel, want string) string {
	return fmt.Sprintf(`(document.querySelector(%q) || {}).textContent === %q`, sel, want)
}

func textHas(sel, want string) string {
	return fmt.Sprintf(`((document.querySelector(%q) || {}).textContent || '').includes(%q)`, sel, want)
}

// TestDashboardJobBrowserAndJobPage browses jobs by state, category and kind, pages through
// them, opens a dead job, retries it with a click and sees it succeed, deletes it, retries the
// rest of a category's dead jobs from its row, and cancels a scheduled job found by id; the last
// hour's chart follows.
func TestDashboardJobBrowserAndJobPage(t *testing.T) {
	p := newPage(t)
	d := startDaemon(t, "", allowLoopbackHooks+`
workers: 4
categories:
  - name: email
  - name: reports
`)
	c := d.client()
	ctx := context.Background()
	url, fixed := hookServer(t)
	var dead []*jobsched.Job
	for i := 0; i < 3; i++ {
		dead = append(dead, deadHook(t, c, url, "email"))
	}
	var specs []jobsched.JobSpec
	for i := 0; i < 25; i++ {
		specs = append(specs, jobsched.JobSpec{Kind: "sleep", Category: "reports", Args: json.RawMessage(`{"ms":1}`)})
	}
	done, err := c.EnqueueBatch(ctx, specs)
	require.NoError(t, err)
	waitState(t, c, done[len(done)-1].ID, jobsched.StateSucceeded)

	p.do(chromedp.Navigate(d.addr+"/"), chromedp.WaitVisible(chromedp.CSS("#conn.on")))
	// The last hour's chart counts what finished.
	chart := func(cat, attr string) string {
		return fmt.Sprintf(`(document.querySelector('#hour canvas[data-category=%q]') || {dataset: {}}).dataset.%s`, cat, attr)
	}
	p.waitFor(chart("reports", "succeeded")+` === '25' && `+chart("email", "failed")+` === '3'`, "the last hour's chart")
	rows := `document.querySelectorAll('#jobs tbody tr').length`
	// The browser opens on the newest jobs, 20 a page; "Older" and "Newer" follow next_cursor.
	p.waitFor(rows+` === 20`, "the first page")
	p.do(chromedp.Click(chromedp.CSS("#jobs-next")))
	p.waitFor(rows+` === 8 && `+textIs("#jobs-page", "page 2"), "the second page holds the rest")
	p.do(chromedp.Click(chromedp.CSS("#jobs-prev")))
	p.waitFor(rows+` === 20 && `+textIs("#jobs-page", "page 1"), "back to the first page")

	// Filter: the dead jobs of email.
	p.waitFor(`[...document.querySelectorAll('#f-cat option')].some(o => o.value === 'email')`, "the category filter lists email")
	p.do(chromedp.SetValue(chromedp.CSS("#f-state"), "dead"), chromedp.SetValue(chromedp.CSS("#f-cat"), "email"),
		chromedp.Click(chromedp.CSS("#f-go")))
	p.waitFor(rows+` === 3 && [...document.querySelectorAll('#jobs td.state')].every(td => td.textContent === 'dead')`, "three dead jobs of email")
	eval[bool](p, `document.querySelector('#f-state').value = ''; document.querySelector('#f-cat').value = ''; true`)
	p.do(chromedp.SetValue(chromedp.CSS("#f-kind"), "http"), chromedp.Click(chromedp.CSS("#f-go")))
	p.waitFor(rows+` === 3`, "by kind: the three http jobs")

	// Open the oldest dead job from its row: its page shows the failed attempt.
	target := dead[0]
	p.clickUntil(fmt.Sprintf(`#jobs tr[data-job=%q] a`, target.ID), `location.hash === '#job/`+target.ID+`'`, "the row opens the job's page")
	p.waitFor(textIs("#job-state", "dead")+` && `+textHas("#job-attempts", "status 502"), "the job page shows the dead job and its error")
	require.Equal(t, "#job/"+target.ID, eval[string](p, `location.hash`))

	// The fix is deployed: Retry now, and watch it succeed.
	fixed.Store(true)
	p.do(chromedp.Click(chromedp.CSS("#job-retry")))
	p.waitFor(textIs("#job-state", "succeeded"), "the retried job succeeded")
	p.waitFor(textIs("#job-attempt", "2 of 2")+` && `+textHas("#job-result", "delivered"), "its second attempt and result")
	p.shot("dashboard-jobs.png")
	j, err := c.Get(ctx, target.ID)
	require.NoError(t, err)
	require.Equal(t, jobsched.StateSucceeded, j.State)

	// Delete it: two clicks.
	p.do(chromedp.Click(chromedp.CSS("#job-delete")))
	p.waitFor(textIs("#job-delete", "Really delete?"), "the delete button arms")
	p.do(chromedp.Click(chromedp.CSS("#job-delete")))
	p.waitFor(textIs("#job-msg", "deleted"), "deleted")
	_, err = c.Get(ctx, target.ID)
	var apiErr *client.APIError
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, http.StatusNotFound, apiErr.Status)

	// Retry all dead of email from its row.
	p.click(`tr[data-category="email"] button.retry-dead`)
	p.waitFor(textIs("#cat-msg", "email: retried 2 dead jobs"), "the category's dead jobs retried")
	for _, j := range dead[1:] {
		waitState(t, c, j.ID, jobsched.StateSucceeded)
	}
	p.waitFor(chart("email", "succeeded")+` === '3'`, "the chart follows: the three email jobs succeeded at last")

	// Find a scheduled job by id and cancel it.
	later, err := c.Enqueue(ctx, jobsched.JobSpec{Kind: "sleep", Category: "reports", Delay: jobsched.Duration(time.Hour)}, 0)
	require.NoError(t, err)
	p.do(chromedp.SetValue(chromedp.CSS("#job-id"), later.ID), chromedp.Click(chromedp.CSS(`#lookup button[type="submit"]`)))
	p.waitFor(textIs("#job-state", "scheduled"), "found by id")
	p.do(chromedp.Click(chromedp.CSS("#job-cancel")))
	p.waitFor(textIs("#job-state", "cancelled"), "cancelled from its page")
	waitState(t, c, later.ID, jobsched.StateCancelled)
	require.False(t, strings.Contains(d.logs.String(), "level=ERROR"), d.logs.String())
}

// TestDashboardRareFilterFillsItsPage stores more jobs than one List call reads (10,000 on
// badger) and filters on a kind only the oldest three have (http; the others sleep): the store answers in short pages
// with a cursor, and the browser follows them until its page holds the three.
func TestDashboardRareFilterFillsItsPage(t *testing.T) {
	p := newPage(t)
	d := startDaemon(t, "", allowLoopbackHooks+"workers: 2\n")
	c := d.client()
	ctx := context.Background()
	later := jobsched.Duration(time.Hour) // scheduled: they wait, and cost nothing meanwhile
	var rare []string
	for i := 0; i < 3; i++ {
		j, err := c.Enqueue(ctx, jobsched.JobSpec{Kind: "http", Args: json.RawMessage(`{"url":"http://127.0.0.1:9"}`), Delay: later}, 0)
		require.NoError(t, err)
		rare = append(rare, j.ID)
	}
	for n := 0; n < 10_500; n += 1_000 {
		specs := make([]jobsched.JobSpec, 1_000)
		for i := range specs {
			specs[i] = jobsched.JobSpec{Kind: "sleep", Delay: later}
		}
		_, err := c.EnqueueBatch(ctx, specs)
		require.NoError(t, err)
	}
	page, err := c.List(ctx, jobsched.ListOptions{Kind: "http", Limit: 20})
	require.NoError(t, err)
	require.Empty(t, page.Jobs, "one call reads 10,000 records: none of the newest is rare")
	require.NotEmpty(t, page.NextCursor)

	p.do(chromedp.Navigate(d.addr+"/"), chromedp.WaitVisible(chromedp.CSS("#conn.on")))
	p.do(chromedp.SetValue(chromedp.CSS("#f-kind"), "http"), chromedp.Click(chromedp.CSS("#f-go")))
	p.waitFor(`document.querySelectorAll('#jobs tbody tr').length === 3`, "the three rare jobs fill the page")
	got := eval[[]string](p, `[...document.querySelectorAll('#jobs tbody tr')].map(r => r.dataset.job)`)
	require.Equal(t, []string{rare[2], rare[1], rare[0]}, got)
	calls := eval[int](p, `performance.getEntriesByType('resource').filter(e => e.name.includes('/v1/jobs?') && e.name.includes('kind=http')).length`)
	require.GreaterOrEqual(t, calls, 2, "the page took more than one call")
	require.True(t, eval[bool](p, `document.querySelector('#jobs-next').disabled`), "the end was reached")
}
