-- Named queries of flow control (loaded with queries.sql; same format).

-- name: flow_rules
SELECT kind, name, concurrency, rate_limit, rate_period, paused FROM conveyor_flow
WHERE paused OR concurrency IS NOT NULL OR rate_limit IS NOT NULL

-- name: flow_peek
-- %(now)s NULL: the clock now (the first peek of a claim reads it here, in one round trip).
SELECT id, job, queue, concurrency_key FROM conveyor_flow_peek(%(limit)s,
    coalesce(%(now)s::float8, nullif(current_setting('conveyor.now', true), '')::float8,
        extract(epoch from clock_timestamp())::float8),
    %(queues)s::text[], %(skip_jobs)s::text[], %(skip_queues)s::text[], %(skip_keys)s::text[])

-- name: flow_clock
-- The time a limited claim starts its jobs at: read once the group locks are held (not
-- the transaction's start, which waiting for a lock would leave behind), unless the app
-- passes its own clock (conveyor.now).
SELECT coalesce(nullif(current_setting('conveyor.now', true), '')::float8,
    extract(epoch from clock_timestamp())::float8)

-- name: flow_lock
-- Advisory transaction locks on limit groups, taken in the order given (sorted); returns
-- the clock once they are held (as flow_clock), which the claim starts its jobs at.
SELECT coalesce(nullif(current_setting('conveyor.now', true), '')::float8,
    extract(epoch from clock_timestamp())::float8)
FROM (SELECT count(pg_advisory_xact_lock(hashtextextended(%(prefix)s || g, 0))) AS n
    FROM unnest(%(groups)s::text[]) AS g) AS locked
WHERE locked.n >= 0

-- name: flow_try_lock
SELECT g FROM unnest(%(groups)s::text[]) AS g
WHERE pg_try_advisory_xact_lock(hashtextextended(%(prefix)s || g, 0))

-- name: flow_running
-- By index, whatever the planner would choose (migration 0012).
SELECT job, queue, concurrency_key FROM conveyor_flow_running(%(jobs)s::text[],
    %(queues)s::text[])

-- name: flow_rate_used
SELECT grp, sum(n)::bigint FROM conveyor_rate
WHERE grp = ANY(%(groups)s::text[]) AND expires_at > %(now)s GROUP BY grp

-- name: flow_record_starts
-- Only rows of groups this claim holds locks on: claims never wait on each other's rows.
WITH gone AS (
    DELETE FROM conveyor_rate WHERE grp = ANY(%(groups)s::text[]) AND expires_at <= %(now)s
)
INSERT INTO conveyor_rate AS r (grp, bucket, n, expires_at)
SELECT * FROM unnest(%(groups)s::text[], %(buckets)s::float8[], %(counts)s::int[],
    %(expiries)s::float8[])
ON CONFLICT (grp, bucket) DO UPDATE SET n = r.n + excluded.n,
    expires_at = greatest(r.expires_at, excluded.expires_at)

-- name: flow_take
-- The jobs flowlogic picked, still due and not taken by another worker meanwhile. Rows
-- are found by primary key: the state is tested on the locked row, outside the subquery
-- (OFFSET 0 keeps it there), else the planner may walk a whole partial index of due jobs
-- (conveyor_jobs_match, conveyor_jobs_due: the backlog) for 50 ids.
UPDATE conveyor_jobs AS j SET state = 'running', attempts = j.attempts + 1,
    started_at = %(now)s, lease_token = %(token)s, lease_expires_at = %(now)s + %(lease)s,
    worker_id = %(worker)s, dedupe_key = NULL
FROM (SELECT id, state FROM conveyor_jobs WHERE id = ANY(%(ids)s::bigint[])
        OFFSET 0 FOR UPDATE SKIP LOCKED) AS due
WHERE j.id = due.id AND due.state IN ('pending', 'waiting')
RETURNING j.id, j.job, j.args, j.kwargs, j.attempts, j.max_attempts, j.retry, j.timeout,
    j.run_at, j.owner, j.key, j.queue, j.version, j.schedule_id, j.event_id, j.priority,
    %(now)s::float8, j.concurrency_key, j.trace_context

-- name: flow_sync
INSERT INTO conveyor_flow AS f (kind, name, concurrency, rate_limit, rate_period, updated_at)
SELECT v.kind, v.name, v.concurrency, v.rate_limit, v.rate_period, conveyor_now()
FROM unnest(%(kind)s::text[], %(name)s::text[], %(concurrency)s::int[],
    %(rate_limit)s::int[], %(rate_period)s::float8[])
    AS v(kind, name, concurrency, rate_limit, rate_period)
ON CONFLICT (kind, name) DO UPDATE SET concurrency = excluded.concurrency,
    rate_limit = excluded.rate_limit, rate_period = excluded.rate_period,
    updated_at = excluded.updated_at
WHERE f.concurrency IS DISTINCT FROM excluded.concurrency
    OR f.rate_limit IS DISTINCT FROM excluded.rate_limit
    OR f.rate_period IS DISTINCT FROM excluded.rate_period

-- name: flow_prune
-- Old rate buckets of groups nobody claims any more (rows a claim holds are skipped).
DELETE FROM conveyor_rate WHERE ctid IN (
    SELECT ctid FROM conveyor_rate WHERE expires_at <= conveyor_now() - 60
    LIMIT 10000 FOR UPDATE SKIP LOCKED)
