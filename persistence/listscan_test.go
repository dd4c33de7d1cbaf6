package persistence

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

// fillFinished writes n finished jobs straight into the store's j/ keys, oldest first (a
// finished job has no index key): every dead-th one dead, the others succeeded, categories and
// kinds in turn. It returns the ids of the dead ones, oldest first.
func fillFinished(t testing.TB, s *Badger, n, dead int) []string {
	t.Helper()
	cats, kinds := []string{"email", "reports", "sms", "default"}, []string{"http", "sleep", "pdf"}
	wb := s.db.NewWriteBatch()
	defer wb.Cancel()
	now := time.Now().UTC()
	var deadIDs []string
	for i := 0; i < n; i++ {
		fin := now.Add(time.Millisecond)
		j := &Job{ID: uuid.Must(uuid.NewV7()).String(), Kind: kinds[i%len(kinds)], Category: cats[i%len(cats)],
			Args: json.RawMessage(`{"ms":20}`), State: StateSucceeded, Attempt: 1, MaxAttempts: 25,
			CreatedAt: now, RunAt: now, StartedAt: &now, FinishedAt: &fin, Result: json.RawMessage(`{"ok":true}`)}
		if dead > 0 && i%dead == dead-1 {
			j.State, j.Result = StateDead, nil
			j.Errors = []AttemptError{{Attempt: 1, At: fin, Error: "status 502"}}
			deadIDs = append(deadIDs, j.ID)
		}
		require.NoError(t, wb.Set(jobKey(j.ID), encodeJob(j)))
	}
	require.NoError(t, wb.Flush())
	return deadIDs
}

// listAll follows the cursor to the end and returns the ids found and the number of calls.
func listAll(t testing.TB, s *Badger, opt ListOptions) ([]string, int) {
	t.Helper()
	var ids []string
	calls := 0
	for {
		page, next, err := s.List(context.Background(), opt)
		require.NoError(t, err)
		calls++
		for _, j := range page {
			ids = append(ids, j.ID)
		}
		if next == "" {
			return ids, calls
		}
		opt.Cursor = next
	}
}

// A filter that matches few of many records returns short pages, each within the scan bound,
// whose cursors together find every match, newest first, and no other job.
func TestListBoundsItsScan(t *testing.T) {
	s, err := OpenBadger(BadgerOptions{})
	require.NoError(t, err)
	defer s.Close()
	n := 2*listScanLimit + 500
	dead := fillFinished(t, s, n, 5_003) // 4 dead, spread over the records, one per category

	page, next, err := s.List(context.Background(), ListOptions{State: StateDead, Limit: 20})
	require.NoError(t, err)
	require.Len(t, page, 2, "the first call stops at the scan bound")
	require.NotEmpty(t, next, "and says where to go on")

	ids, calls := listAll(t, s, ListOptions{State: StateDead, Limit: 20})
	require.Equal(t, []string{dead[3], dead[2], dead[1], dead[0]}, ids)
	require.Equal(t, n/listScanLimit+1, calls, "one call per listScanLimit records")

	// The filters are applied on the peeked fields as on the decoded ones.
	ids, _ = listAll(t, s, ListOptions{State: StateDead, Category: "reports", Kind: "http", Limit: 1000})
	require.Equal(t, []string{dead[1]}, ids)
	j, err := s.Get(context.Background(), dead[1])
	require.NoError(t, err)
	require.Equal(t, "reports/http/dead", j.Category+"/"+j.Kind+"/"+string(j.State))
	ids, _ = listAll(t, s, ListOptions{Category: "reports", Kind: "http", Limit: 1000})
	require.Len(t, ids, n/12)
	ids, _ = listAll(t, s, ListOptions{Kind: "none"})
	require.Empty(t, ids)

	// A page that fills within the bound is a full page.
	page, next, err = s.List(context.Background(), ListOptions{State: StateSucceeded, Limit: 50})
	require.NoError(t, err)
	require.Len(t, page, 50)
	require.Equal(t, page[49].ID, next)
}

// TestListMillion times filtered pages over 1,000,000 stored jobs (docs/benchmarks.md, "Listing
// jobs at 1,000,000"). It runs when JOBSCHED_LIST_1M is set: it writes about 200 MB.
func TestListMillion(t *testing.T) {
	if os.Getenv("JOBSCHED_LIST_1M") == "" {
		t.Skip("set JOBSCHED_LIST_1M=1 to time List over 1,000,000 jobs")
	}
	dir := t.TempDir()
	s, err := OpenBadger(BadgerOptions{Dir: dir})
	require.NoError(t, err)
	start := time.Now()
	fillFinished(t, s, 1_000_000, 1_001) // 999 dead, in every category and kind
	t.Logf("filled 1,000,000 jobs in %s", time.Since(start).Round(time.Millisecond))
	require.NoError(t, s.Close()) // read them back from the files, as a restarted daemon does
	s, err = OpenBadger(BadgerOptions{Dir: dir})
	require.NoError(t, err)
	defer s.Close()
	for _, c := range []struct {
		name string
		opt  ListOptions
	}{
		{"no filter", ListOptions{}},
		{"state=succeeded", ListOptions{State: StateSucceeded}},
		{"state=dead (0.1%)", ListOptions{State: StateDead}},
		{"state=dead category=email kind=http (1 in 12,000)", ListOptions{State: StateDead, Category: "email", Kind: "http"}},
		{"kind=none (no match)", ListOptions{Kind: "none"}},
	} {
		c.opt.Limit = 20
		t0 := time.Now()
		page, next, err := s.List(context.Background(), c.opt)
		require.NoError(t, err)
		first := time.Since(t0)
		// Pages until 20 jobs are shown (or the end), as a user clicking "Older" would.
		t0 = time.Now()
		shown, calls := len(page), 1
		for shown < 20 && next != "" {
			c.opt.Cursor = next
			page, next, err = s.List(context.Background(), c.opt)
			require.NoError(t, err)
			shown += len(page)
			calls++
		}
		fmt.Printf("| %s | %s | %d jobs in %d calls, %s |\n", c.name, first.Round(100*time.Microsecond), shown, calls,
			(first + time.Since(t0)).Round(time.Millisecond))
	}
}
