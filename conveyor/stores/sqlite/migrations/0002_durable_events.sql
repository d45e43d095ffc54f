CREATE TABLE conveyor_steps (
    job_id INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    key TEXT NOT NULL,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    input TEXT,
    output TEXT,
    error TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    history TEXT,
    wake_at REAL,
    event_name TEXT,
    fingerprint TEXT,
    started_at REAL NOT NULL,
    finished_at REAL,
    PRIMARY KEY (job_id, seq)
) WITHOUT ROWID;
CREATE INDEX conveyor_steps_waits ON conveyor_steps (event_name)
    WHERE state = 'waiting' AND event_name IS NOT NULL;
CREATE TABLE conveyor_events (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    payload TEXT NOT NULL,
    sent_at REAL NOT NULL,
    deliver_at REAL NOT NULL,
    delivered_at REAL,
    source INTEGER
);
CREATE INDEX conveyor_events_due ON conveyor_events (deliver_at)
    WHERE delivered_at IS NULL;
CREATE INDEX conveyor_events_sent ON conveyor_events (sent_at);
CREATE INDEX conveyor_events_name ON conveyor_events (name, sent_at);
