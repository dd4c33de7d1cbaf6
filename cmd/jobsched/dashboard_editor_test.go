package main

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/jobsched/jobsched"
	"github.com/jobsched/jobsched/internal/httpapi"
	"github.com/stretchr/testify/require"
)

// category reads one category's settings over the API (nil when it does not exist).
func category(t *testing.T, d *proc, name string) *httpapi.CategoryJSON {
	t.Helper()
	cats, err := d.client().Categories(context.Background())
	require.NoError(t, err)
	for _, c := range cats {
		if c.Name == name {
			return &c
		}
	}
	return nil
}

// supervisorShown is true when the tree draws a CategorySupervisor named name.
func supervisorShown(scope, name string) string {
	return fmt.Sprintf(`[...document.querySelectorAll(%q)].some(e => e.textContent === %q)`,
		scope+` .node[data-role="CategorySupervisor"] .name`, name)
}

// TestDashboardCategoryEditor creates a category in the editor and sees its CategorySupervisor
// appear in the tree, edits it from its row, pauses and resumes it, retries its dead job, is
// refused its deletion (409, in use) while it holds a job, and deletes it once empty: its
// supervisor leaves the tree. A category created and paused in the editor is still there, paused,
// after a restart.
func TestDashboardCategoryEditor(t *testing.T) {
	p := newPage(t)
	const config = `
workers: 4
categories:
  - name: default
  - name: email
`
	d := startDaemon(t, "", config)
	ctx := context.Background()
	p.do(chromedp.Navigate(d.addr+"/"), chromedp.WaitVisible(chromedp.CSS("#conn.on")))
	p.waitFor(supervisorShown("#tree", "email"), "the configured categories in the tree")

	// Create "reports": priority 2, at most 3 workers, 50 jobs a second.
	p.click("#ce-new")
	p.do(chromedp.SendKeys(chromedp.CSS("#ce-name"), "reports"),
		chromedp.SetValue(chromedp.CSS("#ce-priority"), "2"),
		chromedp.SetValue(chromedp.CSS("#ce-max-workers"), "3"),
		chromedp.SetValue(chromedp.CSS("#ce-rate-limit"), "50"))
	p.waitFor(textIs("#ce-save", "Create"), "a new name is created")
	p.click("#ce-save")
	p.waitFor(textHas("#ce-msg", "created reports"), "created")
	p.waitFor(supervisorShown("#tree", "reports"), "its CategorySupervisor appears in the tree")
	p.waitFor(`!!document.querySelector('tr[data-category="reports"]')`, "its row in the categories table")
	c := category(t, d, "reports")
	require.NotNil(t, c)
	require.Equal(t, 2, c.Priority)
	require.Equal(t, 3, c.MaxWorkers)
	require.Equal(t, 50.0, c.RateLimit)
	p.shot("dashboard-categories.png")

	// Weights set over the API (the editor does not show them) survive a save from the editor.
	st, _, b := call(t, "PUT", d.addr+"/v1/categories/reports", `{"priority":2,"max_workers":3,"rate_limit":50,"fairness_weights":{"acme":3}}`)
	require.Equal(t, 200, st, string(b))
	p.waitFor(`(editor.cats.get('reports')?.fairness_weights?.acme ?? 0) === 3`, "the page knows reports' weights")

	// Edit it from its row: the editor shows its settings; change priority and queue limit.
	p.click("#ce-new")
	p.click(`tr[data-category="reports"] button.edit-cat`)
	p.waitFor(`document.querySelector('#ce-name').value === 'reports' && document.querySelector('#ce-priority').value === '2' && `+
		`document.querySelector('#ce-max-workers').value === '3'`, "the editor holds reports' settings")
	p.waitFor(textIs("#ce-save", "Save"), "an existing category is saved")
	p.do(chromedp.SetValue(chromedp.CSS("#ce-priority"), "5"), chromedp.SetValue(chromedp.CSS("#ce-queue-limit"), "100"))
	p.click("#ce-save")
	p.waitFor(textIs("#ce-msg", "saved reports"), "saved")
	c = category(t, d, "reports")
	require.Equal(t, 5, c.Priority)
	require.Equal(t, 100, c.QueueLimit)
	require.Equal(t, 3, c.MaxWorkers, "the other settings are kept")
	require.Equal(t, map[string]int{"acme": 3}, c.FairnessWeights, "and so are the weights")

	// A bad value is refused with the field's name, and changes nothing.
	p.do(chromedp.SetValue(chromedp.CSS("#ce-priority"), "-4"))
	p.click("#ce-save")
	p.waitFor(`document.querySelector('#ce-msg').className === 'error' && `+textHas("#ce-msg", "priority"), "a bad priority is refused")
	require.Equal(t, 5, category(t, d, "reports").Priority)
	p.do(chromedp.SetValue(chromedp.CSS("#ce-priority"), "5"))

	// Pause and resume from the editor.
	p.click("#ce-pause")
	p.waitFor(textIs("#ce-msg", "reports paused")+` && `+textIs("#ce-pause", "Resume"), "paused")
	require.True(t, category(t, d, "reports").Paused)
	p.click("#ce-pause")
	p.waitFor(textIs("#ce-msg", "reports resumed"), "resumed")
	require.False(t, category(t, d, "reports").Paused)

	// A job that fails ends dead; "Retry all dead" runs it again (it fails again: dead again).
	j, err := d.client().Enqueue(ctx, jobsched.JobSpec{Kind: "sleep", Category: "reports", MaxAttempts: 1,
		Args: json.RawMessage(`{"ms":1,"fail_rate":1}`)}, 0)
	require.NoError(t, err)
	waitState(t, d.client(), j.ID, jobsched.StateDead)
	p.waitFor(`!!document.querySelector('#jobs tr[data-job="`+j.ID+`"]')`, "the job browser shows the new job")
	p.click("#ce-retry-dead")
	p.waitFor(textIs("#ce-msg", "reports: retried 1 dead jobs"), "its dead job retried")
	require.Eventually(t, func() bool {
		got, err := d.client().Get(ctx, j.ID)
		return err == nil && got.State == jobsched.StateDead && len(got.Errors) == 2
	}, 30*time.Second, 20*time.Millisecond, "the retried job ran again")

	// Deleting a category that holds an unfinished job is refused (409), clearly.
	later, err := d.client().Enqueue(ctx, jobsched.JobSpec{Kind: "sleep", Category: "reports", Delay: jobsched.Duration(time.Hour)}, 0)
	require.NoError(t, err)
	p.click("#ce-delete")
	p.waitFor(textIs("#ce-delete", "Really delete reports?"), "the delete button arms")
	p.click("#ce-delete")
	p.waitFor(textHas("#ce-msg", "in use, not deleted")+` && `+textHas("#ce-msg", "1 unfinished jobs")+` && `+
		`document.querySelector('#ce-msg').className === 'error'`, "the 409 is shown")
	p.waitFor(`!!document.querySelector('#jobs tr[data-job="`+later.ID+`"]')`, "the job browser shows the job that holds the category")
	p.shot("dashboard-category-in-use.png")
	require.NotNil(t, category(t, d, "reports"))
	p.waitFor(supervisorShown("#tree", "reports"), "still in the tree")

	// Once its job is cancelled, the category is deleted and its supervisor leaves the tree.
	_, err = d.client().Cancel(ctx, later.ID)
	require.NoError(t, err)
	p.click("#ce-delete")
	p.click("#ce-delete")
	p.waitFor(textIs("#ce-msg", "deleted reports"), "deleted")
	p.waitFor(`!(`+supervisorShown("#tree", "reports")+`)`, "its supervisor leaves the tree")
	p.waitFor(`!document.querySelector('tr[data-category="reports"]')`, "and its row the table")
	require.Nil(t, category(t, d, "reports"))
	p.waitFor(supervisorShown("#tree", "email"), "the others stay")

	// A single node on badger: GET /v1/cluster lists this node alone, and no other tree is drawn.
	p.waitFor(`performance.getEntriesByType('resource').some(e => e.name.endsWith('/v1/cluster'))`, "the page read /v1/cluster")
	require.True(t, eval[bool](p, `document.querySelector('#cluster').hidden && document.querySelector('#tree-node').textContent === ''`))

	// A category created and paused in the editor is still there, paused, after a restart.
	p.click("#ce-new")
	p.do(chromedp.SendKeys(chromedp.CSS("#ce-name"), "archive"))
	p.click("#ce-save")
	p.waitFor(textHas("#ce-msg", "created archive"), "created")
	p.click("#ce-pause")
	p.waitFor(textIs("#ce-msg", "archive paused"), "paused")
	require.Equal(t, 0, d.stop())
	d = startDaemon(t, d.data, config)
	p.do(chromedp.Navigate(d.addr+"/"), chromedp.WaitVisible(chromedp.CSS("#conn.on")))
	p.waitFor(supervisorShown("#tree", "archive")+` && `+textHas(`tr[data-category="archive"] td`, "(paused)"), "after a restart: the category, paused")
	p.click(`tr[data-category="archive"] button.edit-cat`)
	p.waitFor(textIs("#ce-pause", "Resume"), "the editor offers to resume it")
}

// TestDashboardJobDAG opens the middle job of a three-job chain: its parent and its child are
// drawn, colored by state; a click on the parent opens the parent's page, whose graph shows its
// child; cancelling the middle job shows its child cancelled too.
func TestDashboardJobDAG(t *testing.T) {
	p := newPage(t)
	d := startDaemon(t, "", "workers: 4\n")
	c := d.client()
	ctx := context.Background()
	chain, err := c.EnqueueBatch(ctx, []jobsched.JobSpec{
		{Kind: "sleep", Args: json.RawMessage(`{"ms":1}`)},
		{Kind: "sleep", Args: json.RawMessage(`{"ms":60000}`), DependsOn: []string{"#0"}},
		{Kind: "sleep", Args: json.RawMessage(`{"ms":1}`), DependsOn: []string{"#1"}},
	})
	require.NoError(t, err)
	a, b, cc := chain[0].ID, chain[1].ID, chain[2].ID
	waitState(t, c, a, jobsched.StateSucceeded)
	waitState(t, c, b, jobsched.StateRunning)

	box := func(id, state string) string {
		return fmt.Sprintf(`!!document.querySelector('#job-dag a[data-job=%q] g.dag-%s')`, id, state)
	}
	p.do(chromedp.Navigate(d.addr+"/#job/"+b), chromedp.WaitVisible(chromedp.CSS("#conn.on")))
	p.waitFor(textIs("#job-state", "running"), "the middle job's page")
	p.waitFor(box(a, "succeeded")+` && `+box(cc, "pending"), "its parent (succeeded) and child (pending) drawn")
	p.waitFor(`!!document.querySelector('#job-dag g.dag-self.dag-running')`, "the job itself in the middle, running")
	require.Equal(t, 2, eval[int](p, `document.querySelectorAll('#job-dag path.dag-edge').length`), "two edges")
	// The parent is left of the job, the child right of it.
	require.True(t, eval[bool](p, fmt.Sprintf(`(() => {
		const x = (sel) => document.querySelector(sel).getBoundingClientRect().x;
		return x('#job-dag a[data-job=%q] rect') < x('#job-dag g.dag-self rect') && x('#job-dag g.dag-self rect') < x('#job-dag a[data-job=%q] rect');
	})()`, a, cc)))
	p.shot("dashboard-dag.png")

	// Click through to the parent.
	p.clickUntil(fmt.Sprintf(`#job-dag a[data-job=%q] rect`, a), `location.hash === '#job/`+a+`'`, "the parent's address")
	p.waitFor(textIs("#job-state", "succeeded")+` && `+box(b, "running"), "the parent's page draws its running child")
	require.Equal(t, 0, eval[int](p, `document.querySelectorAll('#job-dag a[data-job="`+cc+`"]').length`), "a grandchild is not drawn")

	// Cancel the middle job: its child is cancelled with it, and the child's page shows both.
	_, err = c.Cancel(ctx, b)
	require.NoError(t, err)
	waitState(t, c, cc, jobsched.StateCancelled)
	p.waitFor(box(b, "cancelled"), "the parent's graph follows its child's state")
	p.do(chromedp.Navigate(d.addr + "/#job/" + cc))
	p.waitFor(textIs("#job-state", "cancelled")+` && `+box(b, "cancelled"), "the child's page draws its cancelled parent")

	// A fan-out of 30 children: 7 are drawn and the last box counts the rest.
	specs := []jobsched.JobSpec{{Kind: "sleep", Delay: jobsched.Duration(time.Hour)}}
	for i := 0; i < 30; i++ {
		specs = append(specs, jobsched.JobSpec{Kind: "sleep", DependsOn: []string{"#0"}})
	}
	fan, err := c.EnqueueBatch(ctx, specs)
	require.NoError(t, err)
	p.do(chromedp.Navigate(d.addr + "/#job/" + fan[0].ID))
	p.waitFor(textIs("#job-state", "scheduled")+` && document.querySelectorAll('#job-dag a.dag-link').length === 7 && `+
		textIs("#job-dag g.dag-more text", "+23 more"), "seven children drawn, 23 counted")
	p.waitFor(`document.querySelectorAll('#job-children a').length === 20 && `+textHas("#job-children", "and 10 more"), "twenty listed, ten counted")
}
