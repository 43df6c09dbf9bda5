-- Loan servicing wired to the accrual engine (docs/loan-servicing.md §5-§7, §11): repayments are
-- allocated by replaying each loan (drawdowns, charges, earlier repayments with their prepayment
-- choice) under the fund's dated default rate and the dated usury caps.

-- A fund's default (moratorium) interest rate, effective annual in 1e-8 units, in force from
-- valid_from until the next row's. No row in force = no default interest. Rows are never changed
-- or removed (a repayment already recorded was allocated with the rates then known), and a new
-- row never takes effect before the fund's latest repayment (servicing.c checks; the history
-- replays identically).
CREATE TABLE fund_default_rate (
    id          bigserial PRIMARY KEY,
    fund_id     bigint NOT NULL REFERENCES fund (id),
    valid_from  date NOT NULL,
    rate        bigint NOT NULL CHECK (rate BETWEEN 0 AND 1000000000), -- at most 1000 % EA
    created_by  bigint NOT NULL REFERENCES app_user (id),
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (fund_id, valid_from)
);
GRANT SELECT, INSERT ON fund_default_rate TO fundledger_app;
GRANT USAGE ON SEQUENCE fund_default_rate_id_seq TO fundledger_app;
CREATE TRIGGER fund_default_rate_append_only BEFORE UPDATE OR DELETE ON fund_default_rate
    FOR EACH ROW EXECUTE FUNCTION forbid_change();
CREATE TRIGGER fund_default_rate_no_truncate BEFORE TRUNCATE ON fund_default_rate
    FOR EACH STATEMENT EXECUTE FUNCTION forbid_change();

-- How a fund's loans are serviced: 'accrual' (the accrual engine, docs/loan-servicing.md §6-§7)
-- or 'schedule' (the stored-schedule allocation that came before it). Funds that exist when this
-- migration runs keep 'schedule': their loans were contracted and booked that way and their
-- recorded allocations stay what they were; every fund created after it is 'accrual'.
ALTER TABLE fund ADD COLUMN servicing_basis text NOT NULL DEFAULT 'schedule'
    CHECK (servicing_basis IN ('accrual', 'schedule'));
ALTER TABLE fund ALTER COLUMN servicing_basis SET DEFAULT 'accrual';

-- The borrower's choice when a payment prepays principal, by default (§7).
ALTER TABLE fund ADD COLUMN prepayment_default text NOT NULL DEFAULT 'reduce_term'
    CHECK (prepayment_default IN ('reduce_term', 'reduce_instalment'));

-- A repayment's default interest bucket (§6, bucket 2) and the prepayment choice it was recorded
-- with (replayed by every later allocation). The buckets still sum to the amount.
ALTER TABLE repayment ADD COLUMN default_interest_minor bigint NOT NULL DEFAULT 0
    CHECK (default_interest_minor BETWEEN 0 AND 1000000000000000);
ALTER TABLE repayment ADD COLUMN prepayment_choice text NOT NULL DEFAULT 'reduce_term'
    CHECK (prepayment_choice IN ('reduce_term', 'reduce_instalment'));
ALTER TABLE repayment DROP CONSTRAINT repayment_check;
ALTER TABLE repayment ADD CONSTRAINT repayment_buckets_sum
    CHECK (fees_minor + default_interest_minor + overdue_interest_minor + overdue_principal_minor
           + current_interest_minor + current_principal_minor + prepayment_minor = amount_minor);
