package postgres

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jobsched/jobsched/persistence"
)

// finishedSQL is the SQL list of the finished states (the partial unique index's predicate).
const finishedSQL = `('succeeded', 'dead', 'cancelled')`

// unstartedSQL is the SQL list of the states before running (jobsched_jobs_unstarted's
// predicate): the unfinished jobs are those and the running ones, each counted from its own
// partial index.
const unstartedSQL = `('pending', 'scheduled', 'queued', 'retrying')`

// querier is what the store's statements run on: a transaction of ours or the caller's.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// row is a job's columns as the store writes them.
type row struct {
	id, category, state string
	runAt               time.Time
	uniqueKey           *string
	attempt             int
	finishedAt          *time.Time
	record              []byte
}

func toRow(j *persistence.Job) (row, error) {
	rec, err := json.Marshal(j)
	if err != nil {
		return row{}, fmt.Errorf("encode job %s: %w", j.ID, err)
	}
	r := row{id: j.ID, category: j.Category, state: string(j.State), runAt: ceilMicro(j.RunAt),
		attempt: j.Attempt, finishedAt: j.FinishedAt, record: rec}
	if j.UniqueKey != "" {
		k := j.UniqueKey
		r.uniqueKey = &k
	}
	if j.State.Finished() && r.finishedAt == nil {
		now := time.Now()
		r.finishedAt = &now
	}
	return r, nil
}

// ceilMicro rounds t up to PostgreSQL's microsecond, so a timer set from the stored run_at never
// fires before the job is due.
func ceilMicro(t time.Time) time.Time {
	r := t.Truncate(time.Microsecond)
	if r.Before(t) {
		r = r.Add(time.Microsecond)
	}
	return r
}

// recSQL is the SQL that reads a job's record and its patch (see migrations/0008_patch.sql)
// for decode: the record's text, then, when the row has a patch, a 0x1e byte and the patch.
// A job row aliased (as in "jobsched_jobs j") is read with recOf.
const recSQL = `record::text || coalesce(chr(30) || patch::text, '')`

// recOf is recSQL for the job row named alias.
func recOf(alias string) string {
	return alias + `.record::text || coalesce(chr(30) || ` + alias + `.patch::text, '')`
}

// decode reads a job from recSQL's text: its record, then its patch over it (the fields a
// claim or a success changed in SQL).
func decode(seq *int64, rec []byte) (*persistence.Job, error) {
	var j persistence.Job
	var patch []byte
	if i := bytes.LastIndexByte(rec, 0x1e); i >= 0 {
		rec, patch = rec[:i], rec[i+1:]
	}
	if err := json.Unmarshal(rec, &j); err != nil {
		return nil, fmt.Errorf("decode job: %w", err)
	}
	if patch != nil {
		if err := json.Unmarshal(patch, &j); err != nil {
			return nil, fmt.Errorf("decode job %s: its patch: %w", j.ID, err)
		}
	}
	if seq != nil {
		j.Seq = uint64(*seq)
	}
	return &j, nil
}

// scanJob reads a (seq, record) row.
func scanJob(r pgx.CollectableRow) (*persistence.Job, error) {
	var seq *int64
	var rec []byte
	if err := r.Scan(&seq, &rec); err != nil {
		return nil, err
	}
	return decode(seq, rec)
}
