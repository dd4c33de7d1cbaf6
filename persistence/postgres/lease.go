package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jobsched/jobsched/persistence"
)

// register takes this node's lease under a new epoch. A row of a previous incarnation under the
// same name is replaced: its running jobs are this node's to recover (Running lists them).
func (s *Store) register(ctx context.Context) error {
	var epoch int64
	err := s.pool.QueryRow(ctx, `INSERT INTO jobsched_nodes (name, epoch, started_at, heartbeat_at, expires_at)
		VALUES ($1, nextval('jobsched_epoch'), clock_timestamp(), clock_timestamp(), clock_timestamp() + $2 * interval '1 millisecond')
		ON CONFLICT (name) DO UPDATE SET epoch = excluded.epoch, started_at = excluded.started_at,
			heartbeat_at = excluded.heartbeat_at, expires_at = excluded.expires_at, info = '{}'
		RETURNING epoch`, s.node, s.opt.Lease.Milliseconds()).Scan(&epoch)
	if err != nil {
		return err
	}
	s.epoch.Store(epoch)
	return nil
}

// renew extends this node's lease. When the row is gone (another node declared this one dead
// and rescued its jobs), the node joins again under a new epoch; when another process took the
// name, this store stops for good (ErrNodeTaken).
func (s *Store) renew(ctx context.Context) error {
	tag, err := s.pool.Exec(ctx, `UPDATE jobsched_nodes SET heartbeat_at = clock_timestamp(),
		expires_at = clock_timestamp() + $3 * interval '1 millisecond' WHERE name = $1 AND epoch = $2`,
		s.node, s.epoch.Load(), s.opt.Lease.Milliseconds())
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	var other int64
	err = s.pool.QueryRow(ctx, "SELECT epoch FROM jobsched_nodes WHERE name = $1", s.node).Scan(&other)
	if err == nil {
		e := fmt.Errorf("node %q (epoch %d) now has epoch %d: %w: %w", s.node, s.epoch.Load(), other, persistence.ErrStoreFailed, ErrNodeTaken)
		s.stickyErr.Store(&e)
		return e
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return err
	}
	s.opt.Logger.Warn("jobsched postgres: this node's lease ran out and its running jobs were rescued; joining again",
		"node", s.node)
	return s.register(ctx)
}

// release gives up this node's lease at Close: the maintenance of any node rescues what it
// still held and removes its row.
func (s *Store) release(ctx context.Context) error {
	_, err := s.pool.Exec(ctx, `UPDATE jobsched_nodes SET expires_at = clock_timestamp() WHERE name = $1 AND epoch = $2`,
		s.node, s.epoch.Load())
	if err != nil {
		return fmt.Errorf("postgres: release lease: %w", err)
	}
	return nil
}

// leaseHolds reports, inside tx, whether this node's lease still holds: its row, under its
// epoch, has not been taken away by a rescue. (A lease that ran out holds until a node rescues
// it; the rescue and this transaction are ordered by the job row's lock.)
func (s *Store) leaseHolds(ctx context.Context, tx pgx.Tx) (bool, error) {
	var one int
	err := tx.QueryRow(ctx, "SELECT 1 FROM jobsched_nodes WHERE name = $1 AND epoch = $2", s.node, s.epoch.Load()).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("check lease: %w", err)
	}
	return true, nil
}

// renewLoop renews the lease every third of it until Close.
func (s *Store) renewLoop() {
	t := time.NewTicker(s.opt.Lease / 3)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			if s.stickyErr.Load() != nil {
				return
			}
			ctx, cancel := context.WithTimeout(s.ctx, s.opt.Lease/3)
			err := s.renew(ctx)
			cancel()
			if err != nil && s.ctx.Err() == nil {
				e := fmt.Errorf("postgres: renew lease: %w", err)
				s.leaseErr.Store(&e)
				s.opt.Logger.Error("jobsched postgres: renew lease", "node", s.node, "err", err)
			} else {
				s.leaseErr.Store(nil)
			}
		}
	}
}

// Rescue is the default mutation of a running job whose node lost its lease: the attempt counts
// (it may have been the job that killed the node), so the job goes back to its queue, or ends
// dead on its last attempt, or cancelled if a cancel was asked.
func Rescue(now time.Time, node string) persistence.Mutator {
	return persistence.Interrupted(now, fmt.Sprintf("node %q lost its lease while this attempt ran", node))
}

// maintainLoop runs the maintenance every MaintainEvery until Close.
func (s *Store) maintainLoop() {
	t := time.NewTicker(s.opt.MaintainEvery)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			if _, err := s.Maintain(s.ctx); err != nil && s.ctx.Err() == nil {
				s.opt.Logger.Warn("jobsched postgres: maintenance", "err", err)
			}
		}
	}
}

// Maintain runs one round of maintenance if no other node is running one (an advisory lock):
// it rescues the running jobs of nodes whose lease ran out (and of none at all), removes those
// nodes, and deletes finished jobs past their retention. It returns how many jobs it rescued.
func (s *Store) Maintain(ctx context.Context) (int, error) {
	if s.closed.Load() {
		return 0, persistence.ErrClosed
	}
	rescued := 0
	err := s.write(ctx, false, func(tx pgx.Tx, st *txState) error {
		var got bool
		if err := tx.QueryRow(ctx, "SELECT pg_try_advisory_xact_lock($1)", lockMaintenance).Scan(&got); err != nil {
			return err
		}
		if !got {
			return nil
		}
		rows, err := tx.Query(ctx, `SELECT name FROM jobsched_nodes WHERE expires_at < clock_timestamp() FOR UPDATE SKIP LOCKED`)
		if err != nil {
			return err
		}
		dead, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		// Running jobs held by no live lease: of a dead node, of a node's earlier incarnation, or
		// of a node with no row at all. (A job locked by a write in flight is skipped, and caught
		// by a later round.)
		rows, err = tx.Query(ctx, `SELECT seq, node, `+recOf("j")+` FROM jobsched_jobs j WHERE state = 'running'
			AND NOT EXISTS (SELECT 1 FROM jobsched_nodes n WHERE n.name = j.node AND n.epoch = j.node_epoch
				AND n.expires_at >= clock_timestamp() AND NOT n.name = ANY(coalesce($1::text[], '{}')))
			FOR UPDATE OF j SKIP LOCKED`, dead)
		if err != nil {
			return err
		}
		type held struct {
			node string
			job  *persistence.Job
		}
		jobs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (held, error) {
			var seq *int64
			var node *string
			var rec []byte
			if err := r.Scan(&seq, &node, &rec); err != nil {
				return held{}, err
			}
			j, err := decode(seq, rec)
			h := held{job: j}
			if node != nil {
				h.node = *node
			}
			return h, err
		})
		if err != nil {
			return err
		}
		now := time.Now()
		for _, h := range jobs {
			j := h.job.Clone()
			if err := s.opt.Rescue(now, h.node)(j); err != nil {
				continue
			}
			if err := s.writeBack(ctx, tx, h.job, j); err != nil {
				return err
			}
			st.deltas.add(j.Category, h.job.State, j.State)
			ch, subject := chanQueued, j.Category
			if j.State.Finished() {
				ch, subject = chanFinished, j.ID
			}
			// Sent as from no node: the rescuing node is told too.
			if _, err := tx.Exec(ctx, "SELECT pg_notify($1, $2)", ch, "|"+subject); err != nil {
				return err
			}
			rescued++
		}
		if len(dead) > 0 {
			if _, err := tx.Exec(ctx, "DELETE FROM jobsched_nodes WHERE name = ANY($1)", dead); err != nil {
				return err
			}
			s.opt.Logger.Warn("jobsched postgres: rescued the jobs of nodes whose lease ran out",
				"nodes", dead, "jobs", rescued)
		}
		if s.opt.Retention > 0 {
			if _, err := tx.Exec(ctx, `DELETE FROM jobsched_jobs WHERE id IN (SELECT id FROM jobsched_jobs
				WHERE finished_at < clock_timestamp() - $1 * interval '1 millisecond' LIMIT 10000)`,
				s.opt.Retention.Milliseconds()); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `DELETE FROM jobsched_once WHERE created_at < clock_timestamp() - $1 * interval '1 millisecond'`,
				s.opt.Retention.Milliseconds()); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("maintain: %w", err)
	}
	s.rescued.Add(uint64(rescued))
	return rescued, nil
}

// NodeInfo is one node of the cluster as the nodes table holds it.
type NodeInfo struct {
	Name        string          `json:"name"`
	StartedAt   time.Time       `json:"started_at"`
	HeartbeatAt time.Time       `json:"last_heartbeat"`
	ExpiresAt   time.Time       `json:"lease_expires"`
	Info        json.RawMessage `json:"info,omitempty"`
}

// Nodes lists the nodes holding (or having just lost) a lease, by name.
func (s *Store) Nodes(ctx context.Context) ([]NodeInfo, error) {
	if s.closed.Load() {
		return nil, persistence.ErrClosed
	}
	rows, err := s.pool.Query(ctx, `SELECT name, started_at, heartbeat_at, expires_at, info FROM jobsched_nodes ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("nodes: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (NodeInfo, error) {
		var n NodeInfo
		var info []byte
		err := r.Scan(&n.Name, &n.StartedAt, &n.HeartbeatAt, &n.ExpiresAt, &info)
		n.Info = info
		return n, err
	})
}

// SetInfo publishes what this node tells the cluster (address, workers, tree) in its row.
func (s *Store) SetInfo(ctx context.Context, info json.RawMessage) error {
	if s.closed.Load() {
		return persistence.ErrClosed
	}
	_, err := s.pool.Exec(ctx, "UPDATE jobsched_nodes SET info = $3 WHERE name = $1 AND epoch = $2", s.node, s.epoch.Load(), info)
	if err != nil {
		return fmt.Errorf("set node info: %w", err)
	}
	return nil
}
