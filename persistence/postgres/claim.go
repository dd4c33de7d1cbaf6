package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jobsched/jobsched/persistence"
)

// Claim implements persistence.Claimer: it takes up to limit queued jobs of a category, in FIFO
// order, and starts them in one transaction: start is applied to each (it must take the job to
// running, and may refuse one with an error, which leaves it queued). Rows other nodes are
// claiming at the same moment are skipped, not waited for (FOR UPDATE SKIP LOCKED), so nodes
// never block each other and no job is claimed twice. The claimed jobs are held by this node's
// lease; when the lease no longer holds, nothing is claimed (ErrFenced).
//
// opt.KeyLimits caps, per job kind, how many jobs of the category sharing a concurrency key run
// at once across every node (see claimKeyed); opt.RateLimit paces the starts of all nodes
// together (see takeTokens).
func (s *Store) Claim(ctx context.Context, category string, limit int, opt persistence.ClaimOptions, start persistence.Mutator) ([]*persistence.Job, error) {
	keyLimits := opt.KeyLimits
	var out []*persistence.Job
	var err error
	switch {
	case len(keyLimits) == 0 && opt.RateLimit <= 0 && opt.Stamp != nil:
		out, err = s.claimStamped(ctx, category, limit, opt.Stamp)
	case len(keyLimits) == 0 && opt.RateLimit <= 0:
		out, err = s.claimPipelined(ctx, category, limit, start)
	default:
		err = s.claimTx(ctx, category, limit, opt, start, &out)
	}
	if err != nil {
		// A fenced claim is not counted in ClusterStats.Fenced: it wrote nothing late, and a
		// node that lost its lease claims again at every poll until it joins again.
		return nil, fmt.Errorf("claim: %w", err)
	}
	s.writes.Add(uint64(len(out)))
	s.claimed.Add(uint64(len(out)))
	for i, j := range out {
		s.track(j)
		if opt.Stamp == nil || len(keyLimits) > 0 || opt.RateLimit > 0 {
			out[i] = j.Clone() // claimStamped's jobs are fresh from decode, and kept nowhere else
		}
	}
	return out, nil
}

// claimTx is a Claim with key or rate limits, statement by statement in one transaction; the
// claimed jobs go to *out.
func (s *Store) claimTx(ctx context.Context, category string, limit int, opt persistence.ClaimOptions, start persistence.Mutator, out *[]*persistence.Job) error {
	keyLimits := opt.KeyLimits
	return s.write(ctx, false, func(tx pgx.Tx, st *txState) error {
		*out = (*out)[:0]
		if err := relax(ctx, tx, st); err != nil { // a lost start is harmless: the job is queued again
			return err
		}
		ok, err := s.leaseHolds(ctx, tx)
		if err != nil {
			return err
		}
		if !ok {
			return ErrFenced
		}
		if opt.RateLimit > 0 {
			if limit, err = takeTokens(ctx, tx, category, limit, opt); err != nil {
				return err
			}
		}
		var jobs []*persistence.Job
		if len(keyLimits) == 0 {
			rows, err := tx.Query(ctx, `SELECT seq, `+recSQL+` FROM jobsched_jobs WHERE category = $1 AND state = 'queued'
				ORDER BY seq LIMIT $2 FOR UPDATE SKIP LOCKED`, category, limit)
			if err != nil {
				return err
			}
			if jobs, err = pgx.CollectRows(rows, scanJob); err != nil {
				return err
			}
		} else if jobs, err = claimKeyed(ctx, tx, category, limit, keyLimits); err != nil {
			return err
		}
		// The starts are written back by one statement.
		var w rowWrites
		for _, old := range jobs {
			j := old.Clone()
			if err := start(j); err != nil {
				continue
			}
			if j.ID != old.ID || j.State != persistence.StateRunning {
				return fmt.Errorf("claim: the start mutator must take job %s to running, not %s", old.ID, j.State)
			}
			if err := w.add(s, old, j, nil); err != nil {
				return err
			}
			st.deltas.add(j.Category, old.State, j.State)
			*out = append(*out, j)
		}
		if err := w.exec(ctx, tx, s); err != nil {
			return err
		}
		for _, j := range *out {
			j.Seq = 0 // running: no place in a queue
		}
		if opt.RateLimit > 0 && len(*out) > 0 {
			if _, err := tx.Exec(ctx, "UPDATE jobsched_rates SET tokens = tokens - $2 WHERE category = $1", category, len(*out)); err != nil {
				return err
			}
		}
		return nil
	})
}

// keyedSQL reads a category's next queued jobs, locked, leaving out those whose kind and
// concurrency key already have their limit of running jobs in the category ($3 kinds, $4 limits).
var keyedSQL = `WITH lim AS (SELECT * FROM unnest($3::text[], $4::int[]) AS l(kind, n)),
sat AS (
	SELECT r.record->>'kind' AS kind, r.record->>'concurrency_key' AS ckey
	FROM jobsched_jobs r JOIN lim ON lim.kind = r.record->>'kind'
	WHERE r.category = $1 AND r.state = 'running' AND coalesce(r.record->>'concurrency_key', '') <> ''
	GROUP BY 1, 2, lim.n HAVING count(*) >= lim.n)
SELECT q.seq, ` + recOf("q") + ` FROM jobsched_jobs q
WHERE q.category = $1 AND q.state = 'queued'
	AND NOT EXISTS (SELECT 1 FROM sat WHERE sat.kind = q.record->>'kind' AND sat.ckey = q.record->>'concurrency_key')
ORDER BY q.seq LIMIT $2 FOR UPDATE OF q SKIP LOCKED`

// runningKeysSQL counts a category's running jobs per kind and concurrency key, for the keys
// given ($2 kinds, $3 keys, pairwise).
const runningKeysSQL = `SELECT r.record->>'kind', r.record->>'concurrency_key', count(*)
FROM jobsched_jobs r JOIN unnest($2::text[], $3::text[]) AS k(kind, ckey)
	ON k.kind = r.record->>'kind' AND k.ckey = r.record->>'concurrency_key'
WHERE r.category = $1 AND r.state = 'running'
GROUP BY 1, 2`

// claimKeyed reads the next queued jobs of a category for a claim when some kinds limit their
// concurrency keys (key_concurrency), and keeps those that fit under their key's limit counted
// over the whole cluster. Jobs whose key was full when the read began are not read at all, so a
// full key at the head of the queue does not hold back the jobs behind it. When some jobs read
// have a limited key, the claim takes the category's advisory lock (claims of one category with
// limited keys go one at a time across the cluster, for as long as a claim's transaction) and
// counts the running jobs of those keys again: a claim that committed meanwhile is seen
// (READ COMMITTED reads anew at each statement). The jobs over their key's limit stay queued.
func claimKeyed(ctx context.Context, tx pgx.Tx, category string, limit int, keyLimits map[string]int) ([]*persistence.Job, error) {
	kinds := make([]string, 0, len(keyLimits))
	limits := make([]int32, 0, len(keyLimits))
	for k, n := range keyLimits {
		if n > 0 {
			kinds = append(kinds, k)
			limits = append(limits, int32(n))
		}
	}
	rows, err := tx.Query(ctx, keyedSQL, category, limit, kinds, limits)
	if err != nil {
		return nil, err
	}
	jobs, err := pgx.CollectRows(rows, scanJob)
	if err != nil {
		return nil, err
	}
	type key struct{ kind, ckey string }
	limited := func(j *persistence.Job) bool { return j.ConcurrencyKey != "" && keyLimits[j.Kind] > 0 }
	var kk, ck []string
	seen := map[key]bool{}
	for _, j := range jobs {
		if k := (key{j.Kind, j.ConcurrencyKey}); limited(j) && !seen[k] {
			seen[k] = true
			kk, ck = append(kk, k.kind), append(ck, k.ckey)
		}
	}
	if len(kk) == 0 {
		return jobs, nil
	}
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtextextended('jobsched-keys:' || $1, 0))", category); err != nil {
		return nil, err
	}
	rows, err = tx.Query(ctx, runningKeysSQL, category, kk, ck)
	if err != nil {
		return nil, err
	}
	running := map[key]int{}
	var k key
	var n int
	if _, err := pgx.ForEachRow(rows, []any{&k.kind, &k.ckey, &n}, func() error { running[k] = n; return nil }); err != nil {
		return nil, err
	}
	fit := jobs[:0]
	for _, j := range jobs {
		if limited(j) {
			k := key{j.Kind, j.ConcurrencyKey}
			if running[k] >= keyLimits[j.Kind] {
				continue // stays queued: its key is full
			}
			running[k]++
		}
		fit = append(fit, j)
	}
	return fit, nil
}

// takeTokens locks the category's token bucket (one claim of a rate-limited category at a time
// across the cluster, for as long as its transaction), adds the tokens earned since it was last
// taken from (up to the burst; a new bucket starts full), and returns how many jobs the claim
// may take: limit, or fewer. With no whole token, it returns a *persistence.RateWait (the
// transaction rolls back). The claim then takes one token per job it claimed.
func takeTokens(ctx context.Context, tx pgx.Tx, category string, limit int, opt persistence.ClaimOptions) (int, error) {
	burst := float64(max(opt.RateBurst, 1))
	var tokens float64
	err := tx.QueryRow(ctx, `INSERT INTO jobsched_rates AS r (category, tokens, at) VALUES ($1, $3, clock_timestamp())
		ON CONFLICT (category) DO UPDATE SET
			tokens = least($3, r.tokens + $2 * extract(epoch FROM clock_timestamp() - r.at)::float8), at = clock_timestamp()
		RETURNING tokens`, category, opt.RateLimit, burst).Scan(&tokens)
	if err != nil {
		return 0, fmt.Errorf("rate limit of %q: %w", category, err)
	}
	if tokens < 1 {
		wait := time.Duration((1 - tokens) / opt.RateLimit * float64(time.Second))
		return 0, &persistence.RateWait{Wait: max(wait, time.Millisecond)}
	}
	return min(limit, int(tokens)), nil
}
