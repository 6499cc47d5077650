-- What the host executor and the job queue need.

-- uwsgi.it servers fetch their vassals from /private with a token of their own; only its
-- SHA-256 is kept.
ALTER TABLE servers ADD COLUMN token_hash TEXT UNIQUE CHECK (token_hash ~ '^[0-9a-f]{64}$');

-- What the last restart booted: NULL when it booted the distro the container maps, else why it
-- fell back to its default distro (the [DANGER] alarm text).
ALTER TABLE containers ADD COLUMN fallback_reason TEXT;
ALTER TABLE containers ADD COLUMN restarted_at TIMESTAMPTZ;

-- Several restarts (or storage set-ups) of one container waiting to run collapse into one.
CREATE UNIQUE INDEX jobs_one_pending_per_container_idx ON jobs (container_id, kind)
    WHERE state IN ('queued', 'retrying') AND kind IN ('restart', 'ensure_storage_dir');

-- Finding jobs whose worker died: running with an expired lease.
CREATE INDEX jobs_lease_idx ON jobs (locked_until) WHERE state = 'running';
-- Claiming walks unfinished jobs oldest first, never the (ever growing) finished ones.
CREATE INDEX jobs_claimable_idx ON jobs (id) WHERE state IN ('queued', 'retrying', 'running');
-- Jobs of one container run in order: the claim looks for earlier unfinished ones.
CREATE INDEX jobs_container_pending_idx ON jobs (container_id, id)
    WHERE state IN ('queued', 'retrying', 'running');
-- Staff lists by state.
CREATE INDEX jobs_state_idx ON jobs (state, id DESC);
