-- Named queries of flow control (loaded with queries.sql; same format).

-- name: flow_rules
SELECT kind, name, concurrency, rate_limit, rate_period, paused FROM conveyor_flow
WHERE paused OR concurrency IS NOT NULL OR rate_limit IS NOT NULL

-- name: flow_claim
-- The limited claim, one call (migration 0014): the taken rows, then a status row.
SELECT * FROM conveyor_flow_claim(%(limit)s, %(queues)s::text[], %(prefix)s, %(token)s,
    %(lease)s, %(worker)s, %(trusted)s::text[])

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
