-- The foundation schema. Every rule the panel enforces in Rust that SQL can express is
-- enforced here too, so a bug in a handler or a hand-written statement cannot break it.

CREATE TABLE customers (
    id          SERIAL PRIMARY KEY,
    company     TEXT NOT NULL DEFAULT '' CHECK (length(company) <= 255),
    vat         TEXT NOT NULL DEFAULT '' CHECK (length(vat) <= 64),
    uuid        UUID NOT NULL UNIQUE DEFAULT gen_random_uuid(),
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE users (
    id                  SERIAL PRIMARY KEY,
    username            TEXT NOT NULL UNIQUE CHECK (username ~ '^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$'),
    email               TEXT NOT NULL CHECK (email ~ '^[^@[:space:]]+@[^@[:space:]]+$' AND length(email) <= 254),
    password_hash       TEXT NOT NULL CHECK (password_hash LIKE '$argon2id$%'),
    role                TEXT NOT NULL CHECK (role IN ('customer', 'staff')),
    customer_id         INTEGER REFERENCES customers (id) ON DELETE RESTRICT,
    password_changed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- a customer login belongs to exactly one customer; staff belong to none
    CONSTRAINT users_role_customer CHECK ((role = 'customer') = (customer_id IS NOT NULL))
);
CREATE INDEX users_customer_idx ON users (customer_id);

CREATE TABLE api_tokens (
    id           SERIAL PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    token_hash   TEXT NOT NULL UNIQUE,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_used_at TIMESTAMPTZ,
    revoked_at   TIMESTAMPTZ
);
CREATE INDEX api_tokens_user_idx ON api_tokens (user_id);

CREATE TABLE sessions (
    key_hash    TEXT PRIMARY KEY,
    user_id     INTEGER REFERENCES users (id) ON DELETE CASCADE,
    state       JSONB NOT NULL DEFAULT '{}',
    ip          TEXT,
    user_agent  TEXT,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_seen   TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX sessions_user_idx ON sessions (user_id);
CREATE INDEX sessions_expires_idx ON sessions (expires_at);

CREATE TABLE servers (
    id           SERIAL PRIMARY KEY,
    name         TEXT NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
    address      TEXT NOT NULL UNIQUE CHECK (length(address) BETWEEN 1 AND 255),
    memory_mb    INTEGER CHECK (memory_mb > 0),
    storage_mb   INTEGER CHECK (storage_mb > 0),
    customer_id  INTEGER REFERENCES customers (id) ON DELETE RESTRICT,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX servers_customer_idx ON servers (customer_id);

-- platform distros, shared by every customer, rooted at /distros/<path> on each server
CREATE TABLE distros (
    id          SERIAL PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 255 AND name !~ '[[:cntrl:]]'),
    path        TEXT NOT NULL UNIQUE CHECK (path ~ '^[A-Za-z0-9._-]{1,64}$' AND path NOT IN ('.', '..')),
    note        TEXT NOT NULL DEFAULT '',
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE containers (
    id                      SERIAL PRIMARY KEY,
    name                    TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 255 AND name !~ '[[:cntrl:]]'),
    customer_id             INTEGER NOT NULL REFERENCES customers (id) ON DELETE RESTRICT,
    server_id               INTEGER NOT NULL REFERENCES servers (id) ON DELETE RESTRICT,
    distro_id               INTEGER REFERENCES distros (id) ON DELETE RESTRICT,
    custom_distros_storage  BOOLEAN NOT NULL DEFAULT false,
    custom_distro_id        INTEGER,
    memory_mb               INTEGER NOT NULL CHECK (memory_mb > 0),
    storage_mb              INTEGER NOT NULL CHECK (storage_mb > 0),
    note                    TEXT NOT NULL DEFAULT '',
    uuid                    UUID NOT NULL UNIQUE DEFAULT gen_random_uuid(),
    alarm_key               UUID,
    quota_threshold         INTEGER NOT NULL DEFAULT 90 CHECK (quota_threshold BETWEEN 0 AND 100),
    alarm_freq              INTEGER NOT NULL DEFAULT 60 CHECK (alarm_freq >= 60),
    nofollow                BOOLEAN NOT NULL DEFAULT false,
    ssh_keys                TEXT[] NOT NULL DEFAULT '{}' CHECK (array_position(ssh_keys, NULL) IS NULL),
    tags                    TEXT[] NOT NULL DEFAULT '{}' CHECK (array_position(tags, NULL) IS NULL),
    jid                     TEXT NOT NULL DEFAULT '',
    jid_destinations        TEXT NOT NULL DEFAULT '',
    pushover_user           TEXT NOT NULL DEFAULT '',
    pushover_token          TEXT NOT NULL DEFAULT '',
    pushover_sound          TEXT NOT NULL DEFAULT '',
    pushbullet_token        TEXT NOT NULL DEFAULT '',
    slack_webhook           TEXT NOT NULL DEFAULT '',
    last_reboot             TIMESTAMPTZ,
    ssh_keys_changed_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    created_at              TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at              TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- targets of the composite keys below: they carry customer and server along with the id
    CONSTRAINT containers_id_customer_key UNIQUE (id, customer_id),
    CONSTRAINT containers_id_server_customer_storage_key
        UNIQUE (id, server_id, customer_id, custom_distros_storage),
    -- a storage container only serves images, it never boots one (seed: "CANNOT use custom distros")
    CONSTRAINT containers_storage_no_custom_distro
        CHECK (NOT (custom_distros_storage AND custom_distro_id IS NOT NULL)),
    -- a custom distro is only usable with a default distro to fall back to
    CONSTRAINT containers_custom_distro_needs_fallback
        CHECK (custom_distro_id IS NULL OR distro_id IS NOT NULL)
);
CREATE INDEX containers_customer_idx ON containers (customer_id, id);
CREATE INDEX containers_server_idx ON containers (server_id, id);
CREATE INDEX containers_custom_distro_idx ON containers (custom_distro_id) WHERE custom_distro_id IS NOT NULL;
CREATE INDEX containers_distro_idx ON containers (distro_id);
CREATE INDEX containers_tags_idx ON containers USING GIN (tags);

CREATE TABLE custom_distros (
    id                  SERIAL PRIMARY KEY,
    container_id        INTEGER NOT NULL,
    server_id           INTEGER NOT NULL,
    customer_id         INTEGER NOT NULL,
    -- always true: makes the key below point only at storage containers
    in_storage          BOOLEAN NOT NULL DEFAULT true CHECK (in_storage),
    name                TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 255 AND name !~ '[[:cntrl:]]'),
    path                TEXT NOT NULL CHECK (path ~ '^[A-Za-z0-9._-]{1,64}$' AND path NOT IN ('.', '..')),
    note                TEXT NOT NULL DEFAULT '',
    uuid                UUID NOT NULL UNIQUE DEFAULT gen_random_uuid(),
    image_state         TEXT NOT NULL DEFAULT 'none'
                        CHECK (image_state IN ('none', 'unpacking', 'ready', 'broken')),
    image_bytes         BIGINT CHECK (image_bytes >= 0),
    image_sha256        TEXT CHECK (image_sha256 ~ '^[0-9a-f]{64}$'),
    check_report        JSONB,
    checked_at          TIMESTAMPTZ,
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- the storage container, with its server and customer: a distro lives in a storage container,
    -- and turning storage off (or moving the container) is refused while distros are in it
    CONSTRAINT custom_distros_storage_fkey
        FOREIGN KEY (container_id, server_id, customer_id, in_storage)
        REFERENCES containers (id, server_id, customer_id, custom_distros_storage)
        ON UPDATE RESTRICT ON DELETE RESTRICT,
    CONSTRAINT custom_distros_container_name_key UNIQUE (container_id, name),
    CONSTRAINT custom_distros_container_path_key UNIQUE (container_id, path),
    CONSTRAINT custom_distros_id_server_customer_key UNIQUE (id, server_id, customer_id)
);
CREATE INDEX custom_distros_customer_idx ON custom_distros (customer_id, id);
CREATE INDEX custom_distros_server_customer_idx ON custom_distros (server_id, customer_id);

-- a container maps only a custom distro of its own customer stored on its own server
ALTER TABLE containers ADD CONSTRAINT containers_custom_distro_fkey
    FOREIGN KEY (custom_distro_id, server_id, customer_id)
    REFERENCES custom_distros (id, server_id, customer_id)
    ON UPDATE RESTRICT ON DELETE RESTRICT;

CREATE TABLE alarms (
    id            BIGSERIAL PRIMARY KEY,
    container_id  INTEGER NOT NULL,
    customer_id   INTEGER NOT NULL,
    unix          TIMESTAMPTZ NOT NULL DEFAULT now(),
    level         SMALLINT NOT NULL CHECK (level BETWEEN 0 AND 4),
    color         TEXT NOT NULL DEFAULT '#ffffff' CHECK (color ~ '^#[0-9a-fA-F]{6}$'),
    msg           TEXT NOT NULL,
    line          INTEGER,
    func          TEXT,
    filename      TEXT,
    class         TEXT,
    vassal        TEXT,
    CONSTRAINT alarms_container_fkey FOREIGN KEY (container_id, customer_id)
        REFERENCES containers (id, customer_id) ON DELETE CASCADE
);
CREATE INDEX alarms_container_idx ON alarms (container_id, id DESC);
CREATE INDEX alarms_container_level_idx ON alarms (container_id, level, id DESC);
CREATE INDEX alarms_customer_idx ON alarms (customer_id, id DESC);

CREATE TABLE jobs (
    id            BIGSERIAL PRIMARY KEY,
    kind          TEXT NOT NULL CHECK (kind IN ('restart', 'ensure_storage_dir', 'unpack_image',
                                               'fetch_image', 'check_image', 'rollback_image',
                                               'rename_image', 'purge_image')),
    container_id  INTEGER REFERENCES containers (id) ON DELETE CASCADE,
    customer_id   INTEGER REFERENCES customers (id) ON DELETE CASCADE,
    server_id     INTEGER NOT NULL REFERENCES servers (id) ON DELETE CASCADE,
    payload       JSONB NOT NULL DEFAULT '{}',
    state         TEXT NOT NULL DEFAULT 'queued'
                  CHECK (state IN ('queued', 'running', 'retrying', 'done', 'failed', 'cancelled')),
    attempts      INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    max_attempts  INTEGER NOT NULL DEFAULT 5 CHECK (max_attempts >= 1),
    run_after     TIMESTAMPTZ NOT NULL DEFAULT now(),
    locked_by     TEXT,
    locked_until  TIMESTAMPTZ,
    error         TEXT,
    report        JSONB NOT NULL DEFAULT '[]',
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    started_at    TIMESTAMPTZ,
    finished_at   TIMESTAMPTZ
);
CREATE INDEX jobs_runnable_idx ON jobs (server_id, run_after, id) WHERE state IN ('queued', 'retrying', 'running');
CREATE INDEX jobs_container_idx ON jobs (container_id, id DESC);
CREATE INDEX jobs_customer_idx ON jobs (customer_id, id DESC);

-- the operation log of each container and the audit trail of who did what
CREATE TABLE events (
    id            BIGSERIAL PRIMARY KEY,
    at            TIMESTAMPTZ NOT NULL DEFAULT now(),
    kind          TEXT NOT NULL CHECK (kind IN ('operation', 'audit')),
    actor_user_id INTEGER REFERENCES users (id) ON DELETE SET NULL,
    actor         TEXT NOT NULL DEFAULT '',
    customer_id   INTEGER REFERENCES customers (id) ON DELETE SET NULL,
    container_id  INTEGER REFERENCES containers (id) ON DELETE SET NULL,
    job_id        BIGINT REFERENCES jobs (id) ON DELETE SET NULL,
    action        TEXT NOT NULL,
    target        TEXT NOT NULL DEFAULT '',
    outcome       TEXT NOT NULL DEFAULT 'ok' CHECK (outcome IN ('ok', 'warning', 'error')),
    detail        TEXT NOT NULL DEFAULT '',
    ip            TEXT
);
CREATE INDEX events_container_idx ON events (container_id, id DESC);
CREATE INDEX events_customer_idx ON events (customer_id, id DESC);
CREATE INDEX events_kind_idx ON events (kind, id DESC);
