-- A claim and a completion hold the write lock while SQLite keeps every index whose
-- columns (or partial-index condition) they set: only those the queries need are left.
-- Heartbeats renew the held jobs by id and token, so nothing reads jobs by worker_id.
DROP INDEX conveyor_jobs_worker;
-- Pending matches (dedupe) read unfinished rows; a claim leaves finished_at as it is, so
-- it no longer rewrites this index (state changed on every claim).
DROP INDEX conveyor_jobs_match;
CREATE INDEX conveyor_jobs_match ON conveyor_jobs (job, key) WHERE finished_at IS NULL;
