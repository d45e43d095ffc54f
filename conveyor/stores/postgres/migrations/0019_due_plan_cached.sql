-- conveyor_due in PL/pgSQL: its query is planned once per session (a generic plan,
-- cached; planned again only when the table's statistics or schema change). As a SQL
-- function with SET clauses it was parsed and planned on every claim, a sixth of the
-- server's CPU per job. The SET clauses still pin that plan to the ordered walk of
-- conveyor_jobs_due that stops after n rows (migration 0001).
--
-- ROWS 1 (was 50): the claim joins the ids it returns to conveyor_jobs, and with 50 the
-- planner preferred a hash join over a sequential scan of the whole table to 50 primary
-- key probes on tables of up to ~15,000 rows (every claim read every row: at 5,000 rows
-- half the server's CPU per job). With 1 the probes win from a few hundred rows on.
CREATE OR REPLACE FUNCTION conveyor_due(n integer, queues text[]) RETURNS SETOF bigint
LANGUAGE plpgsql VOLATILE ROWS 1
SET search_path FROM CURRENT SET enable_sort = off SET enable_bitmapscan = off
SET enable_seqscan = off SET plan_cache_mode = force_generic_plan
AS $$
BEGIN
    RETURN QUERY SELECT j.id FROM conveyor_jobs AS j
    WHERE j.state IN ('pending', 'waiting') AND j.run_at <= conveyor_now()
        AND (queues IS NULL OR j.queue = ANY(queues))
    ORDER BY j.priority DESC, j.run_at, j.id
    LIMIT n
    FOR UPDATE SKIP LOCKED;
END
$$;
