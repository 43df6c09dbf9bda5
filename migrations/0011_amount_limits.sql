-- 0010_amount_limits: every single amount has a maximum far below int64, enforced here as well as
-- in C (money_parse_amount, include/fundledger/limits.h MONEY_AMOUNT_MAX): 10^15 minor units, that
-- is 10,000,000,000,000.00 in a two-decimal currency (docs/architecture.md, Amount limits).
--
-- 1. Journal lines: the bound joins the line trigger's per-line rule (0009), set-based in the same
--    one pass over the statement's lines, with the same message style; no CHECK constraint, for
--    the reason 0009 gives (a CHECK is re-planned on every statement). A debit is at most 10^15, a
--    credit at least -10^15. (A line near int64 makes the balance UPDATE of the same query fail
--    first with 22003 "bigint out of range": refused either way, nothing written.)
-- 2. Business tables: a CHECK on each column that holds one amount (a limit, a commitment, a
--    principal, a payment, a schedule instalment, a funding weight). Columns that hold running
--    totals (loan.drawn_minor and written_off_minor, bounded by the principal already; waterfall
--    runs and steps; proposal.amount_minor, an entry's debits, at most 64 lines) keep int64 and
--    are summed with overflow checks in C; account balances are moved by the line trigger, whose
--    bigint arithmetic refuses an overflow.
-- Existing rows are checked when each constraint is added: a database holding a larger amount
-- fails this migration and names the constraint (none can come from the API before this).

CREATE OR REPLACE FUNCTION journal_line_after_insert() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    me         xid8 := pg_current_xact_id();
    bad        bigint;
    wrong_line bigint;
    unbalanced bigint;
    unmatched  bigint;
    reverses   bool;
BEGIN
    WITH l AS MATERIALIZED (
             SELECT nl.entry_id, nl.account_id, nl.currency, nl.amount_minor,
                    e.id IS NULL OR e.created_xact <> me OR nl.effective_date <> e.effective_date AS foreign_entry,
                    nl.amount_minor = 0 OR nl.amount_minor NOT BETWEEN -1000000000000000 AND 1000000000000000
                    OR nl.line_no NOT BETWEEN 1 AND 64 AS bad_line,
                    e.fund_id, e.reverses_entry_id IS NOT NULL AS reversal
               FROM new_lines nl LEFT JOIN journal_entry e ON e.id = nl.entry_id),
         d AS MATERIALIZED (
             SELECT account_id, fund_id, currency, sum(amount_minor) AS s FROM l
              GROUP BY account_id, fund_id, currency ORDER BY account_id),
         u AS (
             UPDATE account_balance b SET balance_minor = b.balance_minor + d.s FROM d
              WHERE b.account_id = d.account_id AND b.fund_id = d.fund_id AND b.currency = d.currency
             RETURNING b.account_id)
    SELECT a.f, a.b, a.r,
           (SELECT entry_id FROM l GROUP BY entry_id, currency HAVING sum(amount_minor) <> 0 LIMIT 1),
           (SELECT count(*) FROM d) - (SELECT count(*) FROM u)
      INTO bad, wrong_line, reverses, unbalanced, unmatched
      FROM (SELECT min(entry_id) FILTER (WHERE foreign_entry) AS f, min(entry_id) FILTER (WHERE bad_line) AS b,
                   bool_or(reversal) AS r FROM l) a;
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'journal lines of entry % must belong to an entry of this transaction, with its date', bad
            USING ERRCODE = '23514';
    END IF;
    IF wrong_line IS NOT NULL THEN
        RAISE EXCEPTION 'journal lines of entry % must be numbered 1 to 64 and have a non-zero amount of at most 1000000000000000 minor units', wrong_line
            USING ERRCODE = '23514';
    END IF;
    IF unmatched <> 0 THEN
        SELECT min(nl.entry_id) INTO bad FROM new_lines nl
          JOIN journal_entry e ON e.id = nl.entry_id LEFT JOIN account a ON a.id = nl.account_id
         WHERE a.id IS NULL OR a.fund_id <> e.fund_id OR a.currency <> nl.currency;
        RAISE EXCEPTION 'journal lines of entry % must be on accounts of its fund in their currency', bad
            USING ERRCODE = '23514';
    END IF;
    IF unbalanced IS NOT NULL THEN
        RAISE EXCEPTION 'journal entry % is not balanced', unbalanced USING ERRCODE = '23514';
    END IF;
    IF reverses THEN
        SELECT r.id INTO bad FROM journal_entry r
         WHERE r.id IN (SELECT DISTINCT entry_id FROM new_lines) AND r.reverses_entry_id IS NOT NULL
           AND (EXISTS (SELECT 1 FROM journal_entry o WHERE o.id = r.reverses_entry_id AND o.reverses_entry_id IS NOT NULL)
                OR EXISTS ((SELECT account_id, -amount_minor FROM journal_line WHERE entry_id = r.reverses_entry_id
                            EXCEPT ALL
                            SELECT account_id, amount_minor FROM journal_line WHERE entry_id = r.id)
                           UNION ALL
                           (SELECT account_id, amount_minor FROM journal_line WHERE entry_id = r.id
                            EXCEPT ALL
                            SELECT account_id, -amount_minor FROM journal_line WHERE entry_id = r.reverses_entry_id)))
         LIMIT 1;
        IF bad IS NOT NULL THEN
            RAISE EXCEPTION 'reversal % does not negate its original, or reverses a reversal', bad
                USING ERRCODE = '23514';
        END IF;
    END IF;
    RETURN NULL;
END $$;
ALTER FUNCTION journal_line_after_insert() SET enable_seqscan = off;
ALTER FUNCTION journal_line_after_insert() SET enable_hashjoin = off;
ALTER FUNCTION journal_line_after_insert() SET enable_mergejoin = off;

ALTER TABLE approval_limit
    ADD CONSTRAINT approval_limit_limit_minor_max CHECK (limit_minor <= 1000000000000000);
ALTER TABLE proposal_decision
    ADD CONSTRAINT proposal_decision_limit_minor_max CHECK (limit_minor <= 1000000000000000);
ALTER TABLE fund
    ADD CONSTRAINT fund_reserve_target_minor_max CHECK (reserve_target_minor <= 1000000000000000);
ALTER TABLE entrepreneur
    ADD CONSTRAINT entrepreneur_requested_minor_max CHECK (requested_minor <= 1000000000000000);
ALTER TABLE tranche
    ADD CONSTRAINT tranche_commitment_minor_max CHECK (commitment_minor <= 1000000000000000);
ALTER TABLE capital_call
    ADD CONSTRAINT capital_call_amount_minor_max CHECK (amount_minor <= 1000000000000000);
ALTER TABLE contribution
    ADD CONSTRAINT contribution_amount_minor_max CHECK (amount_minor <= 1000000000000000);
ALTER TABLE commitment_cancellation
    ADD CONSTRAINT commitment_cancellation_amount_minor_max CHECK (amount_minor <= 1000000000000000);
ALTER TABLE loan
    ADD CONSTRAINT loan_principal_minor_max CHECK (principal_minor <= 1000000000000000);
ALTER TABLE loan_schedule
    ADD CONSTRAINT loan_schedule_principal_minor_max CHECK (principal_minor <= 1000000000000000),
    ADD CONSTRAINT loan_schedule_interest_minor_max CHECK (interest_minor <= 1000000000000000);
ALTER TABLE loan_funding
    ADD CONSTRAINT loan_funding_weight_minor_max CHECK (weight_minor <= 1000000000000000);
ALTER TABLE disbursement
    ADD CONSTRAINT disbursement_amount_minor_max CHECK (amount_minor <= 1000000000000000);
ALTER TABLE repayment
    ADD CONSTRAINT repayment_amount_minor_max CHECK (amount_minor <= 1000000000000000);
ALTER TABLE repayment_allocation
    ADD CONSTRAINT repayment_allocation_amount_minor_max CHECK (amount_minor <= 1000000000000000);
ALTER TABLE write_off
    ADD CONSTRAINT write_off_amount_minor_max CHECK (amount_minor <= 1000000000000000);
ALTER TABLE recovery
    ADD CONSTRAINT recovery_amount_minor_max CHECK (amount_minor <= 1000000000000000);

-- grants: none new (no table, sequence or function is created; journal_line_after_insert keeps its
-- owner and runs as a trigger).
