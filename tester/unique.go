package tester

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jobsched/jobsched"
	"github.com/jobsched/jobsched/internal/client"
	"github.com/jobsched/jobsched/internal/httpapi"
)

// uniqueRace checks that a unique key holds across the nodes: for each of keys keys, one every
// 100 ms, it enqueues the same job on every node that is up at once. The job is scheduled an
// hour ahead, so it cannot finish meanwhile: every node must answer with the same job (one
// created it, the others return it as the holder, 409 duplicate), and the database must hold one
// job with the key. Then the job is cancelled. It returns the keys raced and those broken.
func (c *cluster) uniqueRace(ctx context.Context, keys int) (raced, broken int, err error) {
	run := time.Now().UnixNano()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for k := range keys {
		select {
		case <-ctx.Done():
			return raced, broken, ctx.Err()
		case <-tick.C:
		}
		key := fmt.Sprintf("tester-%d-%d", run, k)
		ids, err := c.raceKey(ctx, key)
		if err != nil {
			return raced, broken, err
		}
		var n int
		if err := c.db.QueryRow(ctx, `SELECT count(*) FROM jobsched_jobs WHERE unique_key = $1`, key).Scan(&n); err != nil {
			return raced, broken, fmt.Errorf("unique key %s: %w", key, err)
		}
		if len(ids) == 0 {
			continue // no node could answer (chaos): not raced
		}
		raced++
		if len(ids) > 1 || n != 1 {
			broken++
			c.opt.Logf("unique key %s: the nodes answered with %d jobs, the database holds %d", key, len(ids), n)
		}
		for id := range ids {
			if err := c.cancelAnywhere(ctx, id); err != nil {
				return raced, broken, err
			}
		}
	}
	return raced, broken, nil
}

// raceKey enqueues the key's job on every node that is up at once, and returns the distinct
// jobs they answered with.
func (c *cluster) raceKey(ctx context.Context, key string) (map[string]bool, error) {
	spec := jobsched.JobSpec{Kind: "sleep", Category: c.opt.Categories[0].Name, Args: json.RawMessage(`{"ms":0}`),
		UniqueKey: key, RunAt: time.Now().Add(time.Hour)}
	var (
		mu   sync.Mutex
		ids  = map[string]bool{}
		errs []error
		wg   sync.WaitGroup
	)
	for _, n := range c.nodes {
		if !n.up.Load() {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			j, err := n.client().Enqueue(ctx, spec, 0)
			var apiErr *client.APIError
			switch {
			case err == nil:
			case errors.As(err, &apiErr) && apiErr.Code == httpapi.CodeDuplicate && apiErr.Job != nil:
				j = apiErr.Job
			case retryable(err):
				return // the node went down under the request
			default:
				mu.Lock()
				errs = append(errs, fmt.Errorf("unique key %s on %s: %w", key, n.name, err))
				mu.Unlock()
				return
			}
			mu.Lock()
			ids[j.ID] = true
			mu.Unlock()
		}()
	}
	wg.Wait()
	return ids, errors.Join(errs...)
}

// cancelAnywhere cancels a job on the first node that takes the request.
func (c *cluster) cancelAnywhere(ctx context.Context, id string) error {
	deadline := time.Now().Add(time.Minute)
	for {
		var err error
		for _, n := range c.nodes {
			if !n.up.Load() {
				continue
			}
			if _, err = n.client().Cancel(ctx, id); err == nil {
				return nil
			}
			var apiErr *client.APIError
			if errors.As(err, &apiErr) && apiErr.Code == httpapi.CodeFinished {
				return nil
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("cancel %s: %w", id, errors.Join(err, ctx.Err()))
		}
		select {
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond): // every node down for a moment (chaos)
		}
	}
}
