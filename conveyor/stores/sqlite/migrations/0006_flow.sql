-- Flow control: limits and pauses per job or queue, rate windows as bucket counts, and
-- each job's concurrency key (its limit group).
ALTER TABLE conveyor_jobs ADD COLUMN concurrency_key TEXT;
CREATE TABLE conveyor_flow (
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    concurrency INTEGER,
    rate_limit INTEGER,
    rate_period REAL,
    paused INTEGER NOT NULL DEFAULT 0,
    updated_at REAL NOT NULL,
    PRIMARY KEY (kind, name)
) WITHOUT ROWID;
CREATE TABLE conveyor_rate (
    grp TEXT NOT NULL,
    bucket REAL NOT NULL,
    n INTEGER NOT NULL,
    expires_at REAL NOT NULL,
    PRIMARY KEY (grp, bucket)
) WITHOUT ROWID;
CREATE INDEX conveyor_rate_expiry ON conveyor_rate (expires_at);
