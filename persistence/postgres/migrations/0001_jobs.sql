-- Jobs: one row each. The record column is the job's JSON (its API form); the other columns are
-- the parts the queries filter and order on, kept true by the store on every write.
CREATE SEQUENCE jobsched_seq;

CREATE TABLE jobsched_jobs (
    id          text COLLATE "C" PRIMARY KEY,  -- UUIDv7: byte order is creation order
    category    text NOT NULL,
    state       text NOT NULL CHECK (state IN ('pending', 'scheduled', 'queued', 'running', 'retrying',
                                               'succeeded', 'dead', 'cancelled')),
    seq         bigint,                        -- FIFO place while queued (from jobsched_seq)
    run_at      timestamptz NOT NULL,          -- rounded up to the microsecond
    unique_key  text,
    node        text,                          -- running: the node whose lease holds it,
    node_epoch  bigint,                        -- and that node's incarnation (jobsched_nodes.epoch)
    attempt     integer NOT NULL DEFAULT 0,
    finished_at timestamptz,
    record      json NOT NULL
);

-- A category's queue in FIFO order.
CREATE INDEX jobsched_jobs_queued ON jobsched_jobs (category, seq) WHERE state = 'queued';
-- Scheduled and retrying jobs in time order.
CREATE INDEX jobsched_jobs_waiting ON jobsched_jobs (run_at, id) WHERE state IN ('scheduled', 'retrying');
-- Running jobs by the node that holds them (start-up recovery, rescue of a dead node's jobs).
CREATE INDEX jobsched_jobs_running ON jobsched_jobs (node, node_epoch) WHERE state = 'running';
-- A unique key is held by at most one unfinished job, across every node.
CREATE UNIQUE INDEX jobsched_jobs_unique ON jobsched_jobs (unique_key)
    WHERE unique_key IS NOT NULL AND state NOT IN ('succeeded', 'dead', 'cancelled');
-- Counts of the unfinished jobs per category and state.
CREATE INDEX jobsched_jobs_unfinished ON jobsched_jobs (category, state)
    WHERE state NOT IN ('succeeded', 'dead', 'cancelled');
-- Retention, and the finished counts.
CREATE INDEX jobsched_jobs_finished ON jobsched_jobs (finished_at) WHERE finished_at IS NOT NULL;
-- Lists filtered by category or state, newest first.
CREATE INDEX jobsched_jobs_category_id ON jobsched_jobs (category, id);
CREATE INDEX jobsched_jobs_state_id ON jobsched_jobs (state, id);
