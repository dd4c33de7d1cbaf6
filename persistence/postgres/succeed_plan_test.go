package postgres

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jobsched/jobsched/internal/pgtest"
	"github.com/stretchr/testify/require"
)

// A batch of successes finds its rows through the primary key, one lookup per job, however many
// jobs the node runs: read through jobsched_jobs_running (one key for all of them, with the dead
// entries of every job finished since the last vacuum), it cost up to ~0.5 ms a job once the
// finishes lagged behind the runs (docs/cluster.md, "Session 6: work rate").
func TestSucceedFindsItsRowsByPrimaryKey(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := Open(ctx, Options{DSN: pgtest.DSN(t), Node: "n1"})
	require.NoError(t, err)
	defer func() { require.NoError(t, s.Close()) }()
	// The statistics are those of a table whose jobs are not running yet, as when the jobs were
	// enqueued before the workers took them: the planner then counts few running jobs.
	_, err = s.pool.Exec(ctx, `INSERT INTO jobsched_jobs (id, category, state, seq, run_at, record)
		SELECT lpad(g::text, 8, '0'), 'c', 'queued', g, now(), '{}' FROM generate_series(1, 3000) g`)
	require.NoError(t, err)
	_, err = s.pool.Exec(ctx, "ANALYZE jobsched_jobs")
	require.NoError(t, err)
	_, err = s.pool.Exec(ctx, `UPDATE jobsched_jobs SET state = 'running', seq = NULL, node = $1, node_epoch = $2, attempt = 1,
		patch = '{"started_at": "x"}'`, s.node, s.epoch.Load())
	require.NoError(t, err)
	n := 200
	ids, started, atText, results := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	attempts, at := make([]int32, n), make([]time.Time, n)
	for i := range ids {
		ids[i], attempts[i], started[i], at[i], atText[i], results[i] = fmt.Sprintf("%08d", i+1), 1, "x", time.Now(), "t", "null"
	}
	rows, err := s.pool.Query(ctx, "EXPLAIN "+succeedSQL, ids, attempts, started, at, atText, s.node, s.epoch.Load(), results, chanFinished)
	require.NoError(t, err)
	var plan strings.Builder
	for rows.Next() {
		var line string
		require.NoError(t, rows.Scan(&line))
		plan.WriteString(line + "\n")
	}
	require.NoError(t, rows.Err())
	require.Contains(t, plan.String(), "Index Scan using jobsched_jobs_pkey")
	require.NotContains(t, plan.String(), "jobsched_jobs_running")
}
