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
DROP TRIGGER conveyor_job_finished;
CREATE TRIGGER conveyor_job_finished AFTER UPDATE OF finished_at ON conveyor_jobs
WHEN (OLD.watched = 1 OR OLD.parent_id IS NOT NULL)
    AND NEW.state IN ('completed', 'failed', 'cancelled')
    AND OLD.state NOT IN ('completed', 'failed', 'cancelled')
BEGIN
    UPDATE conveyor_jobs SET blockers = blockers - 1,
        run_at = CASE WHEN blockers <= 1 AND state = 'waiting'
            THEN min(run_at, coalesce(NEW.finished_at, run_at)) ELSE run_at END
    WHERE id = NEW.parent_id;
    UPDATE conveyor_jobs SET state = 'cancelled', finished_at = NEW.finished_at,
        error = json_object('type', 'DependencyFailed', 'message',
            'run ' || NEW.id || ' (' || NEW.job || '), which this job depends on, '
            || NEW.state || ', so this job was cancelled', 'traceback', NULL,
            'cause', NEW.id),
        purge_at = NEW.finished_at + retention, dedupe_key = NULL,
        lease_token = NULL, lease_expires_at = NULL, worker_id = NULL
    WHERE id IN (
        WITH RECURSIVE down(id) AS (
            SELECT d.job_id FROM conveyor_deps d WHERE d.dep_id = NEW.id
            UNION SELECT d.job_id FROM conveyor_deps d JOIN down ON d.dep_id = down.id
                JOIN conveyor_jobs j ON j.id = d.job_id AND j.state NOT IN ('completed', 'failed', 'cancelled')
        ) SELECT id FROM down)
        AND state NOT IN ('completed', 'failed', 'cancelled')
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
