-- Dependencies (depends_on): one row per parent and child, open until the parent's finish has
-- been applied to the child. A pending child is released (queued, or scheduled if its run_at is
-- still ahead) when its last open row closes on a success, and cancelled when one closes on a
-- failure (dead, cancelled) unless it says on_parent_failure "run". The rows of a deleted job go
-- with it.
CREATE TABLE jobsched_depends (
    parent text COLLATE "C" NOT NULL REFERENCES jobsched_jobs (id) ON DELETE CASCADE,
    child  text COLLATE "C" NOT NULL REFERENCES jobsched_jobs (id) ON DELETE CASCADE,
    open   boolean NOT NULL,
    PRIMARY KEY (parent, child)
);
-- A child's rows: is it still waiting (open ones), its parents, and the cascade when it is
-- deleted (whole, not partial: the retention's deletes must not scan the table).
CREATE INDEX jobsched_depends_child ON jobsched_depends (child);

-- jobsched_settle applies the finish of the job p_id to its open dependents, in the caller's
-- transaction (the one that finished it), and in turn the finish of each dependent it cancels.
-- It returns each dependent it changed, with its category and states, for the store's counts.
-- A child's row lock serialises the finishes of its parents: each closes its own row before it
-- takes the lock, so the last one to take it sees the others' rows closed and releases it.
CREATE FUNCTION jobsched_settle(p_id text)
RETURNS TABLE (o_child text, o_category text, o_from text, o_to text)
LANGUAGE plpgsql AS $$
DECLARE
    todo  text[] := ARRAY[p_id];
    cur   text;
    p     record;
    c     record;
    ch    record;
    msg   text;
    last  text;
    v_now timestamptz;
BEGIN
    WHILE cardinality(todo) > 0 LOOP
        cur := todo[1];
        todo := todo[2:];
        SELECT j.state, j.record::jsonb AS r INTO p FROM jobsched_jobs j WHERE j.id = cur;
        CONTINUE WHEN NOT FOUND OR p.state NOT IN ('succeeded', 'dead', 'cancelled');
        -- Children in id order: every finish locks them in the same order (ids are UUIDv7, a
        -- parent's older than its child's), so concurrent finishes sharing children, and inserts
        -- locking their parents in id order, do not deadlock.
        FOR c IN SELECT d.child AS id FROM jobsched_depends d WHERE d.parent = cur AND d.open ORDER BY d.child LOOP
            UPDATE jobsched_depends SET open = false WHERE parent = cur AND child = c.id;
            SELECT j.category, j.state, j.run_at, j.record::jsonb AS r INTO ch
                FROM jobsched_jobs j WHERE j.id = c.id FOR UPDATE;
            CONTINUE WHEN NOT FOUND OR ch.state <> 'pending';
            v_now := clock_timestamp();
            IF p.state <> 'succeeded' AND coalesce(ch.r->>'on_parent_failure', '') <> 'run' THEN
                msg := 'parent ' || cur || ' ended ' || p.state;
                last := p.r->'errors'->-1->>'error';
                IF coalesce(last, '') <> '' THEN
                    msg := msg || ': ' || last;
                END IF;
                UPDATE jobsched_jobs SET state = 'cancelled', seq = NULL, finished_at = v_now,
                    record = (ch.r || jsonb_build_object('state', 'cancelled', 'finished_at', v_now,
                        'errors', coalesce(ch.r->'errors', '[]'::jsonb) || jsonb_build_array(jsonb_build_object(
                            'attempt', coalesce((ch.r->>'attempt')::int, 0), 'at', v_now, 'error', msg))))::json
                    WHERE id = c.id;
                PERFORM pg_notify('jobsched_finished', '|' || c.id);
                todo := todo || c.id;
                o_child := c.id; o_category := ch.category; o_from := 'pending'; o_to := 'cancelled';
                RETURN NEXT;
            ELSIF NOT EXISTS (SELECT 1 FROM jobsched_depends d WHERE d.child = c.id AND d.open) THEN
                o_to := CASE WHEN ch.run_at > v_now THEN 'scheduled' ELSE 'queued' END;
                UPDATE jobsched_jobs SET state = o_to,
                    seq = CASE WHEN o_to = 'queued' THEN nextval('jobsched_seq') END,
                    record = (ch.r || jsonb_build_object('state', o_to))::json
                    WHERE id = c.id;
                IF o_to = 'queued' THEN
                    PERFORM pg_notify('jobsched_queued', '|' || ch.category);
                END IF;
                o_child := c.id; o_category := ch.category; o_from := 'pending';
                RETURN NEXT;
            END IF;
        END LOOP;
    END LOOP;
END $$;

-- jobsched_revive moves back to pending the jobs cancelled because p_id failed (their last
-- error names it), and in turn those cancelled because one of them was, reopening their rows for
-- every parent that has not succeeded; a job whose unique key another unfinished job holds stays
-- cancelled. It returns each revived job (o_child, o_category) and each other parent of theirs
-- that ended dead or cancelled (o_failed), which the caller settles. Run in the transaction that
-- retries p_id (Scheduler.RetryWith with Dependents): all of it commits, or none.
CREATE FUNCTION jobsched_revive(p_id text)
RETURNS TABLE (o_child text, o_category text, o_failed text)
LANGUAGE plpgsql AS $$
DECLARE
    todo text[] := ARRAY[p_id];
    cur  text;
    c    record;
    q    record;
    uk   text;
BEGIN
    WHILE cardinality(todo) > 0 LOOP
        cur := todo[1];
        todo := todo[2:];
        FOR c IN SELECT j.id, j.category, j.record::jsonb AS r
                FROM jobsched_depends d JOIN jobsched_jobs j ON j.id = d.child
                WHERE d.parent = cur AND NOT d.open AND j.state = 'cancelled'
                  AND starts_with(coalesce(j.record::jsonb->'errors'->-1->>'error', ''), 'parent ' || cur || ' ended ')
                ORDER BY j.id FOR UPDATE OF j
        LOOP
            uk := nullif(c.r->>'unique_key', '');
            CONTINUE WHEN uk IS NOT NULL AND EXISTS (SELECT 1 FROM jobsched_jobs u WHERE u.unique_key = uk
                AND u.state NOT IN ('succeeded', 'dead', 'cancelled') AND u.id <> c.id);
            o_child := NULL; o_category := NULL;
            FOR q IN SELECT d.parent, p.state FROM jobsched_depends d JOIN jobsched_jobs p ON p.id = d.parent
                    WHERE d.child = c.id LOOP
                IF q.parent = cur OR q.state <> 'succeeded' THEN
                    UPDATE jobsched_depends SET open = true WHERE parent = q.parent AND child = c.id;
                    IF q.parent <> cur AND q.state IN ('dead', 'cancelled') THEN
                        o_failed := q.parent;
                        RETURN NEXT;
                    END IF;
                END IF;
            END LOOP;
            UPDATE jobsched_jobs SET state = 'pending', seq = NULL, finished_at = NULL,
                record = ((c.r - 'finished_at' - 'cancel_requested') || jsonb_build_object('state', 'pending'))::json
                WHERE id = c.id;
            todo := todo || c.id;
            o_child := c.id; o_category := c.category; o_failed := NULL;
            RETURN NEXT;
        END LOOP;
    END LOOP;
END $$;
