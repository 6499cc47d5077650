-- Staff act on a customer's behalf: such an operation-log line, and its audit twin, are
-- marked as done by staff. A failed job records whether its failure is permanent (a refusal
-- such as a missing file or a failed check: retrying cannot help) or transient.
ALTER TABLE events ADD COLUMN by_staff BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE jobs ADD COLUMN failure_permanent BOOLEAN NOT NULL DEFAULT false;
CREATE INDEX jobs_created_at_idx ON jobs (created_at);
