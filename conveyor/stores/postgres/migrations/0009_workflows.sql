-- Workflows: durable child runs and dependencies (see conveyor/stores/base_workflows.py).
-- blockers counts what a job still waits for (unfinished dependencies of a 'blocked' job,
-- unfinished children of a durable run waiting on them); the triggers below act in the
-- transaction that finishes a job, whichever statement finishes it.

ALTER TABLE conveyor_jobs
    ADD COLUMN parent_id bigint,
    ADD COLUMN parent_seq integer,
    ADD COLUMN child_index integer,
    ADD COLUMN blockers integer NOT NULL DEFAULT 0,
    ADD COLUMN watched boolean NOT NULL DEFAULT false,
    ADD COLUMN pipe text;
-- A durable run's children, unique per (run, step, index): a replay cannot start one twice.
CREATE UNIQUE INDEX conveyor_jobs_child ON conveyor_jobs (parent_id, parent_seq, child_index)
    WHERE parent_id IS NOT NULL;
CREATE INDEX conveyor_jobs_blocked ON conveyor_jobs (id) WHERE state = 'blocked';

CREATE TABLE conveyor_deps (
    job_id bigint NOT NULL,
    position integer NOT NULL,
    dep_id bigint NOT NULL,
    done boolean NOT NULL DEFAULT false,
    PRIMARY KEY (job_id, position)
);
CREATE INDEX conveyor_deps_dep ON conveyor_deps (dep_id);

-- What a chain member receives: its one dependency's result, or (pipe 'all', after a
-- group) the list of its dependencies' results in order.
CREATE FUNCTION conveyor_piped(for_job bigint, mode text) RETURNS text
LANGUAGE sql STABLE SET search_path FROM CURRENT AS $$
    SELECT CASE WHEN mode = 'all'
        THEN '[' || coalesce(string_agg(coalesce(r.result, 'null'), ', ' ORDER BY d.position), '')
            || ']'
        ELSE coalesce((array_agg(coalesce(r.result, 'null') ORDER BY d.position))[1], 'null') END
    FROM conveyor_deps d JOIN conveyor_jobs r ON r.id = d.dep_id
    WHERE d.job_id = for_job
$$;

CREATE FUNCTION conveyor_dependency_completed() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    woken integer;
BEGIN
    WITH done AS (
        UPDATE conveyor_deps SET done = true WHERE dep_id = NEW.id AND NOT done
        RETURNING job_id
    ), counted AS (SELECT job_id, count(*) AS n FROM done GROUP BY job_id)
    UPDATE conveyor_jobs AS j SET blockers = j.blockers - c.n
    FROM counted AS c WHERE j.id = c.job_id;
    WITH ready AS (
        SELECT j.id, CASE WHEN j.pipe IS NULL THEN NULL ELSE conveyor_piped(j.id, j.pipe) END
            AS piped
        FROM conveyor_deps d JOIN conveyor_jobs j ON j.id = d.job_id
        WHERE d.dep_id = NEW.id AND j.state = 'blocked' AND j.blockers <= 0
        ORDER BY j.id FOR UPDATE OF j
    )
    UPDATE conveyor_jobs AS j SET state = 'pending',
        run_at = greatest(j.run_at, coalesce(NEW.finished_at, j.run_at)),
        args = CASE WHEN r.piped IS NULL THEN j.args WHEN j.args = '[]' THEN '[' || r.piped || ']'
            ELSE '[' || r.piped || ', ' || substr(j.args, 2) END,
        payload = CASE WHEN r.piped IS NOT NULL AND j.args = '[]' AND j.kwargs = '{}'
            THEN r.piped::jsonb ELSE j.payload END
    FROM ready AS r WHERE j.id = r.id;
    GET DIAGNOSTICS woken = ROW_COUNT;
    IF woken > 0 THEN
        PERFORM pg_notify('conveyor_' || TG_TABLE_SCHEMA, '');
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER conveyor_dependency_completed AFTER UPDATE OF state ON conveyor_jobs
    FOR EACH ROW WHEN (OLD.watched AND NEW.state = 'completed'
        AND OLD.state NOT IN ('completed', 'failed', 'cancelled'))
    EXECUTE FUNCTION conveyor_dependency_completed();

-- A dependency that failed for good or was cancelled: every unfinished job downstream of
-- it is cancelled, naming it.
CREATE FUNCTION conveyor_dependency_failed() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    WITH RECURSIVE down(id) AS (
        SELECT d.job_id FROM conveyor_deps d WHERE d.dep_id = NEW.id
        UNION
        SELECT d.job_id FROM conveyor_deps d JOIN down ON d.dep_id = down.id
            JOIN conveyor_jobs j ON j.id = d.job_id
            AND j.state NOT IN ('completed', 'failed', 'cancelled')
    )
    UPDATE conveyor_jobs SET state = 'cancelled', finished_at = NEW.finished_at,
        error = json_build_object('type', 'DependencyFailed', 'message',
            format('run %s (%s), which this job depends on, %s, so this job was cancelled',
                NEW.id, NEW.job, NEW.state), 'traceback', NULL, 'cause', NEW.id)::text,
        purge_at = NEW.finished_at + retention, dedupe_key = NULL,
        lease_token = NULL, lease_expires_at = NULL, worker_id = NULL
    WHERE id IN (SELECT id FROM down) AND state NOT IN ('completed', 'failed', 'cancelled');
    RETURN NULL;
END
$$;
CREATE TRIGGER conveyor_dependency_failed AFTER UPDATE OF state ON conveyor_jobs
    FOR EACH ROW WHEN (OLD.watched AND NEW.state IN ('failed', 'cancelled')
        AND OLD.state NOT IN ('completed', 'failed', 'cancelled'))
    EXECUTE FUNCTION conveyor_dependency_failed();

-- A finished child counts its parent down; the last one wakes it (due at once).
CREATE FUNCTION conveyor_child_finished() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    woken boolean;
BEGIN
    UPDATE conveyor_jobs SET blockers = blockers - 1,
        run_at = CASE WHEN blockers <= 1 AND state = 'waiting'
            THEN least(run_at, coalesce(NEW.finished_at, run_at)) ELSE run_at END
    WHERE id = NEW.parent_id
    RETURNING blockers <= 0 AND state = 'waiting' INTO woken;
    IF woken THEN
        PERFORM pg_notify('conveyor_' || TG_TABLE_SCHEMA, '');
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER conveyor_child_finished AFTER UPDATE OF state ON conveyor_jobs
    FOR EACH ROW WHEN (OLD.parent_id IS NOT NULL
        AND NEW.state IN ('completed', 'failed', 'cancelled')
        AND OLD.state NOT IN ('completed', 'failed', 'cancelled'))
    EXECUTE FUNCTION conveyor_child_finished();
