-- Indexes for the JSON API.
--
-- Alarms are listed newest first by their time (`unix`, which a raiser may set), ties broken by
-- id; the per-container cap deletes from the other end of the same order. Each list query of
-- the API (a customer's alarms, a container's, a container's at one level) then reads an index
-- range in order and stops after the requested range.
DROP INDEX alarms_container_idx;
DROP INDEX alarms_container_level_idx;
DROP INDEX alarms_customer_idx;
CREATE INDEX alarms_container_unix_idx ON alarms (container_id, unix DESC, id DESC);
CREATE INDEX alarms_container_level_unix_idx ON alarms (container_id, level, unix DESC, id DESC);
CREATE INDEX alarms_customer_unix_idx ON alarms (customer_id, unix DESC, id DESC);

-- "pending_jobs" of a customer's containers, without reading their finished jobs
CREATE INDEX jobs_pending_customer_idx ON jobs (customer_id, container_id)
    WHERE state IN ('queued', 'running', 'retrying');
