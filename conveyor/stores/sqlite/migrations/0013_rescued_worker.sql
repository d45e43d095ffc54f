-- The worker a job was last rescued from (its lease expired while that worker held it):
-- a later rescue of another job of the same dead worker counts the jobs rescued from it
-- before, so a job claimed after the worker's last heartbeat is not taken as held alone.
ALTER TABLE conveyor_jobs ADD COLUMN rescued_worker TEXT;
CREATE INDEX conveyor_jobs_rescued_worker ON conveyor_jobs (rescued_worker)
    WHERE rescued_worker IS NOT NULL;
