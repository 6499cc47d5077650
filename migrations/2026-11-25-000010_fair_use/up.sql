-- One upload in flight per distro: a second one begun while the first still receives
-- conflicts here, whichever web node takes it.
CREATE UNIQUE INDEX image_uploads_one_receiving_idx ON image_uploads (custom_distro_id)
    WHERE state = 'receiving';

-- A customer's unfinished jobs that count against their cap (restarts and storage set-up
-- collapse, so they never do).
CREATE INDEX jobs_customer_counted_idx ON jobs (customer_id)
    WHERE state IN ('queued', 'retrying', 'running') AND kind NOT IN ('restart', 'ensure_storage_dir');

-- Claiming reads the first unfinished job of each container (through
-- jobs_container_pending_idx) and the unfinished jobs of no container (here), never every
-- unfinished job: one container's long queue does not slow the claims for the others.
CREATE INDEX jobs_claimable_loose_idx ON jobs (id)
    WHERE state IN ('queued', 'retrying', 'running') AND container_id IS NULL;
