-- The scheduler's settings made at runtime (a category's settings, a pause), shared by every node.
CREATE TABLE jobsched_settings (
    key   text PRIMARY KEY,
    value bytea NOT NULL
);
