-- Ad-hoc loan charges (docs/loan-servicing.md §8): a charge (e.g. a collection cost) proposed by a
-- fund manager and approved by four eyes (proposal kind 'loan_charge'), checked with the total cost
-- of credit against the usury cap in force on its value date, posted Dr 1160 fees receivable /
-- Cr 4100 fee income, and replayed by the accrual engine in the fees bucket from its value date
-- (collected first by the next repayments, which credit 1160). A charge is history: never changed,
-- never removed.
CREATE TABLE loan_charge (
    id            bigserial PRIMARY KEY,
    loan_id       bigint NOT NULL REFERENCES loan (id),
    amount_minor  bigint NOT NULL CHECK (amount_minor BETWEEN 1 AND 1000000000000000),
    value_date    date NOT NULL,
    reason        text NOT NULL CHECK (length(reason) BETWEEN 1 AND 500),
    proposal_id   bigint NOT NULL UNIQUE REFERENCES proposal (id),
    entry_id      bigint NOT NULL UNIQUE REFERENCES journal_entry (id),
    created_by    bigint NOT NULL REFERENCES app_user (id), -- the approver whose approval posted it
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX loan_charge_loan ON loan_charge (loan_id, value_date, id);
GRANT SELECT, INSERT ON loan_charge TO fundledger_app;
GRANT USAGE ON SEQUENCE loan_charge_id_seq TO fundledger_app;
CREATE TRIGGER loan_charge_append_only BEFORE UPDATE OR DELETE ON loan_charge
    FOR EACH ROW EXECUTE FUNCTION forbid_change();
CREATE TRIGGER loan_charge_no_truncate BEFORE TRUNCATE ON loan_charge
    FOR EACH STATEMENT EXECUTE FUNCTION forbid_change();
