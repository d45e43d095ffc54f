-- Jobs a cancel statement matches (cancel_jobs' filter, a replacing job's matches) are
-- cancelled in two steps in one transaction: each marked cancelled first (state set,
-- finished_at still NULL: this trigger does not run), then finished (finished_at set:
-- it runs for each). So every matched job is cancelled by the user, as on PostgreSQL,
-- whose triggers run after the statement: a dependent that was matched too is neither
-- cancelled by its dependency's cascade nor reached through it, and a dependent left out
-- names its nearest matched dependency as the cause. Before, the row trigger of the first
-- matched job cancelled the matched ones below it as its own cascade, and the jobs below
-- those named it as their cause. The same trigger as 0014's, but for the WHEN clause:
-- a marked row (cancelled, finished_at NULL) finishing counts as a job that finished.
DROP TRIGGER conveyor_job_finished;
CREATE TRIGGER conveyor_job_finished AFTER UPDATE OF finished_at ON conveyor_jobs
WHEN (OLD.watched = 1 OR OLD.parent_id IS NOT NULL)
    AND NEW.state IN ('completed', 'failed', 'cancelled')
    AND (OLD.state NOT IN ('completed', 'failed', 'cancelled')
        OR (OLD.state = 'cancelled' AND OLD.finished_at IS NULL))
BEGIN
    UPDATE conveyor_jobs SET blockers = blockers - 1,
        run_at = CASE WHEN blockers <= 1 AND state = 'waiting'
            THEN min(run_at, coalesce(NEW.finished_at, run_at)) ELSE run_at END
    WHERE id = NEW.parent_id;
    UPDATE conveyor_jobs SET state = 'cancelled', finished_at = NEW.finished_at,
        error = c.error, purge_at = NEW.finished_at + retention, dedupe_key = NULL,
        lease_token = NULL, lease_expires_at = NULL, worker_id = NULL
    FROM (
        WITH RECURSIVE down(id) AS (
            SELECT d.job_id FROM conveyor_deps d JOIN conveyor_jobs j ON j.id = d.job_id
                AND j.state NOT IN ('completed', 'failed', 'cancelled')
            WHERE d.dep_id = NEW.id AND OLD.watched = 1 AND NEW.state IN ('failed', 'cancelled')
            UNION SELECT d.job_id FROM conveyor_deps d JOIN down ON d.dep_id = down.id
                JOIN conveyor_jobs j ON j.id = d.job_id
                AND j.state NOT IN ('completed', 'failed', 'cancelled')
        ), pick(id, via) AS (
            SELECT s.id, min(d.dep_id) FROM down s JOIN conveyor_deps d ON d.job_id = s.id
                JOIN conveyor_jobs b ON b.id = d.dep_id
            WHERE b.state IN ('failed', 'cancelled') OR d.dep_id IN (SELECT id FROM down)
            GROUP BY s.id
        ), tree(id, via, root) AS (
            SELECT p.id, p.via, CASE WHEN p.via IN (SELECT id FROM down) THEN NEW.id
                WHEN json_valid(b.error) THEN CASE
                WHEN json_extract(b.error, '$.type') = 'DependencyFailed'
                    AND json_type(b.error, '$.cause') = 'integer'
                THEN json_extract(b.error, '$.cause') ELSE b.id END ELSE b.id END
            FROM pick p JOIN conveyor_jobs b ON b.id = p.via
        )
        SELECT t.id, json_object('type', 'DependencyFailed', 'message',
            'run ' || v.id || ' (' || v.job || '), which this job depends on, '
            || CASE WHEN t.via = t.root THEN v.state ELSE 'was cancelled because '
                || CASE WHEN r.id IS NULL THEN 'of run ' || t.root
                ELSE 'run ' || r.id || ' (' || r.job || ') ' || r.state END END
            || ', so this job was cancelled', 'traceback', NULL,
            'cause', t.root, 'dependency', t.via) AS error
        FROM tree t JOIN conveyor_jobs v ON v.id = t.via
            LEFT JOIN conveyor_jobs r ON r.id = t.root
    ) AS c
    WHERE conveyor_jobs.id = c.id
        AND conveyor_jobs.state NOT IN ('completed', 'failed', 'cancelled')
        AND OLD.watched = 1 AND NEW.state IN ('failed', 'cancelled');
    UPDATE conveyor_jobs SET blockers = blockers - (
        SELECT count(*) FROM conveyor_deps d
        WHERE d.dep_id = NEW.id AND d.job_id = conveyor_jobs.id AND d.done = 0)
    WHERE id IN (SELECT job_id FROM conveyor_deps WHERE dep_id = NEW.id AND done = 0)
        AND OLD.watched = 1 AND NEW.state = 'completed';
    UPDATE conveyor_deps SET done = 1 WHERE dep_id = NEW.id AND done = 0
        AND OLD.watched = 1 AND NEW.state = 'completed';
    UPDATE conveyor_jobs SET state = 'pending', pipe = NULL,
        run_at = max(run_at, coalesce(NEW.finished_at, run_at)),
        args = CASE WHEN pipe IS NULL THEN args WHEN args = '[]' THEN '[' || (SELECT CASE WHEN conveyor_jobs.pipe = 'all' THEN '[' || coalesce(group_concat(r, ', '), '') || ']' ELSE coalesce(min(r), 'null') END FROM (SELECT coalesce(j.result, 'null') AS r FROM conveyor_deps d JOIN conveyor_jobs j ON j.id = d.dep_id WHERE d.job_id = conveyor_jobs.id ORDER BY d.position)) || ']'
            ELSE '[' || (SELECT CASE WHEN conveyor_jobs.pipe = 'all' THEN '[' || coalesce(group_concat(r, ', '), '') || ']' ELSE coalesce(min(r), 'null') END FROM (SELECT coalesce(j.result, 'null') AS r FROM conveyor_deps d JOIN conveyor_jobs j ON j.id = d.dep_id WHERE d.job_id = conveyor_jobs.id ORDER BY d.position)) || ', ' || substr(args, 2) END,
        payload = CASE WHEN pipe IS NOT NULL AND args = '[]' AND kwargs = '{}'
            THEN (SELECT CASE WHEN conveyor_jobs.pipe = 'all' THEN '[' || coalesce(group_concat(r, ', '), '') || ']' ELSE coalesce(min(r), 'null') END FROM (SELECT coalesce(j.result, 'null') AS r FROM conveyor_deps d JOIN conveyor_jobs j ON j.id = d.dep_id WHERE d.job_id = conveyor_jobs.id ORDER BY d.position)) ELSE payload END
    WHERE id IN (SELECT job_id FROM conveyor_deps WHERE dep_id = NEW.id)
        AND state = 'blocked' AND blockers <= 0
        AND OLD.watched = 1 AND NEW.state = 'completed';
END;
