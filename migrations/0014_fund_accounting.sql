-- 0010 fund accounting: the loss allowance (docs/fund-operations.md, "Loss allowance").
--
-- provision_bucket: a dated table of days-past-due buckets and allowance percentages. A fund's own
-- rows (fund_id set) replace the default table (fund_id NULL) from their effective date; the table
-- in force on a date is the rows with the latest effective date on or before it.
-- provision_run: one per fund and date (idempotent per date), with the entry that moved the
-- allowance to its new total; provision_loan: each loan's bucket and allowance at that run;
-- provision_tranche: the allowance allocated to each tranche (bottom-up, first loss first).

CREATE TABLE provision_bucket (
    id            bigserial PRIMARY KEY,
    fund_id       bigint REFERENCES fund (id),
    effective     date NOT NULL,
    dpd_from      integer NOT NULL CHECK (dpd_from >= 0),
    category      text NOT NULL CHECK (category ~ '^[A-Za-z0-9]{1,15}$'),
    rate          bigint NOT NULL CHECK (rate BETWEEN 0 AND 100000000), -- 8 decimals: 100000000 = 100 %
    source        text NOT NULL CHECK (length(source) BETWEEN 1 AND 500),
    UNIQUE NULLS NOT DISTINCT (fund_id, effective, dpd_from)
);

-- The default table: the Superintendencia Financiera de Colombia's microcredit categories
-- (Circular Básica Contable y Financiera, Circular Externa 100 de 1995, Capítulo II, Anexo 1:
-- days past due of categories A-E and the minimum provision on capital). A setting: a fund
-- records its own dated rows to change it.
INSERT INTO provision_bucket (fund_id, effective, dpd_from, category, rate, source) VALUES
    (NULL, '2000-01-01', 0,   'A', 1000000,   'SFC CBCF Cap. II Anexo 1, microcrédito A (0-30 days): 1 %'),
    (NULL, '2000-01-01', 31,  'B', 3200000,   'SFC CBCF Cap. II Anexo 1, microcrédito B (31-60 days): 3.2 %'),
    (NULL, '2000-01-01', 61,  'C', 20000000,  'SFC CBCF Cap. II Anexo 1, microcrédito C (61-90 days): 20 %'),
    (NULL, '2000-01-01', 91,  'D', 50000000,  'SFC CBCF Cap. II Anexo 1, microcrédito D (91-120 days): 50 %'),
    (NULL, '2000-01-01', 121, 'E', 100000000, 'SFC CBCF Cap. II Anexo 1, microcrédito E (over 120 days): 100 %');

CREATE TABLE provision_run (
    id               bigserial PRIMARY KEY,
    fund_id          bigint NOT NULL REFERENCES fund (id),
    as_of            date NOT NULL,
    allowance_minor  bigint NOT NULL CHECK (allowance_minor >= 0),
    change_minor     bigint NOT NULL,
    entry_id         bigint REFERENCES journal_entry (id),
    created_by       bigint NOT NULL REFERENCES app_user (id),
    created_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (fund_id, as_of),
    CHECK ((change_minor = 0) = (entry_id IS NULL))
);

CREATE TABLE provision_loan (
    run_id           bigint NOT NULL REFERENCES provision_run (id),
    loan_id          bigint NOT NULL REFERENCES loan (id),
    days_past_due    integer NOT NULL CHECK (days_past_due >= 0),
    category         text NOT NULL,
    rate             bigint NOT NULL,
    principal_minor  bigint NOT NULL CHECK (principal_minor >= 0),
    allowance_minor  bigint NOT NULL CHECK (allowance_minor >= 0),
    PRIMARY KEY (run_id, loan_id)
);

CREATE TABLE provision_tranche (
    run_id           bigint NOT NULL REFERENCES provision_run (id),
    tranche_id       bigint NOT NULL REFERENCES tranche (id),
    capital_minor    bigint NOT NULL,
    allowance_minor  bigint NOT NULL CHECK (allowance_minor >= 0),
    PRIMARY KEY (run_id, tranche_id)
);

CREATE TRIGGER provision_run_append_only BEFORE UPDATE OR DELETE ON provision_run
    FOR EACH ROW EXECUTE FUNCTION forbid_change();
CREATE TRIGGER provision_loan_append_only BEFORE UPDATE OR DELETE ON provision_loan
    FOR EACH ROW EXECUTE FUNCTION forbid_change();
CREATE TRIGGER provision_tranche_append_only BEFORE UPDATE OR DELETE ON provision_tranche
    FOR EACH ROW EXECUTE FUNCTION forbid_change();

CREATE TRIGGER provision_run_no_truncate BEFORE TRUNCATE ON provision_run
    FOR EACH STATEMENT EXECUTE FUNCTION forbid_change();
CREATE TRIGGER provision_loan_no_truncate BEFORE TRUNCATE ON provision_loan
    FOR EACH STATEMENT EXECUTE FUNCTION forbid_change();
CREATE TRIGGER provision_tranche_no_truncate BEFORE TRUNCATE ON provision_tranche
    FOR EACH STATEMENT EXECUTE FUNCTION forbid_change();

-- The service role (migration 0010) reads the bucket table (rows are the owner's to add, by a
-- migration) and writes runs, never changing one.
GRANT SELECT ON provision_bucket TO fundledger_app;
GRANT SELECT, INSERT ON provision_run, provision_loan, provision_tranche TO fundledger_app;
GRANT USAGE ON SEQUENCE provision_run_id_seq TO fundledger_app;
