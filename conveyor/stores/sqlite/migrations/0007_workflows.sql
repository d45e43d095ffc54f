-- Workflows: durable child runs and dependencies (see conveyor/stores/base_workflows.py).
-- blockers counts what a job still waits for; the triggers act in the transaction that
-- finishes a job, whichever statement finishes it.
ALTER TABLE conveyor_jobs ADD COLUMN parent_id INTEGER;
ALTER TABLE conveyor_jobs ADD COLUMN parent_seq INTEGER;
ALTER TABLE conveyor_jobs ADD COLUMN child_index INTEGER;
ALTER TABLE conveyor_jobs ADD COLUMN blockers INTEGER NOT NULL DEFAULT 0;
ALTER TABLE conveyor_jobs ADD COLUMN watched INTEGER NOT NULL DEFAULT 0;
ALTER TABLE conveyor_jobs ADD COLUMN pipe TEXT;
CREATE UNIQUE INDEX conveyor_jobs_child
    ON conveyor_jobs (parent_id, parent_seq, child_index) WHERE parent_id IS NOT NULL;
CREATE INDEX conveyor_jobs_blocked ON conveyor_jobs (id) WHERE state = 'blocked';
CREATE TABLE conveyor_deps (
    job_id INTEGER NOT NULL,
    position INTEGER NOT NULL,
    dep_id INTEGER NOT NULL,
    done INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (job_id, position)
) WITHOUT ROWID;
CREATE INDEX conveyor_deps_dep ON conveyor_deps (dep_id);
CREATE TRIGGER conveyor_dependency_completed AFTER UPDATE OF state ON conveyor_jobs
WHEN OLD.watched = 1 AND NEW.state = 'completed' AND OLD.state NOT IN ('completed', 'failed', 'cancelled')
BEGIN
    UPDATE conveyor_jobs SET blockers = blockers - (
        SELECT count(*) FROM conveyor_deps d
        WHERE d.dep_id = NEW.id AND d.job_id = conveyor_jobs.id AND d.done = 0)
    WHERE id IN (SELECT job_id FROM conveyor_deps WHERE dep_id = NEW.id AND done = 0);
    UPDATE conveyor_deps SET done = 1 WHERE dep_id = NEW.id AND done = 0;
    UPDATE conveyor_jobs SET state = 'pending',
        run_at = max(run_at, coalesce(NEW.finished_at, run_at)),
        args = CASE WHEN pipe IS NULL THEN args WHEN args = '[]' THEN '[' || (SELECT CASE WHEN conveyor_jobs.pipe = 'all' THEN '[' || coalesce(group_concat(r, ', '), '') || ']' ELSE coalesce(min(r), 'null') END FROM (SELECT coalesce(j.result, 'null') AS r FROM conveyor_deps d JOIN conveyor_jobs j ON j.id = d.dep_id WHERE d.job_id = conveyor_jobs.id ORDER BY d.position)) || ']'
            ELSE '[' || (SELECT CASE WHEN conveyor_jobs.pipe = 'all' THEN '[' || coalesce(group_concat(r, ', '), '') || ']' ELSE coalesce(min(r), 'null') END FROM (SELECT coalesce(j.result, 'null') AS r FROM conveyor_deps d JOIN conveyor_jobs j ON j.id = d.dep_id WHERE d.job_id = conveyor_jobs.id ORDER BY d.position)) || ', ' || substr(args, 2) END,
        payload = CASE WHEN pipe IS NOT NULL AND args = '[]' AND kwargs = '{}'
            THEN (SELECT CASE WHEN conveyor_jobs.pipe = 'all' THEN '[' || coalesce(group_concat(r, ', '), '') || ']' ELSE coalesce(min(r), 'null') END FROM (SELECT coalesce(j.result, 'null') AS r FROM conveyor_deps d JOIN conveyor_jobs j ON j.id = d.dep_id WHERE d.job_id = conveyor_jobs.id ORDER BY d.position)) ELSE payload END
    WHERE id IN (SELECT job_id FROM conveyor_deps WHERE dep_id = NEW.id)
        AND state = 'blocked' AND blockers <= 0;
END;
CREATE TRIGGER conveyor_dependency_failed AFTER UPDATE OF state ON conveyor_jobs
WHEN OLD.watched = 1 AND NEW.state IN ('failed', 'cancelled')
    AND OLD.state NOT IN ('completed', 'failed', 'cancelled')
BEGIN
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
        AND state NOT IN ('completed', 'failed', 'cancelled');
END;
CREATE TRIGGER conveyor_child_finished AFTER UPDATE OF state ON conveyor_jobs
WHEN OLD.parent_id IS NOT NULL AND NEW.state IN ('completed', 'failed', 'cancelled')
    AND OLD.state NOT IN ('completed', 'failed', 'cancelled')
BEGIN
    UPDATE conveyor_jobs SET blockers = blockers - 1,
        run_at = CASE WHEN blockers <= 1 AND state = 'waiting'
            THEN min(run_at, coalesce(NEW.finished_at, run_at)) ELSE run_at END
    WHERE id = NEW.parent_id;
END;
