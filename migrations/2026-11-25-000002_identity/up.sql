-- Identity and access: failed logins counted in the database (so the limit holds across web
-- nodes), and a public id per session so a user can list and end sessions without the row ever
-- exposing the cookie's key.

CREATE TABLE login_attempts (
    id        BIGSERIAL PRIMARY KEY,
    -- as typed, capped: unknown names count too
    username  TEXT NOT NULL CHECK (length(username) <= 256),
    ip        TEXT NOT NULL CHECK (length(ip) <= 64),
    at        TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX login_attempts_username_idx ON login_attempts (username, at DESC);
CREATE INDEX login_attempts_ip_idx ON login_attempts (ip, at DESC);
CREATE INDEX login_attempts_at_idx ON login_attempts (at);

-- sessions.key_hash is the SHA-256 of the cookie's key; public_id names a session in the panel
ALTER TABLE sessions ADD COLUMN public_id TEXT UNIQUE CHECK (public_id ~ '^[0-9a-f]{32}$');
ALTER TABLE sessions ADD CONSTRAINT sessions_key_hash_shape CHECK (key_hash ~ '^[0-9a-f]{64}$');
CREATE INDEX sessions_created_idx ON sessions (created_at);

-- a token is stored as the SHA-256 of its secret, never the secret
ALTER TABLE api_tokens ADD CONSTRAINT api_tokens_token_hash_shape CHECK (token_hash ~ '^[0-9a-f]{64}$');
CREATE INDEX api_tokens_user_active_idx ON api_tokens (user_id, id) WHERE revoked_at IS NULL;
