-- Recurring schedules. Each occurrence is a job keyed by (schedule_id, fire_at), UNIQUE
-- since 0001; unstarted occurrences (the next fire time's placeholder) are found per
-- schedule through their own small partial index.

CREATE TABLE conveyor_schedules (
    id text PRIMARY KEY,
    job text NOT NULL,
    definition text NOT NULL,
    args text NOT NULL DEFAULT '[]',
    kwargs text NOT NULL DEFAULT '{}',
    options text NOT NULL DEFAULT '{}',
    paused boolean NOT NULL DEFAULT false,
    source text NOT NULL,
    misfire double precision,
    created_at double precision NOT NULL,
    updated_at double precision NOT NULL,
    revision integer NOT NULL DEFAULT 1,
    fingerprint text NOT NULL DEFAULT ''
);
CREATE INDEX conveyor_jobs_unstarted ON conveyor_jobs (schedule_id)
    WHERE schedule_id IS NOT NULL AND state = 'pending' AND attempts = 0;
