/* test_stored_payloads: every amount and rate a proposal payload or an audit detail stores is a
 * decimal string with the currency's minor digits, as replies show them (docs/architecture.md,
 * "Stored payloads"); payloads stored by an earlier version (integers of minor units or of 1e-8)
 * are still read and executed to the same figures. Against a real PostgreSQL, through the C API. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fundledger/approval.h"
#include "fundledger/distribution.h"
#include "fundledger/fund.h"
#include "fundledger/tranche.h"
#include "loanfix.h"
#include "testdb.h"

static const char *ci;
static struct db *db;
static struct principal manager, approver;
static int64_t fund_id, investor;

/* The text of an owner-side query, asserted equal to want. */
static void expect_sql(const char *want, const char *fmt, ...)
{
    char sql[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    lf_assert_scalar(sql, want);
}

static int64_t int_sql(const char *fmt, ...)
{
    char sql[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    return lf_scalar_i64(sql);
}

/* A proposal made with a payload as given (an earlier version's shape), through approval_propose. */
struct raw_args {
    const char *kind;
    json_t *payload; /* stolen */
    int64_t amount;
};

static json_t *raw_propose_fn(struct db *d, void *arg, struct fl_error *err)
{
    struct raw_args *a = arg;
    return approval_propose(d, &manager, fund_id, a->kind, a->payload, a->amount, "COP", err);
}

static int64_t raw_propose(const char *kind, json_t *payload, int64_t amount)
{
    struct raw_args a = {kind, payload, amount};
    json_t *p = lf_run(raw_propose_fn, &a, FLE_OK, NULL);
    int64_t id = lf_jid(p, "id");
    json_decref(p);
    return id;
}

static int setup(void **state)
{
    (void)state;
    ci = testdb_create("stored_payloads");
    db = testdb_open(ci);
    lf_setup(ci, db, &manager, &approver, 10000000000);
    fund_id = lf_make_fund("PAYLOAD", "Stored payload fund");
    investor = lf_make_investor("UNDP", "XM-DAC-41114");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    db_close(db);
    return 0;
}

static json_t *change_fn(struct db *d, void *arg, struct fl_error *err)
{
    const json_t *const *a = arg;
    return tranche_change_propose(d, &manager, json_integer_value(json_object_get(a[0], "tranche_id")), a[0], err);
}

static json_t *cancel_fn(struct db *d, void *arg, struct fl_error *err)
{
    struct lf_money_args *a = arg;
    return tranche_cancel(d, &manager, a->id, a->amount, a->date, a->text, err);
}

/* A tranche proposal stores commitment and rates as decimal strings; approval creates the tranche
 * with the same figures; a tranche change stores and records before/after as strings. */
static void test_tranche_payloads(void **state)
{
    (void)state;
    struct lf_tranche_args t = {fund_id, {investor, "Strings", "first_loss", 3, "COP", "1500000.00", "0.045",
                                          "0.0125", NULL, "2026-01-10", NULL}};
    json_t *p = lf_run(lf_tranche_fn, &t, FLE_OK, NULL);
    int64_t pid = lf_jid(p, "id");
    /* The reply shows the stored payload. */
    json_t *pl = json_object_get(p, "payload");
    assert_string_equal(lf_jstr(pl, "commitment"), "1500000.00");
    assert_string_equal(lf_jstr(pl, "return_rate"), "0.0450");
    assert_string_equal(lf_jstr(pl, "fee_rate"), "0.0125");
    assert_null(json_object_get(pl, "commitment_minor"));
    json_decref(p);
    expect_sql("string string string 0",
               "SELECT jsonb_typeof(payload->'commitment') || ' ' || jsonb_typeof(payload->'return_rate') || ' ' || "
               "jsonb_typeof(payload->'fee_rate') || ' ' || (payload ? 'commitment_minor')::int FROM proposal "
               "WHERE id = %" PRId64,
               pid);
    lf_approve(pid);
    int64_t tid = int_sql("SELECT id FROM tranche WHERE name = 'Strings'");
    expect_sql("150000000 4500000 1250000",
               "SELECT commitment_minor || ' ' || return_rate || ' ' || fee_rate FROM tranche WHERE id = %" PRId64,
               tid);
    assert_int_equal(lf_tbal(fund_id, tid, "UNFUNDED"), 150000000);

    /* Contribution and cancellation: the audit detail's amount is a decimal string. */
    struct lf_money_args m = {tid, "1000000.00", "2026-01-20", "TRF-1"};
    json_decref(lf_run(lf_contribute_fn, &m, FLE_OK, NULL));
    expect_sql("1000000.00 string",
               "SELECT (detail->>'amount') || ' ' || jsonb_typeof(detail->'amount') FROM audit_log "
               "WHERE action = 'contribution.record' AND (detail->>'tranche_id')::bigint = %" PRId64,
               tid);
    m = (struct lf_money_args){tid, "100000.50", "2026-01-21", "scaled down"};
    json_decref(lf_run(cancel_fn, &m, FLE_OK, NULL));
    expect_sql("100000.50",
               "SELECT detail->>'amount' FROM audit_log WHERE action = 'commitment.cancel' AND object_id = '%" PRId64
               "'",
               tid);

    /* A change: commitment 1,500,000.00 -> 2,000,000.00, return 4.5 % -> 5 %, fee unchanged. */
    json_t *ch = json_pack("{s:I, s:s, s:s}", "tranche_id", (json_int_t)tid, "commitment", "2000000.00",
                           "return_rate", "0.05");
    const json_t *args[1] = {ch};
    p = lf_run(change_fn, (void *)args, FLE_OK, NULL);
    json_decref(ch);
    pid = lf_jid(p, "id");
    pl = json_object_get(p, "payload");
    assert_string_equal(lf_jstr(pl, "commitment"), "2000000.00");
    assert_string_equal(lf_jstr(pl, "return_rate"), "0.0500");
    assert_null(json_object_get(pl, "fee_rate"));
    /* The proposal's amount: the change of commitment. */
    assert_string_equal(lf_jstr(p, "amount"), "500000.00");
    json_decref(p);
    lf_approve(pid);
    expect_sql("200000000 5000000 1250000",
               "SELECT commitment_minor || ' ' || return_rate || ' ' || fee_rate FROM tranche WHERE id = %" PRId64,
               tid);
    expect_sql("1500000.00 0.0450 0.0125 | 2000000.00 0.0500 0.0125",
               "SELECT concat_ws(' ', before->>'commitment', before->>'return_rate', before->>'fee_rate') || ' | ' || "
               "concat_ws(' ', after->>'commitment', after->>'return_rate', after->>'fee_rate') FROM tranche_change "
               "WHERE proposal_id = %" PRId64,
               pid);
    /* Unfunded: 2,000,000.00 - 1,000,000.00 paid - 100,000.50 cancelled. */
    assert_int_equal(lf_tbal(fund_id, tid, "UNFUNDED"), 89999950);
    lf_assert_books_balance();
}

/* Payloads an earlier version stored (integers) are executed to the same figures. */
static void test_legacy_tranche_payloads(void **state)
{
    (void)state;
    json_t *old = json_pack("{s:I, s:s, s:s, s:I, s:s, s:I, s:I, s:I, s:{}, s:s, s:n}", "investor_id",
                            (json_int_t)investor, "name", "Legacy", "kind", "senior", "rank", (json_int_t)1,
                            "currency", "COP", "commitment_minor", (json_int_t)70000000, "return_rate",
                            (json_int_t)3000000, "fee_rate", (json_int_t)0, "eligibility", "signed_date",
                            "2026-01-10", "provider_activity_id");
    lf_approve(raw_propose("tranche", old, 70000000));
    int64_t tid = int_sql("SELECT id FROM tranche WHERE name = 'Legacy'");
    expect_sql("70000000 3000000 0",
               "SELECT commitment_minor || ' ' || return_rate || ' ' || fee_rate FROM tranche WHERE id = %" PRId64,
               tid);
    assert_int_equal(lf_tbal(fund_id, tid, "UNFUNDED"), 70000000);

    json_t *ch = json_pack("{s:I, s:I, s:I}", "tranche_id", (json_int_t)tid, "commitment_minor",
                           (json_int_t)80000000, "return_rate", (json_int_t)3500000);
    int64_t pid = raw_propose("tranche_change", ch, 10000000);
    lf_approve(pid);
    expect_sql("80000000 3500000 0",
               "SELECT commitment_minor || ' ' || return_rate || ' ' || fee_rate FROM tranche WHERE id = %" PRId64,
               tid);
    assert_int_equal(lf_tbal(fund_id, tid, "UNFUNDED"), 80000000);
    /* What the change row records is in the new shape. */
    expect_sql("700000.00 0.0300 | 800000.00 0.0350",
               "SELECT concat_ws(' ', before->>'commitment', before->>'return_rate') || ' | ' || "
               "concat_ws(' ', after->>'commitment', after->>'return_rate') FROM tranche_change "
               "WHERE proposal_id = %" PRId64,
               pid);

    /* A payload that reads neither way is an internal fault: nothing is created. */
    json_t *bad = json_pack("{s:I, s:s, s:s, s:I, s:s, s:s, s:I, s:I, s:{}, s:s, s:n}", "investor_id",
                            (json_int_t)investor, "name", "Unreadable", "kind", "senior", "rank", (json_int_t)2,
                            "currency", "COP", "commitment", "12.345", "return_rate", (json_int_t)0, "fee_rate",
                            (json_int_t)0, "eligibility", "signed_date", "2026-01-10", "provider_activity_id");
    int64_t bad_id = raw_propose("tranche", bad, 1234);
    struct fl_error err;
    assert_null(lf_run(lf_approve_fn, &bad_id, FLE_INTERNAL, &err));
    assert_int_equal(int_sql("SELECT count(*) FROM tranche WHERE name = 'Unreadable'"), 0);
    expect_sql("pending", "SELECT status FROM proposal WHERE id = %" PRId64, bad_id);
    lf_assert_books_balance();
}

struct settings_args {
    const char *mode, *target;
};

static json_t *settings_fn(struct db *d, void *arg, struct fl_error *err)
{
    struct settings_args *a = arg;
    return fund_settings_propose(d, &manager, fund_id, a->mode, a->target, err);
}

/* Fund settings: the reserve target in the payload and in the fund.settings audit detail. */
static void test_fund_settings_payloads(void **state)
{
    (void)state;
    struct settings_args a = {"pro_rata", "2500.50"};
    json_t *p = lf_run(settings_fn, &a, FLE_OK, NULL);
    int64_t pid = lf_jid(p, "id");
    assert_string_equal(lf_jstr(json_object_get(p, "payload"), "reserve_target"), "2500.50");
    assert_null(json_object_get(json_object_get(p, "payload"), "reserve_target_minor"));
    json_decref(p);
    lf_approve(pid);
    expect_sql("pro_rata 250050", "SELECT waterfall_mode || ' ' || reserve_target_minor FROM fund WHERE id = %" PRId64,
               fund_id);
    expect_sql("2500.50 string",
               "SELECT (detail->>'reserve_target') || ' ' || jsonb_typeof(detail->'reserve_target') FROM audit_log "
               "WHERE action = 'fund.settings' AND (detail->>'proposal_id')::bigint = %" PRId64,
               pid);

    /* Only the mode: the target stays. */
    a = (struct settings_args){"sequential", NULL};
    p = lf_run(settings_fn, &a, FLE_OK, NULL);
    pid = lf_jid(p, "id");
    json_decref(p);
    lf_approve(pid);
    expect_sql("sequential 250050",
               "SELECT waterfall_mode || ' ' || reserve_target_minor FROM fund WHERE id = %" PRId64, fund_id);

    /* An earlier version's payload: reserve_target_minor as an integer. */
    json_t *old = json_pack("{s:n, s:I}", "waterfall_mode", "reserve_target_minor", (json_int_t)1000);
    pid = raw_propose("fund_settings", old, 1000);
    lf_approve(pid);
    expect_sql("sequential 1000",
               "SELECT waterfall_mode || ' ' || reserve_target_minor FROM fund WHERE id = %" PRId64, fund_id);
    expect_sql("10.00", "SELECT detail->>'reserve_target' FROM audit_log WHERE action = 'fund.settings' AND "
                        "(detail->>'proposal_id')::bigint = %" PRId64,
               pid);
}

struct journal_args {
    struct journal_line_input lines[2];
};

static json_t *journal_fn(struct db *d, void *arg, struct fl_error *err)
{
    struct journal_args *a = arg;
    return journal_propose(d, &manager, fund_id, "2026-02-01", "payload shape", a->lines, 2, err);
}

/* A manual entry's payload lines carry signed decimal strings; an earlier version's amount_minor
 * lines still post. */
static void test_journal_payloads(void **state)
{
    (void)state;
    int64_t cash = 0, capital = 0;
    struct fl_error err;
    assert_int_equal(fund_account_by_code(db, fund_id, "1000", &cash, &err), FLE_OK);
    assert_int_equal(fund_account_by_code(db, fund_id, "3000", &capital, &err), FLE_OK);
    struct journal_args a = {{{cash, "123.45", NULL}, {capital, NULL, "123.45"}}};
    json_t *p = lf_run(journal_fn, &a, FLE_OK, NULL);
    int64_t pid = lf_jid(p, "id");
    json_t *lines = json_object_get(json_object_get(p, "payload"), "lines");
    assert_int_equal(json_array_size(lines), 2);
    assert_string_equal(lf_jstr(json_array_get(lines, 0), "amount"), "123.45");
    assert_string_equal(lf_jstr(json_array_get(lines, 1), "amount"), "-123.45");
    assert_null(json_object_get(json_array_get(lines, 0), "amount_minor"));
    json_decref(p);
    int64_t cash0 = lf_balance(fund_id, "1000");
    lf_approve(pid);
    assert_int_equal(lf_balance(fund_id, "1000"), cash0 + 12345);

    json_t *old = json_pack("{s:s, s:s, s:[{s:I, s:s, s:I}, {s:I, s:s, s:I}]}", "effective_date", "2026-02-02",
                            "memo", "stored by an earlier version", "lines", "account_id", (json_int_t)cash,
                            "currency", "COP", "amount_minor", (json_int_t)5000, "account_id", (json_int_t)capital,
                            "currency", "COP", "amount_minor", (json_int_t)-5000);
    lf_approve(raw_propose("journal_entry", old, 5000));
    assert_int_equal(lf_balance(fund_id, "1000"), cash0 + 12345 + 5000);
    assert_int_equal(lf_balance(fund_id, "3000"), -(12345 + 5000));
    lf_assert_books_balance();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tranche_payloads),
        cmocka_unit_test(test_legacy_tranche_payloads),
        cmocka_unit_test(test_fund_settings_payloads),
        cmocka_unit_test(test_journal_payloads),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
