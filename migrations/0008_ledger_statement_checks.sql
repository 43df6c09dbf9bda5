-- 0008_ledger_statement_checks: the journal's rules checked once per statement, set-based,
-- instead of once per row. The rules are the same; what changes is how the database enforces
-- them, because per-row enforcement cost more than the postings themselves (tests/bench/README.md,
-- ledger_post: about 150 us of server CPU per two-line posting, most of it one trigger query or
-- one foreign-key query per row).
--
-- 1. An entry and its lines are written by ONE statement (ledger_post: one INSERT with two
--    data-modifying CTEs). At the end of that statement the entry's statement trigger sees its
--    lines and refuses an entry with fewer than two: no deferred per-entry trigger is left. An
--    entry written without its lines is refused at once; lines added later in the same
--    transaction are checked again by the line trigger (balance over all the entry's lines).
-- 2. The five row-by-row foreign keys of journal_entry and journal_line (fund, user, reversed
--    entry; entry, account+currency) are replaced by the same checks made set-based in the two
--    statement triggers. What a foreign key also guards, that the referenced row is not deleted,
--    holds by trigger: journal entries and accounts refuse DELETE (0001), and so now do funds and
--    users (nothing in fundledger deletes either; users are disabled, not deleted).
-- 3. created_xact is a column default; the entry trigger refuses an entry stamped with another
--    transaction or inserted already sealed (it was a BEFORE ROW trigger that overwrote them).
-- 4. Balances move to their own narrow table, account_balance. Every posting rewrites the balance
--    rows of its accounts; in account that meant re-checking the account's four CHECK constraints
--    (two regular expressions) and its guard for every balance change, about a tenth of the
--    server's work per posting. account_balance has no CHECK to re-run, half-empty pages
--    (fillfactor 50) so the rewrites stay HOT, and the same guards: its rows are made with the
--    account (balance 0) and change only by posting journal lines.

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
    balance_minor  bigint NOT NULL DEFAULT 0 -- signed: debits positive, credits negative
) WITH (fillfactor = 50);
INSERT INTO account_balance (account_id, balance_minor) SELECT id, balance_minor FROM account;

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
    INSERT INTO account_balance (account_id) VALUES (NEW.id);
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
    FOR EACH ROW WHEN (pg_trigger_depth() < 1 OR NEW.account_id <> OLD.account_id)
    EXECUTE FUNCTION account_balance_guard();
CREATE TRIGGER account_balance_no_delete BEFORE DELETE ON account_balance
    FOR EACH ROW EXECUTE FUNCTION forbid_change();
CREATE TRIGGER account_balance_no_truncate BEFORE TRUNCATE ON account_balance
    FOR EACH STATEMENT EXECUTE FUNCTION forbid_change();

-- Every entry of the statement: this transaction's, unsealed, of a known fund and user,
-- reversing (if it does) an existing entry, and with two or more lines by now.
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
             ELSE 'has fewer than 2 lines (an entry and its lines are inserted by one statement)' END
      INTO bad, reason
      FROM new_entries n
      LEFT JOIN fund f ON f.id = n.fund_id
      LEFT JOIN app_user u ON u.id = n.posted_by
      LEFT JOIN journal_entry o ON o.id = n.reverses_entry_id
      CROSS JOIN LATERAL (SELECT count(*) AS n FROM (SELECT 1 FROM journal_line l WHERE l.entry_id = n.id LIMIT 2) x) lc
     WHERE n.created_xact <> me OR n.seal_pos IS NOT NULL OR n.prev_hash IS NOT NULL OR n.hash IS NOT NULL
        OR f.id IS NULL OR u.id IS NULL OR (n.reverses_entry_id IS NOT NULL AND o.id IS NULL) OR lc.n < 2
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

-- Every line of the statement: on an entry of this transaction, on an account of the entry's
-- fund in the line's currency, with the entry's date; every entry touched balances per currency
-- over all its lines; every reversal touched negates its original, which is not a reversal (that
-- query's plan is large, and setting up a plan costs more here than running it: it runs only when
-- the statement wrote a reversal). Then the balances move, in account order: the
-- UPDATE visits the aggregated rows sorted by account (a nested loop over them, probing the
-- primary key), so two posters lock shared accounts in the same order, without the separate
-- locking pass 0007 made (a deadlock, should a plan ever differ, is retried by the caller).
CREATE OR REPLACE FUNCTION journal_line_after_insert() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    me       xid8 := pg_current_xact_id();
    bad      bigint;
    reverses bool;
BEGIN
    SELECT min(nl.entry_id) FILTER (WHERE e.id IS NULL OR a.id IS NULL OR e.created_xact <> me
                                       OR a.fund_id <> e.fund_id OR a.currency <> nl.currency
                                       OR nl.effective_date <> e.effective_date),
           bool_or(e.reverses_entry_id IS NOT NULL)
      INTO bad, reverses
      FROM new_lines nl
      LEFT JOIN journal_entry e ON e.id = nl.entry_id
      LEFT JOIN account a ON a.id = nl.account_id;
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'journal lines of entry % must belong to an entry of this transaction, on accounts of its fund in their currency, with its date', bad
            USING ERRCODE = '23514';
    END IF;
    SELECT l.entry_id INTO bad
      FROM (SELECT DISTINCT entry_id FROM new_lines) t JOIN journal_line l ON l.entry_id = t.entry_id
     GROUP BY l.entry_id, l.currency HAVING sum(l.amount_minor) <> 0 LIMIT 1;
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'journal entry % is not balanced', bad USING ERRCODE = '23514';
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
    UPDATE account_balance b SET balance_minor = b.balance_minor + d.s
      FROM (SELECT account_id, sum(amount_minor) AS s FROM new_lines GROUP BY account_id ORDER BY account_id) d
     WHERE b.account_id = d.account_id;
    RETURN NULL;
END $$;
-- CREATE OR REPLACE dropped the setting 0007 gave it: probe by key, never scan whole.
ALTER FUNCTION journal_line_after_insert() SET enable_seqscan = off;

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
