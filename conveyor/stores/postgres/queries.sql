-- Named queries of the PostgreSQL store. Each starts with "-- name: <name>".
-- Parameters are psycopg's %(name)s (%(name)b: sent in binary, for big arrays); times are
-- epoch seconds from the database clock.

-- name: now
SELECT conveyor_now()

-- name: insert_one
INSERT INTO conveyor_jobs (job, args, kwargs, payload, state, priority, queue, key, owner,
    dedupe_key, max_attempts, retry, timeout, retention, remove_delay, run_at, created_at,
    version, schedule_id, fire_at, rescheduled_from, event_id, concurrency_key, trace_context,
    owner_int)
SELECT %(job)s, %(args)s, %(kwargs)s, %(payload)s::jsonb, 'pending', %(priority)s, %(queue)s,
    %(key)s, %(owner)s, %(dedupe_key)s, %(max_attempts)s, %(retry)s, %(timeout)s,
    %(retention)s, %(remove_delay)s,
    coalesce(%(run_at)s::float8, (round(t.now * 1000000) + round(%(delay)s::float8 * 1000000)) / 1000000), t.now,
    %(version)s, %(schedule_id)s, %(fire_at)s, %(rescheduled_from)s, %(event_id)s,
    %(concurrency_key)s, %(trace_context)s, %(owner_int)s::boolean
FROM (SELECT conveyor_now() AS now) AS t
ON CONFLICT DO NOTHING
RETURNING id

-- name: insert_many
INSERT INTO conveyor_jobs (job, args, kwargs, payload, state, priority, queue, key, owner,
    max_attempts, retry, timeout, retention, remove_delay, run_at, created_at, version,
    schedule_id, fire_at, rescheduled_from, event_id, concurrency_key, trace_context, owner_int)
SELECT v.job, v.args, v.kwargs, v.payload::jsonb, 'pending', v.priority, v.queue, v.key,
    v.owner, v.max_attempts, v.retry, v.timeout, v.retention, v.remove_delay,
    coalesce(v.run_at, (round(t.now * 1000000) + round(v.delay * 1000000)) / 1000000), t.now, v.version,
    v.schedule_id, v.fire_at,
    v.rescheduled_from, v.event_id, v.concurrency_key, v.trace_context, v.owner_int
FROM unnest(%(job)b::text[], %(args)b::text[], %(kwargs)b::text[], %(payload)b::text[],
    %(priority)b::int[], %(queue)b::text[], %(key)b::text[], %(owner)b::text[],
    %(max_attempts)b::int[], %(retry)b::text[], %(timeout)b::float8[],
    %(retention)b::float8[], %(remove_delay)b::float8[], %(run_at)b::float8[],
    %(delay)b::float8[], %(version)b::text[], %(schedule_id)b::text[],
    %(fire_at)b::float8[], %(rescheduled_from)b::bigint[], %(event_id)b::text[],
    %(concurrency_key)b::text[], %(trace_context)b::text[], %(owner_int)b::boolean[])
    WITH ORDINALITY AS v(job, args, kwargs, payload, priority, queue, key, owner,
    max_attempts, retry, timeout, retention, remove_delay, run_at, delay, version,
    schedule_id, fire_at, rescheduled_from, event_id, concurrency_key, trace_context,
    owner_int, ord),
    (SELECT conveyor_now() AS now) AS t
ORDER BY v.ord
RETURNING id

-- name: reserve_ids
-- The database clock and n new ids for a COPY: the first and last when they are
-- consecutive (no other session took one meanwhile), else all of them.
SELECT (SELECT conveyor_now()), min(id), max(id),
    CASE WHEN max(id) - min(id) + 1 = count(*) THEN NULL ELSE array_agg(id) END
FROM (SELECT nextval('conveyor_jobs_id_seq') AS id FROM generate_series(1, %(n)s)) AS s

-- name: copy_jobs
COPY conveyor_jobs (id, job, args, kwargs, payload, priority, queue, key, owner,
    max_attempts, retry, timeout, retention, remove_delay, run_at, version, schedule_id,
    fire_at, rescheduled_from, event_id, concurrency_key, trace_context, owner_int, state,
    created_at) FROM STDIN

-- name: dedupe_lock
-- Serialises dedupe decisions for one job id and owner (in this schema) across processes.
SELECT pg_advisory_xact_lock(hashtextextended(
    current_schema() || chr(31) || %(job)s::text || chr(31) || coalesce(%(owner)s::text, ''),
    0))

-- name: match_pending
-- Pending = not started (due, due later or blocked by its dependencies), or started by a
-- worker whose lease has expired. The rows are locked: a worker claiming one meanwhile
-- is waited for (and the row, running now, no longer matches) or skips it until this
-- decision commits, so replace never cancels a job a live worker holds.
SELECT id FROM conveyor_jobs
WHERE (state IN ('pending', 'blocked') OR (state = 'running'
        AND lease_expires_at < conveyor_now()))
    AND job = %(job)s AND owner IS NOT DISTINCT FROM %(owner)s::text
ORDER BY id
FOR UPDATE

-- name: match_pending_key
SELECT id FROM conveyor_jobs
WHERE (state IN ('pending', 'blocked') OR (state = 'running'
        AND lease_expires_at < conveyor_now()))
    AND job = %(job)s AND owner IS NOT DISTINCT FROM %(owner)s::text AND key = %(key)s::text
ORDER BY id
FOR UPDATE

-- name: cancel_ids
UPDATE conveyor_jobs SET state = 'cancelled', finished_at = t.now, dedupe_key = NULL,
    purge_at = t.now + retention, lease_token = NULL,
    lease_expires_at = CASE WHEN lease_expires_at >= t.now THEN lease_expires_at END,
    worker_id = NULL
FROM (SELECT conveyor_now() AS now) AS t
WHERE id = ANY(%(ids)s::bigint[])

-- name: claim
-- One statement: lock due jobs (skipping those other workers hold) and lease them.
-- conveyor_due (migration 0001) selects them FOR UPDATE SKIP LOCKED in claim order.
UPDATE conveyor_jobs AS j SET state = 'running', attempts = j.attempts + 1,
    started_at = t.now, lease_token = %(token)s, lease_expires_at = t.now + %(lease)s,
    worker_id = %(worker)s, dedupe_key = NULL
FROM conveyor_due(%(limit)s, %(queues)s::text[]) AS due(id),
    (SELECT conveyor_now() AS now) AS t
WHERE j.id = due.id
    -- flow rules in force: the limited claim (flow.sql) takes over; a one-time filter
    AND NOT EXISTS (SELECT 1 FROM conveyor_flow AS f
        WHERE f.paused OR f.concurrency IS NOT NULL OR f.rate_limit IS NOT NULL)
RETURNING j.id, j.job, j.args, j.kwargs, j.attempts, j.max_attempts, j.retry, j.timeout,
    j.run_at, j.owner, j.key, j.queue, j.version, j.schedule_id, j.event_id, j.priority,
    t.now, j.concurrency_key, j.trace_context

-- name: complete
-- One statement per flush, fenced by lease token: outcomes of any kind at once. Fences
-- test the token only (it is set exactly while a job runs), so the plan is a primary-key
-- lookup per outcome, never a walk of the running set. %(commit)s = 'off' commits it
-- without waiting for the WAL flush (see PostgresStore's synchronous_complete). The
-- arrays travel in binary (%(x)b): no quoting of every element on the client.
UPDATE conveyor_jobs AS j SET
    state = o.state,
    result = CASE WHEN o.state = 'completed' THEN o.result ELSE j.result END,
    error = CASE WHEN o.state = 'completed' THEN NULL
        WHEN o.state = 'waiting' THEN j.error ELSE o.error END,
    finished_at = CASE WHEN o.state IN ('completed', 'failed', 'cancelled') THEN t.now
        ELSE j.finished_at END,
    progress = CASE WHEN o.state = 'completed' THEN 1.0 ELSE j.progress END,
    version = CASE WHEN o.state IN ('completed', 'waiting') THEN coalesce(o.version, j.version)
        ELSE j.version END,
    purge_at = CASE
        WHEN o.state = 'completed' AND j.remove_delay IS NOT NULL THEN t.now + j.remove_delay
        WHEN o.state IN ('completed', 'failed', 'cancelled') THEN t.now + j.retention
        ELSE j.purge_at END,
    history = CASE WHEN o.state IN ('failed', 'cancelled', 'pending') THEN
        coalesce(j.history, '[]'::jsonb) || jsonb_build_array(jsonb_build_object(
            'number', j.attempts, 'started_at', j.started_at, 'finished_at', t.now,
            'error', o.error::jsonb))
        ELSE j.history END,
    run_at = CASE WHEN o.state = 'pending'  -- on a whole microsecond, as clock.after_delay
        THEN coalesce(o.run_at, (round(t.now * 1000000) + round(o.delay * 1000000)) / 1000000)
        WHEN o.state = 'waiting' THEN coalesce(o.run_at, %(far_future)s) ELSE j.run_at END,
    attempts = CASE WHEN o.state = 'waiting' THEN j.attempts - 1 ELSE j.attempts END,
    rescues = 0, lease_token = NULL, lease_expires_at = NULL, worker_id = NULL
FROM unnest(%(ids)b::bigint[], %(tokens)b::bigint[], %(states)b::text[],
    %(results)b::text[], %(errors)b::text[], %(run_ats)b::float8[], %(delays)b::float8[],
    %(versions)b::text[]) AS o(id, token, state, result, error, run_at, delay, version),
    (SELECT conveyor_now() AS now, set_config('synchronous_commit',
        coalesce(%(commit)s, current_setting('synchronous_commit')), true)) AS t
WHERE j.id = o.id AND j.lease_token = o.token

-- name: heartbeat
-- Renews the leases this worker still holds (fenced); the ones not returned are lost.
-- A row another transaction has locked (most often this worker's own completion of it)
-- is skipped, never waited for: a wait would hold back every other renewal. It is
-- returned as held (its token as last committed) and renewed by the next heartbeat.
WITH h AS (SELECT * FROM unnest(%(ids)b::bigint[], %(tokens)b::bigint[]) AS h(id, token)),
free AS (SELECT j.id FROM conveyor_jobs AS j JOIN h ON j.id = h.id AND j.lease_token = h.token
    ORDER BY j.id FOR UPDATE OF j SKIP LOCKED),
renewed AS (UPDATE conveyor_jobs AS j SET lease_expires_at = conveyor_now() + %(lease)s
    FROM free WHERE j.id = free.id)
SELECT j.id, j.lease_token FROM conveyor_jobs AS j JOIN h ON j.id = h.id AND j.lease_token = h.token

-- name: release
UPDATE conveyor_jobs AS j SET state = 'pending', run_at = conveyor_now(),
    attempts = j.attempts - 1, started_at = NULL,
    lease_token = NULL, lease_expires_at = NULL, worker_id = NULL
FROM unnest(%(id)b::bigint[], %(token)b::bigint[]) AS o(id, token)
WHERE j.id = o.id AND j.lease_token = o.token

-- name: rescue_progressed
-- A durable run that stored a step in the attempt whose lease expired made progress: its
-- earlier rescues stop counting toward poison (a long run outliving several crashes).
UPDATE conveyor_jobs AS j SET rescues = 0
FROM (SELECT conveyor_now() AS now) AS t
WHERE j.state = 'running' AND j.lease_expires_at < t.now AND j.rescues > 0
    AND EXISTS (SELECT 1 FROM conveyor_steps AS s
        WHERE s.job_id = j.id AND s.finished_at >= j.started_at)

-- name: rescue
-- The expired jobs %(ids)s, each counting %(step)s toward poison (stores/core/leases.py).
UPDATE conveyor_jobs SET rescues = rescues + %(step)s,
    state = CASE WHEN rescues + %(step)s >= %(max)s THEN 'failed' ELSE 'pending' END,
    error = CASE WHEN rescues + %(step)s >= %(max)s THEN %(poison)s ELSE %(error)s END,
    history = coalesce(history, '[]'::jsonb) || jsonb_build_array(jsonb_build_object(
        'number', attempts, 'started_at', started_at, 'finished_at', t.now,
        'error', %(error)s::jsonb)),
    finished_at = CASE WHEN rescues + %(step)s >= %(max)s THEN t.now END,
    purge_at = CASE WHEN rescues + %(step)s >= %(max)s THEN t.now + retention END,
    run_at = t.now, lease_token = NULL, lease_expires_at = NULL, worker_id = NULL,
    rescued_worker = worker_id
FROM (SELECT conveyor_now() AS now) AS t
WHERE id = ANY(%(ids)s::bigint[]) AND state = 'running' AND lease_expires_at < t.now

-- name: progress
UPDATE conveyor_jobs AS j SET progress = p.fraction, progress_message = p.message
FROM unnest(%(id)s::bigint[], %(token)s::bigint[], %(fraction)s::float8[],
    %(message)s::text[]) AS p(id, token, fraction, message)
WHERE j.id = p.id AND j.lease_token = p.token

-- name: add_logs
INSERT INTO conveyor_logs (job_id, attempt, at, level, message)
SELECT * FROM unnest(%(id)s::bigint[], %(attempt)s::int[], %(at)s::float8[],
    %(level)s::text[], %(message)s::text[])

-- name: logs_of
SELECT job_id, attempt, at, level, message FROM conveyor_logs
WHERE job_id = ANY(%(ids)s::bigint[]) ORDER BY job_id, at, id

-- name: counts_by_state
-- Unfinished rows through the due and running indexes; finished ones one state at a time
-- through conveyor_jobs_finished_state (a plain count per range, cheaper than grouping).
SELECT {state} AS s, count(*) FROM conveyor_jobs WHERE state IN ('pending', 'waiting') GROUP BY s
UNION ALL SELECT 'running', count(*) FROM conveyor_jobs WHERE state = 'running'
UNION ALL SELECT 'blocked', count(*) FROM conveyor_jobs WHERE state = 'blocked'
UNION ALL SELECT 'completed', count(*) FROM conveyor_jobs
    WHERE finished_at IS NOT NULL AND state = 'completed'
UNION ALL SELECT 'failed', count(*) FROM conveyor_jobs
    WHERE finished_at IS NOT NULL AND state = 'failed'
UNION ALL SELECT 'cancelled', count(*) FROM conveyor_jobs
    WHERE finished_at IS NOT NULL AND state = 'cancelled'

-- name: throughput
-- (double precision buckets, and NaN left out, which sorts above every number here: a
-- time no worker stores, written by hand, must not fail the overview)
SELECT floor((finished_at - %(since)s) / %(bucket)s) AS b,
    count(*) FILTER (WHERE state = 'completed'), count(*) FILTER (WHERE state = 'failed')
FROM conveyor_jobs WHERE finished_at >= %(since)s AND finished_at < 'Infinity'
GROUP BY b ORDER BY b

-- name: retry_job
UPDATE conveyor_jobs SET state = 'pending', run_at = conveyor_now(),
    finished_at = NULL, purge_at = NULL, result = NULL, rescues = 0, lease_expires_at = NULL,
    max_attempts = greatest(max_attempts, attempts + 1),
    -- keep the finished attempt in the history (completed ones are not in it yet; one
    -- that is not an array, or an error that is not JSON, written by hand, must not stop
    -- it: such an error is kept as a JSON string)
    history = CASE WHEN started_at IS NOT NULL
        AND attempts > jsonb_array_length(CASE WHEN jsonb_typeof(history) = 'array'
            THEN history ELSE '[]'::jsonb END) THEN
        coalesce(history, '[]'::jsonb) || jsonb_build_array(jsonb_build_object(
            'number', attempts, 'started_at', started_at, 'finished_at', finished_at,
            'error', CASE WHEN state = 'completed' THEN NULL ELSE conveyor_as_jsonb(error) END))
        ELSE history END
WHERE id = ANY(%(ids)s::bigint[]) AND state IN ('failed', 'cancelled', 'completed')
RETURNING id

-- name: notify
SELECT pg_notify('conveyor_' || current_schema(), '')

-- name: save_step
-- One statement: fence on the lease (row lock), optionally suspend the run until
-- %(suspend)s, upsert the step.
WITH fence AS (
    SELECT id FROM conveyor_jobs
    WHERE id = %(job_id)s AND lease_token = %(token)s AND state = 'running' FOR UPDATE),
suspended AS (
    UPDATE conveyor_jobs AS j SET state = 'waiting', run_at = %(suspend)s::float8,
        attempts = j.attempts - 1, rescues = 0, version = coalesce(%(version)s, j.version),
        lease_token = NULL, lease_expires_at = NULL, worker_id = NULL
    FROM fence WHERE j.id = fence.id AND %(suspend)s::float8 IS NOT NULL)
INSERT INTO conveyor_steps (job_id, seq, key, kind, state, input, output, error, attempts,
    history, wake_at, event_name, fingerprint, started_at, finished_at)
SELECT %(job_id)s, %(seq)s, %(key)s, %(kind)s, %(state)s, %(input)s, %(output)s,
    %(error)s, %(attempts)s, %(history)s, %(wake_at)s, %(event_name)s, %(fingerprint)s,
    %(started_at)s, %(finished_at)s
FROM fence
ON CONFLICT (job_id, seq) DO UPDATE SET
    key = excluded.key, kind = excluded.kind, state = excluded.state, input =
    excluded.input, output = excluded.output, error = excluded.error, attempts =
    excluded.attempts, history = excluded.history, wake_at = excluded.wake_at,
    event_name = excluded.event_name, fingerprint = excluded.fingerprint, started_at =
    excluded.started_at, finished_at = excluded.finished_at

-- name: save_steps
-- save_step for the steps of many runs (none suspending) in one statement: each is
-- stored if its run is still held with its token (row locks in id order); returns the
-- (job_id, seq) of those stored.
WITH w AS (
    SELECT * FROM unnest(%(token)s::bigint[], %(job_id)s::bigint[], %(seq)s::int[],
        %(key)s::text[], %(kind)s::text[], %(state)s::text[], %(input)s::text[],
        %(output)s::text[], %(error)s::text[], %(attempts)s::int[], %(history)s::text[],
        %(wake_at)s::float8[], %(event_name)s::text[], %(fingerprint)s::text[],
        %(started_at)s::float8[], %(finished_at)s::float8[])
    AS w(token, job_id, seq, key, kind, state, input, output, error, attempts, history,
        wake_at, event_name, fingerprint, started_at, finished_at)),
fence AS (
    SELECT id, lease_token FROM conveyor_jobs
    WHERE id = ANY(%(job_id)s::bigint[]) AND state = 'running' ORDER BY id FOR UPDATE)
INSERT INTO conveyor_steps (job_id, seq, key, kind, state, input, output, error, attempts,
    history, wake_at, event_name, fingerprint, started_at, finished_at)
SELECT w.job_id, w.seq, w.key, w.kind, w.state, w.input, w.output, w.error, w.attempts,
    w.history, w.wake_at, w.event_name, w.fingerprint, w.started_at, w.finished_at
FROM w JOIN fence ON fence.id = w.job_id AND fence.lease_token = w.token
ON CONFLICT (job_id, seq) DO UPDATE SET
    key = excluded.key, kind = excluded.kind, state = excluded.state, input =
    excluded.input, output = excluded.output, error = excluded.error, attempts =
    excluded.attempts, history = excluded.history, wake_at = excluded.wake_at,
    event_name = excluded.event_name, fingerprint = excluded.fingerprint, started_at =
    excluded.started_at, finished_at = excluded.finished_at
RETURNING job_id, seq

-- name: stored_event
SELECT id, name, payload, sent_at, deliver_at, delivered_at, source FROM conveyor_events
WHERE id = %(id)s FOR UPDATE

-- name: hold
SELECT id FROM conveyor_jobs WHERE id = %(id)s AND lease_token = %(token)s
    AND state = 'running'
FOR UPDATE

-- name: link
UPDATE conveyor_jobs AS j SET state = l.state, blockers = l.blockers, watched = l.watched,
    pipe = l.pipe, parent_id = l.parent_id, parent_seq = l.parent_seq,
    child_index = l.child_index, error = l.error,
    finished_at = CASE WHEN l.state = 'cancelled' THEN t.now END,
    purge_at = CASE WHEN l.state = 'cancelled' THEN t.now + j.retention END
FROM unnest(%(id)s::bigint[], %(state)s::text[], %(blockers)s::int[], %(watched)s::bool[],
    %(pipe)s::text[], %(parent_id)s::bigint[], %(parent_seq)s::int[],
    %(child_index)s::int[], %(error)s::text[]) AS l(id, state, blockers, watched, pipe,
    parent_id, parent_seq, child_index, error),
    (SELECT conveyor_now() AS now) AS t
WHERE j.id = l.id

-- name: link_counts
INSERT INTO conveyor_waits (job_id, blockers)
SELECT * FROM unnest(%(id)s::bigint[], %(blockers)s::int[])
ON CONFLICT (job_id) DO UPDATE SET blockers = excluded.blockers

-- name: insert_edges
INSERT INTO conveyor_deps (job_id, position, dep_id, done)
SELECT * FROM unnest(%(job_id)s::bigint[], %(position)s::int[], %(dep_id)s::bigint[],
    %(done)s::bool[])

-- name: reopen
-- A retried workflow job after retry_job (stores/retrylogic.py decided): blocked on its
-- unfinished dependencies (link_counts sets its count), or fed their results now (its
-- pipe is then used up).
UPDATE conveyor_jobs AS j SET state = r.state, blockers = r.blockers,
    pipe = CASE WHEN r.args IS NULL THEN j.pipe END,
    args = coalesce(r.args, j.args), payload = coalesce(r.payload::jsonb, j.payload),
    error = CASE WHEN r.restored THEN NULL ELSE j.error END
FROM unnest(%(id)s::bigint[], %(state)s::text[], %(blockers)s::int[], %(args)s::text[],
    %(payload)s::text[], %(restored)s::bool[]) AS r(id, state, blockers, args, payload, restored)
WHERE j.id = r.id

-- name: reopen_edges
UPDATE conveyor_deps AS d SET done = e.done
FROM unnest(%(job_id)s::bigint[], %(dep_id)s::bigint[], %(done)s::bool[])
    AS e(job_id, dep_id, done)
WHERE d.job_id = e.job_id AND d.dep_id = e.dep_id

-- name: reopen_failed_step
-- After retry_job: a durable run ended by a failed step runs that step again (its
-- attempts and history kept); a failed step the run went on from (caught) stays failed.
UPDATE conveyor_steps AS s SET state = 'waiting', wake_at = NULL, finished_at = NULL
WHERE s.job_id = ANY(%(ids)s::bigint[]) AND s.state = 'failed'
    AND s.seq = (SELECT max(l.seq) FROM conveyor_steps l WHERE l.job_id = s.job_id)

-- name: reblock
-- After retry_job: a dependent still blocked on other jobs waits again for each retried
-- dependency (it must receive the new result, never the blanked one): its count goes up
-- and those links are unfinished again, so the dependency's completion releases it. A
-- dependent released meanwhile (its count row deleted) keeps what it received.
WITH edges AS (
    SELECT d.job_id, count(*) AS n FROM conveyor_deps d
    JOIN conveyor_jobs j ON j.id = d.job_id AND j.state = 'blocked'
    WHERE d.dep_id = ANY(%(ids)s::bigint[]) AND d.done GROUP BY d.job_id
), counted AS (
    UPDATE conveyor_waits AS w SET blockers = w.blockers + e.n FROM edges AS e
    WHERE w.job_id = e.job_id RETURNING w.job_id
)
UPDATE conveyor_deps SET done = false
WHERE dep_id = ANY(%(ids)s::bigint[]) AND done AND job_id IN (SELECT job_id FROM counted)

-- name: start_count
INSERT INTO conveyor_waits (job_id, blockers) VALUES (%(id)s, %(blockers)s)
ON CONFLICT (job_id) DO UPDATE SET blockers = excluded.blockers

-- name: lock_count
INSERT INTO conveyor_waits (job_id, blockers) VALUES (%(id)s, 0)
ON CONFLICT (job_id) DO UPDATE SET blockers = conveyor_waits.blockers

-- name: set_count
UPDATE conveyor_waits SET blockers = %(left)s WHERE job_id = %(id)s

-- name: wait_for_children
UPDATE conveyor_jobs SET state = 'waiting', blockers = %(left)s,
    run_at = CASE WHEN %(left)s > 0 THEN %(far)s ELSE conveyor_now() END,
    attempts = attempts - 1, rescues = 0, version = coalesce(%(version)s, version),
    lease_token = NULL, lease_expires_at = NULL, worker_id = NULL
WHERE id = %(id)s AND lease_token = %(token)s
RETURNING run_at

-- name: cancel_tree
WITH RECURSIVE tree(id) AS (
    SELECT %(id)s::bigint UNION ALL
    SELECT j.id FROM conveyor_jobs j JOIN tree ON j.parent_id = tree.id)
UPDATE conveyor_jobs AS j SET state = 'cancelled', finished_at = t.now, dedupe_key = NULL,
    purge_at = t.now + j.retention, lease_token = NULL,
    lease_expires_at = CASE WHEN j.lease_expires_at >= t.now THEN j.lease_expires_at END,
    worker_id = NULL
FROM (SELECT conveyor_now() AS now) AS t
WHERE j.id IN (SELECT id FROM tree)
    AND j.state NOT IN ('completed', 'failed', 'cancelled')

-- name: schedules
-- (by id in code point order, as SQLite's, whatever the database's collation)
SELECT id, job, definition, args, kwargs, options, paused, source, misfire, created_at,
    updated_at, revision, fingerprint
FROM conveyor_schedules ORDER BY id COLLATE "C"
