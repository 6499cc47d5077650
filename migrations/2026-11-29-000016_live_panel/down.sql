ALTER TABLE users DROP COLUMN alarms_seen_at;
ALTER TABLE containers DROP COLUMN booted_custom_distro_id, DROP COLUMN booted_kind;
