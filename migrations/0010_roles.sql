-- 0010_roles: the service's own least-privilege role, and guards on the tables that decide who
-- may do what.
--
-- Migrations run as the owner (the role that owns every table, sequence and function here); the
-- service connects as fundledger_app, which is not a superuser, has no CREATEDB, CREATEROLE,
-- REPLICATION or BYPASSRLS, is a member of no role, owns nothing, and holds exactly the
-- privileges below: SELECT where it reads, INSERT where it writes history, UPDATE only on the
-- columns a statement of src/db/statements.c (or a trigger it fires) updates, USAGE on the
-- sequences behind the ids it inserts, and no DELETE or TRUNCATE anywhere. As that role, SET
-- session_replication_role, ALTER TABLE ... DISABLE TRIGGER and DROP TRIGGER are refused
-- (superuser / owner only), so the triggers of 0001-0009 hold whatever the service's code does.
-- docs/architecture.md (Database roles) has the same table, and tests/db/test_privileges.c
-- checks the database against it.
--
-- Creating the role needs CREATEROLE (the private cluster's owner is its bootstrap superuser).
-- With an external database, an administrator may create it first (CREATE ROLE fundledger_app
-- LOGIN PASSWORD '...'); this migration then only checks that it has no more than it should.

DO $$
DECLARE
    r pg_roles%ROWTYPE;
BEGIN
    IF current_user = 'fundledger_app' THEN
        RAISE EXCEPTION 'migrations must run as the owner, not as the service role fundledger_app'
            USING HINT = 'set database_owner_url to the owner''s connection';
    END IF;
    SELECT * INTO r FROM pg_roles WHERE rolname = 'fundledger_app';
    IF NOT FOUND THEN
        IF NOT (SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user) THEN
            RAISE EXCEPTION 'role fundledger_app does not exist and % may not create it', current_user
                USING HINT = 'as a database administrator: CREATE ROLE fundledger_app LOGIN PASSWORD ''...''';
        END IF;
        CREATE ROLE fundledger_app LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOREPLICATION NOBYPASSRLS;
    ELSIF r.rolsuper OR r.rolcreatedb OR r.rolcreaterole OR r.rolreplication OR r.rolbypassrls THEN
        RAISE EXCEPTION 'role fundledger_app must not be a superuser or have CREATEDB, CREATEROLE, REPLICATION or BYPASSRLS';
    END IF;
    IF EXISTS (SELECT 1 FROM pg_auth_members m JOIN pg_roles u ON u.oid = m.member
               WHERE u.rolname = 'fundledger_app') THEN
        RAISE EXCEPTION 'role fundledger_app must not be a member of another role';
    END IF;
    -- PostgreSQL 15 no longer lets every role create objects in schema public; older clusters do.
    IF has_schema_privilege('fundledger_app', 'public', 'CREATE') THEN
        REVOKE CREATE ON SCHEMA public FROM PUBLIC;
    END IF;
END $$;

GRANT USAGE ON SCHEMA public TO fundledger_app;
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM fundledger_app;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM fundledger_app;

-- Read everywhere: the API, statements, IATI export, verify and /readyz read every table.
GRANT SELECT ON ALL TABLES IN SCHEMA public TO fundledger_app;

-- History and records: written once, never changed by the service.
GRANT INSERT ON organisation, app_user, account, journal_line, proposal_decision, audit_log,
                idempotency_key, entrepreneur_stage, tranche_change, capital_call, contribution,
                commitment_cancellation, loan_schedule, loan_funding, loan_condition, disbursement,
                repayment, repayment_allocation, write_off, recovery, waterfall_run, waterfall_step,
                publication
    TO fundledger_app;

-- Rows with a life: INSERT, and UPDATE of exactly the columns the service's statements change.
GRANT INSERT, UPDATE (revoked_at, expires_at) ON api_token TO fundledger_app;           -- auth_token_revoke, auth_token_renew
GRANT INSERT, UPDATE (limit_minor) ON approval_limit TO fundledger_app;                 -- auth_limit_set (upsert)
GRANT INSERT, UPDATE (waterfall_mode, reserve_target_minor) ON fund TO fundledger_app;  -- fund_settings_update
-- Sealing (ledger_seal_update) is the one update of a posted entry; journal_entry_immutable
-- allows it only from unsealed, and nothing else.
GRANT INSERT, UPDATE (seal_pos, prev_hash, hash) ON journal_entry TO fundledger_app;
-- Balance rows are inserted by the account trigger and moved by the journal line trigger, which
-- run as the service; account_balance's own triggers refuse both at trigger depth 0.
GRANT INSERT, UPDATE (balance_minor) ON account_balance TO fundledger_app;
GRANT INSERT, UPDATE (status, decided_at, reason, result_entry_id) ON proposal TO fundledger_app;  -- approval_finish
-- The stage moves by the entrepreneur_stage trigger (entrepreneur_guard refuses it at depth 0).
GRANT INSERT, UPDATE (stage, stage_changed_at) ON entrepreneur TO fundledger_app;
GRANT INSERT, UPDATE (approved_by, approved_at) ON hs_measure TO fundledger_app;        -- pipeline_measure_approve
GRANT INSERT, UPDATE (commitment_minor, return_rate, fee_rate, eligibility, status) ON tranche TO fundledger_app;
GRANT INSERT, UPDATE (status, approved_on, drawn_minor, written_off_minor) ON loan TO fundledger_app;
-- municipality, value_chain, usury_rate (reference data) and schema_migration: SELECT only.

-- The ids of the rows the service inserts (nextval only: USAGE, not UPDATE, so no setval).
GRANT USAGE ON SEQUENCE organisation_id_seq, app_user_id_seq, api_token_id_seq, fund_id_seq, account_id_seq,
                        journal_entry_id_seq, proposal_id_seq, audit_log_id_seq, entrepreneur_id_seq,
                        entrepreneur_stage_id_seq, hs_measure_id_seq, tranche_id_seq, tranche_change_id_seq,
                        capital_call_id_seq, contribution_id_seq, commitment_cancellation_id_seq, loan_id_seq,
                        disbursement_id_seq, repayment_id_seq, write_off_id_seq, recovery_id_seq,
                        waterfall_run_id_seq, publication_id_seq
    TO fundledger_app;

-- Proposals: a decision is final. Once approved, rejected or cancelled a proposal never changes
-- again (never back to pending, never a second posting); what was proposed never changes; a
-- pending proposal names no posting. Proposals are never deleted.
CREATE FUNCTION proposal_guard_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.status <> 'pending' THEN
        RAISE EXCEPTION 'proposal % is already %: a decision is final', OLD.id, OLD.status
            USING ERRCODE = 'P0001';
    END IF;
    IF (NEW.id, NEW.fund_id, NEW.kind, NEW.payload, NEW.amount_minor, NEW.currency, NEW.proposed_by, NEW.proposed_at)
       IS DISTINCT FROM
       (OLD.id, OLD.fund_id, OLD.kind, OLD.payload, OLD.amount_minor, OLD.currency, OLD.proposed_by, OLD.proposed_at) THEN
        RAISE EXCEPTION 'proposal % cannot change what was proposed', OLD.id USING ERRCODE = 'P0001';
    END IF;
    IF NEW.status = 'pending' AND NEW.result_entry_id IS NOT NULL THEN
        RAISE EXCEPTION 'proposal % is pending and cannot name a posting', OLD.id USING ERRCODE = 'P0001';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER proposal_decided_final BEFORE UPDATE ON proposal
    FOR EACH ROW EXECUTE FUNCTION proposal_guard_update();
CREATE TRIGGER proposal_no_delete BEFORE DELETE ON proposal
    FOR EACH ROW EXECUTE FUNCTION forbid_change();
CREATE TRIGGER proposal_no_truncate BEFORE TRUNCATE ON proposal
    FOR EACH STATEMENT EXECUTE FUNCTION forbid_change();
CREATE TRIGGER proposal_decision_no_truncate BEFORE TRUNCATE ON proposal_decision
    FOR EACH STATEMENT EXECUTE FUNCTION forbid_change();

-- One proposal, at most one posting. A proposal records its posting once (above); an entry is
-- the posting of at most one proposal; a manual entry names its proposal in its event reference
-- ("proposal:<id>", src/ledger/journal.c), so a second entry for one proposal is refused by the
-- journal itself, whatever wrote it; a tranche, a tranche change, a loan, a disbursement and a
-- write-off each come from their own proposal (the last three were already unique).
CREATE UNIQUE INDEX proposal_result_entry_key ON proposal (result_entry_id) WHERE result_entry_id IS NOT NULL;
CREATE UNIQUE INDEX journal_entry_proposal_posting_key ON journal_entry (event_ref)
    WHERE event_ref LIKE 'proposal:%';
CREATE UNIQUE INDEX tranche_proposal_key ON tranche (proposal_id);
CREATE UNIQUE INDEX tranche_change_proposal_key ON tranche_change (proposal_id);

-- Tokens: a revocation is final (revoked_at is set once and never cleared or moved); a token's
-- user, hash and creation never change; a renewal moves a live token's expiry (later, or sooner)
-- and never removes it, and an expired token stays expired. Tokens are never deleted (revoke them).
CREATE FUNCTION api_token_guard_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.revoked_at IS NOT NULL THEN
        RAISE EXCEPTION 'token % is revoked: a revocation is final', OLD.id USING ERRCODE = 'P0001';
    END IF;
    IF (NEW.id, NEW.user_id, NEW.token_hash, NEW.created_at) IS DISTINCT FROM
       (OLD.id, OLD.user_id, OLD.token_hash, OLD.created_at) THEN
        RAISE EXCEPTION 'token % cannot change its user, hash or creation', OLD.id USING ERRCODE = 'P0001';
    END IF;
    IF NEW.expires_at IS DISTINCT FROM OLD.expires_at THEN
        IF NEW.expires_at IS NULL THEN
            RAISE EXCEPTION 'token % keeps an expiry: a renewal never removes it', OLD.id USING ERRCODE = 'P0001';
        END IF;
        IF OLD.expires_at IS NOT NULL AND OLD.expires_at <= now() THEN
            RAISE EXCEPTION 'token % has expired: an expired token is not renewed', OLD.id USING ERRCODE = 'P0001';
        END IF;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER api_token_revocation_final BEFORE UPDATE ON api_token
    FOR EACH ROW EXECUTE FUNCTION api_token_guard_update();
CREATE TRIGGER api_token_no_delete BEFORE DELETE ON api_token
    FOR EACH ROW EXECUTE FUNCTION forbid_change();
CREATE TRIGGER api_token_no_truncate BEFORE TRUNCATE ON api_token
    FOR EACH STATEMENT EXECUTE FUNCTION forbid_change();

-- Users: the service has no path that changes a user's name, role or organisation (the admin API
-- creates users; fundledger_app has no UPDATE on app_user). For every role: a user's name, role
-- and organisation never change (make a new user and disable the old one); disabling stays possible.
CREATE FUNCTION app_user_guard_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'user % cannot change name, role or organisation', OLD.id
        USING ERRCODE = 'P0001', HINT = 'create a new user and disable this one';
END $$;
CREATE TRIGGER app_user_role_fixed BEFORE UPDATE ON app_user
    FOR EACH ROW
    WHEN ((NEW.id, NEW.name, NEW.role, NEW.organisation_id, NEW.created_at)
          IS DISTINCT FROM (OLD.id, OLD.name, OLD.role, OLD.organisation_id, OLD.created_at))
    EXECUTE FUNCTION app_user_guard_update();

-- Idempotency keys: UPDATE and DELETE were refused (0001); TRUNCATE now too.
CREATE TRIGGER idempotency_key_no_truncate BEFORE TRUNCATE ON idempotency_key
    FOR EACH STATEMENT EXECUTE FUNCTION forbid_change();
