-- The hot path's state changes in SQL (claim.go's claimSQL, succeed.go): a claim and a success
-- no longer read the job's record into Go and write it back whole. They write the few fields
-- they change as a small JSON object in `patch`, applied over `record` when a job is read
-- (codec.go: the store selects record and patch joined by a 0x1e byte, which valid JSON text
-- never holds outside a string and never holds raw inside one). Every write of a whole record
-- clears it.
ALTER TABLE jobsched_jobs ADD COLUMN patch json;

-- The indexes a start (queued to running) and a success (running to succeeded) write to: the
-- primary key, the category's list and, for a start, the running jobs by node, for a success
-- the finished ones. The others leave those two states out:
-- - Lists filtered by state, newest first: succeeded jobs, the bulk of the table, are listed
--   from the primary key backwards (a filter on the rows it reads), running ones (at most the
--   workers of every node) from jobsched_jobs_running, then sorted.
DROP INDEX jobsched_jobs_state_id;
CREATE INDEX jobsched_jobs_state_id ON jobsched_jobs (state, id) WHERE state NOT IN ('succeeded', 'running');
-- - The counts per category and state of the jobs waiting to start (the running ones are
--   counted from jobsched_jobs_running).
DROP INDEX jobsched_jobs_unfinished;
CREATE INDEX jobsched_jobs_unstarted ON jobsched_jobs (category, state)
    WHERE state IN ('pending', 'scheduled', 'queued', 'retrying');
