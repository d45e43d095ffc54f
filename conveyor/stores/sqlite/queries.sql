-- Named queries of the SQLite store (they override core/queries.sql of the same name).
-- Each starts with "-- name: <name>". Parameters are :name; :now is the store's clock
-- (epoch seconds, passed in); lists are JSON arrays read with json_each.

-- name: counts_by_state
-- Index-only counts (the due, lease and finished indexes), not a scan of every row.
SELECT {state} AS s, count(*) FROM conveyor_jobs
WHERE state IN ('pending', 'waiting') GROUP BY s
UNION ALL SELECT 'running', count(*) FROM conveyor_jobs WHERE state = 'running'
UNION ALL SELECT 'blocked', count(*) FROM conveyor_jobs WHERE state = 'blocked'
UNION ALL SELECT state, count(*) FROM conveyor_jobs WHERE finished_at IS NOT NULL
    AND state IN ('completed', 'failed', 'cancelled') GROUP BY state

-- name: logs_of
SELECT job_id, attempt, at, level, message FROM conveyor_logs
WHERE job_id IN (SELECT value FROM json_each(:ids)) ORDER BY job_id, at, rowid

-- name: next_due_queues
-- next_due (core/queries.sql) per queue, through conveyor_jobs_due_queue.
WITH RECURSIVE p(queue, priority) AS (
    SELECT q.value, (SELECT priority FROM conveyor_jobs
            WHERE state IN ('pending', 'waiting') AND queue = q.value
            ORDER BY priority DESC LIMIT 1)
    FROM json_each(:queues) AS q
    UNION ALL
    SELECT p.queue, (SELECT j.priority FROM conveyor_jobs AS j
            WHERE j.state IN ('pending', 'waiting') AND j.queue = p.queue
                AND j.priority < p.priority
            ORDER BY j.priority DESC LIMIT 1)
    FROM p WHERE p.priority IS NOT NULL
)
SELECT min((SELECT j.run_at FROM conveyor_jobs AS j
        WHERE j.state IN ('pending', 'waiting') AND j.queue = p.queue
            AND j.priority = p.priority
        ORDER BY j.run_at LIMIT 1))
FROM p WHERE p.priority IS NOT NULL

-- name: throughput
SELECT CAST((finished_at - :since) / :bucket AS INTEGER) AS b,
    sum(state = 'completed'), sum(state = 'failed')
FROM conveyor_jobs WHERE finished_at >= :since GROUP BY b ORDER BY b

-- name: retry_job
UPDATE conveyor_jobs SET state = 'pending', run_at = :now, finished_at = NULL,
    purge_at = NULL, result = NULL, rescues = 0, lease_expires_at = NULL,
    max_attempts = max(max_attempts, attempts + 1),
    -- keep the finished attempt in the history (completed ones are not in it yet)
    -- (a history or error that is not JSON, written by hand, must not stop it); times as
    -- 17 digits, as in the other history entries
    history = CASE WHEN started_at IS NOT NULL
        AND attempts > json_array_length(CASE WHEN json_valid(history) THEN history
            ELSE '[]' END) THEN
        json_insert(CASE WHEN json_valid(history) THEN history ELSE '[]' END, '$[#]',
            json_object('number', attempts, 'started_at', json(printf('%!.17g', started_at)),
            'finished_at', json(iif(finished_at IS NULL, NULL, printf('%!.17g', finished_at))),
            'error', CASE WHEN state = 'completed' THEN NULL
                WHEN json_valid(error) THEN json(error) ELSE error END))
        ELSE history END
WHERE id IN (SELECT value FROM json_each(:ids)) AND state IN ('failed', 'cancelled', 'completed')
RETURNING id

-- name: heartbeat
-- Renews the leases of the jobs this worker holds (by id: no index of worker_id to keep
-- up on every claim and completion); the core compares the tokens returned with its own.
UPDATE conveyor_jobs SET lease_expires_at = :now + :lease
WHERE id IN (SELECT value FROM json_each(:ids)) AND worker_id = :worker
    AND state = 'running'
RETURNING id, lease_token

-- name: release
UPDATE conveyor_jobs SET state = 'pending', run_at = :now, attempts = attempts - 1,
    started_at = NULL, lease_token = NULL, lease_expires_at = NULL, worker_id = NULL
WHERE id = :id AND lease_token = :token AND state = 'running'

-- name: rescue_progressed
-- A durable run that stored a step in the attempt whose lease expired made progress: its
-- earlier rescues stop counting toward poison (a long run outliving several crashes).
UPDATE conveyor_jobs SET rescues = 0
WHERE state = 'running' AND lease_expires_at < :now AND rescues > 0
    AND EXISTS (SELECT 1 FROM conveyor_steps AS s
        WHERE s.job_id = conveyor_jobs.id AND s.finished_at >= conveyor_jobs.started_at)

-- name: rescue
-- The expired jobs :ids, each counting :step toward poison (stores/core/leases.py).
UPDATE conveyor_jobs SET rescues = rescues + :step,
    state = CASE WHEN rescues + :step >= :max THEN 'failed' ELSE 'pending' END,
    error = CASE WHEN rescues + :step >= :max THEN :poison ELSE :error END,
    -- (a history that is not JSON, written by hand, starts again: it must not stop this)
    -- Times go in as text of 17 digits: JSON's 15 would round them (finished before started).
    history = json_insert(CASE WHEN json_valid(history) THEN history ELSE '[]' END, '$[#]',
        json_object('number', attempts, 'started_at', json(printf('%!.17g', started_at)),
        'finished_at', json(printf('%!.17g', :now)),
        'error', json(:error))),
    finished_at = CASE WHEN rescues + :step >= :max THEN :now END,
    purge_at = CASE WHEN rescues + :step >= :max THEN :now + retention END,
    run_at = :now, lease_token = NULL, lease_expires_at = NULL, worker_id = NULL,
    rescued_worker = worker_id
WHERE id IN (SELECT value FROM json_each(:ids)) AND state = 'running'
    AND lease_expires_at < :now

-- name: progress
UPDATE conveyor_jobs SET progress = :fraction, progress_message = :message
WHERE id = :id AND lease_token = :token AND state = 'running'

-- name: add_logs
INSERT INTO conveyor_logs (job_id, attempt, at, level, message)
VALUES (:id, :attempt, :at, :level, :message)

-- name: save_step
-- Insert or replace the step while the run is still held with :token.
INSERT OR REPLACE INTO conveyor_steps (job_id, seq, key, kind, state, input, output,
    error, attempts, history, wake_at, event_name, fingerprint, started_at, finished_at)
SELECT :job_id, :seq, :key, :kind, :state, :input, :output, :error, :attempts, :history,
    :wake_at, :event_name, :fingerprint, :started_at, :finished_at
WHERE EXISTS (SELECT 1 FROM conveyor_jobs
    WHERE id = :job_id AND lease_token = :token AND state = 'running')

-- name: suspend
-- After save_step: the run waits until :suspend (an event may wake it sooner).
UPDATE conveyor_jobs SET state = 'waiting', run_at = :suspend, attempts = attempts - 1,
    rescues = 0, version = coalesce(:version, version), lease_token = NULL,
    lease_expires_at = NULL, worker_id = NULL
WHERE id = :job_id AND lease_token = :token AND state = 'running'

-- name: link
-- The workflow columns of a freshly inserted job (graphlogic.plan decided them).
UPDATE conveyor_jobs SET state = :state, blockers = :blockers, watched = :watched,
    pipe = :pipe, parent_id = :parent_id, parent_seq = :parent_seq,
    child_index = :child_index, error = :error,
    finished_at = CASE WHEN :state = 'cancelled' THEN :now END,
    purge_at = CASE WHEN :state = 'cancelled' THEN :now + retention END
WHERE id = :id

-- name: insert_edges
INSERT INTO conveyor_deps (job_id, position, dep_id, done)
VALUES (:job_id, :position, :dep_id, :done)

-- name: reopen
-- A retried workflow job after retry_job (stores/retrylogic.py decided): blocked on its
-- unfinished dependencies, or fed their results now (its pipe is then used up).
UPDATE conveyor_jobs SET state = :state, blockers = :blockers,
    pipe = CASE WHEN :args IS NULL THEN pipe END,
    args = coalesce(:args, args), payload = coalesce(:payload, payload),
    error = CASE WHEN :restored THEN NULL ELSE error END
WHERE id = :id

-- name: reopen_edges
UPDATE conveyor_deps SET done = :done WHERE job_id = :job_id AND dep_id = :dep_id

-- name: reopen_failed_step
-- After retry_job: a durable run ended by a failed step runs that step again (its
-- attempts and history kept); a failed step the run went on from (caught) stays failed.
UPDATE conveyor_steps SET state = 'waiting', wake_at = NULL, finished_at = NULL
WHERE job_id IN (SELECT value FROM json_each(:ids)) AND state = 'failed'
    AND seq = (SELECT max(s.seq) FROM conveyor_steps s WHERE s.job_id = conveyor_steps.job_id)

-- name: reblock
-- After retry_job: a dependent still blocked on other jobs waits again for each retried
-- dependency (it must receive the new result, never the blanked one); reblock_edges
-- then marks those links unfinished, so the dependency's completion releases it.
UPDATE conveyor_jobs SET blockers = blockers + (SELECT count(*) FROM conveyor_deps d
    WHERE d.job_id = conveyor_jobs.id AND d.done = 1
        AND d.dep_id IN (SELECT value FROM json_each(:ids)))
WHERE state = 'blocked' AND id IN (SELECT job_id FROM conveyor_deps
    WHERE done = 1 AND dep_id IN (SELECT value FROM json_each(:ids)))

-- name: reblock_edges
UPDATE conveyor_deps SET done = 0
WHERE done = 1 AND dep_id IN (SELECT value FROM json_each(:ids)) AND EXISTS (
    SELECT 1 FROM conveyor_jobs j WHERE j.id = conveyor_deps.job_id AND j.state = 'blocked')

-- name: wait_for_children
-- After save_step: the run waits until its :left unfinished children are done.
UPDATE conveyor_jobs SET state = 'waiting', blockers = :left,
    run_at = CASE WHEN :left > 0 THEN :far ELSE :now END,
    attempts = attempts - 1, rescues = 0, version = coalesce(:version, version),
    lease_token = NULL, lease_expires_at = NULL, worker_id = NULL
WHERE id = :id AND lease_token = :token AND state = 'running'
RETURNING run_at

-- name: cancel_tree
-- (error: a matched row the row trigger cancelled in this statement is a plain cancel, as
-- in core's cancel)
UPDATE conveyor_jobs SET state = 'cancelled', finished_at = :now, dedupe_key = NULL,
    error = CASE WHEN state = 'cancelled' THEN NULL ELSE error END,
    purge_at = :now + retention, lease_token = NULL,
    lease_expires_at = CASE WHEN lease_expires_at >= :now THEN lease_expires_at END,
    worker_id = NULL
WHERE id IN (WITH RECURSIVE tree(id) AS (SELECT :id UNION ALL
        SELECT j.id FROM conveyor_jobs j JOIN tree ON j.parent_id = tree.id)
    SELECT id FROM tree)
    AND state NOT IN ('completed', 'failed', 'cancelled')

-- name: insert_one
-- (ON CONFLICT: a racing insert of the same occurrence or dedupe key; find_existing)
INSERT INTO conveyor_jobs (job, args, kwargs, payload, state, priority, queue, key, owner,
    dedupe_key, max_attempts, retry, timeout, retention, remove_delay, run_at, created_at,
    version, schedule_id, fire_at, rescheduled_from, event_id, concurrency_key, trace_context,
    owner_int)
VALUES (:job, :args, :kwargs, :payload, 'pending', :priority, :queue, :key, :owner,
    :dedupe_key, :max_attempts, :retry, :timeout, :retention, :remove_delay,
    coalesce(:run_at, (round(:now * 1000000) + round(:delay * 1000000)) / 1000000), :now, :version,
    :schedule_id, :fire_at,
    :rescheduled_from, :event_id, :concurrency_key, :trace_context, :owner_int)
ON CONFLICT DO NOTHING
RETURNING id

-- name: match_pending
-- Pending = not started (due, due later or blocked by its dependencies), or started by a
-- worker whose lease has expired (unfinished rows: the match index).
SELECT id FROM conveyor_jobs
WHERE (state IN ('pending', 'blocked') OR (state = 'running' AND lease_expires_at < :now))
    AND job = :job AND owner IS :owner AND finished_at IS NULL
ORDER BY id

-- name: match_pending_key
SELECT id FROM conveyor_jobs
WHERE (state IN ('pending', 'blocked') OR (state = 'running' AND lease_expires_at < :now))
    AND job = :job AND owner IS :owner AND key = :key AND finished_at IS NULL
ORDER BY id

-- name: cancel_ids_mark
-- The first step of a cancel (SQLiteDialect.cancel): the matched jobs marked cancelled,
-- finished_at left NULL so that the row trigger does not run yet (migration 0015).
UPDATE conveyor_jobs SET state = 'cancelled', dedupe_key = NULL,
    purge_at = :now + retention, lease_token = NULL,
    lease_expires_at = CASE WHEN lease_expires_at >= :now THEN lease_expires_at END,
    worker_id = NULL
WHERE id IN (SELECT value FROM json_each(:ids))
    AND state NOT IN ('completed', 'failed', 'cancelled')
RETURNING id

-- name: cancel_mark
-- cancel_ids_mark for the jobs a JobFilter matches (its conditions: core/filters.py).
UPDATE conveyor_jobs SET state = 'cancelled', dedupe_key = NULL,
    purge_at = :now + retention, lease_token = NULL,
    lease_expires_at = CASE WHEN lease_expires_at >= :now THEN lease_expires_at END,
    worker_id = NULL
WHERE {where}
RETURNING id

-- name: cancel_finish
-- The second step: the marked jobs finished, each row's trigger cancelling what depends
-- on it and was not marked.
UPDATE conveyor_jobs SET finished_at = :now
WHERE id IN (SELECT value FROM json_each(:ids)) AND state = 'cancelled' AND finished_at IS NULL

-- name: flow_sync
INSERT INTO conveyor_flow (kind, name, concurrency, rate_limit, rate_period, updated_at)
VALUES (:kind, :name, :concurrency, :rate_limit, :rate_period, :now)
ON CONFLICT (kind, name) DO UPDATE SET concurrency = excluded.concurrency,
    rate_limit = excluded.rate_limit, rate_period = excluded.rate_period,
    updated_at = excluded.updated_at

-- name: flow_sync_prune
DELETE FROM conveyor_rate WHERE expires_at <= :now

-- name: flow_prune
DELETE FROM conveyor_rate WHERE expires_at <= :now

-- name: claim_pick
-- The due jobs in claim order (the due index), as one row: a JSON array of one array per
-- job, laid out as the claim's rows ({queues}: the worker's queue filter). One row, not
-- one per job: each row fetched is a step of SQLite that gives up the GIL, and a worker
-- whose job threads hold it waits for it back at every one, under the write lock. Reals
-- go as text of 17 digits (JSON's 15 would round them). The write lock (BEGIN IMMEDIATE)
-- keeps claims apart: claim_take then leases exactly these. First column: whether a flow
-- rule is in force (the limited claim takes over), read in the same step.
SELECT EXISTS (SELECT 1 FROM conveyor_flow
        WHERE paused OR concurrency IS NOT NULL OR rate_limit IS NOT NULL),
    json_group_array(json_array(id, job, args, kwargs, attempts + 1, max_attempts, retry,
    iif(timeout IS NULL, NULL, printf('%!.17g', timeout)), printf('%!.17g', run_at), owner,
    key, queue, version, schedule_id, event_id, priority, NULL, concurrency_key,
    trace_context))
FROM (SELECT id, job, args, kwargs, attempts, max_attempts, retry, timeout, run_at, owner,
    key, queue, version, schedule_id, event_id, priority, concurrency_key, trace_context
    FROM conveyor_jobs
    WHERE state IN ('pending', 'waiting') AND run_at <= :now {queues}
    ORDER BY priority DESC, run_at, id LIMIT :limit)

-- name: claim
-- The plain claim row by row, for due jobs claim_pick cannot read (a BLOB written by hand).
UPDATE conveyor_jobs SET state = 'running', attempts = attempts + 1, started_at = :now,
    lease_token = :token, lease_expires_at = :now + :lease, worker_id = :worker,
    dedupe_key = NULL
WHERE id IN (SELECT id FROM conveyor_jobs
    WHERE state IN ('pending', 'waiting') AND run_at <= :now {queues}
    ORDER BY priority DESC, run_at, id LIMIT :limit)
RETURNING id, job, args, kwargs, attempts, max_attempts, retry, timeout, run_at, owner, key,
    queue, version, schedule_id, event_id, priority, started_at, concurrency_key,
    trace_context

-- name: claim_take
-- Leases the jobs claim_pick chose (:ids, a JSON array of their ids).
UPDATE conveyor_jobs SET state = 'running', attempts = attempts + 1, started_at = :now,
    lease_token = :token, lease_expires_at = :now + :lease, worker_id = :worker,
    dedupe_key = NULL
WHERE id IN (SELECT value FROM json_each(:ids))

-- name: take
-- Under flow rules: the ids flowlogic picked ({ids}; still due: the transaction holds the lock).
UPDATE conveyor_jobs SET state = 'running', attempts = attempts + 1, started_at = :now,
    lease_token = :token, lease_expires_at = :now + :lease, worker_id = :worker,
    dedupe_key = NULL
WHERE id IN ({ids}) AND state IN ('pending', 'waiting')
RETURNING id, job, args, kwargs, attempts, max_attempts, retry, timeout, run_at, owner, key,
    queue, version, schedule_id, event_id, priority, started_at, concurrency_key,
    trace_context

-- Outcomes, one statement per kind for the whole batch: {values} is a VALUES list of one
-- row per outcome (v.column1 the id, v.column2 its lease token, then as noted), each
-- fenced by the lease token. One statement joins the batch by rowid: a statement per
-- row took twice as long, under the write lock.

-- name: complete_done
-- (id, token, result, finished_at, version)
UPDATE conveyor_jobs SET state = 'completed', result = v.column3, error = NULL,
    finished_at = v.column4, progress = 1.0, rescues = 0,
    version = coalesce(v.column5, version),
    purge_at = CASE WHEN remove_delay IS NOT NULL THEN v.column4 + remove_delay
        WHEN retention IS NOT NULL THEN v.column4 + retention END,
    lease_token = NULL, lease_expires_at = NULL, worker_id = NULL
FROM (VALUES {values}) AS v
WHERE conveyor_jobs.id = v.column1 AND conveyor_jobs.lease_token = v.column2
    AND conveyor_jobs.state = 'running'

-- name: complete_failed
-- (id, token, state, error, finished_at)
UPDATE conveyor_jobs SET state = v.column3, error = v.column4, finished_at = v.column5,
    rescues = 0,
    history = json_insert(CASE WHEN json_valid(history) THEN history ELSE '[]' END, '$[#]',
        json_object('number', attempts, 'started_at', json(printf('%!.17g', started_at)),
        'finished_at', json(printf('%!.17g', v.column5)),
        'error', json(v.column4))),
    purge_at = v.column5 + retention, lease_token = NULL, lease_expires_at = NULL,
    worker_id = NULL
FROM (VALUES {values}) AS v
WHERE conveyor_jobs.id = v.column1 AND conveyor_jobs.lease_token = v.column2
    AND conveyor_jobs.state = 'running'

-- name: complete_retry
-- (id, token, error, run_at, finished_at)
UPDATE conveyor_jobs SET state = 'pending', error = v.column3, run_at = v.column4,
    rescues = 0,
    history = json_insert(CASE WHEN json_valid(history) THEN history ELSE '[]' END, '$[#]',
        json_object('number', attempts, 'started_at', json(printf('%!.17g', started_at)),
        'finished_at', json(printf('%!.17g', v.column5)),
        'error', json(v.column3))),
    lease_token = NULL, lease_expires_at = NULL, worker_id = NULL
FROM (VALUES {values}) AS v
WHERE conveyor_jobs.id = v.column1 AND conveyor_jobs.lease_token = v.column2
    AND conveyor_jobs.state = 'running'

-- name: complete_wait
-- (id, token, run_at, version)
UPDATE conveyor_jobs SET state = 'waiting', run_at = v.column3, rescues = 0,
    attempts = attempts - 1, version = coalesce(v.column4, version),
    lease_token = NULL, lease_expires_at = NULL, worker_id = NULL
FROM (VALUES {values}) AS v
WHERE conveyor_jobs.id = v.column1 AND conveyor_jobs.lease_token = v.column2
    AND conveyor_jobs.state = 'running'
