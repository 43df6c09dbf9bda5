/* test_accruals: accrual postings against a real PostgreSQL (docs/loan-servicing.md §9): interest
 * earned and not yet received is posted per tranche as T<id>.INTEREST_RECEIVABLE against 4000 by
 * the month-end close and before every repayment; repayments clear it; a paid-off loan leaves
 * exactly 0 on every tranche's receivable; the close is idempotent per date. Every figure is the
 * worked example of docs/loan-servicing.md §9 ("Worked example (accruals)"), computed by hand
 * there (Python decimal at 80 digits for the powers), never taken from the code under test. */
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

#include "fundledger/auth.h"
#include "fundledger/ledger.h"
#include "fundledger/loan.h"
#include "fundledger/repayment.h"
#include "loanfix.h"
#include "testdb.h"

static const char *ci;
static struct db *db;
static struct principal manager, approver;
static int64_t investor_a, investor_c;

static void assert_verify(void)
{
    struct fl_error err;
    unsigned sealed = 0;
    assert_int_equal(ledger_seal(db, 1000, &sealed, &err), FLE_OK);
    struct ledger_verify_report rep;
    assert_int_equal(ledger_verify(db, &rep, &err), FLE_OK);
    for (unsigned i = 0; i < rep.problems_n; i++) {
        fprintf(stderr, "verify: %s\n", rep.problems[i].text);
    }
    assert_true(rep.ok);
}

static int setup(void **state)
{
    (void)state;
    ci = testdb_create("accruals");
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

struct close_args {
    int64_t fund;
    const char *date;
};

static json_t *close_fn(struct db *d, void *arg, struct fl_error *err)
{
    struct close_args *a = arg;
    return loan_close_period(d, &manager, a->fund, a->date, err);
}

/* Loan L of docs/loan-servicing.md: 12,000,000.00 at 24 % EA, monthly, 12 instalments, annuity,
 * first due 2026-02-15, act/365, funded by shares (NULL: the fund's one tranche). */
static int64_t loan_l(int64_t fund, int64_t e, json_t *shares)
{
    struct lf_loan_args a = {fund,
                             {.entrepreneur_id = e,
                              .principal = "12000000.00",
                              .annual_rate = "0.24",
                              .payments_per_year = 12,
                              .term_count = 12,
                              .first_due_date = "2026-02-15",
                              .amortisation = "annuity",
                              .approval_date = "2026-01-10",
                              .purpose = "working capital",
                              .shares = shares}};
    int64_t loan = lf_approve_loan(&a);
    lf_disburse_on(loan, "12000000.00", "2026-01-15");
    return loan;
}

/* A loan's lines on accounts code_like: those of its own entries (reference loan:<id>: repayments,
 * capitalisations) plus its parts of the accrual entries (its loan_accrual rows; an accrual entry
 * holds many loans' accruals, docs/loan-servicing.md §9). */
static int64_t loan_sum(int64_t loan, const char *code_like)
{
    char sql[800];
    snprintf(sql, sizeof sql,
             "SELECT (SELECT coalesce(sum(l.amount_minor), 0) FROM journal_entry e JOIN journal_line l ON "
             "l.entry_id = e.id JOIN account a ON a.id = l.account_id WHERE e.event_ref = 'loan:%" PRId64
             "' AND a.code LIKE '%s') + CASE WHEN '4000' LIKE '%s' THEN -(SELECT coalesce(sum(ordinary_minor + "
             "default_minor), 0) FROM loan_accrual WHERE loan_id = %" PRId64 ") WHEN 'T1.INTEREST_RECEIVABLE' LIKE "
             "'%s' THEN (SELECT coalesce(sum(p), 0) FROM loan_accrual, unnest(tranche_parts) p WHERE loan_id = "
             "%" PRId64 ") ELSE 0 END",
             loan, code_like, code_like, loan, code_like, loan);
    return lf_scalar_i64(sql);
}

static int64_t accrual_count(int64_t loan)
{
    char sql[200];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM loan_accrual WHERE loan_id = %" PRId64, loan);
    return lf_scalar_i64(sql);
}

/* The worked example: close 2026-01-31, repayment of row 1 on its due date, close 2026-02-28
 * (twice; an earlier date refused), payoff on 2026-03-10. */
static void test_worked_example(void **state)
{
    (void)state;
    struct fl_error err;
    int64_t fund = lf_make_fund("ACCR", "Accrual test fund");
    int64_t s = lf_make_tranche(fund, investor_c, "Senior", "senior", 1, "8000000.00", "0.0800", "2026-01-05");
    int64_t f = lf_make_tranche(fund, investor_a, "First loss", "first_loss", 2, "6000000.00", "0", "2026-01-05");
    int64_t e = lf_make_entrepreneur(fund, "Cacaoteros de El Charco", "52250", "cacao");
    json_t *shares = json_pack("[{s:I, s:s}, {s:I, s:s}]", "tranche_id", (json_int_t)s, "amount", "7000000.00",
                               "tranche_id", (json_int_t)f, "amount", "5000000.00");
    int64_t loan = loan_l(fund, e, shares);
    json_decref(shares);

    /* 2026-01-31: 111,540.42 earned, 65,065.25 / 46,475.17. */
    struct close_args c1 = {fund, "2026-01-31"};
    json_t *r = lf_run(close_fn, &c1, FLE_OK, NULL);
    json_decref(r);
    assert_int_equal(lf_tbal(fund, s, "INTEREST_RECEIVABLE"), 6506525);
    assert_int_equal(lf_tbal(fund, f, "INTEREST_RECEIVABLE"), 4647517);
    assert_int_equal(loan_sum(loan, "4000"), -11154042);
    assert_int_equal(accrual_count(loan), 1);
    lf_assert_books_balance();
    assert_verify();

    /* 2026-02-15: row 1 paid. The accrual to the day (105,510.57) first, then the repayment
     * clears the 217,050.99: both receivables exactly 0. */
    r = lf_repay(loan, "1121430.11", "2026-02-15", "L-1", FLE_OK, NULL);
    assert_string_equal(lf_jstr(r, "current_interest"), "217050.99");
    json_decref(r);
    assert_int_equal(lf_tbal(fund, s, "INTEREST_RECEIVABLE"), 0);
    assert_int_equal(lf_tbal(fund, f, "INTEREST_RECEIVABLE"), 0);
    assert_int_equal(loan_sum(loan, "4000"), -21705099);
    assert_int_equal(lf_tbal(fund, s, "LOANS"), 700000000 - 52755449);
    assert_int_equal(lf_tbal(fund, f, "LOANS"), 500000000 - 37682463);
    char sql[400];
    snprintf(sql, sizeof sql,
             "SELECT string_agg(accrual_date || ':' || ordinary_minor || ':' || default_minor || ':' || "
             "ordinary_total_minor, ',' ORDER BY id) FROM loan_accrual WHERE loan_id = %" PRId64,
             loan);
    lf_assert_scalar(sql, "2026-01-31:11154042:0:11154042,2026-02-15:10551057:0:21705099");
    lf_assert_books_balance();
    assert_verify();

    /* 2026-02-28: 92,731.56 on the lower balance, 54,093.41 / 38,638.15. */
    struct close_args c2 = {fund, "2026-02-28"};
    r = lf_run(close_fn, &c2, FLE_OK, NULL);
    assert_false(json_is_true(json_object_get(r, "already_closed")));
    json_decref(r);
    assert_int_equal(lf_tbal(fund, s, "INTEREST_RECEIVABLE"), 5409341);
    assert_int_equal(lf_tbal(fund, f, "INTEREST_RECEIVABLE"), 3863815);
    assert_int_equal(loan_sum(loan, "4000"), -30978255);
    /* Twice on the same date: one set of postings. */
    int64_t entries = lf_scalar_i64("SELECT count(*) FROM journal_entry");
    r = lf_run(close_fn, &c2, FLE_OK, NULL);
    assert_true(json_is_true(json_object_get(r, "already_closed")));
    json_decref(r);
    assert_int_equal(lf_scalar_i64("SELECT count(*) FROM journal_entry"), entries);
    assert_int_equal(accrual_count(loan), 3);
    /* Before the last close: refused, nothing written. */
    struct close_args c0 = {fund, "2026-02-20"};
    assert_null(lf_run(close_fn, &c0, FLE_RULE, &err));
    assert_string_equal(err.field, "date");
    assert_int_equal(lf_scalar_i64("SELECT count(*) FROM journal_entry"), entries);
    lf_assert_books_balance();
    assert_verify();

    /* 2026-03-10: paid off for 11,260,211.45; the accrual of 71,859.01 first, then the 164,590.57
     * of interest clears the receivables to exactly 0 on both tranches. */
    r = lf_repay(loan, "11260211.45", "2026-03-10", "L-2", FLE_OK, NULL);
    assert_string_equal(lf_jstr(r, "loan_status"), "repaid");
    assert_string_equal(lf_jstr(r, "current_interest"), "164590.57");
    json_decref(r);
    assert_int_equal(lf_tbal(fund, s, "INTEREST_RECEIVABLE"), 0);
    assert_int_equal(lf_tbal(fund, f, "INTEREST_RECEIVABLE"), 0);
    assert_int_equal(lf_tbal(fund, s, "LOANS"), 0);
    assert_int_equal(lf_tbal(fund, f, "LOANS"), 0);
    assert_int_equal(loan_sum(loan, "4000"), -38164156);
    assert_int_equal(loan_sum(loan, "T%.INTEREST_RECEIVABLE"), 0);

    /* The accrual history read back. */
    json_t *list = loan_accruals(db, loan, &err);
    assert_non_null(list);
    json_t *a = json_object_get(list, "accruals");
    assert_int_equal(json_array_size(a), 4);
    static const char *const amount[] = {"111540.42", "105510.57", "92731.56", "71859.01"};
    static const char *const total[] = {"111540.42", "217050.99", "309782.55", "381641.56"};
    static const char *const date[] = {"2026-01-31", "2026-02-15", "2026-02-28", "2026-03-10"};
    static const char *const part_s[] = {"65065.25", "61547.83", "54093.41", "41917.75"};
    static const char *const part_f[] = {"46475.17", "43962.74", "38638.15", "29941.26"};
    for (size_t i = 0; i < 4; i++) {
        const json_t *x = json_array_get(a, i);
        assert_string_equal(lf_jstr(x, "accrual_date"), date[i]);
        assert_string_equal(lf_jstr(x, "amount"), amount[i]);
        assert_string_equal(lf_jstr(x, "ordinary_interest"), amount[i]);
        assert_string_equal(lf_jstr(x, "default_interest"), "0.00");
        assert_string_equal(lf_jstr(x, "total"), total[i]);
        const json_t *t = json_object_get(x, "tranches");
        assert_int_equal(json_array_size(t), 2);
        for (size_t k = 0; k < 2; k++) {
            const json_t *y = json_array_get(t, k);
            assert_string_equal(lf_jstr(y, "amount"), lf_jid(y, "tranche_id") == s ? part_s[i] : part_f[i]);
        }
    }
    json_decref(list);
    assert_null(loan_accruals(db, 999999, &err));
    assert_int_equal(err.code, FLE_NOT_FOUND);
    lf_assert_books_balance();
    assert_verify();
}

struct import_args {
    int64_t fund;
    const char *csv;
};

static json_t *import_fn(struct db *d, void *arg, struct fl_error *err)
{
    struct import_args *a = arg;
    json_t *rep = NULL;
    if (repayment_import_csv(d, &manager, a->fund, a->csv, strlen(a->csv), &rep, err) != FLE_OK) {
        return NULL;
    }
    return rep;
}

/* The CSV import posts the accrual to each line's value date first: L's row 1 imported on its due
 * date with no close before accrues all of row 1's 217,050.99 (docs/loan-servicing.md §2) and
 * clears it, leaving 0 receivable and 217,050.99 of income. */
static void test_import_accrues_first(void **state)
{
    (void)state;
    int64_t fund = lf_make_fund("ACCIMP", "Accrual import fund");
    int64_t s = lf_make_tranche(fund, investor_c, "Senior", "senior", 1, "15000000.00", "0.0800", "2026-01-05");
    int64_t e = lf_make_entrepreneur(fund, "Frijolera", "05234", "beans");
    int64_t loan = loan_l(fund, e, NULL);
    char csv[200];
    snprintf(csv, sizeof csv, "loan_id,amount,value_date,reference\n%" PRId64 ",1121430.11,2026-02-15,IMP-1\n", loan);
    struct import_args ia = {fund, csv};
    json_t *rep = lf_run(import_fn, &ia, FLE_OK, NULL);
    assert_int_equal(lf_jid(rep, "applied"), 1);
    json_decref(rep);
    assert_int_equal(accrual_count(loan), 1);
    assert_int_equal(lf_tbal(fund, s, "INTEREST_RECEIVABLE"), 0);
    assert_int_equal(loan_sum(loan, "4000"), -21705099);
    char sql[200];
    snprintf(sql, sizeof sql, "SELECT ordinary_minor FROM loan_accrual WHERE loan_id = %" PRId64, loan);
    assert_int_equal(lf_scalar_i64(sql), 21705099);
    lf_assert_books_balance();
    assert_verify();
}

/* A fund on the 'schedule' basis keeps the cash basis: no accrual, interest straight to 4000. */
static void test_schedule_basis_unchanged(void **state)
{
    (void)state;
    int64_t fund = lf_make_fund("ACCSCH", "Schedule basis fund");
    char sql[200];
    snprintf(sql, sizeof sql, "UPDATE fund SET servicing_basis = 'schedule' WHERE id = %" PRId64, fund);
    assert_true(testdb_exec(ci, sql));
    lf_make_tranche(fund, investor_c, "Senior", "senior", 1, "15000000.00", "0.0800", "2026-01-05");
    int64_t e = lf_make_entrepreneur(fund, "Asociación de Paneleros", "52835", "cacao");
    int64_t loan = loan_l(fund, e, NULL);
    struct close_args c1 = {fund, "2026-01-31"};
    json_decref(lf_run(close_fn, &c1, FLE_OK, NULL));
    json_decref(lf_run(lf_repay_fn, &(struct lf_repay_args){loan, "1121430.11", "2026-02-15", "SCH-1"}, FLE_OK, NULL));
    assert_int_equal(accrual_count(loan), 0);
    assert_int_equal(loan_sum(loan, "T%.INTEREST_RECEIVABLE"), 0);
    assert_int_equal(loan_sum(loan, "4000"), -21705099);
    lf_assert_books_balance();
    assert_verify();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_worked_example),
        cmocka_unit_test(test_import_accrues_first),
        cmocka_unit_test(test_schedule_basis_unchanged),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
