-- Nodes: every process sharing the database holds a lease here and renews it. A node whose lease
-- ran out is dead: its running jobs are rescued and its row removed; a late write of it is refused.
CREATE SEQUENCE jobsched_epoch;

CREATE TABLE jobsched_nodes (
    name         text PRIMARY KEY,
    epoch        bigint NOT NULL,       -- this incarnation; a restart under the same name takes a new one
    started_at   timestamptz NOT NULL,
    heartbeat_at timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    info         json NOT NULL DEFAULT '{}'  -- what the node tells the cluster (address, workers, tree)
);
