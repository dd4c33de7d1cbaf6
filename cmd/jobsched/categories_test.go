package main

import (
	"context"
	"encoding/json"
	"os/exec"
	"testing"
	"time"

	"github.com/jobsched/jobsched"
	"github.com/jobsched/jobsched/internal/httpapi"
	"github.com/jobsched/jobsched/supervision"
	"github.com/stretchr/testify/require"
)

// categoryInTree finds a CategorySupervisor in GET /v1/tree.
func categoryInTree(t *testing.T, d *proc, name string) bool {
	t.Helper()
	root, err := d.client().Tree(context.Background())
	require.NoError(t, err)
	found := false
	supervision.Walk([]*supervision.Node{root}, func(n *supervision.Node, _ int) {
		found = found || (n.Role == "CategorySupervisor" && n.Name == name)
	})
	return found
}

func getCategory(t *testing.T, d *proc, name string) (httpapi.CategoryJSON, bool) {
	t.Helper()
	cats, err := d.client().Categories(context.Background())
	require.NoError(t, err)
	for _, c := range cats {
		if c.Name == name {
			return c, true
		}
	}
	return httpapi.CategoryJSON{}, false
}

func TestDaemonCategoriesAtRuntimeAndPauseSurviveRestart(t *testing.T) {
	data := t.TempDir()
	d := startDaemon(t, data, "")
	ctx := context.Background()
	c := d.client()

	// PUT creates (201), then changes (200); bad input is 400 naming the field.
	st, _, b := call(t, "PUT", d.addr+"/v1/categories/reports", `{"priority":2,"max_workers":3}`)
	require.Equal(t, 201, st, string(b))
	var cat httpapi.CategoryJSON
	require.NoError(t, json.Unmarshal(b, &cat))
	require.Equal(t, "reports", cat.Name)
	require.Equal(t, 2, cat.Priority)
	require.Equal(t, 1, cat.MinWorkers)
	st, _, b = call(t, "PUT", d.addr+"/v1/categories/reports", `{"priority":4,"min_workers":0,"max_workers":3}`)
	require.Equal(t, 200, st, string(b))
	require.NoError(t, json.Unmarshal(b, &cat))
	require.Equal(t, 4, cat.Priority)
	require.Equal(t, 0, cat.MinWorkers)
	st, _, b = call(t, "PUT", d.addr+"/v1/categories/reports", `{"priority":-1}`)
	require.Equal(t, 400, st, string(b))
	code, field := errorCode(t, b)
	require.Equal(t, "invalid_argument", code)
	require.Equal(t, "category.priority", field)
	st, _, b = call(t, "PUT", d.addr+"/v1/categories/reports", `{"priorty":1}`)
	require.Equal(t, 400, st, string(b))
	st, _, b = call(t, "PUT", d.addr+"/v1/categories/reports", `{"priority":4,"min_workers":0,"max_workers":3,"fairness_weights":{"acme":0}}`)
	require.Equal(t, 400, st, string(b))
	_, field = errorCode(t, b)
	require.Equal(t, `category.fairness_weights["acme"]`, field)
	st, _, b = call(t, "PUT", d.addr+"/v1/categories/reports", `{"priority":4,"min_workers":0,"max_workers":3,"fairness_weights":{"acme":3}}`)
	require.Equal(t, 200, st, string(b))
	weighted, ok := getCategory(t, d, "reports")
	require.True(t, ok)
	require.Equal(t, map[string]int{"acme": 3}, weighted.FairnessWeights, "GET /v1/categories shows the weights")
	require.True(t, categoryInTree(t, d, "reports"), "its supervisor is in the tree")

	// The CLI does the same.
	out, err := exec.Command(binary, "set-category", "mail", "--addr", d.addr, "--priority", "3").CombinedOutput()
	require.NoError(t, err, string(out))
	require.Contains(t, string(out), "created mail: priority=3")

	j, err := c.Enqueue(ctx, jobsched.JobSpec{Kind: "sleep", Category: "reports", Args: json.RawMessage(`{"ms":1}`)}, 10*time.Second)
	require.NoError(t, err)
	require.Equal(t, jobsched.StateSucceeded, j.State, "a job of the new category runs")

	// A pause is stored; a job waits in the paused category.
	_, err = c.Pause(ctx, "reports", false)
	require.NoError(t, err)
	waiting, err := c.Enqueue(ctx, jobsched.JobSpec{Kind: "sleep", Category: "reports"}, 0)
	require.NoError(t, err)
	require.Equal(t, 0, d.stop(), d.logs.String())

	d2 := startDaemon(t, data, "")
	c2 := d2.client()
	got, ok := getCategory(t, d2, "reports")
	require.True(t, ok, "the category survives the restart")
	require.Equal(t, 4, got.Priority)
	require.Equal(t, 0, got.MinWorkers)
	require.True(t, got.Paused, "the pause survives the restart")
	require.True(t, categoryInTree(t, d2, "reports"))
	_, ok = getCategory(t, d2, "mail")
	require.True(t, ok)
	jw, err := c2.Get(ctx, waiting.ID)
	require.NoError(t, err)
	require.Equal(t, jobsched.StateQueued, jw.State)

	// DELETE: 409 while it holds a job, 204 once it holds none.
	st, _, b = call(t, "DELETE", d2.addr+"/v1/categories/reports", "")
	require.Equal(t, 409, st, string(b))
	code, _ = errorCode(t, b)
	require.Equal(t, httpapi.CodeCategoryInUse, code)
	_, err = c2.Pause(ctx, "reports", true)
	require.NoError(t, err)
	waitState(t, c2, waiting.ID, jobsched.StateSucceeded)
	st, _, b = call(t, "DELETE", d2.addr+"/v1/categories/reports", "")
	require.Equal(t, 204, st, string(b))
	require.False(t, categoryInTree(t, d2, "reports"), "its supervisor left the tree")
	st, _, _ = call(t, "DELETE", d2.addr+"/v1/categories/reports", "")
	require.Equal(t, 404, st)
	out, err = exec.Command(binary, "delete-category", "mail", "--addr", d2.addr).CombinedOutput()
	require.NoError(t, err, string(out))
	require.Equal(t, 0, d2.stop(), d2.logs.String())

	d3 := startDaemon(t, data, "")
	_, ok = getCategory(t, d3, "reports")
	require.False(t, ok, "a deleted category stays deleted")
	require.Equal(t, 0, d3.stop(), d3.logs.String())
}
