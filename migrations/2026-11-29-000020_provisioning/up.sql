-- Provisioning from the staff pages: a login made by staff gets a one-time link to choose
-- its password (only the SHA-256 of the link's secret is kept), and a platform distro can be
-- retired, which stops it from being chosen anew.
CREATE TABLE password_links (
    id          SERIAL PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash  TEXT NOT NULL UNIQUE CHECK (token_hash ~ '^[0-9a-f]{64}$'),
    created_by  INTEGER REFERENCES users (id) ON DELETE SET NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at  TIMESTAMPTZ NOT NULL DEFAULT now() + INTERVAL '24 hours',
    used_at     TIMESTAMPTZ,
    CONSTRAINT password_links_expire_after_creation CHECK (expires_at > created_at)
);
CREATE INDEX password_links_user_idx ON password_links (user_id);

ALTER TABLE distros ADD COLUMN retired_at TIMESTAMPTZ;
