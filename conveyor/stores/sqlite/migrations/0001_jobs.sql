CREATE TABLE conveyor_jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    job TEXT NOT NULL,
    args TEXT NOT NULL DEFAULT '[]',
    kwargs TEXT NOT NULL DEFAULT '{}',
    payload TEXT NOT NULL DEFAULT 'null',
    state TEXT NOT NULL,
    priority INTEGER NOT NULL DEFAULT 0,
    queue TEXT NOT NULL DEFAULT 'default',
    key TEXT,
    owner TEXT,
    dedupe_key TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL DEFAULT 1,
    retry TEXT,
    timeout REAL,
    retention REAL,
    remove_delay REAL,
    run_at REAL NOT NULL,
    created_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL,
    purge_at REAL,
    result TEXT,
    error TEXT,
    history TEXT,
    progress REAL,
    progress_message TEXT,
    version TEXT,
    schedule_id TEXT,
    fire_at REAL,
    rescheduled_from INTEGER,
    event_id TEXT,
    lease_token INTEGER,
    lease_expires_at REAL,
    worker_id TEXT,
    rescues INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX conveyor_jobs_due ON conveyor_jobs (priority DESC, run_at, id)
    WHERE state IN ('pending', 'waiting');
CREATE INDEX conveyor_jobs_due_queue ON conveyor_jobs (queue, priority DESC, run_at, id)
    WHERE state IN ('pending', 'waiting');
CREATE INDEX conveyor_jobs_lease ON conveyor_jobs (lease_expires_at)
    WHERE state = 'running';
CREATE INDEX conveyor_jobs_worker ON conveyor_jobs (worker_id) WHERE state = 'running';
CREATE UNIQUE INDEX conveyor_jobs_dedupe ON conveyor_jobs (dedupe_key)
    WHERE dedupe_key IS NOT NULL;
CREATE INDEX conveyor_jobs_match ON conveyor_jobs (job, key)
    WHERE state IN ('pending', 'running', 'waiting');
CREATE INDEX conveyor_jobs_purge ON conveyor_jobs (purge_at) WHERE purge_at IS NOT NULL;
CREATE INDEX conveyor_jobs_finished ON conveyor_jobs (finished_at)
    WHERE finished_at IS NOT NULL;
CREATE UNIQUE INDEX conveyor_jobs_occurrence ON conveyor_jobs (schedule_id, fire_at)
    WHERE schedule_id IS NOT NULL AND fire_at IS NOT NULL;
CREATE INDEX conveyor_jobs_event ON conveyor_jobs (event_id) WHERE event_id IS NOT NULL;
CREATE TABLE conveyor_logs (
    job_id INTEGER NOT NULL,
    attempt INTEGER NOT NULL,
    at REAL NOT NULL,
    level TEXT NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX conveyor_logs_job ON conveyor_logs (job_id, at);
CREATE TABLE conveyor_workers (
    id TEXT PRIMARY KEY,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    queues TEXT NOT NULL,
    concurrency INTEGER NOT NULL,
    started_at REAL NOT NULL,
    heartbeat_at REAL NOT NULL,
    stopped_at REAL
);
CREATE TABLE conveyor_leaders (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    expires_at REAL NOT NULL
);
