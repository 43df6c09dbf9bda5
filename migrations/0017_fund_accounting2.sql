-- 0017 fund accounting: NAV allocation (docs/fund-operations.md, "NAV: everything allocated to
-- the tranches").
--
-- tranche.investment_period_end: the last day of the tranche's investment period, during which
-- its management fee is charged on the commitment (after it, on the capital). NULL: no
-- investment period, the fee is on the capital throughout.
-- nav_allocation: one per fund and date (idempotent per date), with the entry that moved the
-- fund-level income, fee income, expenses and credit losses of the period to the tranches and
-- charged the management fees; nav_allocation_tranche: each tranche's figures of that run
-- (the coupon it was entitled to, what it was allocated, what is carried to the next run).

ALTER TABLE tranche ADD COLUMN investment_period_end date;

CREATE TABLE nav_allocation (
    id               bigserial PRIMARY KEY,
    fund_id          bigint NOT NULL REFERENCES fund (id),
    as_of            date NOT NULL,
    period_from      date,                       -- the previous allocation's date (NULL: the first)
    income_minor     bigint NOT NULL,            -- 4000 + 4100 allocated (credit balance as income)
    expenses_minor   bigint NOT NULL,            -- 5000 allocated
    losses_minor     bigint NOT NULL,            -- 5100 allocated
    fees_minor       bigint NOT NULL CHECK (fees_minor >= 0), -- management fees charged (Cr 2300)
    entry_id         bigint REFERENCES journal_entry (id),
    created_by       bigint NOT NULL REFERENCES app_user (id),
    created_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (fund_id, as_of)
);

CREATE TABLE nav_allocation_tranche (
    allocation_id    bigint NOT NULL REFERENCES nav_allocation (id),
    tranche_id       bigint NOT NULL REFERENCES tranche (id),
    capital_minor    bigint NOT NULL,            -- capital on as_of
    earned_minor     bigint NOT NULL CHECK (earned_minor >= 0),  -- coupon earned from inception to as_of
    allocated_minor  bigint NOT NULL,            -- income allocated before this run (-T.INCOME)
    income_minor     bigint NOT NULL,            -- income allocated by this run (Cr T.INCOME)
    short_minor      bigint NOT NULL CHECK (short_minor >= 0),   -- coupon earned and still not allocated
    fee_minor        bigint NOT NULL CHECK (fee_minor >= 0),     -- management fee (Dr T.FEES)
    expense_minor    bigint NOT NULL,            -- fund expenses and credit losses (Dr T.EXPENSES)
    PRIMARY KEY (allocation_id, tranche_id)
);

CREATE TRIGGER nav_allocation_append_only BEFORE UPDATE OR DELETE ON nav_allocation
    FOR EACH ROW EXECUTE FUNCTION forbid_change();
CREATE TRIGGER nav_allocation_tranche_append_only BEFORE UPDATE OR DELETE ON nav_allocation_tranche
    FOR EACH ROW EXECUTE FUNCTION forbid_change();
CREATE TRIGGER nav_allocation_no_truncate BEFORE TRUNCATE ON nav_allocation
    FOR EACH STATEMENT EXECUTE FUNCTION forbid_change();
CREATE TRIGGER nav_allocation_tranche_no_truncate BEFORE TRUNCATE ON nav_allocation_tranche
    FOR EACH STATEMENT EXECUTE FUNCTION forbid_change();

-- The service role writes runs, never changing one; it reads the tranche's new term (set by the
-- owner until the tranche terms carry it).
GRANT SELECT, INSERT ON nav_allocation, nav_allocation_tranche TO fundledger_app;
GRANT USAGE ON SEQUENCE nav_allocation_id_seq TO fundledger_app;
