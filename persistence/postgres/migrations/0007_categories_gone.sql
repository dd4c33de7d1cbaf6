-- Categories deleted at runtime (DeleteCategory), until one of that name is put again. An insert
-- into one of them is refused, so no job is ever left in a category no node runs.
CREATE TABLE jobsched_categories_gone (
    category text COLLATE "C" PRIMARY KEY
);

-- jobsched_category_check is called by every insert, first in its transaction: it takes the
-- advisory lock of each category shared (held to the commit) and then refuses the insert
-- (SQLSTATE JS404) if one of them is deleted. DeleteCategory takes the same lock exclusive
-- before it counts the category's unfinished jobs and stores the deletion, so either the insert
-- commits first and the count sees its jobs (the delete is refused), or the delete commits first
-- and this check, a later statement with a snapshot of its own (the function is volatile), sees
-- the deletion. The two-int lock form keeps these keys apart from the store's bigint ones.
CREATE FUNCTION jobsched_category_check(cats text[])
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    gone text;
BEGIN
    PERFORM pg_advisory_xact_lock_shared(1785684595, hashtext(c)) FROM unnest(cats) AS c;
    SELECT g.category INTO gone FROM jobsched_categories_gone g WHERE g.category = ANY (cats) LIMIT 1;
    IF gone IS NOT NULL THEN
        RAISE EXCEPTION 'category % was deleted', gone USING ERRCODE = 'JS404', COLUMN = gone;
    END IF;
END
$$;
