-- Keys that stay taken after their job finished: the periodic ticks ("periodic:<name>:<tick>"),
-- so a tick is enqueued once per cluster even when its job finished before another node's
-- periodic loop reached the same tick. Pruned after the retention.
CREATE TABLE jobsched_once (
    key        text PRIMARY KEY,
    job_id     text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
