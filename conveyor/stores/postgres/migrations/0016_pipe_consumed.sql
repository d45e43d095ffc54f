-- A chain member's pipe is cleared once it has received its input (when its last
-- dependency completes), so a retry can tell a member that never received it (cancelled
-- while blocked: it is fed its dependencies' results then) from one that did (it runs
-- with the arguments it has). Rows released before this migration: every one that left
-- blocked other than by a cancel, every one that started, and every one cancelled once
-- its dependencies had all completed (released first, in the same transaction as the
-- last completion).
UPDATE conveyor_jobs SET pipe = NULL
WHERE pipe IS NOT NULL AND (state NOT IN ('blocked', 'cancelled') OR started_at IS NOT NULL
    OR (state = 'cancelled' AND NOT EXISTS (
        SELECT 1 FROM conveyor_deps d LEFT JOIN conveyor_jobs dj ON dj.id = d.dep_id
        WHERE d.job_id = conveyor_jobs.id AND (dj.id IS NULL OR dj.state <> 'completed'
            OR dj.finished_at > conveyor_jobs.finished_at))));

-- Releasing a dependent clears its pipe. The rows to release are read before their locks
-- are taken, so the state is tested again on the locked row: a dependent cancelled while
-- its last dependency completes (the cancel is waited for) stays cancelled.
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
        UPDATE conveyor_jobs AS j SET state = 'pending', pipe = NULL,
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
        WHERE j.id = r.id AND j.state = 'blocked';
        DELETE FROM conveyor_waits WHERE job_id = ANY(ready);
        PERFORM pg_notify('conveyor_' || TG_TABLE_SCHEMA, '');
    END IF;
    RETURN NULL;
END
$$;
