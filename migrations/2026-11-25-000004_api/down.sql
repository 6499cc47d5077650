DROP INDEX jobs_pending_customer_idx;
DROP INDEX alarms_customer_unix_idx;
DROP INDEX alarms_container_level_unix_idx;
DROP INDEX alarms_container_unix_idx;
CREATE INDEX alarms_container_idx ON alarms (container_id, id DESC);
CREATE INDEX alarms_container_level_idx ON alarms (container_id, level, id DESC);
CREATE INDEX alarms_customer_idx ON alarms (customer_id, id DESC);
