-- Counts by queue and state (the dashboard's queues page, every Prometheus scrape) read
-- finished rows from the finished index alone, as the counts by state do: never a scan
-- of the whole history.
DROP INDEX conveyor_jobs_finished;
CREATE INDEX conveyor_jobs_finished ON conveyor_jobs (finished_at, state, queue)
    WHERE finished_at IS NOT NULL;
