-- A job cancelled because a dependency failed or was cancelled names the dependency it
-- waited for (the lowest id among its failed or cancelled ones) and the run whose failure
-- or cancel started the cascade: error "dependency" and "cause", as on SQLite. Before,
-- every job down the graph named the run that started it, as if it depended on it
-- directly. A root is found through the dependencies named: the rows of one statement
-- have all failed by the time their triggers run, in no set order. The triggers of the
-- rows cancelled here find nothing left to cancel, and stop at the first check.
-- The recursive estimates are far too high: JIT compiling took longer than the query.
-- The dependencies inside the downstream set are found from the set itself (an unfinished
-- job depending on a job of the set is in it), never by joining the set to itself: with
-- its row estimate far too high, PostgreSQL ran such a join as a nested loop once the
-- tables were analyzed (a 5,000-job fan-out's cancel took seconds, not a tenth of one).
CREATE OR REPLACE FUNCTION conveyor_dependency_failed() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT SET jit = off AS $$
BEGIN
    IF NOT EXISTS (SELECT FROM conveyor_deps d JOIN conveyor_jobs j ON j.id = d.job_id
            AND j.state NOT IN ('completed', 'failed', 'cancelled') WHERE d.dep_id = NEW.id) THEN
        RETURN NULL;
    END IF;
    WITH RECURSIVE down(id) AS (
        SELECT d.job_id FROM conveyor_deps d JOIN conveyor_jobs j ON j.id = d.job_id
            AND j.state NOT IN ('completed', 'failed', 'cancelled')
        WHERE d.dep_id = NEW.id
        UNION
        SELECT d.job_id FROM conveyor_deps d JOIN down ON d.dep_id = down.id
            JOIN conveyor_jobs j ON j.id = d.job_id
            AND j.state NOT IN ('completed', 'failed', 'cancelled')
    ), within(id, via) AS (
        SELECT d.job_id, d.dep_id FROM down x JOIN conveyor_deps d ON d.dep_id = x.id
            JOIN conveyor_jobs j ON j.id = d.job_id
            AND j.state NOT IN ('completed', 'failed', 'cancelled')
    ), ended(id, via) AS (
        SELECT s.id, d.dep_id FROM down s JOIN conveyor_deps d ON d.job_id = s.id
            JOIN conveyor_jobs b ON b.id = d.dep_id AND b.state IN ('failed', 'cancelled')
    ), pick(id, via, inside) AS (
        SELECT DISTINCT ON (c.id) c.id, c.via, c.inside FROM (
            SELECT id, via, true FROM within UNION ALL SELECT id, via, false FROM ended
        ) AS c(id, via, inside) ORDER BY c.id, c.via
    ), tree(id, via, root) AS (
        SELECT p.id, p.via, CASE WHEN conveyor_as_jsonb(b.error) ->> 'type' = 'DependencyFailed'
                AND jsonb_typeof(conveyor_as_jsonb(b.error) -> 'cause') = 'number'
            THEN (conveyor_as_jsonb(b.error) ->> 'cause')::bigint ELSE b.id END
        FROM pick p JOIN conveyor_jobs b ON b.id = p.via
        WHERE NOT p.inside
        UNION ALL SELECT p.id, p.via, t.root FROM pick p JOIN tree t ON p.via = t.id
    ), named AS (
        SELECT t.id, json_build_object('type', 'DependencyFailed', 'message',
            format('run %s (%s), which this job depends on, %s, so this job was cancelled',
                v.id, v.job, CASE WHEN t.via = t.root THEN v.state ELSE 'was cancelled because '
                    || CASE WHEN r.id IS NULL THEN format('of run %s', t.root)
                    ELSE format('run %s (%s) %s', r.id, r.job, r.state) END END),
            'traceback', NULL, 'cause', t.root, 'dependency', t.via)::text AS error
        FROM tree t JOIN conveyor_jobs v ON v.id = t.via
            LEFT JOIN conveyor_jobs r ON r.id = t.root
    )
    UPDATE conveyor_jobs AS j SET state = 'cancelled', finished_at = NEW.finished_at,
        error = n.error, purge_at = NEW.finished_at + j.retention, dedupe_key = NULL,
        lease_token = NULL, lease_expires_at = NULL, worker_id = NULL
    FROM named AS n
    WHERE j.id = n.id AND j.state NOT IN ('completed', 'failed', 'cancelled');
    RETURN NULL;
END
$$;
