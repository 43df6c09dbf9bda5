/* test_schedule_versions: stored schedule versions against a real PostgreSQL
 * (docs/loan-servicing.md §4, §7, §11): version 1 at approval, one per drawdown, per prepayment
 * re-cut and per capitalisation re-cut, with the engine's exact rows; arrears and PAR read the
 * latest version as of the date asked; the CSV import writes versions too; and the replay seeded
 * with the stored approval schedule is bit for bit the replay that generates it. Expected figures are the worked
 * examples of docs/loan-servicing.md (tests/accrual_reference.py recomputes them). */
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

#include "fundledger/accrual.h"
#include "fundledger/approval.h"
#include "fundledger/auth.h"
#include "fundledger/ledger.h"
#include "fundledger/loan.h"
#include "fundledger/money.h"
#include "fundledger/portfolio.h"
#include "fundledger/repayment.h"
#include "fundledger/schedule.h"
#include "fundledger/schedver.h"
#include "loanfix.h"
#include "testdb.h"

static const char *ci;
static struct db *db;
static struct principal manager, approver;
static int64_t investor;

static int setup(void **state)
{
    (void)state;
    ci = testdb_create("schedule_versions");
    db = testdb_open(ci);
    lf_setup(ci, db, &manager, &approver, 10000000000000);
    investor = lf_make_investor("UNDP", "XM-DAC-41114");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    db_close(db);
    return 0;
}

/* A fund with one senior tranche of 20,000,000.00 paid in. */
static int64_t make_fund(const char *code)
{
    int64_t fund = lf_make_fund(code, "Schedule versions test fund");
    lf_make_tranche(fund, investor, "Senior", "senior", 1, "20000000.00", "0.0800", "2024-01-10");
    return fund;
}

/* Loan L of the worked examples: 12,000,000.00 at 24 % EA, monthly, 12 annuity instalments, first
 * due 2026-02-15, act/365; conditions ticked on 2026-01-15. */
static int64_t loan_L(int64_t fund)
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

static json_t *versions_of(int64_t loan)
{
    struct fl_error err;
    json_t *v = schedver_list(db, loan, &err);
    if (v == NULL) {
        fail_msg("schedule versions of loan %" PRId64 ": %s", loan, err.message);
    }
    return v;
}

static const json_t *version(const json_t *all, size_t k)
{
    const json_t *v = json_array_get(json_object_get(all, "versions"), k - 1);
    assert_non_null(v);
    assert_int_equal(json_integer_value(json_object_get(v, "version")), (json_int_t)k);
    return v;
}

static const json_t *row(const json_t *v, size_t no)
{
    const json_t *r = json_array_get(json_object_get(v, "rows"), no - 1);
    assert_non_null(r);
    assert_int_equal(json_integer_value(json_object_get(r, "no")), (json_int_t)no);
    return r;
}

static size_t n_rows(const json_t *v)
{
    return json_array_size(json_object_get(v, "rows"));
}

static int64_t amount(const json_t *r, const char *k)
{
    int64_t x = 0;
    assert_int_equal(money_parse(lf_jstr(r, k), 2, true, &x), MONEY_OK);
    return x;
}

/* Sum of column k over rows from..to of version v. */
static int64_t sum_rows(const json_t *v, size_t from, size_t to, const char *k)
{
    int64_t s = 0;
    for (size_t no = from; no <= to; no++) {
        s += amount(row(v, no), k);
    }
    return s;
}

/* Rows from..to of two versions are the same (due date, principal, interest, capitalised). */
static void assert_rows_equal(const json_t *a, const json_t *b, size_t from, size_t to)
{
    static const char *const cols[] = {"due_date", "principal", "interest", "capitalised"};
    for (size_t no = from; no <= to; no++) {
        for (size_t c = 0; c < 4; c++) {
            assert_string_equal(lf_jstr(row(a, no), cols[c]), lf_jstr(row(b, no), cols[c]));
        }
    }
}

static void assert_arrears(int64_t loan, const char *as_of, int dpd, const char *oldest, const char *principal,
                           const char *interest, const char *outstanding)
{
    struct fl_error err;
    json_t *a = loan_arrears(db, loan, as_of, &err);
    assert_non_null(a);
    assert_int_equal(json_integer_value(json_object_get(a, "days_past_due")), dpd);
    if (oldest == NULL) {
        assert_true(json_is_null(json_object_get(a, "oldest_unpaid_due_date")));
    } else {
        assert_string_equal(lf_jstr(a, "oldest_unpaid_due_date"), oldest);
    }
    assert_string_equal(lf_jstr(a, "principal_in_arrears"), principal);
    assert_string_equal(lf_jstr(a, "interest_in_arrears"), interest);
    if (outstanding != NULL) {
        assert_string_equal(lf_jstr(a, "principal_outstanding"), outstanding);
    }
    json_decref(a);
}

/* Two drawdowns (§4): version 1 is the approval schedule (level 1,121,430.11, row 1 principal
 * 904,379.12 and interest 217,050.99); 6,000,000.00 drawn on 2026-01-15 cuts version 2 (level
 * 560,715.06; row 1's interest a full period on 6,000,000.00, 6,000,000.00 x (1.24^(1/12) - 1) =
 * 108,525.49); 6,000,000.00 more on 2026-01-25 cuts version 3: level 1,121,430.11 again, row 1
 * principal 904,379.12 and its interest the sum of its two stretches, 34,795.89 + 146,608.97 =
 * 181,404.86; rows 2-12 are version 1's. */
static void test_two_drawdowns(void **state)
{
    (void)state;
    int64_t fund = make_fund("SV2DRAW");
    int64_t loan = loan_L(fund);
    json_t *all = versions_of(loan);
    assert_int_equal(json_array_size(json_object_get(all, "versions")), 1);
    const json_t *v1 = version(all, 1);
    assert_string_equal(lf_jstr(v1, "reason"), "approval");
    assert_string_equal(lf_jstr(v1, "valid_from"), "2026-01-15");
    assert_true(json_is_null(json_object_get(v1, "disbursement_id")));
    assert_int_equal(n_rows(v1), 12);
    assert_string_equal(lf_jstr(row(v1, 1), "principal"), "904379.12");
    assert_string_equal(lf_jstr(row(v1, 1), "interest"), "217050.99");
    assert_string_equal(lf_jstr(row(v1, 1), "total"), "1121430.11");
    assert_string_equal(lf_jstr(row(v1, 12), "due_date"), "2027-01-15");
    assert_int_equal(sum_rows(v1, 1, 12, "principal"), 1200000000);
    assert_int_equal(sum_rows(v1, 1, 12, "interest"), 145716136);
    json_decref(all);

    draw(loan, "6000000.00", "2026-01-15");
    draw(loan, "6000000.00", "2026-01-25");
    all = versions_of(loan);
    assert_int_equal(json_array_size(json_object_get(all, "versions")), 3);
    v1 = version(all, 1);
    const json_t *v2 = version(all, 2), *v3 = version(all, 3);
    assert_string_equal(lf_jstr(v2, "reason"), "drawdown");
    assert_string_equal(lf_jstr(v2, "valid_from"), "2026-01-15");
    assert_true(json_is_integer(json_object_get(v2, "disbursement_id")));
    assert_true(json_is_null(json_object_get(v2, "repayment_id")));
    assert_int_equal(n_rows(v2), 12);
    for (size_t no = 1; no < 12; no++) {
        assert_string_equal(lf_jstr(row(v2, no), "total"), "560715.06");
    }
    assert_string_equal(lf_jstr(row(v2, 1), "interest"), "108525.49");
    assert_string_equal(lf_jstr(row(v2, 1), "principal"), "452189.57");
    assert_int_equal(sum_rows(v2, 1, 12, "principal"), 600000000);

    assert_string_equal(lf_jstr(v3, "reason"), "drawdown");
    assert_string_equal(lf_jstr(v3, "valid_from"), "2026-01-25");
    assert_int_equal(json_integer_value(json_object_get(v3, "disbursement_id")),
                     json_integer_value(json_object_get(v2, "disbursement_id")) + 1);
    assert_int_equal(n_rows(v3), 12);
    assert_string_equal(lf_jstr(row(v3, 1), "principal"), "904379.12");
    assert_string_equal(lf_jstr(row(v3, 1), "interest"), "181404.86");
    assert_string_equal(lf_jstr(row(v3, 1), "principal_paid"), "0.00");
    assert_string_equal(lf_jstr(row(v3, 2), "total"), "1121430.11");
    assert_rows_equal(v1, v3, 2, 12);
    assert_int_equal(sum_rows(v3, 1, 12, "interest"), 145716136 - 21705099 + 18140486);
    json_decref(all);

    /* The loan's schedule (GET /v1/loans/{id}) is the latest version. */
    struct fl_error err;
    json_t *l = loan_get(db, loan, &err);
    assert_non_null(l);
    const json_t *s1 = json_array_get(json_object_get(l, "schedule"), 0);
    assert_non_null(s1);
    assert_string_equal(lf_jstr(s1, "interest"), "181404.86");
    json_decref(l);
    /* Arrears on the due date's next day read version 3: row 1 owes 1,085,783.98. */
    assert_arrears(loan, "2026-02-16", 1, "2026-02-15", "904379.12", "181404.86", "12000000.00");
    assert_null(schedver_list(db, 999999, &err));
    assert_int_equal(err.code, FLE_NOT_FOUND);
}

/* The prepayment (§7) on L drawn in full on 2026-01-15 (version 2, the approval schedule's rows:
 * a drawdown of the whole commitment at the start re-cuts to the same schedule), rows 1-3 paid on
 * their due dates (no version), 5,000,000.00 paid on 2026-05-05 with the given choice: version 3,
 * reason prepayment. Row 4 keeps its principal 954,346.20 (paid) and its interest is its two
 * stretches, 111,056.15 (paid) + 26,061.74 = 137,117.89. Row 5's interest is a full period on
 * the new balance: 4,348,548.82 x (1.24^(1/12) - 1) = 78,654.74. */
struct choice_args {
    int64_t loan, fund;
    const char *choice, *csv;
};

/* 5,000,000.00 on 2026-05-05: with a choice through the repayment route's function, else the
 * CSV import of csv. */
static json_t *prepay_fn(struct db *d, void *arg, struct fl_error *err)
{
    struct choice_args *a = arg;
    if (a->csv == NULL) {
        return repayment_record_choice(d, &manager, a->loan, "5000000.00", "2026-05-05", "SV-4", a->choice, err);
    }
    json_t *rep = NULL;
    if (repayment_import_csv(d, &manager, a->fund, a->csv, strlen(a->csv), &rep, err) != FLE_OK) {
        return NULL;
    }
    return rep;
}

static int64_t prepaid_loan(const char *code, const char *choice, json_t **all)
{
    int64_t fund = make_fund(code);
    int64_t loan = loan_L(fund);
    draw(loan, "12000000.00", "2026-01-15");
    static const char *const due[] = {"2026-02-15", "2026-03-15", "2026-04-15"};
    for (int k = 0; k < 3; k++) {
        char ref[16];
        snprintf(ref, sizeof ref, "SV-%d", k + 1);
        json_decref(lf_repay(loan, "1121430.11", due[k], ref, FLE_OK, NULL));
    }
    json_t *v = versions_of(loan);
    assert_int_equal(json_array_size(json_object_get(v, "versions")), 2);
    assert_rows_equal(version(v, 1), version(v, 2), 1, 12);
    assert_string_equal(lf_jstr(row(version(v, 2), 1), "interest"), "217050.99");
    json_decref(v);
    if (choice != NULL) {
        struct choice_args c = {loan, fund, choice, NULL};
        json_t *p = lf_run(prepay_fn, &c, FLE_OK, NULL);
        assert_string_equal(lf_jstr(p, "prepayment"), "3934597.65");
        json_decref(p);
    } else {
        /* Through the CSV import (the fund's default choice, reduce_term). */
        char csv[256];
        snprintf(csv, sizeof csv, "loan_id,amount,value_date,reference\n%" PRId64 ",5000000.00,2026-05-05,SV-4\n",
                 loan);
        struct choice_args c = {loan, fund, NULL, csv};
        json_t *rep = lf_run(prepay_fn, &c, FLE_OK, NULL);
        assert_int_equal(json_integer_value(json_object_get(rep, "applied")), 1);
        json_decref(rep);
    }
    *all = versions_of(loan);
    assert_int_equal(json_array_size(json_object_get(*all, "versions")), 3);
    const json_t *v3 = version(*all, 3);
    assert_string_equal(lf_jstr(v3, "reason"), "prepayment");
    assert_string_equal(lf_jstr(v3, "valid_from"), "2026-05-05");
    assert_true(json_is_null(json_object_get(v3, "disbursement_id")));
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT id FROM repayment WHERE loan_id = %" PRId64 " AND reference = 'SV-4'", loan);
    assert_int_equal(json_integer_value(json_object_get(v3, "repayment_id")), lf_scalar_i64(sql));
    assert_rows_equal(version(*all, 1), v3, 1, 3);
    for (size_t no = 1; no <= 3; no++) {
        assert_string_equal(lf_jstr(row(v3, no), "principal_paid"), lf_jstr(row(v3, no), "principal"));
        assert_string_equal(lf_jstr(row(v3, no), "interest_paid"), lf_jstr(row(v3, no), "interest"));
    }
    const json_t *r4 = row(v3, 4);
    assert_string_equal(lf_jstr(r4, "due_date"), "2026-05-15");
    assert_string_equal(lf_jstr(r4, "principal"), "954346.20");
    assert_string_equal(lf_jstr(r4, "interest"), "137117.89");
    assert_string_equal(lf_jstr(r4, "principal_paid"), "954346.20");
    assert_string_equal(lf_jstr(r4, "interest_paid"), "111056.15");
    assert_string_equal(lf_jstr(row(v3, 5), "interest"), "78654.74");
    assert_string_equal(lf_jstr(row(v3, 5), "principal_paid"), "0.00");
    assert_int_equal(sum_rows(v3, 5, n_rows(v3), "principal"), 434854882);
    /* Arrears read version 3. On 2026-05-20 only row 4's rest is due: 26,061.74 of interest. */
    assert_arrears(loan, "2026-05-20", 5, "2026-05-15", "0.00", "26061.74", "4348548.82");
    /* Before the prepayment the version in force is version 2: row 4 not due yet on 05-05. */
    assert_arrears(loan, "2026-05-05", 0, NULL, "0.00", "0.00", "4348548.82");
    return loan;
}

/* PAR30 of the loan's fund as of a date: loans, amount, and the arrears sums. */
static void assert_par30(int64_t loan, const char *as_of, int loans, const char *amount_text, const char *pr,
                         const char *it)
{
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT fund_id FROM loan WHERE id = %" PRId64, loan);
    int64_t fund = lf_scalar_i64(sql);
    struct fl_error err;
    json_t *q = portfolio_quality(db, fund, as_of, NULL, &err);
    assert_non_null(q);
    const json_t *p30 = json_object_get(q, "par30");
    assert_int_equal(json_integer_value(json_object_get(p30, "loans")), loans);
    assert_string_equal(lf_jstr(p30, "amount"), amount_text);
    assert_string_equal(lf_jstr(q, "principal_in_arrears"), pr);
    assert_string_equal(lf_jstr(q, "interest_in_arrears"), it);
    json_decref(q);
}

/* reduce_instalment: rows 5-12 level 588,736.86 (last 588,736.82), their interest 361,346.02.
 * As of 2026-06-20 rows 4 (rest) and 5 are unpaid: principal 588,736.86 - 78,654.74 =
 * 510,082.12, interest 26,061.74 + 78,654.74 = 104,716.48, 36 days past due: PAR30 holds the
 * whole 4,348,548.82. Once row 4's rest is paid on its due date, row 5 alone is 5 days late. */
static void test_prepayment_reduce_instalment(void **state)
{
    (void)state;
    json_t *all = NULL;
    int64_t loan = prepaid_loan("SVINST", "reduce_instalment", &all);
    const json_t *v3 = version(all, 3);
    assert_int_equal(n_rows(v3), 12);
    for (size_t no = 5; no < 12; no++) {
        assert_string_equal(lf_jstr(row(v3, no), "total"), "588736.86");
    }
    assert_string_equal(lf_jstr(row(v3, 12), "total"), "588736.82");
    assert_int_equal(sum_rows(v3, 5, 12, "interest"), 36134602);
    assert_string_equal(lf_jstr(row(v3, 5), "principal"), "510082.12");
    json_decref(all);
    assert_arrears(loan, "2026-06-20", 36, "2026-05-15", "510082.12", "104716.48", "4348548.82");
    assert_par30(loan, "2026-06-20", 1, "4348548.82", "510082.12", "104716.48");
    json_decref(lf_repay(loan, "26061.74", "2026-05-15", "SV-5", FLE_OK, NULL));
    assert_arrears(loan, "2026-06-20", 5, "2026-06-15", "510082.12", "78654.74", "4348548.82");
    assert_par30(loan, "2026-06-20", 0, "0.00", "510082.12", "78654.74");
    /* Paying row 5 on its due date writes no version. */
    json_decref(lf_repay(loan, "588736.86", "2026-06-15", "SV-6", FLE_OK, NULL));
    all = versions_of(loan);
    assert_int_equal(json_array_size(json_object_get(all, "versions")), 3);
    json_decref(all);
    assert_arrears(loan, "2026-06-20", 0, NULL, "0.00", "0.00", "3838466.70");
}

/* reduce_term, recorded through the CSV import: the instalment 1,121,430.11 is kept, rows 5-9,
 * row 9 pays 62,908.82 of principal and 1,137.87 of interest; rows 5-9 interest 201,218.31. Row 5
 * then owes 1,121,430.11 - 78,654.74 = 1,042,775.37 of principal. */
static void test_prepayment_reduce_term_import(void **state)
{
    (void)state;
    json_t *all = NULL;
    int64_t loan = prepaid_loan("SVTERM", NULL, &all);
    const json_t *v3 = version(all, 3);
    assert_int_equal(n_rows(v3), 9);
    for (size_t no = 5; no < 9; no++) {
        assert_string_equal(lf_jstr(row(v3, no), "total"), "1121430.11");
    }
    assert_string_equal(lf_jstr(row(v3, 9), "principal"), "62908.82");
    assert_string_equal(lf_jstr(row(v3, 9), "interest"), "1137.87");
    assert_string_equal(lf_jstr(row(v3, 9), "due_date"), "2026-10-15");
    assert_int_equal(sum_rows(v3, 5, 9, "interest"), 20121831);
    json_decref(all);
    assert_arrears(loan, "2026-06-20", 36, "2026-05-15", "1042775.37", "104716.48", "4348548.82");
    assert_par30(loan, "2026-06-20", 1, "4348548.82", "1042775.37", "104716.48");
    /* After the last row of the re-cut schedule nothing more falls due: rows 10-12 of the
     * approval schedule are gone. */
    char sql[200];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM loan_schedule_version_row WHERE loan_id = %" PRId64 " AND version = 3 AND no > 9",
             loan);
    assert_int_equal(lf_scalar_i64(sql), 0);
}

/* A capitalisation re-cut (§4): 1,000,000.00 at 24.75 % EA, quarterly, 4 equal-principal
 * instalments from 2024-04-30, one interest-grace and one principal-grace instalment; 500,000.00
 * drawn on 2024-01-30 (period 1's start: version 2) and 500,000.00 on 2024-03-01, inside the grace
 * period (version 3: the whole commitment re-cut from row 1, whose capitalisation version 3 gives
 * as the sum of its two stretches). Versions 1-3's later rows foresee the capitalisation of a full
 * period on 1,000,000.00; at row 1's due date the engine capitalises the stretches' sum, re-cuts
 * rows 2-4 on the balance reached, and the repayment that finds it (row 2 paid on its due date,
 * no prepayment) stores version 4, reason capitalisation. */
static void test_capitalisation_version(void **state)
{
    (void)state;
    int64_t fund = make_fund("SVCAP");
    int64_t e = lf_make_entrepreneur(fund, "Cacaoteros de Tumaco", "52835", "cacao");
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
                              .purpose = "cacao"}};
    int64_t loan = lf_approve_loan(&a);
    lf_disburse_on(loan, "500000.00", "2024-01-30");
    draw(loan, "500000.00", "2024-03-01");
    struct fl_error err;
    json_t *q = loan_payoff(db, loan, "2024-07-30", &err);
    assert_non_null(q);
    int64_t due = amount(q, "current_interest") + amount(q, "current_principal");
    assert_int_equal(amount(q, "overdue_principal") + amount(q, "overdue_interest"), 0);
    json_decref(q);
    char text[MONEY_TEXT_MAX];
    money_format(due, 2, text, sizeof text);
    json_t *r = lf_repay(loan, text, "2024-07-30", "SVC-1", FLE_OK, NULL);
    assert_string_equal(lf_jstr(r, "prepayment"), "0.00");
    int64_t rep_id = lf_jid(r, "id");
    json_decref(r);
    json_t *all = versions_of(loan);
    assert_int_equal(json_array_size(json_object_get(all, "versions")), 4);
    const json_t *v1 = version(all, 1), *v3 = version(all, 3), *v4 = version(all, 4);
    assert_string_equal(lf_jstr(version(all, 2), "reason"), "drawdown");
    assert_string_equal(lf_jstr(v3, "reason"), "drawdown");
    assert_string_equal(lf_jstr(v4, "reason"), "capitalisation");
    assert_int_equal(json_integer_value(json_object_get(v4, "repayment_id")), rep_id);
    assert_true(json_is_null(json_object_get(v4, "disbursement_id")));
    assert_string_equal(lf_jstr(v4, "valid_from"), "2024-07-30");
    /* Version 3 stated row 1's capitalisation as it came to be; less than a full period on the
     * commitment (version 1). */
    int64_t cap = amount(row(v4, 1), "capitalised");
    assert_int_equal(amount(row(v3, 1), "capitalised"), cap);
    assert_true(cap > 0 && cap < amount(row(v1, 1), "capitalised"));
    /* Rows 2-4 of version 4 repay the balance reached: the commitment plus what was capitalised;
     * version 3's rows foresaw a full period's capitalisation. */
    assert_int_equal(sum_rows(v4, 2, 4, "principal"), 100000000 + cap);
    assert_int_equal(sum_rows(v3, 2, 4, "principal"), 100000000 + amount(row(v1, 1), "capitalised"));
    assert_int_equal(amount(row(v4, 2), "principal_paid"), amount(row(v4, 2), "principal"));
    json_decref(all);
    assert_arrears(loan, "2024-08-01", 0, NULL, "0.00", "0.00", NULL);
}

/* The replay seeded with the approval schedule (accrual_loan_seed) is bit for bit the replay that
 * generates it, for terms of every method, with grace, and drawdowns on, before and inside the
 * first period; a partial drawdown (no seed used) and seeds that do not fit the terms too. */
static void compare_replays(const schedule_terms *t, rate_date draw_on, int64_t amount, rate_date pay_on, int64_t pay)
{
    static schedule_row rows[SCHEDULE_INSTALMENTS_MAX];
    size_t n = 0;
    assert_int_equal(schedule_generate(t, rows, SCHEDULE_INSTALMENTS_MAX, &n), SCHEDULE_OK);
    struct accrual_loan *a = calloc(1, sizeof *a), *b = calloc(1, sizeof *b);
    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(accrual_loan_init(a, t, RATE_DC_ACT_365, NULL, 0, NULL, 0), ACCRUAL_OK);
    assert_int_equal(accrual_loan_init(b, t, RATE_DC_ACT_365, NULL, 0, NULL, 0), ACCRUAL_OK);
    assert_true(accrual_loan_seed(b, rows, n));
    assert_int_equal(accrual_loan_drawdown(a, draw_on, amount), ACCRUAL_OK);
    assert_int_equal(accrual_loan_drawdown(b, draw_on, amount), ACCRUAL_OK);
    int64_t ap[ACCRUAL_BUCKETS], bp[ACCRUAL_BUCKETS], pa = 0, pb = 0;
    assert_int_equal(accrual_loan_pay(a, pay_on, pay, ACCRUAL_REDUCE_INSTALMENT, ap, &pa), ACCRUAL_OK);
    assert_int_equal(accrual_loan_pay(b, pay_on, pay, ACCRUAL_REDUCE_INSTALMENT, bp, &pb), ACCRUAL_OK);
    assert_memory_equal(ap, bp, sizeof ap);
    b->seed = NULL;
    assert_memory_equal(a, b, sizeof *a);
    free(a);
    free(b);
}

static void test_seeded_replay_identical(void **state)
{
    (void)state;
    schedule_terms t = {.principal_minor = 1200000000,
                        .exponent = 2,
                        .ea_rate = 24000000,
                        .payments_per_year = 12,
                        .period_months = 1,
                        .instalments = 12,
                        .first_due = {2026, 2, 15},
                        .method = SCHEDULE_ANNUITY};
    compare_replays(&t, (rate_date){2026, 1, 15}, t.principal_minor, (rate_date){2026, 3, 20}, 300000000);
    compare_replays(&t, (rate_date){2026, 1, 2}, t.principal_minor, (rate_date){2026, 2, 15}, 150000000);
    compare_replays(&t, (rate_date){2026, 1, 30}, t.principal_minor, (rate_date){2026, 5, 5}, 500000000);
    compare_replays(&t, (rate_date){2026, 1, 15}, 600000000, (rate_date){2026, 2, 15}, 50000000);
    t.method = SCHEDULE_EQUAL_PRINCIPAL;
    t.grace_principal = 2;
    compare_replays(&t, (rate_date){2026, 1, 15}, t.principal_minor, (rate_date){2026, 4, 1}, 100000000);
    /* The grace loan G: quarterly, 2 interest-grace and 3 principal-grace instalments. */
    schedule_terms g = {.principal_minor = 17680000000,
                        .exponent = 2,
                        .ea_rate = 24750000,
                        .payments_per_year = 4,
                        .period_months = 3,
                        .instalments = 10,
                        .first_due = {2026, 4, 30},
                        .grace_principal = 3,
                        .grace_interest = 2,
                        .method = SCHEDULE_ANNUITY};
    compare_replays(&g, (rate_date){2026, 1, 30}, g.principal_minor, (rate_date){2026, 11, 15}, 5000000000);
    g.method = SCHEDULE_BULLET;
    compare_replays(&g, (rate_date){2026, 2, 10}, g.principal_minor, (rate_date){2027, 1, 30}, 1000000000);

    /* Seeds that do not fit are not lent. */
    static schedule_row rows[SCHEDULE_INSTALMENTS_MAX];
    size_t n = 0;
    assert_int_equal(schedule_generate(&t, rows, SCHEDULE_INSTALMENTS_MAX, &n), SCHEDULE_OK);
    struct accrual_loan *l = calloc(1, sizeof *l);
    assert_non_null(l);
    assert_int_equal(accrual_loan_init(l, &t, RATE_DC_ACT_365, NULL, 0, NULL, 0), ACCRUAL_OK);
    assert_false(accrual_loan_seed(l, rows, n - 1));
    rows[3].principal_minor += 1;
    rows[3].total_minor += 1;
    assert_false(accrual_loan_seed(l, rows, n));
    rows[3].principal_minor -= 1;
    rows[3].total_minor -= 1;
    rows[5].due_date.d = 16;
    assert_false(accrual_loan_seed(l, rows, n));
    rows[5].due_date.d = 15;
    assert_true(accrual_loan_seed(l, rows, n));
    assert_ptr_equal(l->seed, rows);
    free(l);
}

/* The service cannot change or remove a version. */
static void test_versions_append_only(void **state)
{
    (void)state;
    int64_t fund = make_fund("SVGUARD");
    int64_t loan = loan_L(fund);
    char sql[200];
    snprintf(sql, sizeof sql, "UPDATE loan_schedule_version_row SET interest_minor = 0 WHERE loan_id = %" PRId64, loan);
    struct fl_error err;
    PGresult *r = db_exec_sql(db, sql, &err);
    assert_null(r);
    snprintf(sql, sizeof sql, "DELETE FROM loan_schedule_version WHERE loan_id = %" PRId64, loan);
    assert_null(db_exec_sql(db, sql, &err));
    snprintf(sql, sizeof sql, "SELECT count(*) FROM loan_schedule_version_row WHERE loan_id = %" PRId64, loan);
    assert_int_equal(lf_scalar_i64(sql), 12);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_drawdowns),
        cmocka_unit_test(test_prepayment_reduce_instalment),
        cmocka_unit_test(test_prepayment_reduce_term_import),
        cmocka_unit_test(test_capitalisation_version),
        cmocka_unit_test(test_seeded_replay_identical),
        cmocka_unit_test(test_versions_append_only),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
