-- What the last restart of each container booted: its custom distro, its default distro
-- (asked for, or a fallback from the custom distro), or nothing. NULL until it restarts.
ALTER TABLE containers
    ADD COLUMN booted_kind TEXT
        CHECK (booted_kind IN ('none', 'platform', 'custom', 'fallback')),
    ADD COLUMN booted_custom_distro_id INTEGER REFERENCES custom_distros (id) ON DELETE SET NULL;

-- When each user last opened the alarms page: alarms raised after it are new to them.
ALTER TABLE users ADD COLUMN alarms_seen_at TIMESTAMPTZ;
