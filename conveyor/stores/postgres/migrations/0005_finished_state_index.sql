-- The dashboard's counts by state, on every page load: finished rows are counted per
-- state from this small index alone (an index-only scan once vacuumed), never by reading
-- the whole history.
CREATE INDEX conveyor_jobs_finished_state ON conveyor_jobs (state)
    WHERE finished_at IS NOT NULL;
