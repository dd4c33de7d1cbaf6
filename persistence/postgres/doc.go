// Package postgres is the PostgreSQL persistence.Store: several jobsched nodes share one
// database, and correctness comes from the database alone.
//
//   - Schema: versioned .sql migrations embedded in the binary (migrations/), applied by Open
//     (or `jobsched migrate`) in one transaction under an advisory lock.
//   - Jobs: one row each in jobsched_jobs; the record is the job's JSON, and the columns the
//     queries use (state, category, seq, run_at, unique_key, node) are kept true on every write.
//     A write is a transaction that locks the row (SELECT ... FOR UPDATE), applies the Go
//     mutator and writes back; a non-durable one commits with synchronous_commit off. Async
//     updates (finishes, progress) go in batches of up to 500 in one transaction (batch.go).
//   - Frozen nodes: the pool's sessions have idle_in_transaction_session_timeout (a third of
//     the lease), so a node frozen inside a transaction loses its row locks before its lease.
//   - Unique keys: a partial unique index over the unfinished jobs, so they hold across nodes.
//   - Leases (lease.go): every node holds a row in jobsched_nodes that it renews; whichever node
//     holds the maintenance advisory lock rescues the running jobs of nodes whose lease ran out
//     (back to their queue, or dead on their last attempt) and removes those nodes.
//   - Fencing: a start or a finish is written only while the writing node's lease still holds
//     and, for a finish, only if the job is still held by that node (the mutator checks the
//     attempt). The job's row lock orders a finish and a rescue, so a node that was paused or
//     cut off cannot overwrite a rescued job when it comes back. Refused writes are counted.
//   - Claims (claim.go): Claim takes a batch of queued jobs with FOR UPDATE SKIP LOCKED and
//     stores their start, so nodes never wait on each other's rows nor take a job twice; with
//     key limits it leaves out the jobs whose concurrency key is full across the cluster.
//   - Notify (notify.go): an insert (or a job queued again) wakes the other nodes with NOTIFY;
//     a cancel of a job running on another node reaches that node the same way, and so does a
//     change of the stored settings (a pause, a category).
//
// Running lists only the jobs this node holds, so a node's start-up recovery never touches the
// jobs other nodes are running.
//
// Files: store.go (Open, Close, options), migrate.go (schema), codec.go (a job as a row),
// write.go (transactions), insert.go, update.go (the pipelined start/finish path), async.go
// (UpdateAsync), batch.go (its workers: batched updates), jobs.go and queries.go (reads),
// counts.go, lease.go (leases, rescue, retention, nodes), claim.go and claim_pipelined.go,
// notify.go (LISTEN/NOTIFY), once.go (periodic ticks).
package postgres
