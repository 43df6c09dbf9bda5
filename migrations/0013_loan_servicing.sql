-- Loan servicing (docs/loan-servicing.md): capitalised grace interest is principal outstanding and
-- is collected; amounts on tranche accounts are split by cumulative totals.

-- The interest a loan's interest-grace instalments add to its balance, one row per such
-- instalment, written at approval from the stored schedule. It counts as principal outstanding
-- from its due date. entry_id is the capitalisation posting (Dr T.LOANS / Cr 4000) once made (at
-- the first repayment or write-off dated on or after the due date); rows not yet due when the
-- loan is repaid in full are removed (the interest never accrued). Loans approved before this
-- migration have no rows: their capitalised interest is not counted (the schedule generator that
-- could recompute it lives in C, not SQL).
CREATE TABLE loan_capitalisation (
    loan_id        bigint NOT NULL REFERENCES loan (id),
    instalment_no  int NOT NULL,
    due_date       date NOT NULL,
    amount_minor   bigint NOT NULL CHECK (amount_minor BETWEEN 1 AND 1000000000000000),
    entry_id       bigint REFERENCES journal_entry (id),
    PRIMARY KEY (loan_id, instalment_no),
    FOREIGN KEY (loan_id, instalment_no) REFERENCES loan_schedule (loan_id, no)
);
CREATE INDEX loan_capitalisation_due ON loan_capitalisation (due_date, loan_id);

-- Capitalised interest posted to T.LOANS so far: with drawn_minor it is the running total that
-- disbursements and capitalisations split over the funding tranches cumulatively.
ALTER TABLE loan ADD COLUMN capitalised_minor bigint NOT NULL DEFAULT 0
    CHECK (capitalised_minor BETWEEN 0 AND 1000000000000000);

-- The origination fee set at proposal and approved with the loan (docs/loan-servicing.md §8): due
-- on the first disbursement's value date, collected first by repayments (the fees bucket), posted
-- to 4100 fee income when collected.
ALTER TABLE loan ADD COLUMN origination_fee_minor bigint NOT NULL DEFAULT 0
    CHECK (origination_fee_minor BETWEEN 0 AND 1000000000000000);

-- The service role (migration 0010) writes capitalisations at approval, stamps each with its
-- posting once, and removes only rows never posted (not yet due at a full repayment or a
-- write-off); a posted capitalisation never changes and is never removed (guard below, which
-- holds for the owner too).
GRANT SELECT, INSERT, UPDATE (entry_id), DELETE ON loan_capitalisation TO fundledger_app;
GRANT UPDATE (capitalised_minor) ON loan TO fundledger_app;
CREATE FUNCTION loan_capitalisation_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.entry_id IS NOT NULL THEN
        RAISE EXCEPTION 'capitalisation of loan % instalment % is posted: it never changes', OLD.loan_id,
            OLD.instalment_no USING ERRCODE = 'P0001';
    END IF;
    IF TG_OP = 'UPDATE' AND (NEW.loan_id, NEW.instalment_no, NEW.due_date, NEW.amount_minor) IS DISTINCT FROM
       (OLD.loan_id, OLD.instalment_no, OLD.due_date, OLD.amount_minor) THEN
        RAISE EXCEPTION 'capitalisation of loan % instalment %: only its posting is recorded', OLD.loan_id,
            OLD.instalment_no USING ERRCODE = 'P0001';
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER loan_capitalisation_posted_final BEFORE UPDATE OR DELETE ON loan_capitalisation
    FOR EACH ROW EXECUTE FUNCTION loan_capitalisation_guard();
CREATE TRIGGER loan_capitalisation_no_truncate BEFORE TRUNCATE ON loan_capitalisation
    FOR EACH STATEMENT EXECUTE FUNCTION forbid_change();

-- Month-end closes (fundledger close, POST /v1/funds/{id}/close): one per fund and date; a close
-- posts what became due by its date (capitalisations not yet posted) and is never run again for
-- that date nor for an earlier one.
CREATE TABLE period_close (
    fund_id     bigint NOT NULL REFERENCES fund (id),
    close_date  date NOT NULL,
    entries     int NOT NULL CHECK (entries >= 0),
    created_by  bigint NOT NULL REFERENCES app_user (id),
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (fund_id, close_date)
);

GRANT SELECT, INSERT ON period_close TO fundledger_app;
CREATE TRIGGER period_close_append_only BEFORE UPDATE OR DELETE ON period_close
    FOR EACH ROW EXECUTE FUNCTION forbid_change();
CREATE TRIGGER period_close_no_truncate BEFORE TRUNCATE ON period_close
    FOR EACH STATEMENT EXECUTE FUNCTION forbid_change();
