package persistence

import "context"

// Claimer is an optional part of a Store shared by several nodes (persistence/postgres
// implements it): Claim takes up to limit queued jobs of a category, in FIFO order, and stores
// their start in the same write (start is applied to each and must take it to running; a job
// it refuses with an error stays queued). Jobs other nodes are claiming at that moment are
// skipped, never waited for, and no job is claimed twice. The claimed jobs are held by this
// node: if it dies, its lease runs out and they return to their queue. keyLimits caps, per job
// kind, how many jobs of the category sharing a concurrency key may run at once across every
// node (key_concurrency; absent or 0: no cap): a job over its key's cap is not claimed.
//
// A scheduler whose store is a Claimer has its Fifos claim their jobs instead of reading the
// queue and starting each job on its own (the embedded badger store is not one: one process
// owns its queue, and the single writer's start is as cheap).
type Claimer interface {
	Claim(ctx context.Context, category string, limit int, keyLimits map[string]int, start Mutator) ([]*Job, error)
}
