-- The cascade of 0021 without joining its downstream set to itself. Its step that picks
-- the dependency each cancelled job names looked its dependencies up in that set (LEFT
-- JOIN down): with the recursive set's row estimate far too high, PostgreSQL ran that as a
-- nested loop over the set once per dependency edge once the tables were analyzed, so
-- cancelling the head of a 5,000-job fan-out took seconds (25 million rows compared)
-- instead of a tenth of one. The dependencies inside the set are found from it instead:
-- an unfinished job depending on a job of the set is in the set itself. Same names,
-- causes and rows cancelled as 0021.
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
