DROP INDEX jobs_state_idx;
DROP INDEX jobs_container_pending_idx;
DROP INDEX jobs_claimable_idx;
DROP INDEX jobs_lease_idx;
DROP INDEX jobs_one_pending_per_container_idx;
ALTER TABLE containers DROP COLUMN restarted_at;
ALTER TABLE containers DROP COLUMN fallback_reason;
ALTER TABLE servers DROP COLUMN token_hash;
