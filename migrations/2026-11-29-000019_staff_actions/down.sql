DROP INDEX jobs_created_at_idx;
ALTER TABLE jobs DROP COLUMN failure_permanent;
ALTER TABLE events DROP COLUMN by_staff;
