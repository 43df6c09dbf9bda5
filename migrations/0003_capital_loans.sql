-- 0003_capital_loans: the capital stack (tranches, calls, contributions, cancellations), loans
-- with stored schedules and funding shares, the dated usury cap, conditions precedent,
-- disbursements, repayments and their allocation, write-offs, recoveries and waterfall runs.
-- Every money movement here points at the journal entry that posted it.

-- Memo (off-balance) accounts hold commitments; they balance among themselves.
ALTER TABLE account DROP CONSTRAINT account_type_check;
ALTER TABLE account ADD CONSTRAINT account_type_check
    CHECK (type IN ('asset', 'liability', 'equity', 'income', 'expense', 'memo'));

ALTER TABLE fund ADD COLUMN waterfall_mode text NOT NULL DEFAULT 'sequential'
    CHECK (waterfall_mode IN ('sequential', 'pro_rata'));
ALTER TABLE fund ADD COLUMN reserve_target_minor bigint NOT NULL DEFAULT 0 CHECK (reserve_target_minor >= 0);
ALTER TABLE fund ADD COLUMN iati_activity_id text CHECK (length(iati_activity_id) <= 200);

CREATE TABLE tranche (
    id                    bigserial PRIMARY KEY,
    fund_id               bigint NOT NULL REFERENCES fund (id),
    investor_id           bigint NOT NULL REFERENCES organisation (id),
    name                  text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    kind                  text NOT NULL CHECK (kind IN ('first_loss', 'mezzanine', 'senior')),
    rank                  int NOT NULL CHECK (rank BETWEEN 1 AND 16), -- 1 = most senior
    currency              char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    commitment_minor      bigint NOT NULL CHECK (commitment_minor > 0),
    return_rate           bigint NOT NULL DEFAULT 0 CHECK (return_rate BETWEEN 0 AND 999999999), -- 1e-8, EA
    fee_rate              bigint NOT NULL DEFAULT 0 CHECK (fee_rate BETWEEN 0 AND 999999999),
    -- {"women_led_only": bool, "municipalities": ["52250"], "value_chains": ["cacao"]}
    eligibility           jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(eligibility) = 'object'),
    signed_date           date NOT NULL,
    provider_activity_id  text CHECK (length(provider_activity_id) <= 200), -- the investor's IATI activity
    status                text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'closed')),
    proposal_id           bigint NOT NULL REFERENCES proposal (id),
    created_at            timestamptz NOT NULL DEFAULT now(),
    UNIQUE (fund_id, name)
);
CREATE INDEX tranche_fund ON tranche (fund_id, rank, id);

-- Changes to a tranche's terms, each approved by four eyes, kept as history.
CREATE TABLE tranche_change (
    id           bigserial PRIMARY KEY,
    tranche_id   bigint NOT NULL REFERENCES tranche (id),
    proposal_id  bigint NOT NULL REFERENCES proposal (id),
    before       jsonb NOT NULL,
    after        jsonb NOT NULL,
    at           timestamptz NOT NULL DEFAULT now()
);
CREATE TRIGGER tranche_change_append_only BEFORE UPDATE OR DELETE ON tranche_change
    FOR EACH ROW EXECUTE FUNCTION forbid_change();

CREATE TABLE capital_call (
    id            bigserial PRIMARY KEY,
    tranche_id    bigint NOT NULL REFERENCES tranche (id),
    call_no       int NOT NULL CHECK (call_no >= 1),
    amount_minor  bigint NOT NULL CHECK (amount_minor > 0),
    call_date     date NOT NULL,
    due_date      date NOT NULL CHECK (due_date >= call_date),
    created_by    bigint NOT NULL REFERENCES app_user (id),
    created_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tranche_id, call_no)
);

CREATE TABLE contribution (
    id               bigserial PRIMARY KEY,
    tranche_id       bigint NOT NULL REFERENCES tranche (id),
    capital_call_id  bigint REFERENCES capital_call (id),
    amount_minor     bigint NOT NULL CHECK (amount_minor > 0),
    received_date    date NOT NULL,
    reference        text NOT NULL CHECK (length(reference) BETWEEN 1 AND 200),
    entry_id         bigint NOT NULL UNIQUE REFERENCES journal_entry (id),
    created_by       bigint NOT NULL REFERENCES app_user (id),
    created_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tranche_id, reference)
);

CREATE TABLE commitment_cancellation (
    id            bigserial PRIMARY KEY,
    tranche_id    bigint NOT NULL REFERENCES tranche (id),
    amount_minor  bigint NOT NULL CHECK (amount_minor > 0),
    cancel_date   date NOT NULL,
    reason        text NOT NULL CHECK (length(reason) BETWEEN 1 AND 500),
    entry_id      bigint NOT NULL UNIQUE REFERENCES journal_entry (id),
    created_by    bigint NOT NULL REFERENCES app_user (id),
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- The legal cap (tasa de usura) as a dated table: one rate per modality and period.
CREATE TABLE usury_rate (
    id          bigserial PRIMARY KEY,
    modality    text NOT NULL CHECK (modality IN ('consumo_ordinario', 'microcredito', 'productivo_rural')),
    valid_from  date NOT NULL,
    valid_to    date NOT NULL CHECK (valid_to >= valid_from),
    rate        bigint NOT NULL CHECK (rate > 0), -- effective annual, 1e-8 units
    source      text NOT NULL CHECK (length(source) BETWEEN 1 AND 300),
    UNIQUE (modality, valid_from)
);

CREATE TABLE loan (
    id                 bigserial PRIMARY KEY,
    fund_id            bigint NOT NULL REFERENCES fund (id),
    entrepreneur_id    bigint NOT NULL REFERENCES entrepreneur (id),
    currency           char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    principal_minor    bigint NOT NULL CHECK (principal_minor > 0),
    annual_rate        bigint NOT NULL CHECK (annual_rate >= 0), -- effective annual (EA), 1e-8 units
    day_count          text NOT NULL DEFAULT 'act_365' CHECK (day_count IN ('act_365', '30_360')),
    payments_per_year  int NOT NULL CHECK (payments_per_year IN (1, 2, 3, 4, 6, 12)),
    term_count         int NOT NULL CHECK (term_count BETWEEN 1 AND 600),
    first_due_date     date NOT NULL,
    grace_principal    int NOT NULL DEFAULT 0 CHECK (grace_principal >= 0),
    grace_interest     int NOT NULL DEFAULT 0 CHECK (grace_interest >= 0),
    amortisation       text NOT NULL CHECK (amortisation IN ('annuity', 'equal_principal', 'bullet')),
    modality           text NOT NULL DEFAULT 'microcredito'
                       CHECK (modality IN ('consumo_ordinario', 'microcredito', 'productivo_rural')),
    purpose            text NOT NULL DEFAULT '' CHECK (length(purpose) <= 1000),
    status             text NOT NULL DEFAULT 'proposed'
                       CHECK (status IN ('proposed', 'approved', 'active', 'repaid', 'written_off', 'rejected')),
    proposal_id        bigint NOT NULL UNIQUE REFERENCES proposal (id),
    approved_on        date,
    drawn_minor        bigint NOT NULL DEFAULT 0,
    written_off_minor  bigint NOT NULL DEFAULT 0 CHECK (written_off_minor >= 0),
    created_by         bigint NOT NULL REFERENCES app_user (id),
    created_at         timestamptz NOT NULL DEFAULT now(),
    CHECK (drawn_minor BETWEEN 0 AND principal_minor),
    CHECK ((status IN ('proposed', 'rejected')) = (approved_on IS NULL))
);
CREATE INDEX loan_fund_status ON loan (fund_id, status);
CREATE INDEX loan_entrepreneur ON loan (entrepreneur_id);

-- The schedule generated once at approval; never changed.
CREATE TABLE loan_schedule (
    loan_id          bigint NOT NULL REFERENCES loan (id),
    no               int NOT NULL CHECK (no BETWEEN 1 AND 600),
    due_date         date NOT NULL,
    principal_minor  bigint NOT NULL CHECK (principal_minor >= 0),
    interest_minor   bigint NOT NULL CHECK (interest_minor >= 0),
    PRIMARY KEY (loan_id, no)
);
CREATE INDEX loan_schedule_due ON loan_schedule (due_date, loan_id);
CREATE TRIGGER loan_schedule_append_only BEFORE UPDATE OR DELETE ON loan_schedule
    FOR EACH ROW EXECUTE FUNCTION forbid_change();

-- Funding shares fixed at approval: weight_minor is each tranche's part of the principal;
-- position is the fixed tie-break order of largest-remainder splits.
CREATE TABLE loan_funding (
    loan_id       bigint NOT NULL REFERENCES loan (id),
    tranche_id    bigint NOT NULL REFERENCES tranche (id),
    position      int NOT NULL CHECK (position >= 1),
    weight_minor  bigint NOT NULL CHECK (weight_minor > 0),
    PRIMARY KEY (loan_id, tranche_id),
    UNIQUE (loan_id, position)
);
CREATE TRIGGER loan_funding_append_only BEFORE UPDATE OR DELETE ON loan_funding
    FOR EACH ROW EXECUTE FUNCTION forbid_change();

-- Conditions precedent to disbursement, each ticked by a user with a date.
CREATE TABLE loan_condition (
    loan_id   bigint NOT NULL REFERENCES loan (id),
    item      text NOT NULL CHECK (item IN ('signed_agreement', 'kyc', 'sanctions_screening',
                                            'bank_account_verified')),
    done_on   date NOT NULL,
    done_by   bigint NOT NULL REFERENCES app_user (id),
    note      text NOT NULL DEFAULT '' CHECK (length(note) <= 500),
    at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (loan_id, item)
);
CREATE TRIGGER loan_condition_append_only BEFORE UPDATE OR DELETE ON loan_condition
    FOR EACH ROW EXECUTE FUNCTION forbid_change();

CREATE TABLE disbursement (
    id            bigserial PRIMARY KEY,
    loan_id       bigint NOT NULL REFERENCES loan (id),
    amount_minor  bigint NOT NULL CHECK (amount_minor > 0),
    value_date    date NOT NULL,
    proposal_id   bigint NOT NULL UNIQUE REFERENCES proposal (id),
    entry_id      bigint NOT NULL UNIQUE REFERENCES journal_entry (id),
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX disbursement_loan ON disbursement (loan_id, value_date);

-- A repayment and how it was applied inside the loan.
CREATE TABLE repayment (
    id                         bigserial PRIMARY KEY,
    loan_id                    bigint NOT NULL REFERENCES loan (id),
    amount_minor               bigint NOT NULL CHECK (amount_minor > 0),
    value_date                 date NOT NULL,
    reference                  text NOT NULL CHECK (length(reference) BETWEEN 1 AND 200),
    fees_minor                 bigint NOT NULL DEFAULT 0 CHECK (fees_minor >= 0),
    overdue_interest_minor     bigint NOT NULL DEFAULT 0 CHECK (overdue_interest_minor >= 0),
    overdue_principal_minor    bigint NOT NULL DEFAULT 0 CHECK (overdue_principal_minor >= 0),
    current_interest_minor     bigint NOT NULL DEFAULT 0 CHECK (current_interest_minor >= 0),
    current_principal_minor    bigint NOT NULL DEFAULT 0 CHECK (current_principal_minor >= 0),
    prepayment_minor           bigint NOT NULL DEFAULT 0 CHECK (prepayment_minor >= 0),
    entry_id                   bigint NOT NULL UNIQUE REFERENCES journal_entry (id),
    created_by                 bigint NOT NULL REFERENCES app_user (id),
    created_at                 timestamptz NOT NULL DEFAULT now(),
    UNIQUE (loan_id, reference),
    CHECK (fees_minor + overdue_interest_minor + overdue_principal_minor + current_interest_minor
           + current_principal_minor + prepayment_minor = amount_minor)
);
CREATE INDEX repayment_loan ON repayment (loan_id, value_date);

-- Which instalment each part of a repayment paid (prepayment pays the last instalments first).
CREATE TABLE repayment_allocation (
    repayment_id   bigint NOT NULL REFERENCES repayment (id),
    loan_id        bigint NOT NULL REFERENCES loan (id),
    instalment_no  int NOT NULL,
    component      text NOT NULL CHECK (component IN ('interest', 'principal')),
    amount_minor   bigint NOT NULL CHECK (amount_minor > 0),
    PRIMARY KEY (repayment_id, instalment_no, component),
    FOREIGN KEY (loan_id, instalment_no) REFERENCES loan_schedule (loan_id, no)
);
CREATE INDEX repayment_allocation_loan ON repayment_allocation (loan_id, instalment_no);

CREATE TABLE write_off (
    id            bigserial PRIMARY KEY,
    loan_id       bigint NOT NULL REFERENCES loan (id),
    amount_minor  bigint NOT NULL CHECK (amount_minor > 0),
    value_date    date NOT NULL,
    proposal_id   bigint NOT NULL UNIQUE REFERENCES proposal (id),
    entry_id      bigint NOT NULL UNIQUE REFERENCES journal_entry (id),
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE recovery (
    id            bigserial PRIMARY KEY,
    loan_id       bigint NOT NULL REFERENCES loan (id),
    amount_minor  bigint NOT NULL CHECK (amount_minor > 0),
    value_date    date NOT NULL,
    reference     text NOT NULL CHECK (length(reference) BETWEEN 1 AND 200),
    entry_id      bigint NOT NULL UNIQUE REFERENCES journal_entry (id),
    created_by    bigint NOT NULL REFERENCES app_user (id),
    created_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (loan_id, reference)
);

-- A waterfall run distributes collected cash; each step is one journal entry.
CREATE TABLE waterfall_run (
    id                bigserial PRIMARY KEY,
    fund_id           bigint NOT NULL REFERENCES fund (id),
    run_date          date NOT NULL,
    mode              text NOT NULL CHECK (mode IN ('sequential', 'pro_rata')),
    interest_minor    bigint NOT NULL CHECK (interest_minor >= 0),
    fee_minor         bigint NOT NULL CHECK (fee_minor >= 0),
    principal_minor   bigint NOT NULL CHECK (principal_minor >= 0),
    created_by        bigint NOT NULL REFERENCES app_user (id),
    created_at        timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE waterfall_step (
    run_id        bigint NOT NULL REFERENCES waterfall_run (id),
    step_no       int NOT NULL CHECK (step_no >= 1),
    kind          text NOT NULL CHECK (kind IN ('fees', 'interest', 'principal', 'reserve', 'residual')),
    tranche_id    bigint REFERENCES tranche (id),
    due_minor     bigint NOT NULL CHECK (due_minor >= 0),
    amount_minor  bigint NOT NULL CHECK (amount_minor >= 0),
    entry_id      bigint REFERENCES journal_entry (id), -- NULL for a step that moved nothing
    PRIMARY KEY (run_id, step_no),
    CHECK ((amount_minor = 0) = (entry_id IS NULL))
);

-- History tables are append-only.
CREATE TRIGGER contribution_append_only BEFORE UPDATE OR DELETE ON contribution
    FOR EACH ROW EXECUTE FUNCTION forbid_change();
CREATE TRIGGER disbursement_append_only BEFORE UPDATE OR DELETE ON disbursement
    FOR EACH ROW EXECUTE FUNCTION forbid_change();
CREATE TRIGGER repayment_append_only BEFORE UPDATE OR DELETE ON repayment
    FOR EACH ROW EXECUTE FUNCTION forbid_change();
CREATE TRIGGER repayment_allocation_append_only BEFORE UPDATE OR DELETE ON repayment_allocation
    FOR EACH ROW EXECUTE FUNCTION forbid_change();
CREATE TRIGGER write_off_append_only BEFORE UPDATE OR DELETE ON write_off
    FOR EACH ROW EXECUTE FUNCTION forbid_change();
CREATE TRIGGER recovery_append_only BEFORE UPDATE OR DELETE ON recovery
    FOR EACH ROW EXECUTE FUNCTION forbid_change();
CREATE TRIGGER waterfall_step_append_only BEFORE UPDATE OR DELETE ON waterfall_step
    FOR EACH ROW EXECUTE FUNCTION forbid_change();

-- Usury caps (effective annual, 1e-8 units). Placeholder figures in the range of the caps the
-- Superintendencia Financiera certifies; the latest period is open-ended until the next is
-- added. A loan is checked against the row in force on its approval and disbursement dates.
INSERT INTO usury_rate (modality, valid_from, valid_to, rate, source) VALUES
    ('microcredito', '2024-01-01', '2025-12-31', 56000000, 'SFC microcrédito cap 2024-2025 (placeholder)'),
    ('microcredito', '2026-01-01', '9999-12-31', 52000000, 'SFC microcrédito cap from 2026 (placeholder)'),
    ('productivo_rural', '2024-01-01', '2025-12-31', 38000000, 'SFC productivo rural cap 2024-2025 (placeholder)'),
    ('productivo_rural', '2026-01-01', '9999-12-31', 34000000, 'SFC productivo rural cap from 2026 (placeholder)'),
    ('consumo_ordinario', '2024-01-01', '2025-12-31', 33000000, 'SFC consumo y ordinario cap 2024-2025 (placeholder)'),
    ('consumo_ordinario', '2026-01-01', '9999-12-31', 28000000, 'SFC consumo y ordinario cap from 2026 (placeholder)');
