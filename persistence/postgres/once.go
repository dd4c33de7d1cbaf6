package postgres

import (
	"context"
	"errors"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jobsched/jobsched/persistence"
)

// OncePrefix starts the unique keys that stay taken after their job finished (until the
// retention): the scheduler's periodic ticks, "periodic:<name>:<tick>". Every node's periodic
// loop enqueues each tick, and exactly one job per tick is stored in the whole cluster, however
// quickly it finishes.
const OncePrefix = "periodic:"

// claimOnce takes the once-keys of the jobs about to be inserted (jobsched_once, in the same
// transaction); a job whose key was taken before is a duplicate of that key's job. It returns
// the indexes still to insert.
func claimOnce(ctx context.Context, q querier, jobs []*persistence.Job, sendIdx []int, res []persistence.InsertResult) ([]int, error) {
	var keys, ids []string
	for _, i := range sendIdx {
		if strings.HasPrefix(jobs[i].UniqueKey, OncePrefix) {
			keys, ids = append(keys, jobs[i].UniqueKey), append(ids, jobs[i].ID)
		}
	}
	if len(keys) == 0 {
		return sendIdx, nil
	}
	rows, err := q.Query(ctx, `INSERT INTO jobsched_once (key, job_id) SELECT * FROM unnest($1::text[], $2::text[])
		ON CONFLICT (key) DO NOTHING RETURNING key`, keys, ids)
	if err != nil {
		return nil, err
	}
	claimed, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	if len(claimed) == len(keys) {
		return sendIdx, nil
	}
	mine := make(map[string]bool, len(claimed))
	for _, k := range claimed {
		mine[k] = true
	}
	var taken []string
	for _, k := range keys {
		if !mine[k] {
			taken = append(taken, k)
		}
	}
	rows, err = q.Query(ctx, `SELECT o.key, o.job_id, j.seq, `+recOf("j")+` FROM jobsched_once o
		LEFT JOIN jobsched_jobs j ON j.id = o.job_id WHERE o.key = ANY($1)`, taken)
	if err != nil {
		return nil, err
	}
	holders := map[string]*persistence.Job{}
	var key, id string
	var seq *int64
	var rec []byte
	_, err = pgx.ForEachRow(rows, []any{&key, &id, &seq, &rec}, func() error {
		if rec == nil {
			// The tick's job is past its retention: name it, finished.
			holders[key] = &persistence.Job{ID: id, UniqueKey: key, State: persistence.StateSucceeded}
			return nil
		}
		j, err := decode(seq, rec)
		holders[key] = j
		return err
	})
	if err != nil {
		return nil, err
	}
	var rest []int
	for _, i := range sendIdx {
		k := jobs[i].UniqueKey
		if !strings.HasPrefix(k, OncePrefix) || mine[k] {
			rest = append(rest, i)
			continue
		}
		h := holders[k]
		if h == nil {
			return nil, errors.New("once key " + k + " is taken by no job")
		}
		res[i] = persistence.InsertResult{Job: h, Duplicate: true}
	}
	return rest, nil
}
