-- The last report of each server's job worker: its heartbeat.
CREATE TABLE host_reports (
    server_id INT4 PRIMARY KEY REFERENCES servers (id) ON DELETE CASCADE,
    worker TEXT NOT NULL,
    reported_at TIMESTAMPTZ NOT NULL
);

-- The disk use of each container as last measured by its server's worker: its home, and
-- for a storage container its installed and kept previous images.
CREATE TABLE container_disk_use (
    container_id INT4 PRIMARY KEY REFERENCES containers (id) ON DELETE CASCADE,
    home_bytes INT8 NOT NULL,
    images_bytes INT8 NOT NULL,
    measured_at TIMESTAMPTZ NOT NULL
);
