-- The hot path's state changes in SQL (claim.go's claimSQL, succeed.go): a claim and a success
-- no longer read the job's record into Go and write it back whole. They write the few fields
-- they change as a small JSON object in `patch`, applied over `record` when a job is read
-- (codec.go: the store selects record and patch joined by a 0x1e byte, which valid JSON text
-- never holds outside a string and never holds raw inside one). Every write of a whole record
-- clears it.
ALTER TABLE jobsched_jobs ADD COLUMN patch json;

-- Lists filtered by state, newest first: succeeded jobs, the bulk of the table, are listed from
-- the primary key backwards (a filter on the rows it reads); the index holds every other state,
-- so that a finish to succeeded no longer adds an entry to it.
DROP INDEX jobsched_jobs_state_id;
CREATE INDEX jobsched_jobs_state_id ON jobsched_jobs (state, id) WHERE state <> 'succeeded';
