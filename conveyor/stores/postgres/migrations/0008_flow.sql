-- Flow control: limits and pauses per job or queue, rate windows as bucket counts, and
-- each job's concurrency key (its limit group). Adding a nullable column is instant.
ALTER TABLE conveyor_jobs ADD COLUMN concurrency_key text;

CREATE TABLE conveyor_flow (
    kind text NOT NULL,
    name text NOT NULL,
    concurrency integer,
    rate_limit integer,
    rate_period double precision,
    paused boolean NOT NULL DEFAULT false,
    updated_at double precision NOT NULL,
    PRIMARY KEY (kind, name)
);

CREATE TABLE conveyor_rate (
    grp text NOT NULL,
    bucket double precision NOT NULL,
    n integer NOT NULL,
    expires_at double precision NOT NULL,
    PRIMARY KEY (grp, bucket)
);
CREATE INDEX conveyor_rate_expiry ON conveyor_rate (expires_at);

-- The due jobs a claim under flow rules looks at, in claim order, without locking them
-- (the claim locks limit groups first, then the rows it takes). A function for the same
-- reason as conveyor_due: the plan is always the ordered walk of conveyor_jobs_due.
CREATE FUNCTION conveyor_flow_peek(n integer, at double precision, queues text[],
    skip_jobs text[], skip_queues text[], skip_keys text[])
RETURNS TABLE (id bigint, job text, queue text, concurrency_key text)
LANGUAGE sql STABLE ROWS 50
SET search_path FROM CURRENT SET enable_sort = off SET enable_bitmapscan = off
SET enable_seqscan = off
AS $$
    SELECT j.id, j.job, j.queue, j.concurrency_key FROM conveyor_jobs AS j
    WHERE j.state IN ('pending', 'waiting') AND j.run_at <= at
        AND (queues IS NULL OR j.queue = ANY(queues))
        AND NOT (j.job = ANY(skip_jobs)) AND NOT (j.queue = ANY(skip_queues))
        AND NOT (j.job || chr(31) || coalesce(j.concurrency_key, '') = ANY(skip_keys))
    ORDER BY j.priority DESC, j.run_at, j.id
    LIMIT n
$$;
