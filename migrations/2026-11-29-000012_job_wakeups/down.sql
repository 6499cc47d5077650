DROP TRIGGER jobs_ready_on_requeue ON jobs;
DROP TRIGGER jobs_ready_on_insert ON jobs;
DROP FUNCTION jobs_notify_ready();
ALTER TABLE jobs DROP COLUMN vassal_written_at;
