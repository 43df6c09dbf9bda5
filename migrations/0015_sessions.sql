-- 0015_sessions: sign-in for people (docs/console.md): a password (Argon2id encoded string) and
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

-- The service role (migration 0010): exactly the columns its statements change; an ended session
-- stays ended, a used TOTP step never goes back (under the same secret), attempts are history (guards below hold for the
-- owner too); nothing is deleted or truncated.
GRANT SELECT, INSERT, UPDATE (password_hash, totp_secret, totp_last_step, updated_at) ON user_credential
    TO fundledger_app;
GRANT SELECT, INSERT, UPDATE (last_seen_at, ended_at, ended_why) ON web_session TO fundledger_app;
GRANT SELECT, INSERT ON login_attempt TO fundledger_app;
GRANT USAGE ON SEQUENCE web_session_id_seq, login_attempt_id_seq TO fundledger_app;

CREATE FUNCTION web_session_guard_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.ended_at IS NOT NULL THEN
        RAISE EXCEPTION 'session % has ended: an ended session is final', OLD.id USING ERRCODE = 'P0001';
    END IF;
    IF (NEW.id, NEW.token_hash, NEW.user_id, NEW.created_at, NEW.expires_at, NEW.address) IS DISTINCT FROM
       (OLD.id, OLD.token_hash, OLD.user_id, OLD.created_at, OLD.expires_at, OLD.address) THEN
        RAISE EXCEPTION 'session % cannot change its token, user, creation, expiry or address', OLD.id
            USING ERRCODE = 'P0001';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER web_session_ended_final BEFORE UPDATE ON web_session
    FOR EACH ROW EXECUTE FUNCTION web_session_guard_update();
CREATE FUNCTION user_credential_guard_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- A new secret (user totp) starts its steps again; with the same secret a used step is spent.
    IF NEW.user_id IS DISTINCT FROM OLD.user_id OR
       (NEW.totp_last_step < OLD.totp_last_step AND NEW.totp_secret IS NOT DISTINCT FROM OLD.totp_secret) THEN
        RAISE EXCEPTION 'credential of user %: the user never changes and a used TOTP step never goes back',
            OLD.user_id USING ERRCODE = 'P0001';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER user_credential_step_forward BEFORE UPDATE ON user_credential
    FOR EACH ROW EXECUTE FUNCTION user_credential_guard_update();
CREATE TRIGGER web_session_no_delete BEFORE DELETE ON web_session
    FOR EACH ROW EXECUTE FUNCTION forbid_change();
CREATE TRIGGER web_session_no_truncate BEFORE TRUNCATE ON web_session
    FOR EACH STATEMENT EXECUTE FUNCTION forbid_change();
CREATE TRIGGER login_attempt_append_only BEFORE UPDATE OR DELETE ON login_attempt
    FOR EACH ROW EXECUTE FUNCTION forbid_change();
CREATE TRIGGER login_attempt_no_truncate BEFORE TRUNCATE ON login_attempt
    FOR EACH STATEMENT EXECUTE FUNCTION forbid_change();
