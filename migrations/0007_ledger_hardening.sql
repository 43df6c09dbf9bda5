-- 0007_ledger_hardening: two defects of 0001 and cheaper enforcement of the same rules.
-- 1. The line trigger locked accounts FOR UPDATE, which conflicts with the FOR KEY SHARE lock
--    a concurrent poster's journal_line foreign-key check holds on the same account: two
--    posters touching one account could deadlock. FOR NO KEY UPDATE is what a balance update
--    needs and does not conflict with KEY SHARE.
-- 2. After SET CONSTRAINTS ALL IMMEDIATE an entry's deferred balance check could run before a
--    later statement of the same transaction added lines to it, so an unbalanced entry could
--    commit. Now every statement that inserts lines checks, set-based, that each entry it
--    touched balances per currency over all its lines (ledger_post inserts all lines of an
--    entry in one statement), and that each reversal it touched negates its original. The
--    deferred per-entry check keeps what only commit time can tell: the entry has lines.

CREATE OR REPLACE FUNCTION journal_line_after_insert() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    me   xid8 := pg_current_xact_id();
    bad  bigint;
BEGIN
    IF EXISTS (
        SELECT 1 FROM new_lines nl
        JOIN journal_entry e ON e.id = nl.entry_id
        JOIN account a ON a.id = nl.account_id
        WHERE e.created_xact <> me
           OR a.fund_id <> e.fund_id
           OR nl.effective_date <> e.effective_date) THEN
        RAISE EXCEPTION 'journal lines must belong to an entry of this transaction, on accounts of its fund, with its date'
            USING ERRCODE = '23514';
    END IF;
    SELECT l.entry_id INTO bad FROM journal_line l
     WHERE l.entry_id IN (SELECT DISTINCT entry_id FROM new_lines)
     GROUP BY l.entry_id, l.currency HAVING sum(l.amount_minor) <> 0
     ORDER BY l.entry_id LIMIT 1;
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'journal entry % is not balanced', bad USING ERRCODE = '23514';
    END IF;
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
    PERFORM 1 FROM account WHERE id IN (SELECT account_id FROM new_lines) ORDER BY id FOR NO KEY UPDATE;
    UPDATE account a SET balance_minor = a.balance_minor + d.s
      FROM (SELECT account_id, sum(amount_minor) AS s FROM new_lines GROUP BY account_id) d
     WHERE a.id = d.account_id;
    RETURN NULL;
END $$;
-- The transition table is small and accounts and entries are probed by key: never scan whole.
ALTER FUNCTION journal_line_after_insert() SET enable_seqscan = off;

-- At commit: the entry has at least two lines (balance and reversals were checked when its
-- lines were inserted; a single non-zero line cannot balance).
CREATE OR REPLACE FUNCTION journal_entry_check_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    n_lines int;
BEGIN
    SELECT count(*) INTO n_lines FROM (SELECT 1 FROM journal_line WHERE entry_id = NEW.id LIMIT 2) x;
    IF n_lines < 2 THEN
        RAISE EXCEPTION 'journal entry % has % line(s); at least 2 are required', NEW.id, n_lines
            USING ERRCODE = '23514';
    END IF;
    RETURN NULL;
END $$;

-- The guard on account runs only when it may refuse: a balance change outside the journal
-- trigger (trigger depth 0), or a change of identity. Journal balance updates skip it.
DROP TRIGGER account_guard ON account;
CREATE TRIGGER account_guard BEFORE UPDATE ON account
    FOR EACH ROW
    WHEN ((NEW.balance_minor IS DISTINCT FROM OLD.balance_minor AND pg_trigger_depth() < 1)
          OR (NEW.id, NEW.fund_id, NEW.currency, NEW.type) IS DISTINCT FROM (OLD.id, OLD.fund_id, OLD.currency, OLD.type))
    EXECUTE FUNCTION account_guard_update();

-- Unique indexes over columns that are NULL for nearly every new entry: index only the values.
ALTER TABLE journal_entry DROP CONSTRAINT journal_entry_reverses_entry_id_key;
CREATE UNIQUE INDEX journal_entry_reverses_entry_id_key ON journal_entry (reverses_entry_id)
    WHERE reverses_entry_id IS NOT NULL;
ALTER TABLE journal_entry DROP CONSTRAINT journal_entry_seal_pos_key;
CREATE UNIQUE INDEX journal_entry_seal_pos_key ON journal_entry (seal_pos) WHERE seal_pos IS NOT NULL;
