-- 0008_ledger_statement_checks: the journal's rules checked once per statement, set-based,
-- instead of once per row. Per-row enforcement cost more than the postings themselves
-- (tests/bench/README.md, ledger_post: about 150 us of server CPU per two-line posting, most of it
-- one trigger query or one foreign-key query per row).
--
-- 1. An entry and its lines are written by ONE statement (ledger_post: one INSERT with two
--    data-modifying CTEs). When that statement ends, the entry's statement trigger refuses an
--    entry without lines; no deferred per-entry trigger is left.
-- 2. Balance is checked on what each statement adds: the lines a statement writes for an entry
--    must sum to zero per currency by themselves. Every line goes through that check, so every
--    entry, the sum of such sets, balances; and since no line is zero, an entry with lines has at
--    least two. (0007 re-read all the lines of every entry touched; this is stricter for lines
--    added by a later statement of the same transaction, which must balance on their own.)
-- 3. The five row-by-row foreign keys of journal_entry and journal_line (fund, user, reversed
--    entry; entry, account+currency) are replaced by the same checks made set-based in the two
--    statement triggers. What a foreign key also guards, that the referenced row is not deleted,
--    holds by trigger: journal entries and accounts refuse DELETE (0001), and so now do funds and
--    users (nothing in fundledger deletes either; users are disabled, not deleted).
-- 4. created_xact is a column default; the entry trigger refuses an entry stamped with another
--    transaction or inserted already sealed (it was a BEFORE ROW trigger that overwrote them).
-- 5. Balances move to their own narrow table, account_balance. Every posting rewrites the balance
--    rows of its accounts; in account that meant re-checking the account's four CHECK constraints
--    (two regular expressions) and its guard for every balance change. account_balance has no
--    CHECK to re-run, half-empty pages (fillfactor 50) so the rewrites stay HOT, and the same
--    guards: its rows are made with the account (balance 0) and change only by posting journal
--    lines. It carries copies of the account's fund and currency (foreign keys keep them equal
--    to the account's, which cannot change), so the balance update itself checks that each line
--    is on an account of its entry's fund in the line's currency.

DROP TRIGGER journal_entry_balanced ON journal_entry;
DROP FUNCTION journal_entry_check_balanced();
DROP TRIGGER journal_entry_stamp ON journal_entry;
DROP FUNCTION journal_entry_before_insert();
ALTER TABLE journal_entry ALTER COLUMN created_xact SET DEFAULT pg_current_xact_id();

ALTER TABLE journal_entry DROP CONSTRAINT journal_entry_fund_id_fkey,
                          DROP CONSTRAINT journal_entry_posted_by_fkey,
                          DROP CONSTRAINT journal_entry_reverses_entry_id_fkey;
ALTER TABLE journal_line DROP CONSTRAINT journal_line_entry_id_fkey,
                         DROP CONSTRAINT journal_line_account_id_currency_fkey;

-- Balances: one row per account, made with it, moved only by the journal line trigger.
CREATE TABLE account_balance (
    account_id     bigint PRIMARY KEY REFERENCES account (id),
    fund_id        bigint NOT NULL,
    currency       char(3) NOT NULL,
    balance_minor  bigint NOT NULL DEFAULT 0, -- signed: debits positive, credits negative
    FOREIGN KEY (account_id, fund_id) REFERENCES account (id, fund_id),
    FOREIGN KEY (account_id, currency) REFERENCES account (id, currency)
) WITH (fillfactor = 50);
INSERT INTO account_balance (account_id, fund_id, currency, balance_minor)
    SELECT id, fund_id, currency, balance_minor FROM account;

DROP TRIGGER account_guard ON account;
ALTER TABLE account DROP COLUMN balance_minor;
CREATE OR REPLACE FUNCTION account_guard_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'account identity (fund, currency, type) cannot change' USING ERRCODE = 'P0001';
END $$;
CREATE TRIGGER account_guard BEFORE UPDATE ON account
    FOR EACH ROW
    WHEN ((NEW.id, NEW.fund_id, NEW.currency, NEW.type) IS DISTINCT FROM (OLD.id, OLD.fund_id, OLD.currency, OLD.type))
    EXECUTE FUNCTION account_guard_update();

CREATE FUNCTION account_after_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO account_balance (account_id, fund_id, currency) VALUES (NEW.id, NEW.fund_id, NEW.currency);
    RETURN NULL;
END $$;
CREATE TRIGGER account_open_balance AFTER INSERT ON account
    FOR EACH ROW EXECUTE FUNCTION account_after_insert();

-- Only the triggers above write account_balance (trigger depth >= 1): a row made with its account
-- at 0, then balance changes by posting. Anything else, at depth 0, is refused.
CREATE FUNCTION account_balance_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'account balances change only by posting journal lines' USING ERRCODE = 'P0001';
END $$;
CREATE TRIGGER account_balance_insert BEFORE INSERT ON account_balance
    FOR EACH ROW WHEN (pg_trigger_depth() < 1 OR NEW.balance_minor <> 0)
    EXECUTE FUNCTION account_balance_guard();
CREATE TRIGGER account_balance_update BEFORE UPDATE ON account_balance
    FOR EACH ROW WHEN (pg_trigger_depth() < 1 OR (NEW.account_id, NEW.fund_id, NEW.currency)
                       IS DISTINCT FROM (OLD.account_id, OLD.fund_id, OLD.currency))
    EXECUTE FUNCTION account_balance_guard();
CREATE TRIGGER account_balance_no_delete BEFORE DELETE ON account_balance
    FOR EACH ROW EXECUTE FUNCTION forbid_change();
CREATE TRIGGER account_balance_no_truncate BEFORE TRUNCATE ON account_balance
    FOR EACH STATEMENT EXECUTE FUNCTION forbid_change();

-- Every entry of the statement: this transaction's, unsealed, of a known fund and user,
-- reversing (if it does) an existing entry, and with lines by now (two or more: see 2. above).
CREATE FUNCTION journal_entry_after_insert() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    me      xid8 := pg_current_xact_id();
    bad     bigint;
    reason  text;
BEGIN
    -- Joins, not NOT EXISTS: an OR of NOT EXISTS becomes a hashed subplan over the whole table.
    SELECT n.id, CASE
             WHEN n.created_xact <> me OR n.seal_pos IS NOT NULL OR n.prev_hash IS NOT NULL
                  OR n.hash IS NOT NULL THEN 'is stamped with another transaction or inserted sealed'
             WHEN f.id IS NULL THEN 'names no fund'
             WHEN u.id IS NULL THEN 'names no user'
             WHEN n.reverses_entry_id IS NOT NULL AND o.id IS NULL THEN 'reverses no entry'
             ELSE 'has no lines (an entry and its lines are inserted by one statement)' END
      INTO bad, reason
      FROM new_entries n
      LEFT JOIN fund f ON f.id = n.fund_id
      LEFT JOIN app_user u ON u.id = n.posted_by
      LEFT JOIN journal_entry o ON o.id = n.reverses_entry_id
      LEFT JOIN LATERAL (SELECT true AS found FROM journal_line l WHERE l.entry_id = n.id LIMIT 1) lc ON true
     WHERE n.created_xact <> me OR n.seal_pos IS NOT NULL OR n.prev_hash IS NOT NULL OR n.hash IS NOT NULL
        OR f.id IS NULL OR u.id IS NULL OR (n.reverses_entry_id IS NOT NULL AND o.id IS NULL) OR lc.found IS NULL
     LIMIT 1;
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'journal entry % %', bad, reason USING ERRCODE = '23514';
    END IF;
    RETURN NULL;
END $$;
ALTER FUNCTION journal_entry_after_insert() SET enable_seqscan = off;
CREATE TRIGGER journal_entry_check AFTER INSERT ON journal_entry
    REFERENCING NEW TABLE AS new_entries
    FOR EACH STATEMENT EXECUTE FUNCTION journal_entry_after_insert();

-- Every line of the statement: on an entry of this transaction, with the entry's date, on an
-- account of the entry's fund in the line's currency; the lines of each entry balance per
-- currency; every reversal touched negates its original, which is not a reversal. One query reads
-- each line's entry, moves the balances (the update matches each account's row on its
-- fund and currency too, so a line on a wrong account leaves a row unmatched) and returns what it
-- found; a problem raises and the whole statement is undone. The balance rows are updated sorted
-- by account (a nested loop over the sorted sums, probing the primary key), so two posters lock
-- shared accounts in the same order (a deadlock, should a plan ever differ, is retried by the
-- caller). The reversal check's plan is large, and setting up a plan costs more here than running
-- it: it runs only when the statement wrote a reversal.
CREATE OR REPLACE FUNCTION journal_line_after_insert() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    me         xid8 := pg_current_xact_id();
    bad        bigint;
    unbalanced bigint;
    unmatched  bigint;
    reverses   bool;
BEGIN
    WITH l AS MATERIALIZED (
             SELECT nl.entry_id, nl.account_id, nl.currency, nl.amount_minor,
                    e.id IS NULL OR e.created_xact <> me OR nl.effective_date <> e.effective_date AS foreign_entry,
                    e.fund_id, e.reverses_entry_id IS NOT NULL AS reversal
               FROM new_lines nl LEFT JOIN journal_entry e ON e.id = nl.entry_id),
         d AS MATERIALIZED (
             SELECT account_id, fund_id, currency, sum(amount_minor) AS s FROM l
              GROUP BY account_id, fund_id, currency ORDER BY account_id),
         u AS (
             UPDATE account_balance b SET balance_minor = b.balance_minor + d.s FROM d
              WHERE b.account_id = d.account_id AND b.fund_id = d.fund_id AND b.currency = d.currency
             RETURNING b.account_id)
    SELECT (SELECT min(entry_id) FROM l WHERE foreign_entry),
           (SELECT entry_id FROM l GROUP BY entry_id, currency HAVING sum(amount_minor) <> 0 LIMIT 1),
           (SELECT count(*) FROM d) - (SELECT count(*) FROM u),
           (SELECT bool_or(reversal) FROM l)
      INTO bad, unbalanced, unmatched, reverses;
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'journal lines of entry % must belong to an entry of this transaction, with its date', bad
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
-- CREATE OR REPLACE dropped the setting 0007 gave it. The trigger touches a few rows of large
-- tables: probe them by key, never scan, hash or merge them whole (on a fund of 1,000 accounts
-- the planner merge-joined the balance update against every balance row, about a tenth of a
-- posting's server time).
ALTER FUNCTION journal_line_after_insert() SET enable_seqscan = off;
ALTER FUNCTION journal_line_after_insert() SET enable_hashjoin = off;
ALTER FUNCTION journal_line_after_insert() SET enable_mergejoin = off;

-- What the dropped foreign keys also guarded: a fund or user that entries name stays.
CREATE FUNCTION keep_referenced_party() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'DELETE on % is not allowed: journal entries may name it', TG_TABLE_NAME
        USING ERRCODE = 'P0001', HINT = 'disable a user instead of deleting it';
END $$;
CREATE TRIGGER fund_no_delete BEFORE DELETE ON fund
    FOR EACH ROW EXECUTE FUNCTION keep_referenced_party();
CREATE TRIGGER fund_no_truncate BEFORE TRUNCATE ON fund
    FOR EACH STATEMENT EXECUTE FUNCTION keep_referenced_party();
CREATE TRIGGER app_user_no_delete BEFORE DELETE ON app_user
    FOR EACH ROW EXECUTE FUNCTION keep_referenced_party();
CREATE TRIGGER app_user_no_truncate BEFORE TRUNCATE ON app_user
    FOR EACH STATEMENT EXECUTE FUNCTION keep_referenced_party();
