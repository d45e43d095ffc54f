-- Counts by queue and state (the dashboard's queues page, every Prometheus scrape) read
-- finished rows from this index alone, as the counts by state do: never a scan of the
-- whole history. It covers conveyor_jobs_finished_state (state), which it replaces, so a
-- completion writes no more index entries than before.
CREATE INDEX conveyor_jobs_finished_queue ON conveyor_jobs (state, queue)
    WHERE finished_at IS NOT NULL;
DROP INDEX conveyor_jobs_finished_state;
