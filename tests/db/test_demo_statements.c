/* test_demo_statements: the demo fund's statements, for every investor and at every month end of
 * its year of history, reconcile exactly with ledger balances read independently with SQL; and
 * the demo's books balance, its chain verifies, and no person's name appears in a statement. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fundledger/demo.h"
#include "fundledger/ledger.h"
#include "fundledger/money.h"
#include "fundledger/statement.h"
#include "testdb.h"

static const char *ci;
static struct db *db;
static int64_t fund_id;

static int64_t scalar_i64(const char *sql)
{
    char *v = testdb_scalar(ci, sql);
    assert_non_null(v);
    int64_t x = strtoll(v, NULL, 10);
    free(v);
    return x;
}

static const json_t *jpath(const json_t *o, const char *path)
{
    char key[64];
    while (o != NULL && *path != '\0') {
        size_t n = strcspn(path, ".");
        assert_true(n < sizeof key);
        memcpy(key, path, n);
        key[n] = '\0';
        o = json_object_get(o, key);
        path += n + (path[n] == '.');
    }
    return o;
}

/* A COP amount of the statement at path, in centavos. */
static int64_t cop(const json_t *o, const char *path)
{
    const char *t = json_string_value(jpath(o, path));
    int64_t v = 0;
    if (t == NULL) {
        fail_msg("%s: not a string", path);
    }
    assert_int_equal(money_parse(t, 2, true, &v), MONEY_OK);
    return v;
}

/* The balance of T<tranche>.<suffix> as of date, summed from journal lines. */
static int64_t ledger_as_of(int64_t tranche, const char *suffix, const char *date)
{
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT coalesce(sum(l.amount_minor), 0) FROM journal_line l JOIN account a ON a.id = l.account_id "
             "WHERE a.fund_id = %" PRId64 " AND a.code = 'T%" PRId64 ".%s' AND l.effective_date <= '%s'",
             fund_id, tranche, suffix, date);
    return scalar_i64(sql);
}

/* What recoveries restored to T<tranche>.LOSS up to date: minus its lines of `recovery` entries. */
static int64_t recovered_as_of(int64_t tranche, const char *date)
{
    char sql[600];
    snprintf(sql, sizeof sql,
             "SELECT -coalesce(sum(l.amount_minor), 0) FROM journal_line l JOIN account a ON a.id = l.account_id "
             "JOIN journal_entry e ON e.id = l.entry_id WHERE a.fund_id = %" PRId64 " AND a.code = 'T%" PRId64
             ".LOSS' AND e.event_type = 'recovery' AND l.effective_date <= '%s'",
             fund_id, tranche, date);
    return scalar_i64(sql);
}

/* Coupon earned and not paid on an allocation date D with no waterfall run on D: what the NAV
 * allocation of D found earned from inception less the interest the runs before D paid; -1 when
 * D is not such a date. */
static int64_t coupon_unpaid_by_allocation(int64_t tranche, const char *date)
{
    char sql[900];
    snprintf(sql, sizeof sql,
             "SELECT coalesce((SELECT n.earned_minor - coalesce((SELECT sum(s.amount_minor) FROM waterfall_step s "
             "JOIN waterfall_run w ON w.id = s.run_id WHERE w.fund_id = %" PRId64 " AND w.run_date < '%s' AND "
             "s.tranche_id = %" PRId64 " AND s.kind = 'interest'), 0) FROM nav_allocation_tranche n JOIN "
             "nav_allocation a ON a.id = n.allocation_id WHERE a.fund_id = %" PRId64 " AND a.as_of = '%s' AND "
             "n.tranche_id = %" PRId64 " AND NOT EXISTS (SELECT 1 FROM waterfall_run w WHERE w.fund_id = %" PRId64
             " AND w.run_date = '%s')), -1)",
             fund_id, date, tranche, fund_id, date, tranche, fund_id, date);
    return scalar_i64(sql);
}

/* A tranche's NAV as of date: minus the sum of its equity, income and expense lines. */
static int64_t nav_as_of(int64_t tranche, const char *date)
{
    char sql[600];
    snprintf(sql, sizeof sql,
             "SELECT -coalesce(sum(l.amount_minor), 0) FROM journal_line l JOIN account a ON a.id = l.account_id "
             "WHERE a.fund_id = %" PRId64 " AND a.code LIKE 'T%" PRId64 ".%%' AND a.type IN ('equity', 'income', "
             "'expense') AND l.effective_date <= '%s'",
             fund_id, tranche, date);
    return scalar_i64(sql);
}

/* The fund's net assets as of date: every asset and liability line. */
static int64_t net_assets_as_of(const char *date)
{
    char sql[400];
    snprintf(sql, sizeof sql,
             "SELECT coalesce(sum(l.amount_minor), 0) FROM journal_line l JOIN account a ON a.id = l.account_id "
             "WHERE a.fund_id = %" PRId64 " AND a.type IN ('asset', 'liability') AND l.effective_date <= '%s'",
             fund_id, date);
    return scalar_i64(sql);
}

static int setup(void **state)
{
    (void)state;
    ci = testdb_create("demo_statements");
    db = testdb_open(ci);
    char cred[] = "/tmp/fundledger-demo-statements-XXXXXX";
    int fd = mkstemp(cred);
    assert_true(fd >= 0);
    struct fl_error err;
    fl_error_clear(&err);
    enum fl_err e = demo_load(db, cred, &err);
    remove(cred);
    if (e != FLE_OK) {
        fprintf(stderr, "demo_load: %s\n", err.message);
        return -1;
    }
    fund_id = scalar_i64("SELECT id FROM fund WHERE code = 'HSP-ELCHARCO'");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    db_close(db);
    return 0;
}

static void test_demo_books(void **state)
{
    (void)state;
    /* The demo is what the issue describes: three tranches, about twenty entrepreneurs, a year
     * of history with a loan over 90 days late and one written off with a recovery. */
    assert_int_equal(scalar_i64("SELECT count(*) FROM tranche"), 3);
    assert_int_equal(scalar_i64("SELECT count(*) FROM entrepreneur"), 20);
    assert_int_equal(scalar_i64("SELECT count(DISTINCT municipality_code) FROM entrepreneur"), 5);
    assert_int_equal(scalar_i64("SELECT count(*) FROM loan WHERE status = 'written_off'"), 1);
    assert_int_equal(scalar_i64("SELECT count(*) FROM recovery"), 1);
    assert_true(scalar_i64("SELECT count(*) FROM repayment") > 40);
    assert_true(scalar_i64("SELECT count(*) FROM waterfall_run") >= 3);
    assert_int_equal(scalar_i64("SELECT coalesce(sum(balance_minor), 0) FROM account_balance"), 0);
    struct fl_error err;
    unsigned sealed = 0;
    assert_int_equal(ledger_seal(db, 1000, &sealed, &err), FLE_OK);
    struct ledger_verify_report rep;
    assert_int_equal(ledger_verify(db, &rep, &err), FLE_OK);
    assert_true(rep.ok);
    assert_int_equal(rep.entries_checked, scalar_i64("SELECT count(*) FROM journal_entry"));
}

static void test_every_investor_every_month_end(void **state)
{
    (void)state;
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM organisation WHERE kind = 'investor'");
    int64_t n_investors = scalar_i64(sql);
    assert_int_equal(n_investors, 3);
    char *names = testdb_scalar(ci, "SELECT string_agg(name, '|') FROM entrepreneur WHERE kind = 'person'");
    assert_non_null(names);
    /* Month ends of the last twelve months, and today. */
    char dates[13][11];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    for (int k = 0; k < 12; k++) {
        struct tm m = {.tm_year = tm.tm_year, .tm_mon = tm.tm_mon - k, .tm_mday = 0};
        time_t t = timegm(&m); /* day 0 of a month is the last day of the one before */
        struct tm e;
        gmtime_r(&t, &e);
        strftime(dates[k], sizeof dates[k], "%Y-%m-%d", &e);
    }
    strftime(dates[12], sizeof dates[12], "%Y-%m-%d", &tm);
    int checked = 0, closed = 0, coupons_checked = 0, recoveries_seen = 0;
    for (int64_t inv = 1; inv <= 64 && checked < 3 * 13; inv++) {
        snprintf(sql, sizeof sql, "SELECT count(*) FROM organisation WHERE id = %" PRId64 " AND kind = 'investor'",
                 inv);
        if (scalar_i64(sql) == 0) {
            continue;
        }
        snprintf(sql, sizeof sql, "SELECT min(signed_date)::text FROM tranche WHERE investor_id = %" PRId64, inv);
        char *first = testdb_scalar(ci, sql);
        assert_non_null(first);
        for (int d = 0; d < 13; d++) {
            if (strcmp(dates[d], first) < 0) {
                checked++; /* before its first tranche was signed there is no statement to give */
                continue;
            }
            json_t *st = NULL;
            struct fl_error err;
            fl_error_clear(&err);
            if (statement_build(db, fund_id, inv, 0, dates[d], &st, &err) != FLE_OK) {
                fail_msg("statement of investor %" PRId64 " on %s: %s", inv, dates[d], err.message);
            }
            checked++;
            size_t i;
            const json_t *t;
            int64_t nav_sum = 0;
            json_array_foreach(json_object_get(st, "tranches"), i, t)
            {
                int64_t id = json_integer_value(json_object_get(t, "id"));
                int64_t contrib = ledger_as_of(id, "CONTRIB", dates[d]), ret = ledger_as_of(id, "RETURNED", dates[d]),
                        inc = ledger_as_of(id, "DIST_INCOME", dates[d]), loss = ledger_as_of(id, "LOSS", dates[d]),
                        loans = ledger_as_of(id, "LOANS", dates[d]), cash = ledger_as_of(id, "CASH", dates[d]),
                        unfunded = ledger_as_of(id, "UNFUNDED", dates[d]);
                int64_t capital = -(contrib + ret + loss);
                assert_int_equal(cop(t, "capital_account.itd.closing"), capital);
                assert_int_equal(cop(t, "performance.nav"), capital);
                assert_int_equal(cop(t, "commitment.paid_in"), -contrib);
                assert_int_equal(cop(t, "commitment.unfunded"), unfunded);
                assert_int_equal(cop(t, "performance.distributions"), ret + inc);
                assert_int_equal(cop(t, "position.loans_outstanding"), loans);
                assert_int_equal(cop(t, "position.cash_available"), cash);
                assert_int_equal(cop(t, "capital_account.itd.losses_absorbed"), loss);
                /* The accrual NAV: every equity, income and expense account of the tranche, read
                 * here with SQL of its own; its capital account line by line against the same
                 * accounts' movements; its position adds up to it. */
                int64_t nav_now = nav_as_of(id, dates[d]);
                assert_int_equal(cop(t, "nav_position.nav"), nav_now);
                assert_int_equal(cop(t, "performance_nav.nav"), nav_now);
                assert_int_equal(cop(t, "nav_position.cash_available") + cop(t, "nav_position.loans_outstanding") +
                                     cop(t, "nav_position.other_assets") +
                                     cop(t, "nav_position.share_of_pooled_accounts"),
                                 nav_now);
                assert_int_equal(cop(t, "nav_position.loss_allowance"), ledger_as_of(id, "ALLOWANCE", dates[d]));
                assert_int_equal(cop(t, "nav_account.itd.opening"), 0);
                assert_int_equal(cop(t, "nav_account.itd.closing"), nav_now);
                assert_int_equal(cop(t, "nav_account.itd.contributions"), -contrib);
                assert_int_equal(cop(t, "nav_account.itd.income_allocated"), -ledger_as_of(id, "INCOME", dates[d]));
                assert_int_equal(cop(t, "nav_account.itd.management_fees"), ledger_as_of(id, "FEES", dates[d]));
                assert_int_equal(cop(t, "nav_account.itd.fund_expenses"), ledger_as_of(id, "EXPENSES", dates[d]));
                assert_int_equal(cop(t, "nav_account.itd.unrealised_losses"), ledger_as_of(id, "ALLOWANCE", dates[d]));
                int64_t recovered = recovered_as_of(id, dates[d]);
                assert_int_equal(cop(t, "nav_account.itd.realised_losses"), loss + recovered);
                assert_int_equal(cop(t, "nav_account.itd.recoveries"), recovered);
                /* The coupon earned and not yet paid: its parts add up, and on a closed month end
                 * without a run it is what the NAV allocation found earned less what the runs
                 * paid. */
                assert_int_equal(cop(t, "nav_position.coupon_due.unpaid_at_last_run") +
                                     cop(t, "nav_position.coupon_due.accrued_since"),
                                 cop(t, "nav_position.coupon_due.due"));
                assert_true(cop(t, "nav_position.coupon_due.due") >= 0);
                int64_t by_alloc = coupon_unpaid_by_allocation(id, dates[d]);
                if (by_alloc >= 0) {
                    assert_int_equal(cop(t, "nav_position.coupon_due.due"), by_alloc);
                    coupons_checked++;
                }
                assert_int_equal(cop(t, "nav_account.itd.distributions_income"), inc);
                assert_int_equal(cop(t, "nav_account.itd.distributions_capital"), ret);
                nav_sum += nav_now;
                recoveries_seen += recovered != 0;
                static const char *const periods[] = {"qtd", "ytd", "itd"};
                for (int p = 0; p < 3; p++) {
                    const json_t *ca = jpath(jpath(t, "capital_account"), periods[p]);
                    int64_t sum = cop(ca, "opening") + cop(ca, "contributions") + cop(ca, "income_allocated") -
                                  cop(ca, "distributions_income") - cop(ca, "distributions_principal") -
                                  cop(ca, "losses_absorbed") - cop(ca, "fees");
                    assert_int_equal(sum, capital);
                    const json_t *na = jpath(jpath(t, "nav_account"), periods[p]);
                    int64_t nsum = cop(na, "opening") + cop(na, "contributions") + cop(na, "income_allocated") -
                                   cop(na, "management_fees") - cop(na, "fund_expenses") -
                                   cop(na, "unrealised_losses") - cop(na, "realised_losses") + cop(na, "recoveries") -
                                   cop(na, "distributions_income") - cop(na, "distributions_capital") +
                                   cop(na, "other");
                    assert_int_equal(nsum, nav_now);
                    assert_int_equal(cop(na, "other"), 0);
                }
            }
            /* The fund column: net assets read with SQL of its own; the tranches' NAVs and what
             * is not yet allocated add up to it. */
            const json_t *fn = json_object_get(st, "fund_nav");
            assert_true(json_is_true(json_object_get(fn, "reconciles")));
            assert_int_equal(cop(fn, "net_assets"), net_assets_as_of(dates[d]));
            assert_int_equal(cop(fn, "tranches_nav") + cop(fn, "not_yet_allocated"), cop(fn, "net_assets"));
            assert_int_equal(cop(fn, "investor_nav"), nav_sum);
            /* On a month end the demo closed, everything is allocated. */
            snprintf(sql, sizeof sql, "SELECT count(*) FROM nav_allocation WHERE fund_id = %" PRId64 " AND as_of = '%s'",
                     fund_id, dates[d]);
            if (scalar_i64(sql) == 1) {
                assert_int_equal(cop(fn, "not_yet_allocated"), 0);
                closed++;
            }
            /* The page of the last date: the new lines are there, in plain words, and no account
             * code, formula or template text reaches the investor. */
            if (d == 12) {
                char *html = NULL;
                assert_int_equal(statement_render_html(st, "reports/statement.html", &html, &err), FLE_OK);
                assert_non_null(strstr(html, "+ Recoveries (amounts collected on loans written off)"));
                assert_non_null(strstr(html, "Coupon earned and not yet paid"));
                static const char *const banned[] = {"CONTRIB", "RETURNED", "DIST_INCOME", "T1.", "{{", "null",
                                                     "&#8722;(", " / paid-in", "Subordination"};
                for (size_t k = 0; k < sizeof banned / sizeof banned[0]; k++) {
                    if (strstr(html, banned[k]) != NULL) {
                        fail_msg("the page of investor %" PRId64 " shows \"%s\"", inv, banned[k]);
                    }
                }
                free(html);
            }
            /* No person is ever named in a statement. */
            char *text = json_dumps(st, 0);
            char *save = NULL, *copy = strdup(names);
            for (char *nm = strtok_r(copy, "|", &save); nm != NULL; nm = strtok_r(NULL, "|", &save)) {
                if (strstr(text, nm) != NULL) {
                    fail_msg("statement of investor %" PRId64 " names %s", inv, nm);
                }
            }
            free(copy);
            free(text);
            json_decref(st);
        }
        free(first);
    }
    free(names);
    assert_int_equal(checked, 3 * 13);
    /* The demo closes every month end of its history: the eleven month ends of the statements
     * before the last are closed for all three investors (the twelfth may precede the history). */
    assert_true(closed >= 3 * 11);
    /* The recovery reached a tranche's capital account, and coupons were checked against the
     * allocations on closed month ends. */
    assert_true(recoveries_seen > 0);
    assert_true(coupons_checked > 0);
    /* The closes allocated income and posted an allowance (the loan over 90 days late). */
    snprintf(sql, sizeof sql, "SELECT count(*) FROM nav_allocation WHERE fund_id = %" PRId64 " AND income_minor > 0",
             fund_id);
    assert_true(scalar_i64(sql) > 0);
    snprintf(sql, sizeof sql,
             "SELECT allowance_minor FROM provision_run WHERE fund_id = %" PRId64 " ORDER BY as_of DESC LIMIT 1",
             fund_id);
    assert_true(scalar_i64(sql) > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_demo_books),
        cmocka_unit_test(test_every_investor_every_month_end),
    };
    return cmocka_run_group_tests_name("demo statements (database)", tests, setup, teardown);
}
