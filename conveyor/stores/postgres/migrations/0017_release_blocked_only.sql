-- A dependent cancelled while its last dependency completes stays cancelled. The rows to
-- release were read before their locks were taken: a cancel committed in between was
-- waited for, then only the join (j.id = r.id) was checked again on the cancelled row,
-- which was set pending and ran. The state is now tested on the locked row itself.

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
