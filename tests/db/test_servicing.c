/* test_servicing: loan servicing against a real PostgreSQL (docs/loan-servicing.md): capitalised
 * grace interest is principal outstanding and collected, and tranche splits by cumulative totals
 * leave a closed loan at exactly zero on every tranche. Expected figures come from
 * tests/accrual_reference.py (independent Python), never from the code under test. */
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
#include "fundledger/auth.h"
#include "fundledger/fund.h"
#include "fundledger/ledger.h"
#include "fundledger/loan.h"
#include "fundledger/money.h"
#include "fundledger/org.h"
#include "fundledger/pipeline.h"
#include "fundledger/portfolio.h"
#include "fundledger/repayment.h"
#include "fundledger/servicing.h"
#include "fundledger/tranche.h"
#include "loanfix.h"
#include "testdb.h"

static const char *ci;
static struct db *db;
static struct principal manager, approver;
static int64_t investor_a, investor_c;

static int64_t make_fund(const char *code)
{
    return lf_make_fund(code, "Servicing test fund");
}

/* 1,000,000.00 at 24.75 % EA, quarterly, 4 instalments from 2024-04-30, one interest-grace and
 * one principal-grace instalment, equal principal; approved, and disbursed in full on 2024-01-30,
 * the day instalment 1's period starts (no stub: docs/loan-servicing.md §4). */
static int64_t grace_loan(int64_t fund, int64_t e, const char *purpose)
{
    struct lf_loan_args a = {fund,
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
                              .purpose = purpose}};
    int64_t loan = lf_approve_loan(&a);
    lf_disburse_on(loan, "1000000.00", "2024-01-30");
    return loan;
}

static void assert_outstanding(int64_t loan, const char *as_of, const char *want)
{
    struct fl_error err;
    json_t *a = loan_arrears(db, loan, as_of, &err);
    assert_non_null(a);
    assert_string_equal(lf_jstr(a, "principal_outstanding"), want);
    json_decref(a);
}

static void assert_verify(void)
{
    struct fl_error err;
    unsigned sealed = 0;
    assert_int_equal(ledger_seal(db, 1000, &sealed, &err), FLE_OK);
    struct ledger_verify_report rep;
    assert_int_equal(ledger_verify(db, &rep, &err), FLE_OK);
    assert_true(rep.ok);
}

static int setup(void **state)
{
    (void)state;
    ci = testdb_create("servicing");
    db = testdb_open(ci);
    lf_setup(ci, db, &manager, &approver, 10000000000000);
    investor_a = lf_make_investor("UNDP", "XM-DAC-41114");
    investor_c = lf_make_investor("Impact", "CO-RUE-900000002");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    db_close(db);
    return 0;
}

/* The grace loan G (docs/loan-servicing.md §3, dates two years earlier so that they are
 * past): 176,800,000.00 at 24.75 % EA, quarterly, 10 instalments, 2 interest-grace and 3
 * principal-grace instalments, first due 2024-04-30; funded 110,000,000.00 senior and
 * 66,800,000.00 first loss. Rows 1-2 capitalise 10,049,697.57 and 10,620,944.30 = 20,670,641.87
 * (G.capitalised); rows 3-6 paid on their due dates leave 122,083,654.88 (G.balance_after_row6);
 * row 7 (2025-07-30 .. 2025-10-30) charges 6,939,501.19 (G.row7.interest). Drawn on 2024-01-30,
 * the day instalment 1's period starts, as the worked example. Paid off on 2025-09-15 (47 of the 92
 * days of period 7) the loan owes the schedule balance plus the interest of the days run,
 * 122,083,654.88 x (1.2475^(47/368) - 1) = 3,497,239.44: 125,580,894.32 (G.payoff,
 * docs/loan-servicing.md §7), where the old code took 108,352,514.20 and lost the capitalised
 * interest (and the stored-schedule allocation charged all of row 7's 6,939,501.19). */
static void test_grace_loan_capitalised_interest_collected(void **state)
{
    (void)state;
    struct fl_error err;
    int64_t fund = make_fund("GRACE");
    int64_t senior = lf_make_tranche(fund, investor_c, "Senior", "senior", 1, "150000000.00", "0.0800", "2024-01-10");
    int64_t fl = lf_make_tranche(fund, investor_a, "First loss", "first_loss", 2, "100000000.00", "0", "2024-01-10");
    int64_t e = lf_make_entrepreneur(fund, "Cacaoteros de El Charco", "52250", "cacao");
    json_t *shares = json_pack("[{s:I, s:s}, {s:I, s:s}]", "tranche_id", (json_int_t)senior, "amount", "110000000.00",
                               "tranche_id", (json_int_t)fl, "amount", "66800000.00");
    struct lf_loan_args a = {fund,
                             {.entrepreneur_id = e,
                              .principal = "176800000.00",
                              .annual_rate = "0.2475",
                              .payments_per_year = 4,
                              .term_count = 10,
                              .first_due_date = "2024-04-30",
                              .grace_principal = 3,
                              .grace_interest = 2,
                              .amortisation = "annuity",
                              .approval_date = "2024-01-15",
                              .purpose = "cacao renovation",
                              .shares = shares}};
    json_t *p = lf_run(lf_loan_fn, &a, FLE_OK, NULL);
    int64_t pid = lf_jid(p, "id"), loan = lf_jid(p, "loan_id");
    json_decref(p);
    json_decref(shares);
    lf_approve(pid);
    char sql[400];
    snprintf(sql, sizeof sql,
             "SELECT string_agg(instalment_no || ':' || due_date || ':' || amount_minor, ',' ORDER BY instalment_no) "
             "FROM loan_capitalisation WHERE loan_id = %" PRId64,
             loan);
    lf_assert_scalar(sql, "1:2024-04-30:1004969757,2:2024-07-30:1062094430");
    lf_disburse_on(loan, "176800000.00", "2024-01-30");

    /* Capitalised interest is principal outstanding from its due date, before anything posts it. */
    assert_outstanding(loan, "2024-04-29", "176800000.00");
    assert_outstanding(loan, "2024-04-30", "186849697.57");
    assert_outstanding(loan, "2024-08-01", "197470641.87");

    /* Rows 3-6 paid on their due dates for exactly what the schedule says. */
    static const char *const due[] = {"2024-10-30", "2025-01-30", "2025-04-30", "2025-07-30"};
    for (int k = 0; k < 4; k++) {
        snprintf(sql, sizeof sql,
                 "SELECT ((principal_minor + interest_minor) / 100)::text || '.' || "
                 "lpad(((principal_minor + interest_minor) %% 100)::text, 2, '0') FROM loan_schedule "
                 "WHERE loan_id = %" PRId64 " AND due_date = '%s'",
                 loan, due[k]);
        char *amount = testdb_scalar(ci, sql);
        assert_non_null(amount);
        char ref[16];
        snprintf(ref, sizeof ref, "G-%d", k + 3);
        json_t *r = lf_repay(loan, amount, due[k], ref, FLE_OK, NULL);
        free(amount);
        assert_string_equal(lf_jstr(r, "overdue_interest"), "0.00");
        assert_string_equal(lf_jstr(r, "prepayment"), "0.00");
        if (k == 0) {
            /* The first repayment after the grace posts the capitalisation first. */
            assert_string_equal(lf_jstr(r, "capitalised_interest_posted"), "20670641.87");
            assert_string_equal(lf_jstr(r, "principal_outstanding"), "197470641.87");
        } else {
            assert_string_equal(lf_jstr(r, "capitalised_interest_posted"), "0.00");
        }
        json_decref(r);
        lf_assert_books_balance();
    }
    snprintf(sql, sizeof sql,
             "SELECT count(*) || ' ' || sum(-l.amount_minor) FILTER (WHERE a.code LIKE '%%.INTEREST_RECEIVABLE') "
             "FROM journal_entry e "
             "JOIN journal_line l ON l.entry_id = e.id JOIN account a ON a.id = l.account_id "
             "WHERE e.event_type = 'capitalisation' AND e.event_ref = 'loan:%" PRId64 "'",
             loan);
    /* Two T.LOANS lines and, the fund being on the accrual basis, the two tranches' receivables the
     * interest was accrued to (docs/loan-servicing.md §9), not 4000. */
    lf_assert_scalar(sql, "4 2067064187");
    snprintf(sql, sizeof sql, "SELECT capitalised_minor FROM loan WHERE id = %" PRId64, loan);
    assert_int_equal(lf_scalar_i64(sql), 2067064187);
    assert_outstanding(loan, "2025-07-30", "122083654.88"); /* G.balance_after_row6 */

    /* Paid off mid-period: the schedule balance plus row 7's interest accrued to the day,
     * capitalised interest included. A centavo more is refused and names the payoff. */
    json_t *q = loan_payoff(db, loan, "2025-09-15", &err);
    assert_non_null(q);
    assert_string_equal(lf_jstr(q, "payoff"), "125580894.32");
    assert_string_equal(lf_jstr(q, "current_interest"), "3497239.44");
    assert_string_equal(lf_jstr(q, "default_interest"), "0.00");
    assert_string_equal(lf_jstr(q, "principal_outstanding"), "122083654.88");
    assert_string_equal(lf_jstr(q, "capitalised_interest"), "20670641.87");
    assert_string_equal(lf_jstr(q, "overdue_principal"), "0.00");
    json_decref(q);
    assert_null(loan_payoff(db, loan, "2024-01-19", &err)); /* before the disbursement */
    assert_string_equal(err.field, "date");
    assert_null(loan_payoff(db, 999999, NULL, &err));
    assert_int_equal(err.code, FLE_NOT_FOUND);
    int64_t entries_before = lf_scalar_i64("SELECT count(*) FROM journal_entry");
    assert_null(lf_repay(loan, "125580894.33", "2025-09-15", "G-PAYOFF", FLE_RULE, &err));
    assert_string_equal(err.field, "amount");
    assert_non_null(strstr(err.message, "125580894.32"));
    assert_int_equal(lf_scalar_i64("SELECT count(*) FROM journal_entry"), entries_before);
    json_t *r = lf_repay(loan, "125580894.32", "2025-09-15", "G-PAYOFF", FLE_OK, NULL);
    assert_string_equal(lf_jstr(r, "current_interest"), "3497239.44");
    /* Row 7's principal (level 34,977,889.83 less its 6,939,501.19 of interest) is current; the
     * rest of the balance, 122,083,654.88 - 28,038,388.64, is prepaid. */
    assert_string_equal(lf_jstr(r, "current_principal"), "28038388.64");
    assert_string_equal(lf_jstr(r, "prepayment"), "94045266.24");
    assert_string_equal(lf_jstr(r, "loan_status"), "repaid");
    assert_string_equal(lf_jstr(r, "principal_outstanding"), "0.00");
    json_decref(r);

    /* Closed: every tranche's LOANS is exactly 0; income = interest paid + capitalised. */
    assert_int_equal(lf_tbal(fund, senior, "LOANS"), 0);
    assert_int_equal(lf_tbal(fund, fl, "LOANS"), 0);
    /* And every tranche's interest receivable: all earned interest was collected or capitalised. */
    assert_int_equal(lf_tbal(fund, senior, "INTEREST_RECEIVABLE"), 0);
    assert_int_equal(lf_tbal(fund, fl, "INTEREST_RECEIVABLE"), 0);
    snprintf(sql, sizeof sql,
             "SELECT sum(overdue_interest_minor + current_interest_minor) FROM repayment WHERE loan_id = %" PRId64,
             loan);
    int64_t interest_paid = lf_scalar_i64(sql);
    assert_int_equal(lf_balance(fund, "4000"), -(interest_paid + 2067064187));
    snprintf(sql, sizeof sql,
             "SELECT sum(overdue_principal_minor + current_principal_minor + prepayment_minor) FROM repayment "
             "WHERE loan_id = %" PRId64,
             loan);
    assert_int_equal(lf_scalar_i64(sql), 17680000000 + 2067064187);
    assert_int_equal(lf_balance(fund, "1050"), 17680000000 + 2067064187 + interest_paid);
    assert_outstanding(loan, "2025-09-16", "0.00");
    assert_null(loan_payoff(db, loan, "2025-09-16", &err)); /* repaid: nothing to pay off */
    assert_int_equal(err.code, FLE_CONFLICT);
    /* The repayments read back: five, the last split over the two tranches by the settled total. */
    json_t *list = repayment_list(db, loan, &err);
    assert_non_null(list);
    json_t *reps = json_object_get(list, "repayments");
    assert_int_equal(json_array_size(reps), 5);
    json_t *last = json_array_get(reps, 4);
    assert_string_equal(lf_jstr(last, "reference"), "G-PAYOFF");
    assert_string_equal(lf_jstr(last, "amount"), "125580894.32");
    json_t *tr = json_object_get(last, "tranches");
    assert_int_equal(json_array_size(tr), 2);
    int64_t sum = 0;
    for (size_t i = 0; i < 2; i++) {
        int64_t v = 0;
        assert_int_equal(money_parse(lf_jstr(json_array_get(tr, i), "principal"), 2, true, &v), MONEY_OK);
        sum += v;
    }
    assert_int_equal(sum, 12208365488);
    assert_true(json_array_size(json_object_get(last, "allocations")) >= 2);
    json_decref(list);
    assert_outstanding(loan, "2026-06-01", "0.00");
    snprintf(sql, sizeof sql,
             "SELECT l.status || ' ' || e.stage FROM loan l JOIN entrepreneur e ON e.id = l.entrepreneur_id "
             "WHERE l.id = %" PRId64,
             loan);
    lf_assert_scalar(sql, "repaid repaid");
    lf_assert_books_balance();
    assert_verify();
}

/* Cumulative splits: 100.00 over three equal shares, repaid 50.00 twice. Split one by one, the
 * repayments leave 0.00 / -0.01 / +0.01 on the tranches (the residue); split by
 * cumulative totals they leave exactly 0 (docs/loan-servicing.md §10). */
static void test_closed_loan_tranches_exactly_zero(void **state)
{
    (void)state;
    int64_t fund = make_fund("SPLIT");
    int64_t t[3];
    static const char *const names[3] = {"Senior", "Mezzanine", "First loss"};
    static const char *const kinds[3] = {"senior", "mezzanine", "first_loss"};
    for (int i = 0; i < 3; i++) {
        t[i] = lf_make_tranche(fund, i == 2 ? investor_a : investor_c, names[i], kinds[i], i + 1, "1000.00", "0",
                               "2024-01-10");
    }
    int64_t e = lf_make_entrepreneur(fund, "Beneficiaria", "52250", "beans");
    json_t *shares =
        json_pack("[{s:I, s:s}, {s:I, s:s}, {s:I, s:s}]", "tranche_id", (json_int_t)t[0], "amount", "33.34",
                  "tranche_id", (json_int_t)t[1], "amount", "33.33", "tranche_id", (json_int_t)t[2], "amount", "33.33");
    struct lf_loan_args a = {fund,
                             {.entrepreneur_id = e,
                              .principal = "100.00",
                              .annual_rate = "0",
                              .payments_per_year = 1,
                              .term_count = 2,
                              .first_due_date = "2025-01-20",
                              .amortisation = "equal_principal",
                              .approval_date = "2024-01-15",
                              .purpose = "test",
                              .shares = shares}};
    int64_t loan = lf_approve_loan(&a);
    json_decref(shares);
    lf_disburse(loan, "100.00");
    assert_int_equal(lf_tbal(fund, t[0], "LOANS"), 3334);
    json_t *r = lf_repay(loan, "50.00", "2025-01-20", "S-1", FLE_OK, NULL);
    json_decref(r);
    /* The 50.00 repaid splits as the cumulative repaid total: 16.67 / 16.67 / 16.66 (the .5 tie
     * to the lower position), leaving 16.67 / 16.66 / 16.67. */
    assert_int_equal(lf_tbal(fund, t[0], "LOANS"), 1667);
    assert_int_equal(lf_tbal(fund, t[1], "LOANS"), 1666);
    assert_int_equal(lf_tbal(fund, t[2], "LOANS"), 1667);
    r = lf_repay(loan, "50.00", "2026-01-20", "S-2", FLE_OK, NULL);
    assert_string_equal(lf_jstr(r, "loan_status"), "repaid");
    json_decref(r);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(lf_tbal(fund, t[i], "LOANS"), 0);
    }
    lf_assert_books_balance();
    assert_verify();
}

struct close_args {
    int64_t fund;
    const char *date;
};

static json_t *close_fn(struct db *d, void *arg, struct fl_error *err)
{
    struct close_args *a = arg;
    return loan_close_period(d, &manager, a->fund, a->date, err);
}

/* The month-end close posts the capitalisation that fell due (1,000,000.00 at 24.75 % EA
 * quarterly, one interest-grace instalment: 56,842.18, CLOSE.capitalised) once; run again on the
 * same date it posts nothing; an earlier date is refused; the repayment after it does not post
 * the capitalisation again, and the loan closes at zero on its tranche. The fund is on the accrual
 * basis, so each close first posts the interest earned to its date (docs/loan-servicing.md §9):
 * on 2024-03-31, 61 of the 91 days of period 1: 1,000,000.00 x (1.2475^(61/364) - 1) = 37,754.70;
 * on 2024-05-31 the capitalised 56,842.18 plus 31 of the 91 days of period 2 on 1,056,842.18,
 * 1,056,842.18 x (1.2475^(31/364) - 1) = 20,092.63: 76,934.81 earned, 39,180.11 more. */
static void test_close_twice_one_set_of_postings(void **state)
{
    (void)state;
    struct fl_error err;
    int64_t fund = make_fund("CLOSE");
    int64_t senior = lf_make_tranche(fund, investor_c, "Senior", "senior", 1, "2000000.00", "0.0800", "2024-01-10");
    int64_t e = lf_make_entrepreneur(fund, "Frijolera", "05234", "beans");
    int64_t loan = grace_loan(fund, e, "beans");
    char sql[300];
    snprintf(sql, sizeof sql, "SELECT sum(amount_minor) FROM loan_capitalisation WHERE loan_id = %" PRId64, loan);
    assert_int_equal(lf_scalar_i64(sql), 5684218);

    /* Before the due date no capitalisation is posted: the accrual of 37,754.70 (one entry), then
     * the fund-level steps (docs/fund-operations.md): the allowance of bucket A, 1 % of
     * 1,000,000.00 = 10,000.00 (one entry), and the allocation of the accrued income to the
     * fund's one tranche (one entry). The close is recorded. */
    struct close_args c1 = {fund, "2024-03-31"};
    json_t *r = lf_run(close_fn, &c1, FLE_OK, NULL);
    assert_int_equal(lf_jid(r, "entries"), 3);
    assert_false(json_is_true(json_object_get(r, "already_closed")));
    json_t *fa = json_object_get(r, "fund_accounting");
    assert_string_equal(lf_jstr(json_object_get(fa, "provision"), "allowance"), "10000.00");
    assert_true(json_is_integer(json_object_get(json_object_get(fa, "provision"), "entry_id")));
    assert_string_equal(lf_jstr(json_object_get(fa, "allocation"), "income"), "37754.70");
    assert_true(json_is_integer(json_object_get(json_object_get(fa, "allocation"), "entry_id")));
    json_decref(r);
    assert_int_equal(lf_tbal(fund, senior, "INTEREST_RECEIVABLE"), 3775470);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM journal_entry WHERE fund_id = %" PRId64
             " AND event_type = 'capitalisation'", fund);
    assert_int_equal(lf_scalar_i64(sql), 0);
    /* After it: the accrual (39,180.11), the capitalisation (56,842.18: Dr T.LOANS, Cr the
     * receivable it was accrued to), the allowance on the grown principal (1 % of 1,056,842.18 =
     * 10,568.42: 568.42 more) and the income accrued since the last close allocated to the fund's
     * one tranche (39,180.11): four entries. The receivable holds the 20,092.63 of period 2. */
    struct close_args c2 = {fund, "2024-05-31"};
    r = lf_run(close_fn, &c2, FLE_OK, NULL);
    assert_int_equal(lf_jid(r, "entries"), 4);
    fa = json_object_get(r, "fund_accounting");
    assert_string_equal(lf_jstr(json_object_get(fa, "provision"), "change"), "568.42");
    assert_string_equal(lf_jstr(json_object_get(fa, "allocation"), "income"), "39180.11");
    json_decref(r);
    assert_int_equal(lf_scalar_i64(sql), 1);
    assert_int_equal(lf_tbal(fund, senior, "LOANS"), 100000000 + 5684218);
    assert_int_equal(lf_balance(fund, "4000"), -7693481);
    assert_int_equal(lf_tbal(fund, senior, "INTEREST_RECEIVABLE"), 2009263);
    int64_t entries = lf_scalar_i64("SELECT count(*) FROM journal_entry");
    /* Twice on the same date: nothing more. */
    r = lf_run(close_fn, &c2, FLE_OK, NULL);
    assert_int_equal(lf_jid(r, "entries"), 4);
    assert_true(json_is_true(json_object_get(r, "already_closed")));
    json_decref(r);
    assert_int_equal(lf_scalar_i64("SELECT count(*) FROM journal_entry"), entries);
    assert_int_equal(lf_tbal(fund, senior, "LOANS"), 100000000 + 5684218);
    /* Earlier than the last close: refused; a bad or future date: refused. */
    struct close_args c3 = {fund, "2024-04-30"};
    assert_null(lf_run(close_fn, &c3, FLE_RULE, &err));
    assert_string_equal(err.field, "date");
    assert_non_null(strstr(err.message, "2024-05-31"));
    struct close_args c4 = {fund, "2099-01-31"};
    assert_null(lf_run(close_fn, &c4, FLE_BAD_FIELD, &err));
    struct close_args c5 = {999999, "2024-05-31"};
    assert_null(lf_run(close_fn, &c5, FLE_NOT_FOUND, &err));
    snprintf(sql, sizeof sql, "SELECT count(*) FROM period_close WHERE fund_id = %" PRId64, fund);
    assert_int_equal(lf_scalar_i64(sql), 2);

    /* The command line reads the same close (when the tests know the binary). */
    const char *bin = getenv("FUNDLEDGER_BIN");
    if (bin != NULL) {
        char cmd[1024];
        snprintf(cmd, sizeof cmd,
                 "FUNDLEDGER_DATABASE_URL='%s' %s close --fund %" PRId64 " --date 2024-05-31 --user manager "
                 ">/dev/null 2>&1",
                 ci, bin, fund);
        assert_int_equal(system(cmd), 0);
        snprintf(cmd, sizeof cmd,
                 "FUNDLEDGER_DATABASE_URL='%s' %s close --fund %" PRId64 " --date 2024-04-01 --user manager "
                 ">/dev/null 2>&1",
                 ci, bin, fund);
        assert_true(system(cmd) != 0);
        assert_int_equal(lf_scalar_i64("SELECT count(*) FROM journal_entry"), entries);
    }

    /* Paid off on 2024-06-10: the capitalisation is not posted again; the tranche ends at zero. */
    r = loan_payoff(db, loan, "2024-06-10", &err);
    assert_non_null(r);
    assert_string_equal(lf_jstr(r, "principal_outstanding"), "1056842.18");
    char amount[32];
    snprintf(amount, sizeof amount, "%s", lf_jstr(r, "payoff"));
    json_decref(r);
    r = lf_repay(loan, amount, "2024-06-10", "C-1", FLE_OK, NULL);
    assert_string_equal(lf_jstr(r, "capitalised_interest_posted"), "0.00");
    assert_string_equal(lf_jstr(r, "loan_status"), "repaid");
    json_decref(r);
    assert_int_equal(lf_tbal(fund, senior, "LOANS"), 0);
    /* Paid off for 1,056,842.18 + 1,056,842.18 x (1.2475^(41/364) - 1) = 26,655.27: the receivable
     * is exactly 0 and the income is all the interest earned, 56,842.18 + 26,655.27. */
    assert_string_equal(amount, "1083497.45");
    assert_int_equal(lf_tbal(fund, senior, "INTEREST_RECEIVABLE"), 0);
    assert_int_equal(lf_balance(fund, "4000"), -8349745);
    lf_assert_books_balance();
    assert_verify();
}

struct writeoff_args {
    int64_t loan;
    const char *date;
};

static json_t *writeoff_fn(struct db *d, void *arg, struct fl_error *err)
{
    struct writeoff_args *a = arg;
    return writeoff_propose(d, &manager, a->loan, NULL, a->date, "crop lost", err);
}

/* A grace loan written off in full after its capitalisation was posted: the write-off takes the
 * capitalised interest too (1,056,842.18) and the tranche's LOANS ends at exactly zero. */
static void test_grace_loan_written_off_leaves_zero(void **state)
{
    (void)state;
    int64_t fund = make_fund("WOFF");
    int64_t fl = lf_make_tranche(fund, investor_a, "First loss", "first_loss", 1, "3000000.00", "0", "2024-01-10");
    int64_t e = lf_make_entrepreneur(fund, "Platanera", "52835", "banana");
    int64_t loan = grace_loan(fund, e, "banana");
    struct close_args c = {fund, "2024-05-31"};
    json_decref(lf_run(close_fn, &c, FLE_OK, NULL));
    assert_int_equal(lf_tbal(fund, fl, "LOANS"), 105684218);
    struct writeoff_args w = {loan, "2024-09-30"};
    json_t *p = lf_run(writeoff_fn, &w, FLE_OK, NULL);
    int64_t pid = lf_jid(p, "id");
    assert_string_equal(lf_jstr(p, "amount"), "1056842.18");
    json_decref(p);
    lf_approve(pid);
    assert_int_equal(lf_tbal(fund, fl, "LOANS"), 0);
    assert_int_equal(lf_tbal(fund, fl, "LOSS"), 105684218);
    char sql[200];
    snprintf(sql, sizeof sql, "SELECT status FROM loan WHERE id = %" PRId64, loan);
    lf_assert_scalar(sql, "written_off");
    assert_outstanding(loan, "2024-10-01", "0.00");
    lf_assert_books_balance();
}

/* Loan L with an origination fee (docs/loan-servicing.md §8): 12,000,000.00 at 24 % EA, monthly,
 * 12 annuity instalments of 1,121,430.11, consumo ordinario (cap 33 % in 2024). A 4 % fee
 * (480,000.00) makes the total cost 34.11 % EA (FEE4.cost_ea_4dp): refused. A 2 % fee (240,000.00,
 * cost 28.89 %) is accepted, approved with the loan, due from the drawdown and collected first. */
static void test_origination_fee(void **state)
{
    (void)state;
    struct fl_error err;
    int64_t fund = make_fund("FEES");
    int64_t senior = lf_make_tranche(fund, investor_c, "Senior", "senior", 1, "20000000.00", "0.0800", "2024-01-10");
    int64_t e = lf_make_entrepreneur(fund, "Tienda", "05088", "coffee");
    struct lf_loan_args a = {fund,
                             {.entrepreneur_id = e,
                              .principal = "12000000.00",
                              .annual_rate = "0.24",
                              .payments_per_year = 12,
                              .term_count = 12,
                              .first_due_date = "2024-02-15",
                              .amortisation = "annuity",
                              .modality = "consumo_ordinario",
                              .approval_date = "2024-01-15",
                              .purpose = "working capital",
                              .origination_fee = "480000.00"}};
    assert_null(lf_run(lf_loan_fn, &a, FLE_RULE, &err));
    assert_string_equal(err.field, "origination_fee");
    assert_non_null(strstr(err.message, "usury cap"));
    a.t.origination_fee = "0.00";
    a.t.origination_fee_rate = "0.02";
    assert_null(lf_run(lf_loan_fn, &a, FLE_BAD_FIELD, &err)); /* both given */
    assert_string_equal(err.field, "origination_fee_rate");
    a.t.origination_fee = NULL;
    json_t *p = lf_run(lf_loan_fn, &a, FLE_OK, NULL);
    int64_t pid = lf_jid(p, "id"), loan = lf_jid(p, "loan_id");
    const json_t *pl = json_object_get(p, "payload");
    assert_string_equal(lf_jstr(pl, "origination_fee"), "240000.00");
    assert_string_equal(lf_jstr(pl, "principal"), "12000000.00"); /* money as decimal strings */
    assert_string_equal(lf_jstr(pl, "annual_rate"), "0.2400");
    json_decref(p);
    lf_approve(pid);
    static const char *const items[] = {"signed_agreement", "kyc", "sanctions_screening", "bank_account_verified"};
    for (int i = 0; i < 4; i++) {
        struct lf_money_args t = {loan, NULL, "2024-01-15", items[i]};
        json_decref(lf_run(lf_tick_fn, &t, FLE_OK, NULL));
    }
    struct lf_money_args d = {loan, "12000000.00", "2024-01-15", NULL};
    p = lf_run(lf_disb_fn, &d, FLE_OK, NULL);
    pid = lf_jid(p, "id");
    assert_string_equal(lf_jstr(json_object_get(p, "payload"), "amount"), "12000000.00");
    json_decref(p);
    lf_approve(pid);
    json_t *q = loan_payoff(db, loan, "2024-01-20", &err);
    assert_non_null(q);
    assert_string_equal(lf_jstr(q, "fees"), "240000.00");
    json_decref(q);
    /* The first instalment plus the fee on its due date: the fee first, then the instalment. */
    json_t *r = lf_repay(loan, "1361430.11", "2024-02-15", "F-1", FLE_OK, NULL);
    assert_string_equal(lf_jstr(r, "fees"), "240000.00");
    assert_string_equal(lf_jstr(r, "current_interest"), "217050.99");
    assert_string_equal(lf_jstr(r, "current_principal"), "904379.12");
    json_decref(r);
    assert_int_equal(lf_balance(fund, "4100"), -24000000);
    assert_int_equal(lf_balance(fund, "4000"), -21705099);
    assert_int_equal(lf_tbal(fund, senior, "LOANS"), 1200000000 - 90437912);
    /* Collected once: the next payment owes no fee. */
    q = loan_payoff(db, loan, "2024-02-20", &err);
    assert_non_null(q);
    assert_string_equal(lf_jstr(q, "fees"), "0.00");
    json_decref(q);
    lf_assert_books_balance();
}

/* ---- the accrual engine wired to repayments (docs/loan-servicing.md §4-§7, §11) ---- */

/* Loan L of the worked examples: 12,000,000.00 at 24 % EA, monthly, 12 annuity instalments, first
 * due 2026-02-15 (instalment 1's period starts 2026-01-15), act/365; the conditions ticked on
 * 2026-01-15. modality NULL = microcredito. */
static int64_t loan_L(int64_t fund, const char *modality)
{
    int64_t e = lf_make_entrepreneur(fund, "Asociación de Paneleros", "52835", "cacao");
    struct lf_loan_args a = {fund,
                             {.entrepreneur_id = e,
                              .principal = "12000000.00",
                              .annual_rate = "0.24",
                              .payments_per_year = 12,
                              .term_count = 12,
                              .first_due_date = "2026-02-15",
                              .amortisation = "annuity",
                              .modality = modality,
                              .approval_date = "2026-01-15",
                              .purpose = "mill"}};
    int64_t loan = lf_approve_loan(&a);
    static const char *const items[] = {"signed_agreement", "kyc", "sanctions_screening", "bank_account_verified"};
    for (int i = 0; i < 4; i++) {
        struct lf_money_args t = {loan, NULL, "2026-01-15", items[i]};
        json_decref(lf_run(lf_tick_fn, &t, FLE_OK, NULL));
    }
    return loan;
}

static void draw(int64_t loan, const char *amount, const char *date)
{
    struct lf_money_args d = {loan, amount, date, NULL};
    json_t *p = lf_run(lf_disb_fn, &d, FLE_OK, NULL);
    int64_t pid = lf_jid(p, "id");
    json_decref(p);
    lf_approve(pid);
}

struct choice_args {
    int64_t loan;
    const char *amount, *date, *ref, *choice;
};

static json_t *repay_choice_fn(struct db *d, void *arg, struct fl_error *err)
{
    struct choice_args *a = arg;
    return repayment_record_choice(d, &manager, a->loan, a->amount, a->date, a->ref, a->choice, err);
}

static json_t *quote(int64_t loan, const char *date)
{
    struct fl_error err;
    json_t *q = loan_payoff(db, loan, date, &err);
    if (q == NULL) {
        fail_msg("payoff of loan %" PRId64 " on %s: %s %s", loan, date, err.field, err.message);
    }
    return q;
}

/* Two drawdowns (§4): 6,000,000.00 on 2026-01-15 and 6,000,000.00 on 2026-01-25. Row 1's interest
 * is two stretches of the 31-day period: 6,000,000.00 x (1.24^(10/372) - 1) = 34,795.89 and
 * 12,000,000.00 x (1.24^(21/372) - 1) = 146,608.97: 181,404.86 (TD.row1), not the 217,050.99 of
 * the schedule drawn in full; row 1's principal is 904,379.12 (version 2, level 1,121,430.11). */
static void test_two_drawdowns(void **state)
{
    (void)state;
    int64_t fund = make_fund("TWODRAW");
    int64_t senior = lf_make_tranche(fund, investor_c, "Senior", "senior", 1, "20000000.00", "0.0800", "2024-01-10");
    int64_t loan = loan_L(fund, NULL);
    draw(loan, "6000000.00", "2026-01-15");
    draw(loan, "6000000.00", "2026-01-25");
    json_t *q = quote(loan, "2026-02-15");
    assert_string_equal(lf_jstr(q, "current_interest"), "181404.86");
    assert_string_equal(lf_jstr(q, "current_principal"), "904379.12");
    assert_string_equal(lf_jstr(q, "overdue_interest"), "0.00");
    json_decref(q);
    json_t *r = lf_repay(loan, "1085783.98", "2026-02-15", "TD-1", FLE_OK, NULL);
    assert_string_equal(lf_jstr(r, "current_interest"), "181404.86");
    assert_string_equal(lf_jstr(r, "current_principal"), "904379.12");
    assert_string_equal(lf_jstr(r, "prepayment"), "0.00");
    assert_string_equal(lf_jstr(r, "principal_outstanding"), "11095620.88");
    json_decref(r);
    assert_int_equal(lf_tbal(fund, senior, "LOANS"), 1200000000 - 90437912);
    assert_int_equal(lf_balance(fund, "4000"), -18140486);
    lf_assert_books_balance();
    assert_verify();
}

/* A prepayment under each choice (§7): L drawn in full on 2026-01-15, rows 1-3 paid on their due
 * dates (1,121,430.11 each), 5,000,000.00 paid on 2026-05-05 (20 of the 30 days of period 4):
 * current interest 9,237,492.67 x (1.24^(20/360) - 1) = 111,056.15, row 4's principal 954,346.20,
 * prepayment 3,934,597.65, balance 4,348,548.82; row 4 then owes the rest of its period on that
 * balance, 26,061.74, on 2026-05-15. The choice is stored with the payment and replayed: under
 * reduce_instalment row 5 is 588,736.86; under reduce_term it stays 1,121,430.11. */
static void prepayment_case(const char *code, const char *choice, const char *row5_total)
{
    int64_t fund = make_fund(code);
    int64_t senior = lf_make_tranche(fund, investor_c, "Senior", "senior", 1, "20000000.00", "0.0800", "2024-01-10");
    int64_t loan = loan_L(fund, NULL);
    draw(loan, "12000000.00", "2026-01-15");
    static const char *const due[] = {"2026-02-15", "2026-03-15", "2026-04-15"};
    for (int k = 0; k < 3; k++) {
        char ref[16];
        snprintf(ref, sizeof ref, "PP-%d", k + 1);
        json_t *r = lf_repay(loan, "1121430.11", due[k], ref, FLE_OK, NULL);
        assert_string_equal(lf_jstr(r, "prepayment"), "0.00");
        json_decref(r);
    }
    struct choice_args bad = {loan, "5000000.00", "2026-05-05", "PP-4", "shorter"};
    struct fl_error err;
    assert_null(lf_run(repay_choice_fn, &bad, FLE_BAD_FIELD, &err));
    assert_string_equal(err.field, "prepayment_choice");
    struct choice_args c = {loan, "5000000.00", "2026-05-05", "PP-4", choice};
    json_t *r = lf_run(repay_choice_fn, &c, FLE_OK, NULL);
    assert_string_equal(lf_jstr(r, "current_interest"), "111056.15");
    assert_string_equal(lf_jstr(r, "current_principal"), "954346.20");
    assert_string_equal(lf_jstr(r, "prepayment"), "3934597.65");
    assert_string_equal(lf_jstr(r, "principal_outstanding"), "4348548.82");
    assert_string_equal(lf_jstr(r, "prepayment_choice"), choice);
    json_decref(r);
    /* A payment dated before the latest one is refused: repayments replay in date order. */
    assert_null(lf_repay(loan, "1.00", "2026-05-04", "PP-X", FLE_BAD_FIELD, &err));
    assert_string_equal(err.field, "value_date");
    json_t *q = quote(loan, "2026-05-15");
    assert_string_equal(lf_jstr(q, "current_interest"), "26061.74");
    assert_string_equal(lf_jstr(q, "current_principal"), "0.00");
    json_decref(q);
    r = lf_repay(loan, "26061.74", "2026-05-15", "PP-5", FLE_OK, NULL);
    assert_string_equal(lf_jstr(r, "current_interest"), "26061.74");
    json_decref(r);
    /* Row 5 (due 2026-06-15) on the re-cut schedule, from a fresh replay of the stored history. */
    q = quote(loan, "2026-06-15");
    int64_t cint = 0, cp = 0, want = 0;
    assert_int_equal(money_parse(lf_jstr(q, "current_interest"), 2, false, &cint), MONEY_OK);
    assert_int_equal(money_parse(lf_jstr(q, "current_principal"), 2, false, &cp), MONEY_OK);
    assert_int_equal(money_parse(row5_total, 2, false, &want), MONEY_OK);
    assert_int_equal(cint + cp, want);
    json_decref(q);
    char sql[200];
    snprintf(sql, sizeof sql,
             "SELECT string_agg(prepayment_choice, ',' ORDER BY value_date) FROM repayment WHERE loan_id = %" PRId64
             " AND prepayment_minor > 0",
             loan);
    lf_assert_scalar(sql, choice);
    assert_int_equal(lf_tbal(fund, senior, "LOANS"), 434854882);
    lf_assert_books_balance();
    assert_verify();
}

static void test_prepayment_reduce_instalment(void **state)
{
    (void)state;
    prepayment_case("PPINST", "reduce_instalment", "588736.86");
}

static void test_prepayment_reduce_term(void **state)
{
    (void)state;
    prepayment_case("PPTERM", "reduce_term", "1121430.11");
}

struct rate_args {
    int64_t fund;
    const char *rate, *from;
};

static json_t *rate_fn(struct db *d, void *arg, struct fl_error *err)
{
    struct rate_args *a = arg;
    return servicing_default_rate_set(d, &manager, a->fund, a->rate, a->from, err);
}

/* A late payment with default interest across a change of the usury cap (§5): the fund's default
 * rate 30 % EA from 2026-01-01; consumo ordinario capped at 28 % (from 2026-01-01, migration 0003)
 * and at 26.5 % from 2026-04-01 (inserted here). L drawn on 2026-01-15, row 1 paid on time; on
 * 2026-04-20 row 2 (principal 920,737.15, due 2026-03-15) has earned
 * 920,737.15 x (1.28^(17/365) - 1) = 10,647.35 + 920,737.15 x (1.265^(19/365) - 1) = 11,335.94 =
 * 21,983.29 (DI.total), and row 3 (due 2026-04-15) five days at 26.5 %: 3,023.42 (DI.row3.default):
 * 25,006.71 of default interest (DI.due.default), collected before the overdue interest
 * 384,732.01 (DI.due.overdue_interest). */
static void test_default_interest_across_cap_change(void **state)
{
    (void)state;
    struct fl_error err;
    int64_t fund = make_fund("DEFAULT");
    char sql_di[300];
    lf_make_tranche(fund, investor_c, "Senior", "senior", 1, "20000000.00", "0.0800", "2024-01-10");
    struct rate_args ra = {fund, "0.30", "2026-01-01"};
    json_t *x = lf_run(rate_fn, &ra, FLE_OK, NULL);
    assert_string_equal(lf_jstr(x, "rate"), "0.3000");
    json_decref(x);
    struct rate_args same = {fund, "0.31", "2026-01-01"};
    assert_null(lf_run(rate_fn, &same, FLE_RULE, &err));
    assert_string_equal(err.field, "valid_from");
    struct rate_args badr = {fund, "thirty", "2026-02-01"};
    assert_null(lf_run(rate_fn, &badr, FLE_BAD_FIELD, &err));
    assert_string_equal(err.field, "rate");
    assert_true(testdb_exec(ci, "INSERT INTO usury_rate (modality, valid_from, valid_to, rate, source) VALUES "
                                "('consumo_ordinario', '2026-04-01', '9999-12-31', 26500000, 'test: April 2026')"));
    int64_t loan = loan_L(fund, "consumo_ordinario");
    draw(loan, "12000000.00", "2026-01-15");
    json_decref(lf_repay(loan, "1121430.11", "2026-02-15", "DI-1", FLE_OK, NULL));
    json_t *q = quote(loan, "2026-04-20");
    assert_string_equal(lf_jstr(q, "default_interest"), "25006.71");
    assert_string_equal(lf_jstr(q, "overdue_interest"), "384732.01");
    assert_string_equal(lf_jstr(q, "overdue_principal"), "1858128.21");
    assert_string_equal(lf_jstr(q, "current_interest"), "27639.74");
    json_decref(q);
    /* 1,000,000.00 on 2026-04-20: default interest first, then overdue interest, then overdue
     * principal (row 2's 920,737.15 in full, then row 3's): 1,000,000.00 - 25,006.71 - 384,732.01. */
    json_t *r = lf_repay(loan, "1000000.00", "2026-04-20", "DI-2", FLE_OK, NULL);
    assert_string_equal(lf_jstr(r, "default_interest"), "25006.71");
    assert_string_equal(lf_jstr(r, "overdue_interest"), "384732.01");
    assert_string_equal(lf_jstr(r, "overdue_principal"), "590261.28");
    json_decref(r);
    /* Default interest is income (4000) with the interest. The fund is on the accrual basis
     * (docs/loan-servicing.md §9): 4000 holds everything earned to 2026-04-20, so also row 4's
     * current interest of the five days run (27,639.74, the quote's), still receivable. */
    assert_int_equal(lf_balance(fund, "4000"), -(21705099 + 2500671 + 38473201 + 2763974));
    snprintf(sql_di, sizeof sql_di,
             "SELECT ordinary_total_minor || ':' || default_total_minor FROM loan_accrual WHERE loan_id = %" PRId64
             " ORDER BY id DESC LIMIT 1",
             loan);
    lf_assert_scalar(sql_di, "62942274:2500671");
    json_t *list = repayment_list(db, loan, &err);
    assert_non_null(list);
    assert_string_equal(lf_jstr(json_array_get(json_object_get(list, "repayments"), 1), "default_interest"),
                        "25006.71");
    json_decref(list);
    /* A new default rate never reaches back over a recorded repayment. */
    struct rate_args late = {fund, "0.25", "2026-04-20"};
    assert_null(lf_run(rate_fn, &late, FLE_RULE, &err));
    assert_string_equal(err.field, "valid_from");
    struct rate_args next = {fund, "0.25", "2026-04-21"};
    json_decref(lf_run(rate_fn, &next, FLE_OK, NULL));
    /* The command line sets the same rates (when the tests know the binary). */
    size_t want_rates = 2;
    const char *bin = getenv("FUNDLEDGER_BIN");
    if (bin != NULL) {
        char cmd[1024];
        snprintf(cmd, sizeof cmd,
                 "FUNDLEDGER_DATABASE_URL='%s' %s default-rate --fund %" PRId64
                 " --rate 0.26 --from 2026-04-19 --user manager >/dev/null 2>&1",
                 ci, bin, fund);
        assert_true(system(cmd) != 0); /* before the latest repayment */
        snprintf(cmd, sizeof cmd,
                 "FUNDLEDGER_DATABASE_URL='%s' %s default-rate --fund %" PRId64
                 " --rate 0.26 --from 2026-05-01 --user manager >/dev/null 2>&1",
                 ci, bin, fund);
        assert_int_equal(system(cmd), 0);
        want_rates = 3;
    }
    json_t *rates = servicing_default_rates(db, fund, &err);
    assert_non_null(rates);
    assert_int_equal(json_array_size(json_object_get(rates, "default_rates")), want_rates);
    json_decref(rates);
    lf_assert_books_balance();
    assert_verify();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grace_loan_capitalised_interest_collected),
        cmocka_unit_test(test_closed_loan_tranches_exactly_zero),
        cmocka_unit_test(test_close_twice_one_set_of_postings),
        cmocka_unit_test(test_grace_loan_written_off_leaves_zero),
        cmocka_unit_test(test_origination_fee),
        cmocka_unit_test(test_two_drawdowns),
        cmocka_unit_test(test_prepayment_reduce_instalment),
        cmocka_unit_test(test_prepayment_reduce_term),
        cmocka_unit_test(test_default_interest_across_cap_change),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
