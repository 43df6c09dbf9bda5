-- 0010_sessions: sign-in for people (docs/console.md): a password (Argon2id encoded string) and
-- a TOTP secret per user, browser sessions bound to a server-side row, and the login attempts
-- that rate limiting counts. Bearer tokens (api_token) are unchanged.

-- One row per user who may sign in with a password. The TOTP secret is never returned by any
-- route; only `fundledger user totp NAME` shows it, once, as an otpauth URI.
CREATE TABLE user_credential (
    user_id        bigint PRIMARY KEY REFERENCES app_user (id),
    password_hash  text NOT NULL CHECK (password_hash LIKE '$argon2id$%' AND length(password_hash) <= 256),
    totp_secret    bytea CHECK (totp_secret IS NULL OR length(totp_secret) BETWEEN 16 AND 64),
    -- The last 30-second step whose code signed in: a code is accepted once (no replay).
    totp_last_step bigint NOT NULL DEFAULT 0,
    updated_at     timestamptz NOT NULL DEFAULT now()
);

-- A browser session. Only the SHA-256 of the cookie value is stored; the CSRF token is derived
-- from the cookie value (SHA-256 of a label and the value) so it is not stored either.
CREATE TABLE web_session (
    id            bigserial PRIMARY KEY,
    token_hash    char(64) NOT NULL UNIQUE CHECK (token_hash ~ '^[0-9a-f]{64}$'),
    user_id       bigint NOT NULL REFERENCES app_user (id),
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_seen_at  timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    ended_at      timestamptz,
    ended_why     text CHECK (ended_why IN ('logout', 'revoked', 'password_changed', 'replaced')),
    address       text NOT NULL DEFAULT '' CHECK (length(address) <= 64),
    CHECK ((ended_at IS NULL) = (ended_why IS NULL)),
    CHECK (expires_at > created_at)
);
CREATE INDEX web_session_user ON web_session (user_id) WHERE ended_at IS NULL;

-- Every login attempt, kept so that limits hold across restarts and worker threads.
CREATE TABLE login_attempt (
    id         bigserial PRIMARY KEY,
    at         timestamptz NOT NULL DEFAULT clock_timestamp(),
    user_name  text NOT NULL CHECK (length(user_name) <= 64),
    address    text NOT NULL CHECK (length(address) <= 64),
    ok         boolean NOT NULL
);
CREATE INDEX login_attempt_name ON login_attempt (user_name, at) WHERE NOT ok;
CREATE INDEX login_attempt_address ON login_attempt (address, at) WHERE NOT ok;

-- grants: user_credential SELECT, INSERT, UPDATE; web_session SELECT, INSERT, UPDATE;
-- web_session_id_seq USAGE; login_attempt SELECT, INSERT; login_attempt_id_seq USAGE
