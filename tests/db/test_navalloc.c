/* test_navalloc: the NAV allocation (docs/fund-operations.md, "NAV: everything allocated to the
 * tranches", worked example 6): the coupon on a mid-period contribution, the management fee on
 * the commitment then on the capital, a fund expense allocated by capital, income short of the
 * coupon carried; after each step the tranches' NAVs (each the sum of its own accounts) add up to
 * the fund's net assets to the centavo, the trial balance is zero and verify passes. */
/* cmocka.h needs these four headers first, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fundledger/approval.h"
#include "fundledger/distribution.h"
#include "fundledger/fund.h"
#include "fundledger/ledger.h"
#include "fundledger/loan.h"
#include "fundledger/repayment.h"
#include "fundledger/money.h"
#include "fundledger/navalloc.h"
#include "fundledger/statement.h"
#include "fundledger/tranche.h"
#include "loanfix.h"
#include "testdb.h"

static const char *ci;
static struct db *db;
static struct principal manager, approver;
static int64_t investor_a, investor_b;

static int setup(void **state)
{
    (void)state;
    ci = testdb_create("navalloc");
    db = testdb_open(ci);
    lf_setup(ci, db, &manager, &approver, 10000000000000);
    investor_a = lf_make_investor("UNDP", "XM-DAC-41114");
    investor_b = lf_make_investor("Partner", "CO-RUE-900000001");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    db_close(db);
    return 0;
}

/* A tranche signed on 2024-01-01 with the given terms (four eyes), paid paid_amount that day. */
static int64_t make_tranche(int64_t fund, int64_t investor, const char *name, const char *kind, int rank,
                            const char *commitment, const char *rate, const char *fee, const char *paid_amount)
{
    struct lf_tranche_args a = {fund,
                                {investor, name, kind, rank, "COP", commitment, rate, fee, NULL, "2024-01-01", NULL}};
    json_t *p = lf_run(lf_tranche_fn, &a, FLE_OK, NULL);
    int64_t pid = lf_jid(p, "id");
    json_decref(p);
    lf_approve(pid);
    char sql[200];
    snprintf(sql, sizeof sql, "SELECT id FROM tranche WHERE fund_id = %" PRId64 " AND name = '%s'", fund, name);
    int64_t id = lf_scalar_i64(sql);
    struct lf_money_args m = {id, paid_amount, "2024-01-01", "paid in"};
    json_decref(lf_run(lf_contribute_fn, &m, FLE_OK, NULL));
    return id;
}

struct manual_args {
    int64_t fund;
    const char *date, *debit_code, *credit_code, *amount;
};

static json_t *manual_fn(struct db *d, void *arg, struct fl_error *err)
{
    struct manual_args *a = arg;
    int64_t dr = 0, cr = 0;
    if (fund_account_by_code(d, a->fund, a->debit_code, &dr, err) != FLE_OK ||
        fund_account_by_code(d, a->fund, a->credit_code, &cr, err) != FLE_OK) {
        return NULL;
    }
    struct journal_line_input lines[2] = {{dr, a->amount, NULL}, {cr, NULL, a->amount}};
    return journal_propose(d, &manager, a->fund, a->date, "test entry", lines, 2, err);
}

/* A manual entry (four eyes): Dr debit_code / Cr credit_code, amount, on date. */
static void manual(int64_t fund, const char *date, const char *debit_code, const char *credit_code,
                   const char *amount)
{
    struct manual_args a = {fund, date, debit_code, credit_code, amount};
    json_t *p = lf_run(manual_fn, &a, FLE_OK, NULL);
    int64_t pid = lf_jid(p, "id");
    json_decref(p);
    lf_approve(pid);
}

struct alloc_args {
    int64_t fund;
    const char *date;
};

static json_t *alloc_fn(struct db *d, void *arg, struct fl_error *err)
{
    struct alloc_args *a = arg;
    return nav_allocate(d, &manager, a->fund, a->date, err);
}

static json_t *close_fn(struct db *d, void *arg, struct fl_error *err)
{
    struct alloc_args *a = arg;
    return fund_close_steps(d, &manager, a->fund, a->date, err);
}

static json_t *run_fn(struct db *d, void *arg, struct fl_error *err)
{
    struct alloc_args *a = arg;
    return distribution_run(d, &manager, a->fund, a->date, err);
}

/* A tranche's NAV: the sum of its own equity, income and expense accounts, as a credit. */
static int64_t nav(int64_t fund, int64_t tranche)
{
    char sql[400];
    snprintf(sql, sizeof sql,
             "SELECT -coalesce(sum(b.balance_minor), 0) FROM account a JOIN account_balance b ON b.account_id = a.id "
             "WHERE a.fund_id = %" PRId64 " AND a.code LIKE 'T%" PRId64 ".%%' AND a.type IN ('equity', 'income', "
             "'expense')",
             fund, tranche);
    return lf_scalar_i64(sql);
}

/* The fund's net assets: every asset less every liability, fund-level and tranche accounts. */
static int64_t net_assets(int64_t fund)
{
    char sql[300];
    snprintf(sql, sizeof sql,
             "SELECT coalesce(sum(b.balance_minor), 0) FROM account a JOIN account_balance b ON b.account_id = a.id "
             "WHERE a.fund_id = %" PRId64 " AND a.type IN ('asset', 'liability')",
             fund);
    return lf_scalar_i64(sql);
}

/* Every entry checked against the business row that produced it (ledger_verify_full's origin
 * check, `fundledger verify`): no origin problem. This test signs no anchors, so the anchor
 * problems ledger_verify_full reports are not looked at here (test_tamper covers them). */
static void assert_origins_ok(void)
{
    struct ledger_verify_report rep;
    struct fl_error err;
    unsigned sealed = 0;
    assert_int_equal(ledger_seal(db, 1000, &sealed, &err), FLE_OK);
    assert_int_equal(ledger_verify(db, &rep, &err), FLE_OK);
    assert_true(rep.ok);
    struct ledger_verify_options o = {.verifier = NULL, .anchor_log = NULL};
    fl_error_clear(&err);
    enum fl_err fe = ledger_verify_full(db, &o, &rep, &err);
    if (fe != FLE_OK) {
        fprintf(stderr, "verify_full: %d %s\n", (int)fe, err.message);
    }
    assert_int_equal(fe, FLE_OK);
    assert_int_equal(rep.origins_checked, lf_scalar_i64("SELECT count(*) FROM journal_entry"));
    int origin_problems = 0;
    for (unsigned i = 0; i < rep.problems_n; i++) {
        /* Every entry has its origin, the capitalisations (loan_capitalisation rows) included. */
        if (strncmp(rep.problems[i].text, "entry ", 6) == 0 && strstr(rep.problems[i].text, "): ") != NULL) {
            fprintf(stderr, "verify: %s\n", rep.problems[i].text);
            origin_problems++;
        }
    }
    assert_int_equal(origin_problems, 0);
    assert_true(lf_scalar_i64("SELECT count(*) FROM journal_entry WHERE event_type = 'nav_allocation'") >= 3);
}

static int64_t amount_of(const json_t *o, const char *key)
{
    int64_t v = 0;
    const char *t = json_string_value(json_object_get(o, key));
    assert_non_null(t);
    assert_int_equal(money_parse(t, 2, true, &v), MONEY_OK);
    return v;
}

/* Worked example 6 of docs/fund-operations.md. */
static void test_worked_example(void **state)
{
    (void)state;
    struct fl_error err;
    int64_t f = lf_make_fund("NAV6", "NAV allocation fund");
    int64_t s = make_tranche(f, investor_b, "Senior", "senior", 1, "1500000000.00", "0.06", "0.02", "1000000000.00");
    int64_t fl = make_tranche(f, investor_a, "First loss", "first_loss", 2, "400000000.00", "0", NULL,
                              "400000000.00");
    /* The senior's investment period ends on 2024-02-01 (a term set by the owner). */
    char sql[200];
    snprintf(sql, sizeof sql, "UPDATE tranche SET investment_period_end = '2024-02-01' WHERE id = %" PRId64, s);
    assert_true(testdb_exec(ci, sql));
    struct lf_money_args m = {s, "500000000.00", "2024-03-22", "second call"};
    json_decref(lf_run(lf_contribute_fn, &m, FLE_OK, NULL));
    manual(f, "2024-03-15", "1050", "4000", "50000000.00");
    manual(f, "2024-03-20", "5000", "2300", "4500000.00");

    struct alloc_args a1 = {f, "2024-04-01"};
    json_t *r = lf_run(alloc_fn, &a1, FLE_OK, NULL);
    assert_int_equal(amount_of(r, "income"), 5000000000);
    assert_int_equal(amount_of(r, "expenses"), 450000000);
    assert_int_equal(amount_of(r, "fees"), 610958904);
    const json_t *ts = json_object_get(r, "tranches");
    assert_int_equal(json_array_size(ts), 2);
    const json_t *t0 = json_array_get(ts, 0), *t1 = json_array_get(ts, 1);
    assert_int_equal(amount_of(t0, "coupon_earned"), 1543219282); /* 14,633,351.13 + 798,841.69 */
    assert_int_equal(amount_of(t0, "income"), 1543219282);
    assert_int_equal(amount_of(t0, "management_fee"), 610958904);
    assert_int_equal(amount_of(t0, "expenses"), 321428571);
    assert_int_equal(amount_of(t1, "income"), 3456780718);
    assert_int_equal(amount_of(t1, "expenses"), 128571429);
    json_decref(r);
    assert_int_equal(nav(f, s), 150610831807);
    assert_int_equal(nav(f, fl), 43328209289);
    assert_int_equal(nav(f, s) + nav(f, fl), net_assets(f));
    assert_int_equal(net_assets(f), 193939041096);
    /* The gross accounts keep what the fund earned and spent; their contras carry what was
     * allocated, so nothing is left unallocated at fund level. */
    assert_int_equal(lf_balance(f, "4000"), -5000000000);
    assert_int_equal(lf_balance(f, "4990"), 5000000000);
    assert_int_equal(lf_balance(f, "5000"), 450000000);
    assert_int_equal(lf_balance(f, "5990"), -450000000);
    lf_assert_books_balance();

    /* The partner's statement on 2024-04-01 reads the same figures, line by line. */
    json_t *st = NULL;
    fl_error_clear(&err);
    assert_int_equal(statement_build(db, f, investor_b, 0, "2024-04-01", &st, &err), FLE_OK);
    const json_t *sec = json_array_get(json_object_get(st, "tranches"), 0);
    const json_t *na = json_object_get(json_object_get(sec, "nav_account"), "itd");
    assert_int_equal(amount_of(na, "opening"), 0);
    assert_int_equal(amount_of(na, "contributions"), 150000000000);
    assert_int_equal(amount_of(na, "income_allocated"), 1543219282);
    assert_int_equal(amount_of(na, "management_fees"), 610958904);
    assert_int_equal(amount_of(na, "fund_expenses"), 321428571);
    assert_int_equal(amount_of(na, "closing"), 150610831807);
    const json_t *pos = json_object_get(sec, "nav_position");
    assert_int_equal(amount_of(pos, "cash_available"), 150000000000);
    assert_int_equal(amount_of(pos, "share_of_pooled_accounts"), 610831807);
    assert_int_equal(amount_of(pos, "nav"), 150610831807);
    /* Coupon earned and not yet paid, beside the NAV: no run yet, so everything since the first
     * contribution (2024-01-01): 14,633,351.13 + 798,841.69 = 15,432,192.82. */
    const json_t *cd = json_object_get(pos, "coupon_due");
    assert_string_equal(json_string_value(json_object_get(cd, "since")), "2024-01-01");
    assert_int_equal(amount_of(cd, "unpaid_at_last_run"), 0);
    assert_int_equal(amount_of(cd, "accrued_since"), 1543219282);
    assert_int_equal(amount_of(cd, "due"), 1543219282);
    const json_t *fn = json_object_get(st, "fund_nav");
    assert_true(json_is_true(json_object_get(fn, "reconciles")));
    assert_int_equal(amount_of(fn, "net_assets"), 193939041096);
    assert_int_equal(amount_of(fn, "tranches_nav"), 193939041096);
    assert_int_equal(amount_of(fn, "not_yet_allocated"), 0);
    assert_string_equal(json_string_value(json_object_get(fn, "investor_share")), "0.7766");
    json_decref(st);

    /* The same date again posts nothing; an earlier date is refused. */
    int64_t entries = lf_scalar_i64("SELECT count(*) FROM journal_entry");
    r = lf_run(alloc_fn, &a1, FLE_OK, NULL);
    assert_true(json_is_true(json_object_get(r, "replayed")));
    json_decref(r);
    assert_int_equal(lf_scalar_i64("SELECT count(*) FROM journal_entry"), entries);
    struct alloc_args early = {f, "2024-03-31"};
    fl_error_clear(&err);
    assert_null(lf_run(alloc_fn, &early, FLE_BAD_FIELD, &err));
    assert_string_equal(err.field, "date");

    /* Income short of the coupon: the senior takes all of it, the rest is carried. */
    manual(f, "2024-05-15", "1050", "4000", "10000000.00");
    struct alloc_args a2 = {f, "2024-07-01"};
    r = lf_run(close_fn, &a2, FLE_OK, NULL);
    const json_t *al = json_object_get(r, "allocation");
    t0 = json_array_get(json_object_get(al, "tranches"), 0);
    t1 = json_array_get(json_object_get(al, "tranches"), 1);
    /* Earned from the first contribution, as the next waterfall run will compute it (no run yet):
     * 1,000,000,000.00 x (1.06^(182/365) - 1) = 29,480,837.22 and 500,000,000.00 x
     * (1.06^(101/365) - 1) = 8,127,206.99: 37,608,044.21, of which 15,432,192.82 is allocated. */
    assert_int_equal(amount_of(t0, "coupon_earned"), INT64_C(3760804421));
    assert_int_equal(amount_of(t0, "allocated_before"), 1543219282);
    assert_int_equal(amount_of(t0, "income"), 1000000000);
    assert_int_equal(amount_of(t0, "coupon_unallocated"), 1217585139);
    assert_int_equal(amount_of(t0, "management_fee"), 747945205);
    assert_int_equal(amount_of(t1, "income"), 0);
    /* The close also ran the loss allowance (no loans: nothing to post). */
    assert_int_equal(amount_of(json_object_get(r, "provision"), "allowance"), 0);
    json_decref(r);
    assert_int_equal(nav(f, s), 150862886602);
    assert_int_equal(nav(f, fl), 43328209289);
    assert_int_equal(nav(f, s) + nav(f, fl), net_assets(f));
    lf_assert_books_balance();

    /* A waterfall run pays fees and coupon from the collections; the next allocation counts what
     * the run paid and left unpaid, so income is never allocated twice. */
    struct alloc_args run = {f, "2024-07-01"};
    json_decref(lf_run(run_fn, &run, FLE_OK, NULL));
    assert_int_equal(nav(f, s) + nav(f, fl), net_assets(f));
    manual(f, "2024-07-20", "1050", "4000", "30000000.00");
    struct alloc_args a3 = {f, "2024-07-31"};
    r = lf_run(alloc_fn, &a3, FLE_OK, NULL);
    t0 = json_array_get(json_object_get(r, "tranches"), 0);
    /* The run on 2024-07-01: collections 60,000,000.00 pay the fees and expenses payable
     * (4,500,000.00 + 6,109,589.04 + 7,479,452.05 = 18,089,041.09), the senior's coupon from its
     * first contribution, 37,608,044.21 (as above), and the rest, 4,302,914.70, returns senior
     * capital (sequential): 1,495,697,085.30 from then. */
    snprintf(sql, sizeof sql,
             "SELECT due_minor FROM waterfall_step WHERE tranche_id = %" PRId64 " AND kind = 'interest'", s);
    assert_int_equal(lf_scalar_i64(sql), INT64_C(3760804421));
    assert_int_equal(lf_tbal(f, s, "RETURNED"), 430291470);
    /* Earned to 2024-07-31: 37,608,044.21 (the run's due) + 1,495,697,085.30 x (1.06^(30/365) - 1)
     * = 7,180,410.94 since the run: 44,788,455.15; allocated before 25,432,192.82; the income
     * (30,000,000.00) covers the 19,356,262.33 due, the first loss takes 10,643,737.67. */
    assert_int_equal(amount_of(t0, "coupon_earned"), INT64_C(4478845515));
    assert_int_equal(amount_of(t0, "allocated_before"), INT64_C(2543219282));
    assert_int_equal(amount_of(t0, "income"), INT64_C(1935626233));
    assert_int_equal(amount_of(t0, "coupon_unallocated"), 0);
    assert_int_equal(amount_of(json_array_get(json_object_get(r, "tranches"), 1), "income"), INT64_C(1064373767));
    json_decref(r);
    /* The statement on 2024-07-31: the run of 2024-07-01 paid the senior's coupon in full, and
     * 7,180,410.94 has been earned since (1,495,697,085.30 x (1.06^(30/365) - 1)). */
    fl_error_clear(&err);
    assert_int_equal(statement_build(db, f, investor_b, 0, "2024-07-31", &st, &err), FLE_OK);
    cd = json_object_get(json_object_get(json_array_get(json_object_get(st, "tranches"), 0), "nav_position"),
                         "coupon_due");
    assert_string_equal(json_string_value(json_object_get(cd, "since")), "2024-07-01");
    assert_int_equal(amount_of(cd, "unpaid_at_last_run"), 0);
    assert_int_equal(amount_of(cd, "accrued_since"), 718041094);
    assert_int_equal(amount_of(cd, "due"), 718041094);
    json_decref(st);
    assert_int_equal(nav(f, s) + nav(f, fl), net_assets(f));
    lf_assert_books_balance();
    assert_origins_ok();
}

/* Capitalised interest collected counts as interest in the waterfall, not principal
 * (docs/fund-operations.md, "Waterfall runs"): a loan of 1,000,000.00 with one interest-grace
 * instalment (its interest capitalised on 2024-04-30) paid off on 2024-06-15; the run on
 * 2024-06-30 finds principal collected 1,000,000.00 exactly (what was drawn), and the capitalised
 * interest with the rest of the interest. The allocation that day gives the income to the tranches
 * and the NAVs still add up to net assets. */
static void test_capitalised_interest_is_income(void **state)
{
    (void)state;
    struct fl_error err;
    int64_t f = lf_make_fund("NAVCAP", "Capitalisation fund");
    int64_t s = make_tranche(f, investor_b, "Senior", "senior", 1, "600000.00", "0.05", NULL, "600000.00");
    int64_t fl = make_tranche(f, investor_a, "First loss", "first_loss", 2, "600000.00", "0", NULL, "600000.00");
    int64_t e = lf_make_entrepreneur(f, "Asociación G", "52250", "cacao");
    struct lf_loan_args a = {f,
                             {.entrepreneur_id = e,
                              .principal = "1000000.00",
                              .annual_rate = "0.2475",
                              .payments_per_year = 4,
                              .term_count = 4,
                              .first_due_date = "2024-04-30",
                              .grace_principal = 1,
                              .grace_interest = 1,
                              .amortisation = "equal_principal",
                              .approval_date = "2024-01-15",
                              .purpose = "capitalisation"}};
    int64_t loan = lf_approve_loan(&a);
    lf_disburse(loan, "1000000.00");
    json_t *q = loan_payoff(db, loan, "2024-06-15", &err);
    assert_non_null(q);
    char payoff[32];
    snprintf(payoff, sizeof payoff, "%s", lf_jstr(q, "payoff"));
    json_decref(q);
    json_decref(lf_repay(loan, payoff, "2024-06-15", "PAYOFF-1", FLE_OK, NULL));
    int64_t paid = 0;
    assert_int_equal(money_parse(payoff, 2, false, &paid), MONEY_OK);
    /* The interest capitalised on 2024-04-30 (Dr T.LOANS / Cr 4000). */
    char sql[300];
    snprintf(sql, sizeof sql,
             "SELECT sum(l.amount_minor) FROM journal_entry e JOIN journal_line l ON l.entry_id = e.id JOIN account a "
             "ON a.id = l.account_id WHERE e.fund_id = %" PRId64 " AND e.event_type = 'capitalisation' AND a.code "
             "LIKE 'T%%.LOANS'",
             f);
    int64_t capitalised = lf_scalar_i64(sql);
    assert_true(capitalised > 0);
    struct alloc_args run = {f, "2024-06-30"};
    json_t *r = lf_run(run_fn, &run, FLE_OK, NULL);
    json_decref(r);
    snprintf(sql, sizeof sql, "SELECT principal_minor FROM waterfall_run WHERE fund_id = %" PRId64, f);
    assert_int_equal(lf_scalar_i64(sql), 100000000);
    snprintf(sql, sizeof sql, "SELECT interest_minor FROM waterfall_run WHERE fund_id = %" PRId64, f);
    assert_int_equal(lf_scalar_i64(sql), paid - 100000000);
    /* The income (capitalised and paid interest) allocated on the same date. */
    r = lf_run(close_fn, &run, FLE_OK, NULL);
    assert_int_equal(amount_of(json_object_get(r, "allocation"), "income"), paid - 100000000);
    json_decref(r);
    assert_int_equal(lf_balance(f, "4000") + lf_balance(f, "4990"), 0);
    assert_int_equal(nav(f, s) + nav(f, fl), net_assets(f));
    lf_assert_books_balance();
    assert_origins_ok();
}

/* Worked example 7 of docs/fund-operations.md: each fund expense is split by the tranches' capital
 * on its own date, not on the allocation date; an expense dated before the previous allocation
 * and posted after it, by the capital on the allocation date. */
static void test_expense_by_own_date(void **state)
{
    (void)state;
    int64_t f = lf_make_fund("NAVEXP", "Expense allocation fund");
    int64_t s = make_tranche(f, investor_b, "Senior", "senior", 1, "1500000000.00", "0", NULL, "1000000000.00");
    int64_t fl = make_tranche(f, investor_a, "First loss", "first_loss", 2, "500000000.00", "0", NULL,
                              "400000000.00");
    manual(f, "2024-03-20", "5000", "2300", "4500000.00");
    struct lf_money_args m = {s, "500000000.00", "2024-03-22", "second call"};
    json_decref(lf_run(lf_contribute_fn, &m, FLE_OK, NULL));
    manual(f, "2024-03-25", "5000", "2300", "1900000.00");
    struct alloc_args a1 = {f, "2024-04-01"};
    json_t *r = lf_run(alloc_fn, &a1, FLE_OK, NULL);
    assert_int_equal(amount_of(r, "expenses"), 640000000);
    const json_t *ts = json_object_get(r, "tranches");
    /* 2024-03-20, capital 1,000,000,000.00 : 400,000,000.00: 3,214,285.71 / 1,285,714.29;
     * 2024-03-25, capital 1,500,000,000.00 : 400,000,000.00: 1,500,000.00 / 400,000.00. */
    assert_int_equal(amount_of(json_array_get(ts, 0), "expenses"), 471428571);
    assert_int_equal(amount_of(json_array_get(ts, 1), "expenses"), 168571429);
    json_decref(r);
    assert_int_equal(lf_tbal(f, s, "EXPENSES"), 471428571);
    assert_int_equal(lf_tbal(f, fl, "EXPENSES"), 168571429);
    /* An expense dated 2024-03-31 (before the allocation of 2024-04-01) posted after it, and the
     * first loss's second call on 2024-05-01: the allocation of 2024-06-30 splits it by the
     * capital that day, 1,500,000,000.00 : 500,000,000.00: 712,500.00 / 237,500.00. */
    manual(f, "2024-03-31", "5000", "2300", "950000.00");
    struct lf_money_args m2 = {fl, "100000000.00", "2024-05-01", "second call"};
    json_decref(lf_run(lf_contribute_fn, &m2, FLE_OK, NULL));
    struct alloc_args a2 = {f, "2024-06-30"};
    r = lf_run(alloc_fn, &a2, FLE_OK, NULL);
    ts = json_object_get(r, "tranches");
    assert_int_equal(amount_of(json_array_get(ts, 0), "expenses"), 71250000);
    assert_int_equal(amount_of(json_array_get(ts, 1), "expenses"), 23750000);
    json_decref(r);
    assert_int_equal(nav(f, s) + nav(f, fl), net_assets(f));
    assert_int_equal(lf_balance(f, "5000") + lf_balance(f, "5990"), 0);
    lf_assert_books_balance();

    /* The runs read back (GET /v1/funds/{fund_id}/nav-allocations): in date order, paged; an
     * investor sees only its own tranches' rows. */
    struct fl_error err;
    fl_error_clear(&err);
    json_t *all = nav_allocation_list(db, f, 0, 0, 50, &err);
    assert_non_null(all);
    const json_t *runs = json_object_get(all, "allocations");
    assert_int_equal(json_array_size(runs), 2);
    assert_true(json_is_null(json_object_get(all, "next_after")));
    const json_t *first = json_array_get(runs, 0), *second = json_array_get(runs, 1);
    assert_string_equal(json_string_value(json_object_get(first, "as_of")), "2024-04-01");
    assert_true(json_is_null(json_object_get(first, "period_from")));
    assert_string_equal(json_string_value(json_object_get(second, "period_from")), "2024-04-01");
    assert_int_equal(amount_of(first, "expenses"), 640000000);
    assert_int_equal(json_array_size(json_object_get(first, "tranches")), 2);
    const json_t *row = json_array_get(json_object_get(first, "tranches"), 1);
    assert_int_equal(json_integer_value(json_object_get(row, "tranche_id")), fl);
    assert_int_equal(amount_of(row, "capital"), 40000000000);
    assert_int_equal(amount_of(row, "expenses"), 168571429);
    json_decref(all);
    json_t *mine = nav_allocation_list(db, f, investor_a, 0, 1, &err);
    assert_non_null(mine);
    runs = json_object_get(mine, "allocations");
    assert_int_equal(json_array_size(runs), 1);
    int64_t next = json_integer_value(json_object_get(mine, "next_after"));
    assert_true(next > 0);
    assert_int_equal(json_array_size(json_object_get(json_array_get(runs, 0), "tranches")), 1);
    assert_int_equal(json_integer_value(json_object_get(
                         json_array_get(json_object_get(json_array_get(runs, 0), "tranches"), 0), "tranche_id")),
                     fl);
    json_decref(mine);
    mine = nav_allocation_list(db, f, investor_a, next, 1, &err);
    assert_non_null(mine);
    runs = json_object_get(mine, "allocations");
    assert_int_equal(json_array_size(runs), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(runs, 0), "as_of")), "2024-06-30");
    assert_int_equal(amount_of(json_array_get(json_object_get(json_array_get(runs, 0), "tranches"), 0), "expenses"),
                     23750000);
    assert_true(json_is_null(json_object_get(mine, "next_after")));
    json_decref(mine);
    fl_error_clear(&err);
    assert_null(nav_allocation_list(db, 999999, 0, 0, 50, &err));
    assert_int_equal(err.code, FLE_NOT_FOUND);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_worked_example),
        cmocka_unit_test(test_capitalised_interest_is_income),
        cmocka_unit_test(test_expense_by_own_date),
    };
    return cmocka_run_group_tests_name("nav allocation (database)", tests, setup, teardown);
}
