package persistence

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// maxBatch is jobsched's default batch limit (Config.MaxBatch); a batch of that many typical
// jobs must commit in one transaction.
const maxBatch = 10_000

// sleepJobs returns n jobs as EnqueueBatch makes them for {"kind":"sleep","args":{"ms":1}},
// with a unique key each when unique is set.
func sleepJobs(n int, unique bool) []*Job {
	now := time.Now().UTC()
	jobs := make([]*Job, n)
	for i := range jobs {
		jobs[i] = &Job{ID: fmt.Sprintf("019ab7c2-5f1e-7d3a-9c4b-%012d", i), Kind: "sleep", Category: "default",
			Args: []byte(`{"ms":1}`), State: StateQueued, MaxAttempts: 25, Timeout: Duration(30 * time.Minute),
			CreatedAt: now, RunAt: now}
		if unique {
			jobs[i].UniqueKey = fmt.Sprintf("order-%08d", i)
		}
	}
	return jobs
}

func TestABatchOfMaxBatchJobsCommitsInOneTransaction(t *testing.T) {
	s, err := OpenBadger(BadgerOptions{Dir: t.TempDir()})
	require.NoError(t, err)
	defer s.Close()
	jobs := sleepJobs(maxBatch, false)
	nb, nc := weighInsert(t, s, jobs)
	t.Logf("%d jobs weigh %d bytes in %d keys; one commit holds %d bytes, %d keys", maxBatch, nb, nc, s.maxTxnBytes, s.maxTxnCount)

	res, err := s.Insert(context.Background(), jobs)
	require.NoError(t, err)
	require.Len(t, res, maxBatch)
	require.Equal(t, uint64(1), s.Stats().Commits, "one transaction")
	require.Equal(t, maxBatch, s.Backlog("default"))
	q, err := s.Queued(context.Background(), "default", 0, maxBatch+1)
	require.NoError(t, err)
	require.Len(t, q, maxBatch)
}

// A batch over the commit limit is refused whole, and the error says how many such jobs fit:
// a batch of that size then commits.
func TestABatchOverTheCommitLimitIsRefusedAndNamesTheLimit(t *testing.T) {
	s, err := OpenBadger(BadgerOptions{Dir: t.TempDir()})
	require.NoError(t, err)
	defer s.Close()
	ctx := context.Background()
	jobs := sleepJobs(maxBatch, true) // a unique key each: three keys a job
	_, err = s.Insert(ctx, jobs)
	require.ErrorIs(t, err, ErrTooLarge)
	require.True(t, Permanent(err))
	require.Contains(t, err.Error(), fmt.Sprintf("limit %d bytes, %d keys in one commit", s.maxTxnBytes, s.maxTxnCount))
	var fit int
	_, scanErr := fmt.Sscanf(err.Error()[strings.Index(err.Error(), "about "):], "about %d such jobs fit", &fit)
	require.NoError(t, scanErr, err.Error())
	require.Zero(t, s.Backlog("default"), "nothing of a refused batch is stored")
	_, err = s.Get(ctx, jobs[0].ID)
	require.ErrorIs(t, err, ErrNotFound)

	// Three keys a job: the key cap decides, and the estimate is within 10% of it (6,743 with
	// the 14 MiB memtable).
	require.Greater(t, fit, int(s.maxTxnCount/3)*9/10)
	res, err := s.Insert(ctx, jobs[:fit])
	require.NoError(t, err)
	require.Len(t, res, fit)
	require.Equal(t, uint64(1), s.Stats().Commits)
}

// weighInsert plans r as the writer would and weighs it.
func weighInsert(t *testing.T, s *Badger, jobs []*Job) (int64, int64) {
	r := &request{inserts: jobs, encoded: make([][]byte, len(jobs))}
	for i, j := range jobs {
		r.encoded[i] = encodeJob(j)
	}
	txn := s.newWtxn()
	defer txn.discard()
	w, err := s.plan(txn, r)
	require.NoError(t, err)
	var nb, nc int64
	for _, x := range w {
		b, c, err := s.weigh([]pendingWrite{x})
		require.NoError(t, err)
		nb, nc = nb+b, nc+c
	}
	return nb, nc
}
