-- Recurring schedules; their unstarted occurrences are found per schedule.
CREATE TABLE conveyor_schedules (
    id TEXT PRIMARY KEY,
    job TEXT NOT NULL,
    definition TEXT NOT NULL,
    args TEXT NOT NULL DEFAULT '[]',
    kwargs TEXT NOT NULL DEFAULT '{}',
    options TEXT NOT NULL DEFAULT '{}',
    paused INTEGER NOT NULL DEFAULT 0,
    source TEXT NOT NULL,
    misfire REAL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    revision INTEGER NOT NULL DEFAULT 1,
    fingerprint TEXT NOT NULL DEFAULT ''
);
CREATE INDEX conveyor_jobs_unstarted ON conveyor_jobs (schedule_id)
    WHERE schedule_id IS NOT NULL AND state = 'pending' AND attempts = 0;
