package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/jackc/pgx/v5/pgxpool"
)

// A fresh store warms its pool before Open returns: a job enqueued in the first moments
// otherwise pays, on the way to its start, for new connections (a backend forked and
// authenticated for each write that finds the pool empty) and for the first use of each hot
// statement on each of them (its parse and describe, the backend's catalog caches of the jobs
// table and its indexes). Measured at 500 jobs/s on a new daemon (docs/cluster.md, "Session 6:
// p99 at 500/s"): the jobs of the first ~100 ms started 10-50 ms after their enqueue, the rest
// under 4 ms, and those ~50 jobs were the whole p99.

// warmConns is how many connections Open makes ready (at most Options.MaxConns): the writes
// that overlap at a steady load (inserts, two claims, the async batches, the lease, the
// counts) fit in them.
const warmConns = 8

// warmSQL are the statements of the hot path, prepared on each warm connection. pgx runs a
// statement prepared under its own text as that prepared statement, so their first use costs
// no extra round trip. Preparing changes no data and none of PostgreSQL's plan
// choices (a statement is planned at its first run). A prepared statement stays valid across
// migrations that keep its result columns' types.
var warmSQL = []string{
	categoryCheckSQL, insertSQL, // an insert
	claimPickSQL, claimStartSQL, // a claim
	succeedSQL,                       // a batch of successes
	lockReadSQL, batchSQL, notifySQL, // any other batch of async updates
}

// warm opens up to warmConns connections at once and prepares warmSQL on each. It is best
// effort: a connection it could not make ready is left for the pool to open on demand, and
// the error is only reported.
func (s *Store) warm(ctx context.Context) error {
	n := min(warmConns, int(s.opt.MaxConns))
	var wg sync.WaitGroup
	errs := make([]error, n)
	conns := make([]*pgxpool.Conn, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := s.pool.Acquire(ctx)
			if err != nil {
				errs[i] = fmt.Errorf("warm connection: %w", err)
				return
			}
			conns[i] = conn
			for _, sql := range warmSQL {
				if _, err := conn.Conn().Prepare(ctx, sql, sql); err != nil {
					errs[i] = fmt.Errorf("warm connection: prepare: %w", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	// Released only now, so that each Acquire above got a connection of its own rather than
	// one another had just given back.
	for _, c := range conns {
		if c != nil {
			c.Release()
		}
	}
	return errors.Join(errs...)
}
