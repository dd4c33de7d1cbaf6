package main

import (
	"context"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/jobsched/jobsched/internal/httpapi"
	"github.com/jobsched/jobsched/internal/pgtest"
	"github.com/stretchr/testify/require"
)

// TestDashboardEveryNodesTree runs two daemons on one PostgreSQL and opens the first's
// dashboard: it draws its own tree live and the other node's below it (from GET /v1/cluster). A
// category put on the other node shows in its tree; when the other node dies, its tree goes.
func TestDashboardEveryNodesTree(t *testing.T) {
	chromium(t)
	dsn := pgtest.DSN(t)
	n1 := startDaemon(t, "", "workers: 4\n", "--store", dsn, "--node", "n1", "--lease", "2s")
	n2 := startDaemon(t, "", "workers: 6\n", "--store", dsn, "--node", "n2", "--lease", "2s")
	p := newPage(t)
	p.do(chromedp.Navigate(n1.addr+"/"), chromedp.WaitVisible(chromedp.CSS("#conn.on")))

	other := `#cluster details[data-node="n2"]`
	p.waitFor(textIs("#tree-node", "node n1"), "the page names its node")
	p.waitFor(`!document.querySelector('#cluster').hidden && !!document.querySelector('`+other+` .node[data-role="RootSupervisor"]')`,
		"the other node's tree is drawn")
	p.waitFor(textHas(other+" summary", "n2 "+n2.addr[len("http://"):])+` && `+textHas(other+" summary", "6 workers"), "with its address and workers")
	p.waitFor(`document.querySelectorAll('#cluster details').length === 1`, "this node is not drawn twice")

	// A category created here grows this node's tree; one put on the other node grows its tree
	// on this page (runtime categories apply to the node they are sent to: docs/cluster.md).
	p.click("#ce-new")
	p.do(chromedp.SendKeys(chromedp.CSS("#ce-name"), "shared"))
	p.click("#ce-save")
	p.waitFor(textHas("#ce-msg", "created shared"), "created")
	p.waitFor(supervisorShown("#tree", "shared"), "in this node's tree")
	_, _, err := n2.client().PutCategory(context.Background(), "elsewhere", httpapi.CategorySettings{})
	require.NoError(t, err)
	p.waitFor(supervisorShown(other, "elsewhere"), "the other node's tree follows it")
	p.shot("dashboard-cluster.png")

	// The other node dies: once its lease runs out, its tree leaves the page.
	n2.kill()
	p.waitFor(`document.querySelector('#cluster').hidden && document.querySelectorAll('#cluster details').length === 0`, "the dead node's tree is gone")
}
