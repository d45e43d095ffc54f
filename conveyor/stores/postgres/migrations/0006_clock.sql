-- The clock every due time, lease and rescue is decided on: the database clock, unless
-- the session set conveyor.now (an app given a clock= passes its time that way, so
-- moving that clock moves every decision made in SQL).
CREATE FUNCTION conveyor_now() RETURNS float8 LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT coalesce(nullif(current_setting('conveyor.now', true), '')::float8,
                    extract(epoch from now())::float8)
$$;

CREATE OR REPLACE FUNCTION conveyor_due(n integer, queues text[]) RETURNS SETOF bigint
LANGUAGE sql VOLATILE ROWS 50
SET search_path FROM CURRENT SET enable_sort = off SET enable_bitmapscan = off
SET enable_seqscan = off
AS $$
    SELECT id FROM conveyor_jobs
    WHERE state IN ('pending', 'waiting') AND run_at <= conveyor_now()
        AND (queues IS NULL OR queue = ANY(queues))
    ORDER BY priority DESC, run_at, id
    LIMIT n
    FOR UPDATE SKIP LOCKED
$$;
