-- 0021_verify_runs: every run of `verify` is kept (who ran it, how, what it checked and found),
-- so the auditor's screen shows the last result; and TOTP secrets are sealed at rest
-- (AES-256-GCM with a key outside the database; docs/console.md, Passwords and the second factor).

-- One row per finished verify run (fundledger verify, or POST /v1/verify-runs). History: never
-- changed, deleted or truncated.
CREATE TABLE verify_run (
    id               bigserial PRIMARY KEY,
    started_at       timestamptz NOT NULL,
    finished_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    via              text NOT NULL CHECK (via IN ('cli', 'api')),
    -- The signed-in user (api); NULL for the command line, which names the system user in run_by.
    user_id          bigint REFERENCES app_user (id),
    run_by           text NOT NULL CHECK (length(run_by) BETWEEN 1 AND 64),
    entries_checked  bigint NOT NULL CHECK (entries_checked >= 0),   -- sealed entries in the chain
    entries_unsealed bigint NOT NULL CHECK (entries_unsealed >= 0),
    accounts_checked bigint NOT NULL CHECK (accounts_checked >= 0),
    anchors_checked  bigint NOT NULL CHECK (anchors_checked >= 0),
    anchor_log_lines bigint NOT NULL CHECK (anchor_log_lines >= 0),
    origins_checked  bigint NOT NULL CHECK (origins_checked >= 0),   -- entries against their origin
    key_id           text NOT NULL DEFAULT '' CHECK (length(key_id) <= 16),
    ok               boolean NOT NULL,
    problems_total   integer NOT NULL CHECK (problems_total >= 0),
    -- The listed problems: [{"entry_id", "account_id", "text"}] (at most LEDGER_VERIFY_PROBLEMS_MAX).
    findings         jsonb NOT NULL CHECK (jsonb_typeof(findings) = 'array'),
    CHECK (finished_at >= started_at),
    CHECK (ok = (problems_total = 0)),
    CHECK ((via = 'api') = (user_id IS NOT NULL))
);

GRANT SELECT, INSERT ON verify_run TO fundledger_app;
GRANT USAGE ON SEQUENCE verify_run_id_seq TO fundledger_app;
CREATE TRIGGER verify_run_append_only BEFORE UPDATE OR DELETE ON verify_run
    FOR EACH ROW EXECUTE FUNCTION forbid_change();
CREATE TRIGGER verify_run_no_truncate BEFORE TRUNCATE ON verify_run
    FOR EACH STATEMENT EXECUTE FUNCTION forbid_change();

-- TOTP secrets sealed with AES-256-GCM: nonce (12 bytes) || ciphertext || tag (16 bytes), the
-- user id as associated data. A secret stored before this migration is clear (totp_sealed false)
-- until the server's next start seals it (session_totp_seal_clear).
ALTER TABLE user_credential ADD COLUMN totp_sealed boolean NOT NULL DEFAULT false;
ALTER TABLE user_credential DROP CONSTRAINT user_credential_totp_secret_check;
ALTER TABLE user_credential ADD CONSTRAINT user_credential_totp_secret_check CHECK (
    totp_secret IS NULL OR
    (NOT totp_sealed AND length(totp_secret) BETWEEN 16 AND 64) OR
    (totp_sealed AND length(totp_secret) BETWEEN 12 + 16 + 16 AND 12 + 64 + 16));
GRANT UPDATE (totp_sealed) ON user_credential TO fundledger_app;
