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
    amount_minor   bigint NOT NULL CHECK (amount_minor > 0),
    entry_id       bigint REFERENCES journal_entry (id),
    PRIMARY KEY (loan_id, instalment_no),
    FOREIGN KEY (loan_id, instalment_no) REFERENCES loan_schedule (loan_id, no)
);
CREATE INDEX loan_capitalisation_due ON loan_capitalisation (due_date, loan_id);

-- Capitalised interest posted to T.LOANS so far: with drawn_minor it is the running total that
-- disbursements and capitalisations split over the funding tranches cumulatively.
ALTER TABLE loan ADD COLUMN capitalised_minor bigint NOT NULL DEFAULT 0 CHECK (capitalised_minor >= 0);

-- The origination fee set at proposal and approved with the loan (docs/loan-servicing.md §8): due
-- on the first disbursement's value date, collected first by repayments (the fees bucket), posted
-- to 4100 fee income when collected.
ALTER TABLE loan ADD COLUMN origination_fee_minor bigint NOT NULL DEFAULT 0 CHECK (origination_fee_minor >= 0);

-- grants: loan_capitalisation SELECT, INSERT, UPDATE (entry_id), DELETE (rows not yet due at a full
-- repayment); loan UPDATE (capitalised_minor, with the columns it already updates)

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

-- grants: period_close SELECT, INSERT
