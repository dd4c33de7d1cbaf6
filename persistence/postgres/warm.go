package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/jackc/pgx/v5"
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

// warmSQL are the statements of the hot path, run once on each warm connection with every
// parameter NULL (each then matches no row and writes nothing), in a transaction rolled back:
// pgx's statement cache then holds them (prepared, as on any use, so a changed schema
// invalidates them the usual way) and the backend has planned them.
var warmSQL = []string{
	categoryCheckSQL, insertSQL, // an insert
	claimPickSQL, claimStartSQL, // a claim
	succeedSQL,                       // a batch of successes
	lockReadSQL, batchSQL, notifySQL, // any other batch of async updates
}

// warmConn runs warmSQL on conn (see warmSQL).
func warmConn(ctx context.Context, conn *pgxpool.Conn) error {
	b := &pgx.Batch{}
	b.Queue("BEGIN")
	for _, sql := range warmSQL {
		// The unnamed statement only counts the parameters.
		sd, err := conn.Conn().PgConn().Prepare(ctx, "", sql, nil)
		if err != nil {
			return fmt.Errorf("warm connection: %w", err)
		}
		b.Queue(sql, make([]any, len(sd.ParamOIDs))...)
	}
	b.Queue("ROLLBACK")
	if err := conn.SendBatch(ctx, b).Close(); err != nil {
		_, _ = conn.Exec(context.Background(), "ROLLBACK") // fails only when there is no transaction left
		return fmt.Errorf("warm connection: %w", err)
	}
	return nil
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
			errs[i] = warmConn(ctx, conn)
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
