ALTER TABLE jobs
    DROP CONSTRAINT jobs_progress_is_object,
    DROP COLUMN cancel_requested,
    DROP COLUMN progress;
