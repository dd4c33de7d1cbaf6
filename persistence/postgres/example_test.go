package postgres_test

import (
	"context"
	"fmt"
	"os"

	"github.com/jackc/pgx/v5"
	"github.com/jobsched/jobsched"
	"github.com/jobsched/jobsched/persistence/postgres"
)

// A node of a cluster: a scheduler on a PostgreSQL store shared with other nodes, and a job
// enqueued in the same transaction as the program's own write, so the job exists only if the
// order does. (Not run by go test: it needs a database; TestEnqueueTx runs the same steps.)
func Example_enqueueTx() {
	ctx := context.Background()
	st, err := postgres.Open(ctx, postgres.Options{DSN: os.Getenv("DATABASE_URL"), Node: "shop-1"})
	if err != nil {
		panic(err)
	}
	defer st.Close() // after the scheduler's Close
	s, err := jobsched.New(jobsched.Config{Store: st})
	if err != nil {
		panic(err)
	}
	_ = s.Register("send_receipt", func(ctx context.Context, j *jobsched.Job) (any, error) { return nil, nil })
	if err := s.Start(ctx); err != nil {
		panic(err)
	}
	defer s.Close(ctx)

	err = pgx.BeginFunc(ctx, st.Pool(), func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "INSERT INTO orders (id, total) VALUES ($1, $2)", 42, 1999); err != nil {
			return err // rolled back: no order, and no receipt job
		}
		jobs, err := s.EnqueueTx(ctx, tx, []jobsched.JobSpec{{Kind: "send_receipt", Args: jobsched.Args(map[string]int{"order": 42})}})
		if err != nil {
			return err
		}
		fmt.Println("receipt job", jobs[0].ID, "runs once the order commits")
		return nil
	})
	if err != nil {
		panic(err)
	}
}
