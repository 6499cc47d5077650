DROP INDEX alarms_unix_idx;
DROP INDEX jobs_finished_idx;
DROP INDEX events_job_idx;
