-- Login throttling keyed as OWASP suggests: failures per (username, address), per address and
-- per username; and the addresses each user logged in from, whose right password is never
-- locked out by failures from elsewhere. Addresses are keys: IPv6 aggregated to its /64.

CREATE INDEX login_attempts_username_ip_idx ON login_attempts (username, ip, at DESC);

CREATE TABLE login_successes (
    user_id  INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    ip       TEXT NOT NULL CHECK (length(ip) <= 64),
    at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, ip)
);
CREATE INDEX login_successes_at_idx ON login_successes (at);
