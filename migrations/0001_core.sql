-- 0001_core: users and tokens, funds and accounts, the append-only double-entry journal,
-- four-eyes proposals, the audit log and idempotency keys.
-- The database defends money on its own: balance per currency, append-only journal and
-- audit, one reversal per entry, and account balances maintained by trigger from the lines.

CREATE TABLE organisation (
    id          bigserial PRIMARY KEY,
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    kind        text NOT NULL CHECK (kind IN ('investor', 'fund_manager', 'entrepreneur', 'partner')),
    iati_ref    text UNIQUE CHECK (iati_ref ~ '^[A-Za-z0-9][A-Za-z0-9_.-]*-[A-Za-z0-9_./-]+$'),
    iati_type   text CHECK (iati_type ~ '^[0-9]{2}$'),
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE app_user (
    id              bigserial PRIMARY KEY,
    name            text NOT NULL UNIQUE CHECK (name ~ '^[a-z0-9][a-z0-9_.-]{0,63}$'),
    role            text NOT NULL CHECK (role IN ('admin', 'fund_manager', 'approver', 'investor',
                                                  'transparency_officer', 'auditor', 'system')),
    organisation_id bigint REFERENCES organisation (id),
    created_at      timestamptz NOT NULL DEFAULT now(),
    disabled_at     timestamptz,
    -- An investor is bound to exactly one investor organisation; nobody else is.
    CHECK ((role = 'investor') = (organisation_id IS NOT NULL))
);

CREATE TABLE api_token (
    id          bigserial PRIMARY KEY,
    user_id     bigint NOT NULL REFERENCES app_user (id),
    token_hash  bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32), -- SHA-256 of the token
    label       text NOT NULL DEFAULT '' CHECK (length(label) <= 100),
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz,
    revoked_at  timestamptz
);

-- Approval authority per approver and currency, in minor units.
CREATE TABLE approval_limit (
    user_id     bigint NOT NULL REFERENCES app_user (id),
    currency    char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    limit_minor bigint NOT NULL CHECK (limit_minor >= 0),
    PRIMARY KEY (user_id, currency)
);

CREATE TABLE fund (
    id             bigserial PRIMARY KEY,
    code           text NOT NULL UNIQUE CHECK (code ~ '^[A-Z0-9][A-Z0-9-]{0,31}$'),
    name           text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    base_currency  char(3) NOT NULL CHECK (base_currency ~ '^[A-Z]{3}$'),
    created_at     timestamptz NOT NULL DEFAULT now(),
    created_by     bigint NOT NULL REFERENCES app_user (id)
);

CREATE TABLE account (
    id             bigserial PRIMARY KEY,
    fund_id        bigint NOT NULL REFERENCES fund (id),
    code           text NOT NULL CHECK (code ~ '^[0-9A-Za-z][0-9A-Za-z.:_-]{0,63}$'),
    name           text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    type           text NOT NULL CHECK (type IN ('asset', 'liability', 'equity', 'income', 'expense')),
    currency       char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    -- Signed: debits positive, credits negative. Maintained only by the journal_line trigger.
    balance_minor  bigint NOT NULL DEFAULT 0,
    created_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (fund_id, code),
    UNIQUE (id, currency),
    UNIQUE (id, fund_id)
);

CREATE TABLE journal_entry (
    id                 bigserial PRIMARY KEY,
    fund_id            bigint NOT NULL REFERENCES fund (id),
    effective_date     date NOT NULL,
    posted_at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    posted_by          bigint NOT NULL REFERENCES app_user (id),
    memo               text NOT NULL DEFAULT '' CHECK (length(memo) <= 500),
    event_type         text NOT NULL CHECK (event_type ~ '^[a-z][a-z0-9_]{0,63}$'),
    event_ref          text NOT NULL DEFAULT '' CHECK (length(event_ref) <= 200),
    reverses_entry_id  bigint UNIQUE REFERENCES journal_entry (id),
    created_xact       xid8 NOT NULL,
    -- Tamper evidence, filled once by the sealer, in sequence order behind the writers.
    seal_pos           bigint UNIQUE,
    prev_hash          bytea CHECK (prev_hash IS NULL OR length(prev_hash) = 32),
    hash               bytea CHECK (hash IS NULL OR length(hash) = 32),
    CHECK ((seal_pos IS NULL) = (hash IS NULL) AND (seal_pos IS NULL) = (prev_hash IS NULL)),
    CHECK (reverses_entry_id IS NULL OR reverses_entry_id < id)
);
CREATE INDEX journal_entry_fund_date ON journal_entry (fund_id, effective_date, id);
CREATE INDEX journal_entry_unsealed ON journal_entry (id) WHERE seal_pos IS NULL;

CREATE TABLE journal_line (
    entry_id        bigint NOT NULL REFERENCES journal_entry (id),
    line_no         smallint NOT NULL CHECK (line_no BETWEEN 1 AND 64),
    account_id      bigint NOT NULL,
    currency        char(3) NOT NULL,
    amount_minor    bigint NOT NULL CHECK (amount_minor <> 0), -- debit > 0, credit < 0
    effective_date  date NOT NULL,                             -- copy of the entry's, for as-of reads
    PRIMARY KEY (entry_id, line_no),
    FOREIGN KEY (account_id, currency) REFERENCES account (id, currency)
);
CREATE INDEX journal_line_account_date ON journal_line (account_id, effective_date, entry_id)
    INCLUDE (amount_minor);

-- Refuse any change to rows that are history.
CREATE FUNCTION forbid_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% on % is not allowed: it is append-only', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'P0001', HINT = 'post a reversal entry instead';
END $$;

CREATE TRIGGER journal_line_append_only BEFORE UPDATE OR DELETE ON journal_line
    FOR EACH ROW EXECUTE FUNCTION forbid_change();
CREATE TRIGGER journal_line_no_truncate BEFORE TRUNCATE ON journal_line
    FOR EACH STATEMENT EXECUTE FUNCTION forbid_change();
CREATE TRIGGER journal_entry_no_delete BEFORE DELETE ON journal_entry
    FOR EACH ROW EXECUTE FUNCTION forbid_change();
CREATE TRIGGER journal_entry_no_truncate BEFORE TRUNCATE ON journal_entry
    FOR EACH STATEMENT EXECUTE FUNCTION forbid_change();

-- An entry is written once; the only later change is sealing: seal columns from NULL to set.
CREATE FUNCTION journal_entry_guard_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.seal_pos IS NULL AND NEW.seal_pos IS NOT NULL
       AND (NEW.id, NEW.fund_id, NEW.effective_date, NEW.posted_at, NEW.posted_by, NEW.memo,
            NEW.event_type, NEW.event_ref, NEW.reverses_entry_id, NEW.created_xact)
           IS NOT DISTINCT FROM
           (OLD.id, OLD.fund_id, OLD.effective_date, OLD.posted_at, OLD.posted_by, OLD.memo,
            OLD.event_type, OLD.event_ref, OLD.reverses_entry_id, OLD.created_xact) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'UPDATE on journal_entry % is not allowed: posted entries are immutable', OLD.id
        USING ERRCODE = 'P0001', HINT = 'post a reversal entry instead';
END $$;
CREATE TRIGGER journal_entry_immutable BEFORE UPDATE ON journal_entry
    FOR EACH ROW EXECUTE FUNCTION journal_entry_guard_update();

-- New entries carry the transaction that wrote them and start unsealed.
CREATE FUNCTION journal_entry_before_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.created_xact := pg_current_xact_id();
    NEW.seal_pos := NULL;
    NEW.prev_hash := NULL;
    NEW.hash := NULL;
    RETURN NEW;
END $$;
CREATE TRIGGER journal_entry_stamp BEFORE INSERT ON journal_entry
    FOR EACH ROW EXECUTE FUNCTION journal_entry_before_insert();

-- At commit: every entry has two or more lines, balanced per currency; a reversal negates
-- exactly the lines of the entry it reverses, and a reversal is never itself reversed.
CREATE FUNCTION journal_entry_check_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    n_lines   int;
    n_unbal   int;
    n_diff    int;
BEGIN
    SELECT count(*) INTO n_lines FROM journal_line WHERE entry_id = NEW.id;
    IF n_lines < 2 THEN
        RAISE EXCEPTION 'journal entry % has % line(s); at least 2 are required', NEW.id, n_lines
            USING ERRCODE = '23514';
    END IF;
    SELECT count(*) INTO n_unbal FROM (
        SELECT currency FROM journal_line WHERE entry_id = NEW.id
        GROUP BY currency HAVING sum(amount_minor) <> 0) u;
    IF n_unbal > 0 THEN
        RAISE EXCEPTION 'journal entry % is not balanced in % currency(ies)', NEW.id, n_unbal
            USING ERRCODE = '23514';
    END IF;
    IF NEW.reverses_entry_id IS NOT NULL THEN
        IF EXISTS (SELECT 1 FROM journal_entry WHERE id = NEW.reverses_entry_id
                   AND reverses_entry_id IS NOT NULL) THEN
            RAISE EXCEPTION 'entry % is a reversal and cannot be reversed', NEW.reverses_entry_id
                USING ERRCODE = '23514';
        END IF;
        SELECT count(*) INTO n_diff FROM (
            (SELECT account_id, -amount_minor FROM journal_line WHERE entry_id = NEW.reverses_entry_id
             EXCEPT ALL
             SELECT account_id, amount_minor FROM journal_line WHERE entry_id = NEW.id)
            UNION ALL
            (SELECT account_id, amount_minor FROM journal_line WHERE entry_id = NEW.id
             EXCEPT ALL
             SELECT account_id, -amount_minor FROM journal_line WHERE entry_id = NEW.reverses_entry_id)
        ) d;
        IF n_diff > 0 THEN
            RAISE EXCEPTION 'reversal % does not negate entry %', NEW.id, NEW.reverses_entry_id
                USING ERRCODE = '23514';
        END IF;
    END IF;
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER journal_entry_balanced AFTER INSERT ON journal_entry
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION journal_entry_check_balanced();

-- Lines may only be added to entries of the same transaction, on accounts of the entry's
-- fund, with the entry's date; they move account balances (locked in id order).
CREATE FUNCTION journal_line_after_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (
        SELECT 1 FROM new_lines nl
        JOIN journal_entry e ON e.id = nl.entry_id
        JOIN account a ON a.id = nl.account_id
        WHERE e.created_xact <> pg_current_xact_id()
           OR a.fund_id <> e.fund_id
           OR nl.effective_date <> e.effective_date) THEN
        RAISE EXCEPTION 'journal lines must belong to an entry of this transaction, on accounts of its fund, with its date'
            USING ERRCODE = '23514';
    END IF;
    PERFORM 1 FROM account WHERE id IN (SELECT account_id FROM new_lines) ORDER BY id FOR UPDATE;
    UPDATE account a SET balance_minor = a.balance_minor + d.s
      FROM (SELECT account_id, sum(amount_minor) AS s FROM new_lines GROUP BY account_id) d
     WHERE a.id = d.account_id;
    RETURN NULL;
END $$;
CREATE TRIGGER journal_line_post AFTER INSERT ON journal_line
    REFERENCING NEW TABLE AS new_lines
    FOR EACH STATEMENT EXECUTE FUNCTION journal_line_after_insert();

-- Balances move only through journal lines.
CREATE FUNCTION account_guard_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.balance_minor IS DISTINCT FROM OLD.balance_minor AND pg_trigger_depth() < 2 THEN
        RAISE EXCEPTION 'account balances change only by posting journal lines'
            USING ERRCODE = 'P0001';
    END IF;
    IF (NEW.id, NEW.fund_id, NEW.currency, NEW.type) IS DISTINCT FROM
       (OLD.id, OLD.fund_id, OLD.currency, OLD.type) THEN
        RAISE EXCEPTION 'account identity (fund, currency, type) cannot change'
            USING ERRCODE = 'P0001';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER account_guard BEFORE UPDATE ON account
    FOR EACH ROW EXECUTE FUNCTION account_guard_update();
CREATE TRIGGER account_no_delete BEFORE DELETE ON account
    FOR EACH ROW EXECUTE FUNCTION forbid_change();

-- Four eyes: a maker proposes, a different approver approves (or rejects) within a limit.
CREATE TABLE proposal (
    id               bigserial PRIMARY KEY,
    fund_id          bigint NOT NULL REFERENCES fund (id),
    kind             text NOT NULL CHECK (kind ~ '^[a-z][a-z0-9_]{0,63}$'),
    payload          jsonb NOT NULL,
    amount_minor     bigint NOT NULL CHECK (amount_minor >= 0),
    currency         char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    status           text NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'approved', 'rejected', 'cancelled')),
    proposed_by      bigint NOT NULL REFERENCES app_user (id),
    proposed_at      timestamptz NOT NULL DEFAULT now(),
    decided_at       timestamptz,
    reason           text CHECK (length(reason) <= 500),
    result_entry_id  bigint REFERENCES journal_entry (id),
    CHECK ((status = 'pending') = (decided_at IS NULL)),
    CHECK (status <> 'rejected' OR length(reason) > 0)
);
CREATE INDEX proposal_pending ON proposal (fund_id, id) WHERE status = 'pending';

CREATE TABLE proposal_decision (
    proposal_id  bigint NOT NULL REFERENCES proposal (id),
    user_id      bigint NOT NULL REFERENCES app_user (id),
    decision     text NOT NULL CHECK (decision IN ('approve', 'reject')),
    reason       text NOT NULL DEFAULT '' CHECK (length(reason) <= 500),
    limit_minor  bigint NOT NULL CHECK (limit_minor >= 0), -- the approver's limit at the time
    decided_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (proposal_id, user_id)
);

-- The maker never decides on their own proposal (checked in C as well).
CREATE FUNCTION proposal_decision_not_maker() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM proposal WHERE id = NEW.proposal_id AND proposed_by = NEW.user_id) THEN
        RAISE EXCEPTION 'the maker of proposal % cannot decide on it', NEW.proposal_id
            USING ERRCODE = '23514';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER proposal_decision_four_eyes BEFORE INSERT ON proposal_decision
    FOR EACH ROW EXECUTE FUNCTION proposal_decision_not_maker();
CREATE TRIGGER proposal_decision_append_only BEFORE UPDATE OR DELETE ON proposal_decision
    FOR EACH ROW EXECUTE FUNCTION forbid_change();

CREATE TABLE audit_log (
    id          bigserial PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    user_id     bigint REFERENCES app_user (id),
    token_id    bigint REFERENCES api_token (id),
    action      text NOT NULL CHECK (action ~ '^[a-z][a-z0-9_.]{0,63}$'),
    object_type text NOT NULL DEFAULT '',
    object_id   text NOT NULL DEFAULT '',
    fund_id     bigint REFERENCES fund (id),
    detail      jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_fund ON audit_log (fund_id, id);
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION forbid_change();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION forbid_change();

-- A write request's key: a retry with the same body gets the stored reply, another body 409.
CREATE TABLE idempotency_key (
    user_id       bigint NOT NULL REFERENCES app_user (id),
    key           text NOT NULL CHECK (length(key) BETWEEN 1 AND 200),
    request_hash  bytea NOT NULL CHECK (length(request_hash) = 32),
    status_code   int NOT NULL CHECK (status_code BETWEEN 200 AND 299),
    response      text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, key)
);
CREATE TRIGGER idempotency_key_append_only BEFORE UPDATE OR DELETE ON idempotency_key
    FOR EACH ROW EXECUTE FUNCTION forbid_change();
