-- Pruning old jobs sets events.job_id to NULL in the rows that name them: find those rows by
-- index rather than by reading the whole operation log once per pruned job.
CREATE INDEX events_job_idx ON events (job_id) WHERE job_id IS NOT NULL;
-- Pruning walks finished jobs by the time they finished.
CREATE INDEX jobs_finished_idx ON jobs (finished_at) WHERE state IN ('done', 'failed', 'cancelled');
-- Staff read every alarm newest first, across customers.
CREATE INDEX alarms_unix_idx ON alarms (unix DESC, id DESC);
