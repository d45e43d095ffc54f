-- The functions the limited claim calls, in PL/pgSQL as conveyor_due (migration 0019):
-- their queries are planned once per session instead of on every call (a SQL function
-- with SET clauses is parsed and planned each time: 13% of the server's CPU per job of a
-- limited claim). Same queries, same plans, pinned by the same SET clauses.
CREATE OR REPLACE FUNCTION conveyor_flow_peek(n integer, at double precision, queues text[],
    skip_jobs text[], skip_queues text[], skip_keys text[])
RETURNS TABLE (id bigint, job text, queue text, concurrency_key text)
LANGUAGE plpgsql STABLE ROWS 50
SET search_path FROM CURRENT SET enable_sort = off SET enable_bitmapscan = off
SET enable_seqscan = off SET plan_cache_mode = force_generic_plan
AS $$
BEGIN
    RETURN QUERY SELECT j.id, j.job, j.queue, j.concurrency_key FROM conveyor_jobs AS j
    WHERE j.state IN ('pending', 'waiting') AND j.run_at <= at
        AND (queues IS NULL OR j.queue = ANY(queues))
        AND NOT (j.job = ANY(skip_jobs)) AND NOT (j.queue = ANY(skip_queues))
        AND NOT (j.job || chr(31) || coalesce(j.concurrency_key, '') = ANY(skip_keys))
    ORDER BY j.priority DESC, j.run_at, j.id
    LIMIT n;
END
$$;

CREATE OR REPLACE FUNCTION conveyor_flow_due(n integer, at double precision, queues text[],
    skip_jobs text[], skip_queues text[], skip_keys text[])
RETURNS TABLE (id bigint, job text, queue text, concurrency_key text)
LANGUAGE plpgsql VOLATILE ROWS 50
SET search_path FROM CURRENT SET enable_sort = off SET enable_bitmapscan = off
SET enable_seqscan = off SET plan_cache_mode = force_generic_plan
AS $$
BEGIN
    RETURN QUERY SELECT j.id, j.job, j.queue, j.concurrency_key FROM conveyor_jobs AS j
    WHERE j.state IN ('pending', 'waiting') AND j.run_at <= at
        AND (queues IS NULL OR j.queue = ANY(queues))
        AND NOT (j.job = ANY(skip_jobs)) AND NOT (j.queue = ANY(skip_queues))
        AND NOT (j.job || chr(31) || coalesce(j.concurrency_key, '') = ANY(skip_keys))
    ORDER BY j.priority DESC, j.run_at, j.id
    LIMIT n
    FOR UPDATE SKIP LOCKED;
END
$$;

CREATE OR REPLACE FUNCTION conveyor_flow_running(jobs text[], queues text[])
RETURNS TABLE (job text, queue text, concurrency_key text)
LANGUAGE plpgsql STABLE ROWS 50
SET search_path FROM CURRENT SET enable_bitmapscan = off SET enable_seqscan = off
SET plan_cache_mode = force_generic_plan
AS $$
BEGIN
    RETURN QUERY SELECT j.job, j.queue, j.concurrency_key FROM conveyor_jobs AS j
    WHERE j.state = 'running' AND (j.job = ANY(jobs) OR j.queue = ANY(queues));
END
$$;
