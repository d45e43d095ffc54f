-- Durable runs (steps keyed by run and sequence number) and events.

CREATE TABLE conveyor_steps (
    job_id bigint NOT NULL,
    seq integer NOT NULL,
    key text NOT NULL,
    kind text NOT NULL,
    state text NOT NULL,
    input text,
    output text,
    error text,
    attempts integer NOT NULL DEFAULT 0,
    history text,
    wake_at double precision,
    event_name text,
    fingerprint text,
    started_at double precision NOT NULL,
    finished_at double precision,
    PRIMARY KEY (job_id, seq)
);
-- Runs waiting for an event, found by the event's name when it is delivered.
CREATE INDEX conveyor_steps_waits ON conveyor_steps (event_name)
    WHERE state = 'waiting' AND event_name IS NOT NULL;

CREATE TABLE conveyor_events (
    id text PRIMARY KEY,
    name text NOT NULL,
    payload text NOT NULL,
    sent_at double precision NOT NULL,
    deliver_at double precision NOT NULL,
    delivered_at double precision,
    source bigint
);
CREATE INDEX conveyor_events_due ON conveyor_events (deliver_at) WHERE delivered_at IS NULL;
CREATE INDEX conveyor_events_sent ON conveyor_events (sent_at);
CREATE INDEX conveyor_events_name ON conveyor_events (name, sent_at);
