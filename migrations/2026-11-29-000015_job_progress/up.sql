-- How far a running job has got (an image install: `{"phase", "done", "total", "members",
-- "bytes"}`), written a few times a second at most while it runs; and whether its owner asked
-- it to stop, which the job reads at those writes and honours by leaving things as they were.
ALTER TABLE jobs
    ADD COLUMN progress JSONB,
    ADD COLUMN cancel_requested BOOLEAN NOT NULL DEFAULT false,
    ADD CONSTRAINT jobs_progress_is_object
        CHECK (progress IS NULL OR jsonb_typeof(progress) = 'object');
