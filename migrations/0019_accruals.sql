-- 0019 accrual postings (docs/loan-servicing.md §9): interest earned and not yet received is
-- posted as T<id>.INTEREST_RECEIVABLE against 4000, per tranche, on loans of funds serviced on
-- the 'accrual' basis, before every repayment (to its value date) and at every month-end close.
--
-- loan_accrual: one row per loan and accrual. An accrual entry (event `accrual`, reference
-- `fund:<id>`) posts the accruals of one or many loans of a fund on one date (the month-end close
-- posts one entry per 4,000 loans): Cr 4000 their sum, Dr each tranche's receivable the sum of the
-- loans' parts on it. tranche_ids / tranche_parts: this loan's parts (the non-zero steps of its
-- cumulative split, docs/loan-servicing.md §10), summing to ordinary_minor + default_minor.
-- ordinary_minor and default_minor are what is posted for the loan
-- (interest earned from the loan's start to accrual_date less what was recognised before:
-- the cumulative totals of the previous row, or for a loan's first row the interest its
-- repayments and capitalisations had already recognised as income on a cash basis);
-- ordinary_total_minor and default_total_minor are the cumulative totals after it. A part may be
-- negative (a later event lowered what had been earned to an earlier date); their sum is never 0.

CREATE TABLE loan_accrual (
    id                   bigserial PRIMARY KEY,
    loan_id              bigint NOT NULL REFERENCES loan (id),
    accrual_date         date NOT NULL,
    ordinary_minor       bigint NOT NULL CHECK (ordinary_minor BETWEEN -1000000000000000 AND 1000000000000000),
    default_minor        bigint NOT NULL CHECK (default_minor BETWEEN -1000000000000000 AND 1000000000000000),
    ordinary_total_minor bigint NOT NULL CHECK (ordinary_total_minor BETWEEN 0 AND 1000000000000000),
    default_total_minor  bigint NOT NULL CHECK (default_total_minor BETWEEN 0 AND 1000000000000000),
    tranche_ids          bigint[] NOT NULL,
    tranche_parts        bigint[] NOT NULL CHECK (cardinality(tranche_parts) = cardinality(tranche_ids)),
    entry_id             bigint NOT NULL REFERENCES journal_entry (id),
    created_by           bigint NOT NULL REFERENCES app_user (id),
    created_at           timestamptz NOT NULL DEFAULT now(),
    CHECK (ordinary_minor + default_minor <> 0)
);
CREATE INDEX loan_accrual_loan ON loan_accrual (loan_id, id);
CREATE INDEX loan_accrual_entry ON loan_accrual (entry_id);

CREATE TRIGGER loan_accrual_append_only BEFORE UPDATE OR DELETE ON loan_accrual
    FOR EACH ROW EXECUTE FUNCTION forbid_change();
CREATE TRIGGER loan_accrual_no_truncate BEFORE TRUNCATE ON loan_accrual
    FOR EACH STATEMENT EXECUTE FUNCTION forbid_change();

-- The service writes rows and reads them back, never changing one.
GRANT SELECT, INSERT ON loan_accrual TO fundledger_app;
GRANT USAGE ON SEQUENCE loan_accrual_id_seq TO fundledger_app;
