-- Stored schedule versions (docs/loan-servicing.md §4, §11): every schedule a loan has had, kept.
-- Version 1 is the schedule stored at approval; each disbursement, each repayment whose
-- prepayment re-cuts the rows, and each capitalisation re-cut stores the next version, in the
-- same transaction, with exactly the rows the accrual engine then has. What is due (arrears,
-- PAR, the portfolio, the loan's schedule) is read from the latest version as of the date asked.
--
-- A version row also says what the engine had paid on it when the version was cut
-- (principal_paid_minor, interest_paid_minor) and the header the last repayment that state
-- includes (repayments_through, 0: none): what is due on a date is the row's amounts less what
-- was paid by then and less the allocations of the later repayments (which never prepay: a
-- prepayment cuts a new version).

CREATE TABLE loan_schedule_version (
    loan_id            bigint NOT NULL REFERENCES loan (id),
    version            integer NOT NULL CHECK (version >= 1),
    reason             text NOT NULL CHECK (reason IN ('approval', 'drawdown', 'prepayment', 'capitalisation')),
    disbursement_id    bigint REFERENCES disbursement (id),
    repayment_id       bigint REFERENCES repayment (id),
    valid_from         date NOT NULL,
    repayments_through bigint NOT NULL DEFAULT 0 CHECK (repayments_through >= 0),
    created_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (loan_id, version),
    CHECK ((reason = 'approval') = (version = 1)),
    CHECK (reason <> 'approval' OR (disbursement_id IS NULL AND repayment_id IS NULL)),
    CHECK (reason <> 'drawdown' OR (disbursement_id IS NOT NULL AND repayment_id IS NULL)),
    CHECK (reason <> 'prepayment' OR (repayment_id IS NOT NULL AND disbursement_id IS NULL)),
    CHECK (reason <> 'capitalisation' OR ((disbursement_id IS NULL) <> (repayment_id IS NULL)))
);

CREATE TABLE loan_schedule_version_row (
    loan_id              bigint NOT NULL,
    version              integer NOT NULL,
    no                   integer NOT NULL CHECK (no BETWEEN 1 AND 360),
    due_date             date NOT NULL,
    principal_minor      bigint NOT NULL CHECK (principal_minor BETWEEN 0 AND 1000000000000000),
    interest_minor       bigint NOT NULL CHECK (interest_minor BETWEEN 0 AND 1000000000000000),
    capitalised_minor    bigint NOT NULL DEFAULT 0 CHECK (capitalised_minor BETWEEN 0 AND 1000000000000000),
    principal_paid_minor bigint NOT NULL DEFAULT 0 CHECK (principal_paid_minor BETWEEN 0 AND principal_minor),
    interest_paid_minor  bigint NOT NULL DEFAULT 0 CHECK (interest_paid_minor >= 0),
    PRIMARY KEY (loan_id, version, no),
    FOREIGN KEY (loan_id, version) REFERENCES loan_schedule_version (loan_id, version)
);

GRANT SELECT, INSERT ON loan_schedule_version, loan_schedule_version_row TO fundledger_app;
CREATE TRIGGER loan_schedule_version_append_only BEFORE UPDATE OR DELETE ON loan_schedule_version
    FOR EACH ROW EXECUTE FUNCTION forbid_change();
CREATE TRIGGER loan_schedule_version_no_truncate BEFORE TRUNCATE ON loan_schedule_version
    FOR EACH STATEMENT EXECUTE FUNCTION forbid_change();
CREATE TRIGGER loan_schedule_version_row_append_only BEFORE UPDATE OR DELETE ON loan_schedule_version_row
    FOR EACH ROW EXECUTE FUNCTION forbid_change();
CREATE TRIGGER loan_schedule_version_row_no_truncate BEFORE TRUNCATE ON loan_schedule_version_row
    FOR EACH STATEMENT EXECUTE FUNCTION forbid_change();

-- Version 1 of every loan with a stored schedule: the approval schedule, with the capitalisation
-- of its interest-grace rows; valid from the approval (or, for loans without one, the first due
-- date's period). Nothing paid and no repayment included: what is due reads every allocation, as
-- before this migration.
INSERT INTO loan_schedule_version (loan_id, version, reason, valid_from, created_at)
SELECT l.id, 1, 'approval', coalesce(l.approved_on, (SELECT min(s.due_date) FROM loan_schedule s WHERE s.loan_id = l.id)),
       l.created_at
FROM loan l WHERE EXISTS (SELECT 1 FROM loan_schedule s WHERE s.loan_id = l.id);

INSERT INTO loan_schedule_version_row (loan_id, version, no, due_date, principal_minor, interest_minor,
                                       capitalised_minor)
SELECT s.loan_id, 1, s.no, s.due_date, s.principal_minor, s.interest_minor, coalesce(c.amount_minor, 0)
FROM loan_schedule s LEFT JOIN loan_capitalisation c ON c.loan_id = s.loan_id AND c.instalment_no = s.no
ORDER BY s.loan_id, s.no;
