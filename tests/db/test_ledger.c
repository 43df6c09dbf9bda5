/* test_ledger: the journal against a real PostgreSQL: balance and append-only enforcement by
 * the database, reversals, idempotency, four-eyes races, sealing and verify, group commit. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fundledger/approval.h"
#include "fundledger/auth.h"
#include "fundledger/fund.h"
#include "fundledger/idempotency.h"
#include "fundledger/ledger.h"
#include "fundledger/money.h"
#include "testdb.h"

static const char *ci;
static struct db *db;
static struct principal manager, approver, approver2, small_approver;
static int64_t fund_id, cash, capital, expense;

static struct principal make_user(const char *name, enum role role)
{
    struct principal p = {.role = role};
    struct fl_error err;
    assert_int_equal(auth_user_add(db, name, role, 0, &p.user_id, &err), FLE_OK);
    snprintf(p.name, sizeof p.name, "%s", name);
    return p;
}

struct fund_args {
    int64_t id;
};

static enum fl_err make_fund_tx(struct db *d, void *arg, struct fl_error *err)
{
    struct fund_args *a = arg;
    json_t *f = fund_create(d, &manager, "TEST", "Test fund", "COP", err);
    if (f == NULL) {
        return err->code;
    }
    a->id = json_integer_value(json_object_get(f, "id"));
    json_decref(f);
    return FLE_OK;
}

static int setup(void **state)
{
    (void)state;
    ci = testdb_create("ledger");
    db = testdb_open(ci);
    manager = make_user("manager", ROLE_FUND_MANAGER);
    approver = make_user("approver", ROLE_APPROVER);
    approver2 = make_user("approver2", ROLE_APPROVER);
    small_approver = make_user("small", ROLE_APPROVER);
    struct fl_error err;
    assert_int_equal(auth_limit_set(db, approver.user_id, "COP", 100000000, &err), FLE_OK);     /* 1,000,000.00 */
    assert_int_equal(auth_limit_set(db, approver2.user_id, "COP", 100000000, &err), FLE_OK);    /* 1,000,000.00 */
    assert_int_equal(auth_limit_set(db, small_approver.user_id, "COP", 5000000, &err), FLE_OK); /* 50,000.00 */
    struct fund_args fa;
    assert_int_equal(db_tx(db, make_fund_tx, &fa, &err), FLE_OK);
    fund_id = fa.id;
    assert_int_equal(fund_account_by_code(db, fund_id, "1000", &cash, &err), FLE_OK);
    assert_int_equal(fund_account_by_code(db, fund_id, "3000", &capital, &err), FLE_OK);
    assert_int_equal(fund_account_by_code(db, fund_id, "5000", &expense, &err), FLE_OK);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    db_close(db);
    return 0;
}

static struct ledger_entry pair(const char *date, int64_t debit_acc, int64_t credit_acc, int64_t amount)
{
    struct ledger_entry e;
    memset(&e, 0, sizeof e);
    e.fund_id = fund_id;
    snprintf(e.effective_date, sizeof e.effective_date, "%s", date);
    e.posted_by = manager.user_id;
    snprintf(e.memo, sizeof e.memo, "test");
    snprintf(e.event_type, sizeof e.event_type, "test");
    e.n_lines = 2;
    e.lines[0] = (struct ledger_line){debit_acc, "COP", amount};
    e.lines[1] = (struct ledger_line){credit_acc, "COP", -amount};
    return e;
}

struct post_args {
    const struct ledger_entry *e;
    int64_t id;
};

static enum fl_err post_tx(struct db *d, void *arg, struct fl_error *err)
{
    struct post_args *a = arg;
    return ledger_post(d, &a->e, 1, &a->id, err);
}

static int64_t post(const struct ledger_entry *e, enum fl_err expect)
{
    struct post_args a = {e, 0};
    struct fl_error err;
    fl_error_clear(&err);
    assert_int_equal(db_tx(db, post_tx, &a, &err), expect);
    return a.id;
}

static int64_t balance(int64_t account, const char *as_of)
{
    int64_t b = 0;
    struct fl_error err;
    assert_int_equal(ledger_balance(db, account, as_of, &b, &err), FLE_OK);
    return b;
}

static int64_t scalar_i64(const char *sql)
{
    char *v = testdb_scalar(ci, sql);
    assert_non_null(v);
    int64_t x = strtoll(v, NULL, 10);
    free(v);
    return x;
}

static void test_post_moves_balances_exactly(void **state)
{
    (void)state;
    int64_t c0 = balance(cash, NULL), k0 = balance(capital, NULL);
    struct ledger_entry e = pair("2026-01-15", cash, capital, 123456789);
    int64_t id = post(&e, FLE_OK);
    assert_true(id > 0);
    assert_int_equal(balance(cash, NULL) - c0, 123456789);
    assert_int_equal(balance(capital, NULL) - k0, -123456789);
    /* As of the day before, the entry does not count; on its date it does. */
    assert_int_equal(balance(cash, "2026-01-14"), c0);
    assert_int_equal(balance(cash, "2026-01-15"), c0 + 123456789);
    assert_int_equal(scalar_i64("SELECT coalesce(sum(balance_minor),0) FROM account_balance"), 0);
}

static void test_c_refuses_unbalanced_and_bad_entries(void **state)
{
    (void)state;
    struct ledger_entry e = pair("2026-01-15", cash, capital, 100);
    e.lines[1].amount_minor = -99;
    struct fl_error err;
    assert_int_equal(ledger_check(&e, &err), FLE_UNBALANCED);
    assert_string_equal(err.field, "lines");
    e = pair("2026-02-30", cash, capital, 100);
    assert_int_equal(ledger_check(&e, &err), FLE_BAD_FIELD);
    assert_string_equal(err.field, "effective_date");
    e = pair("2026-01-15", cash, capital, 100);
    e.n_lines = 1;
    assert_int_equal(ledger_check(&e, &err), FLE_BAD_FIELD);
    e = pair("2026-01-15", cash, capital, 100);
    e.lines[1].account_id = 999999;
    int64_t before = scalar_i64("SELECT count(*) FROM journal_entry");
    post(&e, FLE_BAD_FIELD);
    assert_int_equal(scalar_i64("SELECT count(*) FROM journal_entry"), before);
    e = pair("2026-01-15", cash, capital, 100);
    snprintf(e.lines[0].currency, 4, "USD"); /* balanced in USD, but the accounts are in COP */
    snprintf(e.lines[1].currency, 4, "USD");
    post(&e, FLE_BAD_FIELD);
    snprintf(e.lines[1].currency, 4, "COP"); /* one side in each currency: unbalanced in both */
    assert_int_equal(ledger_check(&e, &err), FLE_UNBALANCED);
    assert_int_equal(scalar_i64("SELECT count(*) FROM journal_entry"), before);
}

/* SQL that writes entry `id` and its lines in one statement, as ledger_post does. event_type is an
 * SQL expression; lines is the VALUES list of journal_line (entry_id, line_no, account_id,
 * currency, amount_minor, effective_date); extra_cols/extra_vals add columns to the entry ("" for
 * none). */
static const char *entry_sql_typed(int64_t id, int64_t fund, int64_t user, const char *event_type,
                                   const char *extra_cols, const char *extra_vals, const char *lines)
{
    static char sql[2048];
    int n = snprintf(sql, sizeof sql,
             "WITH e AS (INSERT INTO journal_entry (id, fund_id, effective_date, posted_by, event_type%s) "
             "VALUES (%" PRId64 ", %" PRId64 ", '2026-01-01', %" PRId64 ", %s%s)) "
             "INSERT INTO journal_line (entry_id, line_no, account_id, currency, amount_minor, effective_date) "
             "VALUES %s",
             extra_cols, id, fund, user, event_type, extra_vals, lines);
    assert_true(n > 0 && (size_t)n < sizeof sql);
    return sql;
}

/* entry_sql_typed with the event type 'test'. */
static const char *entry_sql(int64_t id, int64_t fund, int64_t user, const char *extra_cols, const char *extra_vals,
                             const char *lines)
{
    return entry_sql_typed(id, fund, user, "'test'", extra_cols, extra_vals, lines);
}

/* SQL that writes entry `id` alone, without lines (event type 'test', extra columns as above). */
static const char *entry_alone_sql(int64_t id, int64_t fund, int64_t user, const char *extra_cols,
                                   const char *extra_vals)
{
    static char sql[1024];
    int n = snprintf(sql, sizeof sql,
                     "INSERT INTO journal_entry (id, fund_id, effective_date, posted_by, event_type%s) "
                     "VALUES (%" PRId64 ", %" PRId64 ", '2026-01-01', %" PRId64 ", 'test'%s)",
                     extra_cols, id, fund, user, extra_vals);
    assert_true(n > 0 && (size_t)n < sizeof sql);
    return sql;
}

/* The SQL must be refused, and for the reason given (a part of the server's message). */
static void assert_refused(const char *sql, const char *reason)
{
    char *msg = testdb_refusal(ci, sql);
    if (msg == NULL) {
        fail_msg("the database accepted: %s", sql);
    }
    if (strstr(msg, reason) == NULL) {
        char copy[512];
        snprintf(copy, sizeof copy, "%s", msg);
        free(msg);
        fail_msg("refused as \"%s\", expected \"%s\"", copy, reason);
    }
    free(msg);
}

static const char *two_lines(int64_t id, int64_t debit_acc, const char *debit_cur, int64_t debit, int64_t credit_acc,
                             const char *credit_cur, int64_t credit)
{
    static char v[512];
    snprintf(v, sizeof v,
             "(%" PRId64 ", 1, %" PRId64 ", '%s', %" PRId64 ", '2026-01-01'), "
             "(%" PRId64 ", 2, %" PRId64 ", '%s', %" PRId64 ", '2026-01-01')",
             id, debit_acc, debit_cur, debit, id, credit_acc, credit_cur, -credit);
    return v;
}

/* The database itself refuses what a buggy C caller might write, each for its own rule. */
static void test_database_refuses_bad_entries(void **state)
{
    (void)state;
    int64_t before = scalar_i64("SELECT count(*) FROM journal_entry");
    int64_t u = manager.user_id;
    /* The same statement, balanced, is accepted: each refusal below is its one defect. */
    char sql[4096];
    snprintf(sql, sizeof sql, "BEGIN; %s; ROLLBACK;",
             entry_sql(900001, fund_id, u, "", "", two_lines(900001, cash, "COP", 100, capital, "COP", 100)));
    assert_true(testdb_exec(ci, sql));
    assert_refused(entry_sql(900001, fund_id, u, "", "", two_lines(900001, cash, "COP", 100, capital, "COP", 99)),
                   "journal entry 900001 is not balanced");
    /* A single line, and an entry written without its lines. */
    snprintf(sql, sizeof sql, "(900002, 1, %" PRId64 ", 'COP', 5, '2026-01-01')", cash);
    assert_refused(entry_sql(900002, fund_id, u, "", "", sql), "journal entry 900002 is not balanced");
    assert_refused(entry_alone_sql(900003, fund_id, u, "", ""), "journal entry 900003 has no lines");
    /* Lines on an unknown account, on another currency than the account's, on another fund's. */
    assert_refused(entry_sql(900004, fund_id, u, "", "", two_lines(900004, cash, "COP", 7, 999999, "COP", 7)),
                   "on accounts of its fund in their currency");
    assert_refused(entry_sql(900005, fund_id, u, "", "", two_lines(900005, cash, "USD", 7, capital, "USD", 7)),
                   "on accounts of its fund in their currency");
    char lines[512];
    snprintf(lines, sizeof lines,
             "(900006, 1, (SELECT a.id FROM account a JOIN fund f ON f.id = a.fund_id WHERE f.code = 'OTHER'), "
             "'COP', 7, '2026-01-01'), (900006, 2, %" PRId64 ", 'COP', -7, '2026-01-01')",
             capital);
    snprintf(sql, sizeof sql,
             "BEGIN; INSERT INTO fund (code, name, base_currency, created_by) VALUES ('OTHER', 'Other', 'COP', %" PRId64
             "); INSERT INTO account (fund_id, code, name, type, currency) SELECT id, '1000', 'Cash', 'asset', 'COP' "
             "FROM fund WHERE code = 'OTHER'; %s; COMMIT;",
             u, entry_sql(900006, fund_id, u, "", "", lines));
    assert_refused(sql, "on accounts of its fund in their currency");
    /* A line dated otherwise than its entry. */
    snprintf(lines, sizeof lines,
             "(900007, 1, %" PRId64 ", 'COP', 7, '2026-01-02'), (900007, 2, %" PRId64 ", 'COP', -7, '2026-01-02')", cash,
             capital);
    assert_refused(entry_sql(900007, fund_id, u, "", "", lines), "with its date");
    /* An unknown fund or user; an entry stamped with another transaction, or inserted sealed. */
    /* (an unknown fund is first seen by the line check: the lines' accounts are not of that fund) */
    assert_refused(entry_sql(900008, 999999, u, "", "", two_lines(900008, cash, "COP", 7, capital, "COP", 7)),
                   "on accounts of its fund in their currency");
    assert_refused(entry_sql(900009, fund_id, 999999, "", "", two_lines(900009, cash, "COP", 7, capital, "COP", 7)),
                   "journal entry 900009 names no user");
    /* (with lines, the line check refuses a foreign stamp first; alone, the entry's own check does) */
    assert_refused(entry_sql(900010, fund_id, u, ", created_xact", ", '1'::xid8",
                             two_lines(900010, cash, "COP", 7, capital, "COP", 7)),
                   "must belong to an entry of this transaction");
    assert_refused(entry_alone_sql(900010, fund_id, u, ", created_xact", ", '1'"),
                   "journal entry 900010 is stamped with another transaction or inserted sealed");
    assert_refused(entry_alone_sql(900011, fund_id, u, ", seal_pos, prev_hash, hash",
                                   ", 1, decode(repeat('00', 32), 'hex'), decode(repeat('00', 32), 'hex')"),
                   "journal entry 900011 is stamped with another transaction or inserted sealed");
    /* The entry's own fields (0009: checked by the entry trigger, no longer CHECK constraints). */
    assert_refused(entry_sql(900015, fund_id, u, ", memo", ", repeat('m', 501)",
                             two_lines(900015, cash, "COP", 7, capital, "COP", 7)),
                   "journal entry 900015 has a memo of more than 500 characters");
    assert_refused(entry_sql(900016, fund_id, u, ", event_ref", ", repeat('r', 201)",
                             two_lines(900016, cash, "COP", 7, capital, "COP", 7)),
                   "journal entry 900016 has an event reference of more than 200 characters");
    static const char *const bad_types[] = {"''", "'Manual'", "'1st'", "'_x'", "'a-b'", "'caf' || chr(233)",
                                            "repeat('a', 65)", "'a b'"};
    for (size_t i = 0; i < sizeof bad_types / sizeof *bad_types; i++) {
        assert_refused(entry_sql_typed(900017, fund_id, u, bad_types[i], "", "",
                                       two_lines(900017, cash, "COP", 7, capital, "COP", 7)),
                       "journal entry 900017 has an event type that is not 1 to 64 of a-z, 0-9 and _");
    }
    /* The longest good type is accepted. */
    snprintf(sql, sizeof sql, "BEGIN; %s; ROLLBACK;",
             entry_sql_typed(900018, fund_id, u, "repeat('z', 63) || '9'", "", "",
                             two_lines(900018, cash, "COP", 7, capital, "COP", 7)));
    assert_true(testdb_exec(ci, sql));
    /* A reversal names an earlier entry (with lines, the line trigger's reversal check refuses
     * first; alone, the entry's own check does). */
    assert_refused(entry_sql(900019, fund_id, u, ", reverses_entry_id", ", 900020",
                             two_lines(900019, cash, "COP", 7, capital, "COP", 7)),
                   "reversal 900019 does not negate its original");
    assert_refused(entry_alone_sql(900019, fund_id, u, ", reverses_entry_id", ", 900020"),
                   "journal entry 900019 reverses no earlier entry");
    /* Lines numbered 1 to 64, no zero amount. */
    snprintf(lines, sizeof lines,
             "(900021, 0, %" PRId64 ", 'COP', 7, '2026-01-01'), (900021, 2, %" PRId64 ", 'COP', -7, '2026-01-01')", cash,
             capital);
    assert_refused(entry_sql(900021, fund_id, u, "", "", lines),
                   "journal lines of entry 900021 must be numbered 1 to 64 and have a non-zero amount");
    snprintf(lines, sizeof lines,
             "(900022, 1, %" PRId64 ", 'COP', 7, '2026-01-01'), (900022, 65, %" PRId64 ", 'COP', -7, '2026-01-01')",
             cash, capital);
    assert_refused(entry_sql(900022, fund_id, u, "", "", lines), "must be numbered 1 to 64");
    snprintf(lines, sizeof lines,
             "(900023, 1, %" PRId64 ", 'COP', 7, '2026-01-01'), (900023, 2, %" PRId64 ", 'COP', -7, '2026-01-01'), "
             "(900023, 3, %" PRId64 ", 'COP', 0, '2026-01-01')",
             cash, capital, cash);
    assert_refused(entry_sql(900023, fund_id, u, "", "", lines), "have a non-zero amount");
    assert_int_equal(scalar_i64("SELECT count(*) FROM journal_entry"), before);
    assert_int_equal(scalar_i64("SELECT count(*) FROM fund WHERE code = 'OTHER'"), 0);
    assert_int_equal(scalar_i64("SELECT coalesce(sum(balance_minor),0) FROM account_balance"), 0);
}

/* Lines added to an entry by a later statement of its own transaction are checked again: the
 * entry must still balance over all its lines. */
static void test_later_lines_are_checked(void **state)
{
    (void)state;
    int64_t before = scalar_i64("SELECT count(*) FROM journal_entry");
    int64_t c0 = balance(cash, NULL);
    char sql[4096];
    snprintf(sql, sizeof sql,
             "BEGIN; %s; INSERT INTO journal_line (entry_id, line_no, account_id, currency, amount_minor, "
             "effective_date) VALUES (900012, 3, %" PRId64 ", 'COP', 1, '2026-01-01'); COMMIT;",
             entry_sql(900012, fund_id, manager.user_id, "", "",
                       two_lines(900012, cash, "COP", 100, capital, "COP", 100)),
             cash);
    assert_refused(sql, "journal entry 900012 is not balanced");
    /* A balanced pair added later in the same transaction is part of the entry. */
    snprintf(sql, sizeof sql,
             "BEGIN; %s; INSERT INTO journal_line (entry_id, line_no, account_id, currency, amount_minor, "
             "effective_date) VALUES (900013, 3, %" PRId64 ", 'COP', 5, '2026-01-01'), "
             "(900013, 4, %" PRId64 ", 'COP', -5, '2026-01-01'); COMMIT;",
             entry_sql(900013, fund_id, manager.user_id, "", "",
                       two_lines(900013, cash, "COP", 100, capital, "COP", 100)),
             cash, capital);
    assert_true(testdb_exec(ci, sql));
    assert_int_equal(scalar_i64("SELECT count(*) FROM journal_entry"), before + 1);
    assert_int_equal(scalar_i64("SELECT count(*) FROM journal_line WHERE entry_id = 900013"), 4);
    assert_int_equal(balance(cash, NULL) - c0, 105);
    /* Reverse it so the figures of later tests stay as they were. */
    char lines[512];
    snprintf(lines, sizeof lines,
             "(900014, 1, %" PRId64 ", 'COP', -100, '2026-01-01'), (900014, 2, %" PRId64 ", 'COP', 100, '2026-01-01'), "
             "(900014, 3, %" PRId64 ", 'COP', -5, '2026-01-01'), (900014, 4, %" PRId64 ", 'COP', 5, '2026-01-01')",
             cash, capital, cash, capital);
    assert_true(testdb_exec(ci, entry_sql(900014, fund_id, manager.user_id, ", reverses_entry_id", ", 900013", lines)));
    assert_int_equal(balance(cash, NULL), c0);
    assert_int_equal(scalar_i64("SELECT coalesce(sum(balance_minor),0) FROM account_balance"), 0);
}

/* Balances are the journal's alone; funds and users that entries name stay. */
static void test_database_guards_balances_and_parties(void **state)
{
    (void)state;
    char sql[256];
    snprintf(sql, sizeof sql, "UPDATE account_balance SET balance_minor = balance_minor + 1 WHERE account_id = %" PRId64,
             cash);
    assert_refused(sql, "account balances change only by posting journal lines");
    snprintf(sql, sizeof sql, "DELETE FROM account_balance WHERE account_id = %" PRId64, cash);
    assert_refused(sql, "append-only");
    assert_refused("INSERT INTO account_balance (account_id, balance_minor) VALUES (999999, 0)",
                   "account balances change only by posting journal lines");
    snprintf(sql, sizeof sql, "DELETE FROM fund WHERE id = %" PRId64, fund_id);
    assert_refused(sql, "DELETE on fund is not allowed");
    snprintf(sql, sizeof sql, "DELETE FROM app_user WHERE id = %" PRId64, manager.user_id);
    assert_refused(sql, "DELETE on app_user is not allowed");
    snprintf(sql, sizeof sql, "UPDATE account SET currency = 'USD' WHERE id = %" PRId64, cash);
    assert_refused(sql, "account identity (fund, currency, type) cannot change");
    /* A new account opens at zero; renaming one is allowed. */
    assert_true(testdb_exec(ci, "UPDATE account SET name = name WHERE code = '1000'"));
    assert_int_equal(scalar_i64("SELECT count(*) FROM account a LEFT JOIN account_balance b ON b.account_id = a.id "
                                "WHERE b.account_id IS NULL"),
                     0);
}

#define DIRECT_POSTERS 8
#define DIRECT_POSTS 40

struct direct_poster {
    const char *ci;
    int ok;
};

/* Each thread posts on its own connection, one transaction per entry, all on the same two
 * accounts: they queue on the balance rows and must never deadlock. */
static void *post_direct(void *arg)
{
    struct direct_poster *p = arg;
    struct db *d = testdb_open(p->ci);
    for (int i = 0; i < DIRECT_POSTS; i++) {
        struct ledger_entry e = pair("2026-07-01", cash, capital, 7);
        struct post_args a = {&e, 0};
        struct fl_error err;
        if (db_tx(d, post_tx, &a, &err) == FLE_OK) {
            p->ok++;
        }
    }
    db_close(d);
    return NULL;
}

static void test_concurrent_direct_posters(void **state)
{
    (void)state;
    int64_t c0 = balance(cash, NULL);
    struct direct_poster ps[DIRECT_POSTERS];
    pthread_t th[DIRECT_POSTERS];
    for (int i = 0; i < DIRECT_POSTERS; i++) {
        ps[i] = (struct direct_poster){ci, 0};
        assert_int_equal(pthread_create(&th[i], NULL, post_direct, &ps[i]), 0);
    }
    int ok = 0;
    for (int i = 0; i < DIRECT_POSTERS; i++) {
        pthread_join(th[i], NULL);
        ok += ps[i].ok;
    }
    assert_int_equal(ok, DIRECT_POSTERS * DIRECT_POSTS);
    assert_int_equal(balance(cash, NULL) - c0, 7 * DIRECT_POSTERS * DIRECT_POSTS);
    assert_int_equal(scalar_i64("SELECT coalesce(sum(balance_minor),0) FROM account_balance"), 0);
}

static void test_database_refuses_changes_to_history(void **state)
{
    (void)state;
    struct ledger_entry e = pair("2026-01-20", cash, capital, 5000);
    int64_t id = post(&e, FLE_OK);
    char sql[512];
    snprintf(sql, sizeof sql, "UPDATE journal_line SET amount_minor = 6000 WHERE entry_id = %" PRId64, id);
    assert_false(testdb_exec(ci, sql));
    snprintf(sql, sizeof sql, "DELETE FROM journal_line WHERE entry_id = %" PRId64, id);
    assert_false(testdb_exec(ci, sql));
    snprintf(sql, sizeof sql, "UPDATE journal_entry SET memo = 'changed' WHERE id = %" PRId64, id);
    assert_false(testdb_exec(ci, sql));
    /* Sealing sets all three seal columns, hashes of 32 bytes; nothing else may change. */
    snprintf(sql, sizeof sql,
             "UPDATE journal_entry SET seal_pos = 1000000, prev_hash = decode(repeat('00', 31), 'hex'), "
             "hash = decode(repeat('00', 32), 'hex') WHERE id = %" PRId64,
             id);
    assert_refused(sql, "must be sealed with a 32-byte hash and previous hash");
    snprintf(sql, sizeof sql,
             "UPDATE journal_entry SET seal_pos = 1000000, prev_hash = decode(repeat('00', 32), 'hex') WHERE id = %" PRId64,
             id);
    assert_refused(sql, "must be sealed with a 32-byte hash and previous hash");
    snprintf(sql, sizeof sql, "DELETE FROM journal_entry WHERE id = %" PRId64, id);
    assert_false(testdb_exec(ci, sql));
    assert_false(testdb_exec(ci, "TRUNCATE journal_line CASCADE"));
    snprintf(sql, sizeof sql, "UPDATE account_balance SET balance_minor = balance_minor + 1 WHERE account_id = %" PRId64, cash);
    assert_false(testdb_exec(ci, sql));
    assert_false(testdb_exec(ci, "UPDATE audit_log SET action = 'x'"));
    /* No line may be added to an entry of an earlier transaction. */
    snprintf(sql, sizeof sql,
             "INSERT INTO journal_line (entry_id, line_no, account_id, currency, amount_minor, effective_date) "
             "VALUES (%" PRId64 ", 3, %" PRId64 ", 'COP', 1, '2026-01-20')",
             id, cash);
    assert_false(testdb_exec(ci, sql));
    snprintf(sql, sizeof sql, "SELECT amount_minor FROM journal_line WHERE entry_id = %" PRId64 " AND line_no = 1", id);
    assert_int_equal(scalar_i64(sql), 5000);
}

struct rev_args {
    int64_t original;
    int64_t id;
};

static enum fl_err reverse_tx(struct db *d, void *arg, struct fl_error *err)
{
    struct rev_args *a = arg;
    static struct ledger_entry r;
    enum fl_err e = ledger_reversal_build(d, a->original, approver.user_id, "mistake", NULL, &r, err);
    if (e != FLE_OK) {
        return e;
    }
    const struct ledger_entry *one = &r;
    return ledger_post(d, &one, 1, &a->id, err);
}

static void test_reversal_once(void **state)
{
    (void)state;
    int64_t c0 = balance(cash, NULL);
    struct ledger_entry e = pair("2026-02-01", cash, capital, 777);
    int64_t id = post(&e, FLE_OK);
    struct rev_args a = {id, 0};
    struct fl_error err;
    assert_int_equal(db_tx(db, reverse_tx, &a, &err), FLE_OK);
    assert_int_equal(balance(cash, NULL), c0);
    assert_int_equal(db_tx(db, reverse_tx, &a, &err), FLE_ALREADY_REVERSED);
    struct rev_args b = {a.id, 0}; /* the reversal itself */
    assert_int_equal(db_tx(db, reverse_tx, &b, &err), FLE_RULE);
    /* The database refuses a second reversal and a reversal that does not negate. */
    char sql[1024];
    snprintf(sql, sizeof sql,
             "BEGIN; INSERT INTO journal_entry (id, fund_id, effective_date, posted_by, event_type, reverses_entry_id) "
             "VALUES (900010, %" PRId64 ", '2026-02-01', %" PRId64 ", 'reversal', %" PRId64 "); "
             "INSERT INTO journal_line (entry_id, line_no, account_id, currency, amount_minor, effective_date) VALUES "
             "(900010, 1, %" PRId64 ", 'COP', -777, '2026-02-01'), (900010, 2, %" PRId64 ", 'COP', 777, '2026-02-01'); "
             "COMMIT;",
             fund_id, manager.user_id, id, cash, capital);
    assert_false(testdb_exec(ci, sql));
    struct ledger_entry f = pair("2026-02-02", cash, capital, 500);
    int64_t id2 = post(&f, FLE_OK);
    snprintf(sql, sizeof sql,
             "BEGIN; INSERT INTO journal_entry (id, fund_id, effective_date, posted_by, event_type, reverses_entry_id) "
             "VALUES (900011, %" PRId64 ", '2026-02-02', %" PRId64 ", 'reversal', %" PRId64 "); "
             "INSERT INTO journal_line (entry_id, line_no, account_id, currency, amount_minor, effective_date) VALUES "
             "(900011, 1, %" PRId64 ", 'COP', -400, '2026-02-02'), (900011, 2, %" PRId64 ", 'COP', 400, '2026-02-02'); "
             "COMMIT;",
             fund_id, manager.user_id, id2, cash, capital);
    assert_false(testdb_exec(ci, sql));
}

static int idem_calls;

static enum fl_err idem_op(struct db *d, void *arg, unsigned *status, json_t **reply, struct fl_error *err)
{
    (void)arg;
    idem_calls++;
    struct ledger_entry e = pair("2026-03-01", cash, capital, 42);
    const struct ledger_entry *one = &e;
    int64_t id = 0;
    enum fl_err rc = ledger_post(d, &one, 1, &id, err);
    *status = 201;
    *reply = json_pack("{s:I}", "entry_id", (json_int_t)id);
    return rc;
}

static void test_idempotency(void **state)
{
    (void)state;
    uint8_t h1[HASH_BYTES] = {1}, h2[HASH_BYTES] = {2};
    unsigned status = 0;
    char *text1 = NULL, *text2 = NULL, *text3 = NULL;
    bool replayed = true;
    struct fl_error err;
    int64_t before = scalar_i64("SELECT count(*) FROM journal_entry");
    idem_calls = 0;
    assert_int_equal(idem_run(db, manager.user_id, "key-1", h1, idem_op, NULL, &status, &text1, &replayed, &err),
                     FLE_OK);
    assert_false(replayed);
    assert_int_equal(status, 201);
    assert_int_equal(idem_run(db, manager.user_id, "key-1", h1, idem_op, NULL, &status, &text2, &replayed, &err),
                     FLE_OK);
    assert_true(replayed);
    assert_int_equal(status, 201);
    assert_string_equal(text1, text2);
    assert_int_equal(idem_calls, 1);
    assert_int_equal(scalar_i64("SELECT count(*) FROM journal_entry"), before + 1);
    assert_int_equal(idem_run(db, manager.user_id, "key-1", h2, idem_op, NULL, &status, &text3, &replayed, &err),
                     FLE_IDEMPOTENCY_MISMATCH);
    assert_null(text3);
    /* Another user's key space is separate. */
    assert_int_equal(idem_run(db, approver.user_id, "key-1", h2, idem_op, NULL, &status, &text3, &replayed, &err),
                     FLE_OK);
    assert_int_equal(idem_calls, 2);
    assert_int_equal(scalar_i64("SELECT count(*) FROM journal_entry"), before + 2);
    /* Keys are unique in the database too. */
    assert_false(testdb_exec(ci, "INSERT INTO idempotency_key (user_id, key, request_hash, status_code, response) "
                                 "SELECT user_id, key, request_hash, 200, '{}' FROM idempotency_key LIMIT 1"));
    free(text1);
    free(text2);
    free(text3);
}

struct propose_args {
    const char *amount;
    const struct principal *maker;
    int64_t id;
};

static enum fl_err propose_tx(struct db *d, void *arg, struct fl_error *err)
{
    struct propose_args *a = arg;
    struct journal_line_input lines[2] = {{cash, a->amount, NULL}, {capital, NULL, a->amount}};
    json_t *p = journal_propose(d, a->maker, fund_id, "2026-04-01", "four eyes", lines, 2, err);
    if (p == NULL) {
        return err->code;
    }
    a->id = json_integer_value(json_object_get(p, "id"));
    json_decref(p);
    return FLE_OK;
}

static int64_t propose(const char *amount)
{
    struct propose_args a = {amount, &manager, 0};
    struct fl_error err;
    assert_int_equal(db_tx(db, propose_tx, &a, &err), FLE_OK);
    return a.id;
}

struct decide_args {
    struct db *d;
    const struct principal *who;
    int64_t id;
    bool approve;
    const char *reason;
    enum fl_err rc;
    char status[16];
};

static enum fl_err decide_tx(struct db *d, void *arg, struct fl_error *err)
{
    struct decide_args *a = arg;
    json_t *p = approval_decide(d, a->who, a->id, a->approve, a->reason, err);
    if (p == NULL) {
        return err->code;
    }
    snprintf(a->status, sizeof a->status, "%s", json_string_value(json_object_get(p, "status")));
    json_decref(p);
    return FLE_OK;
}

static enum fl_err decide(const struct principal *who, int64_t id, bool approve, const char *reason, char *status)
{
    struct decide_args a = {db, who, id, approve, reason, FLE_OK, ""};
    struct fl_error err;
    enum fl_err rc = db_tx(db, decide_tx, &a, &err);
    if (status) {
        snprintf(status, 16, "%s", a.status);
    }
    return rc;
}

static void test_four_eyes_rules(void **state)
{
    (void)state;
    char status[16];
    int64_t c0 = balance(cash, NULL);
    int64_t id = propose("1000.00");
    assert_int_equal(balance(cash, NULL), c0); /* nothing posted while pending */
    /* The maker cannot decide, even when given approver powers. */
    struct principal maker_as_approver = manager;
    maker_as_approver.role = ROLE_APPROVER;
    assert_int_equal(decide(&maker_as_approver, id, true, NULL, NULL), FLE_SELF_APPROVAL);
    assert_int_equal(decide(&approver, id, false, NULL, NULL), FLE_MISSING_FIELD);
    assert_int_equal(decide(&approver, id, true, NULL, status), FLE_OK);
    assert_string_equal(status, "approved");
    assert_int_equal(balance(cash, NULL), c0 + 100000);
    assert_int_equal(decide(&approver2, id, true, NULL, NULL), FLE_ALREADY_DECIDED);
    /* Rejection posts nothing and records the reason. */
    int64_t r = propose("5.00");
    assert_int_equal(decide(&approver, r, false, "no supporting document", status), FLE_OK);
    assert_string_equal(status, "rejected");
    assert_int_equal(balance(cash, NULL), c0 + 100000);
    /* The database refuses a maker's decision row even without C. */
    int64_t q = propose("6.00");
    char sql[256];
    snprintf(sql, sizeof sql,
             "INSERT INTO proposal_decision (proposal_id, user_id, decision, limit_minor) VALUES (%" PRId64
             ", %" PRId64 ", 'approve', 0)",
             q, manager.user_id);
    assert_false(testdb_exec(ci, sql));
}

static void test_limits_and_second_approver(void **state)
{
    (void)state;
    char status[16];
    int64_t c0 = balance(cash, NULL);
    /* 60,000.00 is over small's 50,000.00: first approval recorded, still pending. */
    int64_t id = propose("60000.00");
    assert_int_equal(decide(&small_approver, id, true, NULL, status), FLE_OK);
    assert_string_equal(status, "pending");
    assert_int_equal(balance(cash, NULL), c0);
    assert_int_equal(decide(&small_approver, id, true, NULL, NULL), FLE_ALREADY_DECIDED);
    assert_int_equal(decide(&approver, id, true, NULL, status), FLE_OK);
    assert_string_equal(status, "approved");
    assert_int_equal(balance(cash, NULL), c0 + 6000000);
    /* 2,000,000.00 is over approver's 1,000,000.00 and over both limits together (1,050,000.00). */
    int64_t big = propose("2000000.00");
    assert_int_equal(decide(&small_approver, big, true, NULL, status), FLE_OK);
    assert_string_equal(status, "pending");
    assert_int_equal(decide(&approver, big, true, NULL, NULL), FLE_OVER_LIMIT);
    /* The refused approval left nothing behind: two approvers of 1,000,000.00 also fall short
     * with small's 50,000.00 recorded; approver2 alone cannot finish either. */
    assert_int_equal(decide(&approver2, big, true, NULL, NULL), FLE_OVER_LIMIT);
    assert_int_equal(balance(cash, NULL), c0 + 6000000);
    /* A user with no limit in the currency has no authority. */
    struct principal nolimit = make_user("nolimit", ROLE_APPROVER);
    assert_int_equal(decide(&nolimit, propose("1.00"), true, NULL, NULL), FLE_OVER_LIMIT);
}

#define RACERS 16

struct racer {
    const char *ci;
    struct principal who;
    int64_t proposal;
    enum fl_err rc;
    pthread_barrier_t *go;
};

static void *race(void *arg)
{
    struct racer *r = arg;
    struct db *d = testdb_open(r->ci);
    struct decide_args a = {d, &r->who, r->proposal, true, NULL, FLE_OK, ""};
    struct fl_error err;
    pthread_barrier_wait(r->go);
    r->rc = db_tx(d, decide_tx, &a, &err);
    db_close(d);
    return NULL;
}

static void test_racing_approvers_post_once(void **state)
{
    (void)state;
    struct racer rs[RACERS];
    pthread_t th[RACERS];
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, RACERS);
    int64_t c0 = balance(cash, NULL);
    int64_t id = propose("250.00");
    for (int i = 0; i < RACERS; i++) {
        char name[32];
        snprintf(name, sizeof name, "racer%d", i);
        rs[i] = (struct racer){ci, make_user(name, ROLE_APPROVER), id, FLE_INTERNAL, &go};
        struct fl_error err;
        assert_int_equal(auth_limit_set(db, rs[i].who.user_id, "COP", 100000000, &err), FLE_OK);
    }
    for (int i = 0; i < RACERS; i++) {
        assert_int_equal(pthread_create(&th[i], NULL, race, &rs[i]), 0);
    }
    int ok = 0, decided = 0;
    for (int i = 0; i < RACERS; i++) {
        pthread_join(th[i], NULL);
        ok += rs[i].rc == FLE_OK;
        decided += rs[i].rc == FLE_ALREADY_DECIDED;
    }
    pthread_barrier_destroy(&go);
    assert_int_equal(ok, 1);
    assert_int_equal(decided, RACERS - 1);
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM journal_entry WHERE event_ref = 'proposal:%" PRId64 "'", id);
    assert_int_equal(scalar_i64(sql), 1);
    assert_int_equal(balance(cash, NULL), c0 + 25000);
}

static void test_seal_and_verify_detects_tampering(void **state)
{
    (void)state;
    struct fl_error err;
    unsigned sealed = 0;
    assert_int_equal(ledger_seal(db, 1000, &sealed, &err), FLE_OK);
    assert_true(sealed > 0);
    struct ledger_verify_report rep;
    assert_int_equal(ledger_verify(db, &rep, &err), FLE_OK);
    assert_true(rep.ok);
    assert_int_equal(rep.entries_unsealed, 0);
    assert_int_equal(rep.entries_checked, scalar_i64("SELECT count(*) FROM journal_entry"));
    /* Sealing again seals nothing; new entries extend the chain. */
    assert_int_equal(ledger_seal(db, 1000, &sealed, &err), FLE_OK);
    assert_int_equal(sealed, 0);
    struct ledger_entry e = pair("2026-05-01", expense, cash, 31415);
    int64_t id = post(&e, FLE_OK);
    assert_int_equal(ledger_verify(db, &rep, &err), FLE_OK);
    assert_true(rep.ok);
    assert_int_equal(rep.entries_unsealed, 1);
    assert_int_equal(ledger_seal(db, 1000, &sealed, &err), FLE_OK);
    assert_int_equal(sealed, 1);
    /* Alter a sealed line with the triggers switched off, as an intruder with superuser could. */
    char sql[512];
    snprintf(sql, sizeof sql,
             "SET session_replication_role = replica; UPDATE journal_line SET amount_minor = 31416 "
             "WHERE entry_id = %" PRId64 " AND line_no = 1; UPDATE journal_line SET amount_minor = -31416 "
             "WHERE entry_id = %" PRId64 " AND line_no = 2;",
             id, id);
    assert_true(testdb_exec(ci, sql));
    assert_int_equal(ledger_verify(db, &rep, &err), FLE_OK);
    assert_false(rep.ok);
    assert_int_equal(rep.first_bad_entry, id);
    assert_non_null(strstr(rep.problem, "does not match its hash"));
    /* Put it back: the chain is whole again. */
    snprintf(sql, sizeof sql,
             "SET session_replication_role = replica; UPDATE journal_line SET amount_minor = 31415 "
             "WHERE entry_id = %" PRId64 " AND line_no = 1; UPDATE journal_line SET amount_minor = -31415 "
             "WHERE entry_id = %" PRId64 " AND line_no = 2;",
             id, id);
    assert_true(testdb_exec(ci, sql));
    assert_int_equal(ledger_verify(db, &rep, &err), FLE_OK);
    assert_true(rep.ok);
    /* A stored balance changed behind the journal's back is found too. */
    snprintf(sql, sizeof sql,
             "SET session_replication_role = replica; UPDATE account_balance SET balance_minor = balance_minor + 1 "
             "WHERE account_id = %" PRId64,
             expense);
    assert_true(testdb_exec(ci, sql));
    assert_int_equal(ledger_verify(db, &rep, &err), FLE_OK);
    assert_false(rep.ok);
    assert_int_equal(rep.first_bad_account, expense);
    snprintf(sql, sizeof sql,
             "SET session_replication_role = replica; UPDATE account_balance SET balance_minor = balance_minor - 1 "
             "WHERE account_id = %" PRId64,
             expense);
    assert_true(testdb_exec(ci, sql));
}

#define WRITERS 8
#define POSTS_EACH 150

struct writer {
    struct ledger_batcher *b;
    int n;
    int64_t ids[POSTS_EACH];
    int ok;
};

static void *write_many(void *arg)
{
    struct writer *w = arg;
    for (int i = 0; i < POSTS_EACH; i++) {
        struct ledger_entry e = pair("2026-06-01", cash, capital, 100 + w->n);
        struct fl_error err;
        if (ledger_batcher_post(w->b, &e, &w->ids[i], &err) == FLE_OK) {
            w->ok++;
        }
    }
    return NULL;
}

static void test_batcher_group_commit(void **state)
{
    (void)state;
    struct fl_error err;
    struct ledger_batcher *b = NULL;
    assert_int_equal(ledger_batcher_start(ci, 64, 2, 8, &b, &err), FLE_OK);
    int64_t c0 = balance(cash, NULL);
    int64_t n0 = scalar_i64("SELECT count(*) FROM journal_entry");
    struct writer ws[WRITERS];
    pthread_t th[WRITERS];
    int64_t expected = 0;
    for (int i = 0; i < WRITERS; i++) {
        ws[i] = (struct writer){.b = b, .n = i};
        expected += (int64_t)POSTS_EACH * (100 + i);
        assert_int_equal(pthread_create(&th[i], NULL, write_many, &ws[i]), 0);
    }
    for (int i = 0; i < WRITERS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(ws[i].ok, POSTS_EACH);
    }
    /* One bad entry in the queue does not sink the others. */
    struct ledger_entry bad = pair("2026-06-01", cash, 999999, 1);
    int64_t bad_id = 0;
    assert_int_equal(ledger_batcher_post(b, &bad, &bad_id, &err), FLE_BAD_FIELD);
    ledger_batcher_stop(b);
    assert_int_equal(scalar_i64("SELECT count(*) FROM journal_entry") - n0, WRITERS * POSTS_EACH);
    assert_int_equal(balance(cash, NULL) - c0, expected);
    assert_int_equal(scalar_i64("SELECT count(DISTINCT id) FROM journal_entry WHERE effective_date = '2026-06-01'"),
                     WRITERS * POSTS_EACH);
    assert_int_equal(scalar_i64("SELECT coalesce(sum(balance_minor),0) FROM account_balance"), 0);
}

static void test_trial_balance_sums_to_zero(void **state)
{
    (void)state;
    struct fl_error err;
    json_t *tb = ledger_trial_balance(db, fund_id, NULL, &err);
    assert_non_null(tb);
    json_t *totals = json_object_get(tb, "totals");
    assert_int_equal(json_array_size(totals), 1);
    json_t *cop = json_array_get(totals, 0);
    assert_string_equal(json_string_value(json_object_get(cop, "currency")), "COP");
    assert_string_equal(json_string_value(json_object_get(cop, "difference")), "0.00");
    assert_string_equal(json_string_value(json_object_get(cop, "debit")),
                        json_string_value(json_object_get(cop, "credit")));
    json_decref(tb);
    tb = ledger_trial_balance(db, fund_id, "2026-01-14", &err);
    assert_non_null(tb);
    assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(tb, "totals"), 0), "debit")),
                        "0.00");
    json_decref(tb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_post_moves_balances_exactly),
        cmocka_unit_test(test_c_refuses_unbalanced_and_bad_entries),
        cmocka_unit_test(test_database_refuses_bad_entries),
        cmocka_unit_test(test_later_lines_are_checked),
        cmocka_unit_test(test_database_guards_balances_and_parties),
        cmocka_unit_test(test_database_refuses_changes_to_history),
        cmocka_unit_test(test_concurrent_direct_posters),
        cmocka_unit_test(test_reversal_once),
        cmocka_unit_test(test_idempotency),
        cmocka_unit_test(test_four_eyes_rules),
        cmocka_unit_test(test_limits_and_second_approver),
        cmocka_unit_test(test_racing_approvers_post_once),
        cmocka_unit_test(test_seal_and_verify_detects_tampering),
        cmocka_unit_test(test_batcher_group_commit),
        cmocka_unit_test(test_trial_balance_sums_to_zero),
    };
    return cmocka_run_group_tests_name("ledger (database)", tests, setup, teardown);
}
