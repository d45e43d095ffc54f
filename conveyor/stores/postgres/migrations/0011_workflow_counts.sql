-- Workflow counters move to a narrow table of their own. Counting a parent down once per
-- finished child rewrote its wide conveyor_jobs row (and, once its page filled, every
-- index entry) 10,000 times for a 10,000-child fan-out; a conveyor_waits row is small and
-- has one index. conveyor_jobs.blockers is no longer read on PostgreSQL.

CREATE TABLE conveyor_waits (
    job_id bigint PRIMARY KEY,
    blockers integer NOT NULL
) WITH (fillfactor = 50);
INSERT INTO conveyor_waits (job_id, blockers)
SELECT id, blockers FROM conveyor_jobs WHERE state IN ('blocked', 'waiting') AND blockers > 0;

CREATE OR REPLACE FUNCTION conveyor_dependency_completed() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    ready bigint[];
BEGIN
    WITH done AS (
        UPDATE conveyor_deps SET done = true WHERE dep_id = NEW.id AND NOT done
        RETURNING job_id
    ), counted AS (SELECT job_id, count(*) AS n FROM done GROUP BY job_id),
    counts AS (
        UPDATE conveyor_waits AS w SET blockers = w.blockers - c.n
        FROM counted AS c WHERE w.job_id = c.job_id
        RETURNING w.job_id, w.blockers
    )
    SELECT array_agg(job_id ORDER BY job_id) INTO ready FROM counts WHERE blockers <= 0;
    IF ready IS NOT NULL THEN
        UPDATE conveyor_jobs AS j SET state = 'pending',
            run_at = greatest(j.run_at, coalesce(NEW.finished_at, j.run_at)),
            args = CASE WHEN r.piped IS NULL THEN j.args
                WHEN j.args = '[]' THEN '[' || r.piped || ']'
                ELSE '[' || r.piped || ', ' || substr(j.args, 2) END,
            payload = CASE WHEN r.piped IS NOT NULL AND j.args = '[]' AND j.kwargs = '{}'
                THEN r.piped::jsonb ELSE j.payload END
        FROM (
            SELECT b.id, CASE WHEN b.pipe IS NULL THEN NULL
                ELSE conveyor_piped(b.id, b.pipe) END AS piped
            FROM conveyor_jobs b WHERE b.id = ANY(ready) AND b.state = 'blocked'
        ) AS r
        WHERE j.id = r.id;
        DELETE FROM conveyor_waits WHERE job_id = ANY(ready);
        PERFORM pg_notify('conveyor_' || TG_TABLE_SCHEMA, '');
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION conveyor_child_finished() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    left_over integer;
BEGIN
    UPDATE conveyor_waits SET blockers = blockers - 1 WHERE job_id = NEW.parent_id
    RETURNING blockers INTO left_over;
    IF left_over IS NOT NULL AND left_over <= 0 THEN
        UPDATE conveyor_jobs SET run_at = least(run_at, coalesce(NEW.finished_at, run_at))
        WHERE id = NEW.parent_id AND state = 'waiting';
        IF FOUND THEN
            PERFORM pg_notify('conveyor_' || TG_TABLE_SCHEMA, '');
        END IF;
    END IF;
    RETURN NULL;
END
$$;
