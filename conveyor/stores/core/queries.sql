-- Named queries both SQL stores share. Each starts with "-- name: <name>". Parameters are
-- :name (PostgreSQL's dialect turns them into %(name)s); :now is the store's clock (the
-- database's conveyor_now() on PostgreSQL). {job_columns} and {state} expand to the
-- dialect's JobRow columns and public-state expression. A dialect's own queries.sql
-- overrides a query of the same name.

-- name: get
SELECT {job_columns} FROM conveyor_jobs WHERE id = :id

-- name: state_of
SELECT {state}, result, error FROM conveyor_jobs WHERE id = :id

-- name: next_due
-- The earliest due time: one probe of conveyor_jobs_due per distinct priority (min(run_at)
-- over the index would read every unfinished row: an idle worker asks on every poll).
-- PostgreSQL's next_due_queues fills in /*queues*/; SQLite has its own.
WITH RECURSIVE p(priority) AS (
    SELECT (SELECT priority FROM conveyor_jobs WHERE state IN ('pending', 'waiting')
        ORDER BY priority DESC LIMIT 1)
    UNION ALL
    SELECT (SELECT j.priority FROM conveyor_jobs AS j
            WHERE j.state IN ('pending', 'waiting') AND j.priority < p.priority
            ORDER BY j.priority DESC LIMIT 1)
    FROM p WHERE p.priority IS NOT NULL
)
SELECT min((SELECT j.run_at FROM conveyor_jobs AS j
        WHERE j.state IN ('pending', 'waiting') AND j.priority = p.priority /*queues*/
        ORDER BY j.run_at LIMIT 1))
FROM p WHERE p.priority IS NOT NULL

-- name: register_worker
INSERT INTO conveyor_workers (id, host, pid, queues, concurrency, started_at, heartbeat_at)
VALUES (:id, :host, :pid, :queues, :concurrency, :now, :now)
ON CONFLICT (id) DO UPDATE SET host = excluded.host, pid = excluded.pid,
    queues = excluded.queues, concurrency = excluded.concurrency,
    started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at, stopped_at = NULL

-- name: stop_worker
UPDATE conveyor_workers SET stopped_at = :now WHERE id = :id

-- name: drop_leader
DELETE FROM conveyor_leaders WHERE holder = :id

-- name: workers
SELECT id, host, pid, queues, concurrency, started_at, heartbeat_at, stopped_at
FROM conveyor_workers
WHERE stopped_at IS NULL AND heartbeat_at >= :now - :within
ORDER BY started_at

-- name: try_lead
INSERT INTO conveyor_leaders AS l (name, holder, expires_at)
VALUES (:name, :holder, :now + :ttl)
ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
WHERE l.holder = excluded.holder OR l.expires_at < :now
RETURNING holder

-- name: cleanup_policies
SELECT job, purge_after FROM conveyor_cleanup

-- name: cancel
-- {where}: the JobFilter's conditions (core/filters.py). A running job's lease end is kept
-- when the lease was live (its worker reports the cancel; else the canceller does).
-- (Dialect.cancel: SQLite cancels several matched jobs with cancel_mark and cancel_finish
-- instead, so that its row trigger never cancels one matched job as another's dependent.)
UPDATE conveyor_jobs SET state = 'cancelled', finished_at = :now, dedupe_key = NULL,
    purge_at = :now + retention, lease_token = NULL,
    lease_expires_at = CASE WHEN lease_expires_at >= :now THEN lease_expires_at END,
    worker_id = NULL
WHERE {where}

-- name: occurrences
SELECT {job_columns} FROM conveyor_jobs WHERE schedule_id = :id AND fire_at IS NOT NULL
ORDER BY fire_at DESC LIMIT :limit

-- name: worker_heartbeat
UPDATE conveyor_workers SET heartbeat_at = :now WHERE id = :worker

-- name: outlived_rescues
-- The worker heartbeats: it did not die when these jobs were rescued from it, so they no
-- longer count as held with a job it may yet die holding (expired_leases, poison rule).
UPDATE conveyor_jobs SET rescued_worker = NULL WHERE rescued_worker = :worker

-- name: store_event
INSERT INTO conveyor_events (id, name, payload, sent_at, deliver_at, delivered_at, source)
VALUES (:id, :name, :payload, :now, :deliver_at, NULL, :source)
ON CONFLICT (id) DO NOTHING

-- name: stored_event
SELECT id, name, payload, sent_at, deliver_at, delivered_at, source FROM conveyor_events
WHERE id = :id

-- name: due_events
-- (events due at one instant in the order they were sent: {event_seq}, EventSQL.sequence)
SELECT id, name, payload, sent_at, deliver_at, delivered_at, source FROM conveyor_events
WHERE delivered_at IS NULL AND deliver_at <= :now ORDER BY deliver_at, {event_seq}
LIMIT :limit

-- name: schedule
-- (+ the dialect's row lock where the caller asks for one)
SELECT id, job, definition, args, kwargs, options, paused, source, misfire, created_at,
    updated_at, revision, fingerprint
FROM conveyor_schedules WHERE id = :id

-- name: schedules
SELECT id, job, definition, args, kwargs, options, paused, source, misfire, created_at,
    updated_at, revision, fingerprint
FROM conveyor_schedules ORDER BY id

-- name: schedule_gaps
-- Active schedules with no next occurrence stored.
SELECT id, job, definition, args, kwargs, options, paused, source, misfire, created_at,
    updated_at, revision, fingerprint
FROM conveyor_schedules AS s WHERE NOT s.paused AND NOT EXISTS (SELECT 1 FROM conveyor_jobs
    WHERE schedule_id = s.id AND state = 'pending' AND attempts = 0)
ORDER BY s.id

-- name: insert_schedule
INSERT INTO conveyor_schedules (id, job, definition, args, kwargs, options, paused, source,
    misfire, created_at, updated_at, revision, fingerprint)
VALUES (:id, :job, :definition, :args, :kwargs, :options, :paused, :source, :misfire, :at,
    :at, :revision, :fingerprint)
ON CONFLICT (id) DO NOTHING

-- name: update_schedule
UPDATE conveyor_schedules SET job = :job, definition = :definition, args = :args,
    kwargs = :kwargs, options = :options, misfire = :misfire, updated_at = :at,
    revision = revision + 1, fingerprint = :fingerprint
WHERE id = :id

-- name: pause_schedule
UPDATE conveyor_schedules SET paused = :paused, updated_at = :now WHERE id = :id

-- name: delete_schedule
DELETE FROM conveyor_schedules WHERE id = :id

-- name: latest_occurrence
SELECT id, fire_at FROM conveyor_jobs WHERE schedule_id = :id AND fire_at IS NOT NULL
ORDER BY fire_at DESC LIMIT 1

-- name: unstarted
-- The next-occurrence placeholder(s): never started (a retry waiting is not one).
SELECT id FROM conveyor_jobs WHERE schedule_id = :id AND state = 'pending' AND attempts = 0
ORDER BY run_at LIMIT 1

-- name: pending_occurrence
-- The schedule's stored next occurrence, if any (a schedule has one at a time).
SELECT id FROM conveyor_jobs
WHERE schedule_id = :id AND fire_at IS NOT NULL AND state = 'pending' AND attempts = 0
LIMIT 1

-- name: drop_unstarted
DELETE FROM conveyor_jobs WHERE schedule_id = :id AND state = 'pending' AND attempts = 0

-- name: cancel_unstarted
UPDATE conveyor_jobs SET state = 'cancelled', finished_at = :now, fire_at = NULL,
    error = :error, purge_at = CASE WHEN retention IS NOT NULL THEN :now + retention END
WHERE schedule_id = :id AND state = 'pending' AND attempts = 0

-- name: expiring
SELECT 1 FROM conveyor_jobs WHERE purge_at IS NOT NULL
UNION ALL SELECT 1 FROM conveyor_cleanup LIMIT 1

-- name: purge_due
SELECT 1 FROM conveyor_jobs WHERE purge_at <= :now LIMIT 1

-- name: save_cleanup
INSERT INTO conveyor_cleanup (job, purge_after, updated_at) VALUES (:job, :seconds, :now)
ON CONFLICT (job) DO UPDATE SET purge_after = excluded.purge_after,
    updated_at = excluded.updated_at

-- name: hold
-- The run is still held with :token (PostgreSQL locks its row).
SELECT id FROM conveyor_jobs WHERE id = :id AND lease_token = :token AND state = 'running'

-- name: children_indexes
SELECT child_index FROM conveyor_jobs WHERE parent_id = :id AND parent_seq = :seq

-- name: unfinished_children
SELECT count(*) FROM conveyor_jobs WHERE parent_id = :id AND parent_seq = :seq
    AND state NOT IN ('completed', 'failed', 'cancelled')

-- name: children_outcomes
SELECT child_index, id, {state}, result, error FROM conveyor_jobs
WHERE parent_id = :id AND parent_seq = :seq ORDER BY child_index

-- name: find_existing
-- The occurrence or the pending job with this dedupe key already stored.
SELECT id FROM conveyor_jobs
WHERE (schedule_id = :schedule_id AND fire_at = :fire_at) OR (dedupe_key = :dedupe_key)
ORDER BY id LIMIT 1

-- name: flow_rules
SELECT kind, name, concurrency, rate_limit, rate_period, paused FROM conveyor_flow
WHERE paused OR concurrency IS NOT NULL OR rate_limit IS NOT NULL

-- name: flow_pause
INSERT INTO conveyor_flow AS f (kind, name, paused, updated_at)
VALUES (:kind, :name, :paused, :now)
ON CONFLICT (kind, name) DO UPDATE SET paused = excluded.paused,
    updated_at = excluded.updated_at

-- name: queue_counts
-- Like counts_by_state: unfinished rows through their partial indexes, finished ones from
-- an index holding their state and queue (never a scan of the whole history).
SELECT queue, {state} AS s, count(*) FROM conveyor_jobs
WHERE state IN ('pending', 'waiting') GROUP BY queue, s
UNION ALL SELECT queue, 'running', count(*) FROM conveyor_jobs WHERE state = 'running'
    GROUP BY queue
UNION ALL SELECT queue, 'blocked', count(*) FROM conveyor_jobs WHERE state = 'blocked'
    GROUP BY queue
UNION ALL SELECT queue, state, count(*) FROM conveyor_jobs WHERE finished_at IS NOT NULL
    AND state IN ('completed', 'failed', 'cancelled') GROUP BY state, queue

-- name: flow_group_running
SELECT count(*) FROM conveyor_jobs WHERE state = 'running'
    AND ((:kind = 'job' AND job = :name AND coalesce(concurrency_key, '') = :key)
        OR (:kind = 'queue' AND queue = :name))

-- name: flow_group_rate
SELECT coalesce(sum(n), 0), min(expires_at) FROM conveyor_rate
WHERE grp = :group AND expires_at > :now

-- name: expired_leases
-- The running jobs whose lease expired, the worker that held each and how many jobs that
-- worker held: those it still holds, expired or not, and those rescued from it in earlier
-- passes (rescue weighs a job its worker held alone apart from one it held with others:
-- a job claimed after the worker's last heartbeat expires later, in another pass).
SELECT id, worker_id, (SELECT count(*) FROM conveyor_jobs AS o
        WHERE o.state = 'running' AND o.worker_id = conveyor_jobs.worker_id)
    + (SELECT count(*) FROM conveyor_jobs AS r
        WHERE r.rescued_worker = conveyor_jobs.worker_id
            AND NOT (r.state = 'running' AND r.worker_id = conveyor_jobs.worker_id))
FROM conveyor_jobs WHERE state = 'running' AND lease_expires_at < :now
