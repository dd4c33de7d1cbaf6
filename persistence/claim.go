package persistence

import (
	"context"
	"fmt"
	"time"
)

// Claimer is an optional part of a Store shared by several nodes (persistence/postgres
// implements it): Claim takes up to limit queued jobs of a category, in FIFO order, and stores
// their start in the same write (start is applied to each and must take it to running; a job
// it refuses with an error stays queued). Jobs other nodes are claiming at that moment are
// skipped, never waited for, and no job is claimed twice. The claimed jobs are held by this
// node: if it dies, its lease runs out and they return to their queue.
//
// A scheduler whose store is a Claimer has its Fifos claim their jobs instead of reading the
// queue and starting each job on its own (the embedded badger store is not one: one process
// owns its queue, and the single writer's start is as cheap).
type Claimer interface {
	Claim(ctx context.Context, category string, limit int, opt ClaimOptions, start Mutator) ([]*Job, error)
}

// ClaimOptions are the limits a claim holds across every node sharing the store.
type ClaimOptions struct {
	// KeyLimits caps, per job kind, how many jobs of the category sharing a concurrency key may
	// run at once (key_concurrency; absent or 0: no cap): a job over its key's cap is not
	// claimed.
	KeyLimits map[string]int
	// RateLimit is the category's starts per second (0: none), with bursts of RateBurst: the
	// claims of all nodes take their jobs from one token bucket. A claim that finds no token
	// returns a *RateWait.
	RateLimit float64
	RateBurst int
	// Stamp, when set, lets the store start the claimed jobs itself instead of calling start
	// on each (persistence/postgres does it in SQL, without reading the records into Go and
	// writing them back): it calls Stamp with the id of each job it claims, once the job is
	// locked and before its start may be stored, and starts it as a plain start does:
	// running, attempt + 1, started_at the time Stamp returned, cancel_requested false. Set it
	// only when start is that plain start with Stamp's times.
	Stamp func(id string) time.Time
}

// RateWait is the error of a claim that found its category's shared rate limit spent: no job
// was claimed, and a token is due in Wait.
type RateWait struct{ Wait time.Duration }

func (e *RateWait) Error() string {
	return fmt.Sprintf("rate limit reached: the next start is due in %s", e.Wait)
}
