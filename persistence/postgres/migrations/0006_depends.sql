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
-- A child's open rows (is it still waiting?).
CREATE INDEX jobsched_depends_child ON jobsched_depends (child) WHERE open;

-- jobsched_settle applies the finish of the job p_id to its open dependents, in the caller's
-- transaction (the one that finished it), and in turn the finish of each dependent it cancels.
-- It returns each dependent it changed, with its category and states, for the store's counts.
-- A child's row lock serialises the finishes of its parents: the last one to take it sees the
-- others' rows closed and releases it.
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
        FOR c IN UPDATE jobsched_depends d SET open = false WHERE d.parent = cur AND d.open RETURNING d.child AS id LOOP
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
