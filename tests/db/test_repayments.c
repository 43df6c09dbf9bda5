/* test_repayments: repayments, the CSV bank-statement import, arrears, write-offs (with the
 * domain's worked example), recoveries, waterfall runs (sequential and pro rata, replay) and
 * portfolio quality (PAR30/PAR90) against a real PostgreSQL. Scenes are set through the real C
 * API; expected figures are worked out by hand in comments, never by the code under test. */
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

#include "fundledger/allowance.h"
#include "fundledger/approval.h"
#include "fundledger/auth.h"
#include "fundledger/distribution.h"
#include "fundledger/fund.h"
#include "fundledger/ledger.h"
#include "fundledger/loan.h"
#include "fundledger/org.h"
#include "fundledger/pipeline.h"
#include "fundledger/portfolio.h"
#include "fundledger/repayment.h"
#include "fundledger/tranche.h"
#include "loanfix.h"
#include "testdb.h"

static const char *ci;
static struct db *db;
static struct principal manager, approver;
static int64_t investor_a, investor_b, investor_c;

static int64_t make_fund(const char *code)
{
    return lf_make_fund(code, "Repayment test fund");
}

/* capital (NAV) = -(CONTRIB + RETURNED + LOSS), read from the ledger. */
static int64_t capital(int64_t fund, int64_t tranche)
{
    return -(lf_tbal(fund, tranche, "CONTRIB") + lf_tbal(fund, tranche, "RETURNED") + lf_tbal(fund, tranche, "LOSS"));
}

static json_t *self_approve_fn(struct db *d, void *arg, struct fl_error *err)
{
    struct principal maker_as_approver = manager;
    maker_as_approver.role = ROLE_APPROVER;
    return approval_decide(d, &maker_as_approver, *(int64_t *)arg, true, NULL, err);
}

/* The loan terms every test uses: quarterly instalments at 12.550881 % EA, whose quarterly rate
 * is exactly 3 % (1.03^4 = 1.12550881), equal principal over 4 instalments, so every interest
 * figure is a round number: 3 % of the balance before the instalment. Approved 2024-01-15,
 * disbursed in full on the first period's start (2024-01-15 for a first due date of 2024-04-15,
 * 2024-03-01 for 2024-06-01). shares NULL = pro rata. */
static int64_t make_loan(int64_t fund, int64_t entrepreneur, const char *principal, const char *first_due,
                         const json_t *shares)
{
    struct lf_loan_args a = {fund,
                             {.entrepreneur_id = entrepreneur,
                              .principal = principal,
                              .annual_rate = "0.12550881",
                              .payments_per_year = 4,
                              .term_count = 4,
                              .first_due_date = first_due,
                              .amortisation = "equal_principal",
                              .approval_date = "2024-01-15",
                              .purpose = "test",
                              .shares = shares}};
    int64_t loan = lf_approve_loan(&a);
    /* Drawn on the day the period of instalment 1 starts (first due date less one quarter): no
     * event, so the loan owes exactly its stored schedule (docs/loan-servicing.md §2, §4). */
    lf_disburse_on(loan, principal, strcmp(first_due, "2024-06-01") == 0 ? "2024-03-01" : "2024-01-15");
    return loan;
}

/* The lines of an entry as "code:amount,..." in line order. */
static void assert_entry(int64_t entry_id, const char *want)
{
    char sql[300];
    snprintf(sql, sizeof sql,
             "SELECT string_agg(a.code || ':' || l.amount_minor, ',' ORDER BY l.line_no) FROM journal_line l "
             "JOIN account a ON a.id = l.account_id WHERE l.entry_id = %" PRId64,
             entry_id);
    lf_assert_scalar(sql, want);
}

static void assert_allocation(int64_t repayment_id, const char *want)
{
    char sql[300];
    snprintf(sql, sizeof sql,
             "SELECT string_agg(instalment_no || ':' || component || ':' || amount_minor, ',' "
             "ORDER BY instalment_no, component) FROM repayment_allocation WHERE repayment_id = %" PRId64,
             repayment_id);
    lf_assert_scalar(sql, want);
}

static void assert_arrears(int64_t loan, const char *as_of, int64_t dpd, const char *principal, const char *interest,
                           const char *outstanding)
{
    struct fl_error err;
    json_t *a = loan_arrears(db, loan, as_of, &err);
    assert_non_null(a);
    if (lf_jid(a, "days_past_due") != dpd || strcmp(lf_jstr(a, "principal_in_arrears"), principal) != 0 ||
        strcmp(lf_jstr(a, "interest_in_arrears"), interest) != 0 ||
        strcmp(lf_jstr(a, "principal_outstanding"), outstanding) != 0) {
        char *t = json_dumps(a, JSON_COMPACT);
        fprintf(stderr, "arrears of loan %" PRId64 " as of %s: %s\n", loan, as_of, t);
        free(t);
    }
    assert_int_equal(lf_jid(a, "days_past_due"), dpd);
    assert_string_equal(lf_jstr(a, "principal_in_arrears"), principal);
    assert_string_equal(lf_jstr(a, "interest_in_arrears"), interest);
    assert_string_equal(lf_jstr(a, "principal_outstanding"), outstanding);
    json_decref(a);
}

static int setup(void **state)
{
    (void)state;
    ci = testdb_create("repayments");
    db = testdb_open(ci);
    /* 100,000,000,000.00 COP: the worked example moves thousands of millions. */
    lf_setup(ci, db, &manager, &approver, 10000000000000);
    investor_a = lf_make_investor("UNDP", "XM-DAC-41114");
    investor_b = lf_make_investor("Partner", "CO-RUE-900000001");
    investor_c = lf_make_investor("Impact", "CO-RUE-900000002");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    db_close(db);
    return 0;
}

/* ---- repayments: on time, late, prepayment, refusals, arrears ---- */

static int64_t r_fund, r_senior, r_fl, loan_a;

static void test_repayments_allocation_and_postings(void **state)
{
    (void)state;
    struct fl_error err;
    r_fund = make_fund("REPAY");
    r_senior = lf_make_tranche(r_fund, investor_c, "Senior", "senior", 1, "5000000.00", "0.0800", "2024-01-10");
    r_fl = lf_make_tranche(r_fund, investor_a, "First loss", "first_loss", 2, "5000000.00", "0", "2024-01-10");
    int64_t e = lf_make_entrepreneur(r_fund, "Productora A", "52250", "cacao");
    /* Shares 900,000.00 senior (position 1) and 300,000.00 first loss: principal splits 3:1. */
    json_t *shares = json_pack("[{s:I, s:s}, {s:I, s:s}]", "tranche_id", (json_int_t)r_senior, "amount", "900000.00",
                               "tranche_id", (json_int_t)r_fl, "amount", "300000.00");
    loan_a = make_loan(r_fund, e, "1200000.00", "2024-04-15", shares);
    json_decref(shares);
    /* Schedule (equal principal 300,000.00; interest 3 % of the balance):
     *   1 2024-04-15  300,000.00 + 36,000.00
     *   2 2024-07-15  300,000.00 + 27,000.00
     *   3 2024-10-15  300,000.00 + 18,000.00
     *   4 2025-01-15  300,000.00 +  9,000.00 */
    char sql[300];
    snprintf(sql, sizeof sql,
             "SELECT string_agg(no || ':' || due_date || ':' || principal_minor || ':' || interest_minor, ',' "
             "ORDER BY no) FROM loan_schedule WHERE loan_id = %" PRId64,
             loan_a);
    lf_assert_scalar(sql, "1:2024-04-15:30000000:3600000,2:2024-07-15:30000000:2700000,"
                          "3:2024-10-15:30000000:1800000,4:2025-01-15:30000000:900000");
    char want[300];

    /* On time: 336,000.00 on the due date is the current instalment: interest, then principal. */
    json_t *r1 = lf_repay(loan_a, "336000.00", "2024-04-15", "BANK-0001", FLE_OK, NULL);
    assert_string_equal(lf_jstr(r1, "current_interest"), "36000.00");
    assert_string_equal(lf_jstr(r1, "current_principal"), "300000.00");
    assert_string_equal(lf_jstr(r1, "overdue_interest"), "0.00");
    assert_string_equal(lf_jstr(r1, "prepayment"), "0.00");
    assert_string_equal(lf_jstr(r1, "principal_outstanding"), "900000.00");
    assert_allocation(lf_jid(r1, "id"), "1:interest:3600000,1:principal:30000000");
    /* 300,000.00 principal split 3:1 = 225,000.00 / 75,000.00. The fund is on the accrual basis:
     * the accrual to the day was posted first, and the 36,000.00 of interest clears the tranches'
     * receivables (docs/loan-servicing.md §9), split 3:1 = 27,000.00 / 9,000.00. */
    snprintf(want, sizeof want,
             "1050:33600000,T%" PRId64 ".LOANS:-22500000,T%" PRId64 ".LOANS:-7500000,T%" PRId64
             ".INTEREST_RECEIVABLE:-2700000,T%" PRId64 ".INTEREST_RECEIVABLE:-900000",
             r_senior, r_fl, r_senior, r_fl);
    assert_entry(lf_jid(r1, "entry_id"), want);
    snprintf(sql, sizeof sql, "SELECT event_type || ' ' || event_ref FROM journal_entry WHERE id = %" PRId64,
             lf_jid(r1, "entry_id"));
    snprintf(want, sizeof want, "repayment loan:%" PRId64, loan_a);
    lf_assert_scalar(sql, want);
    json_decref(r1);
    lf_assert_books_balance();

    /* Late: instalment 2 (due 2024-07-15) is overdue on 2024-08-20; 100,000.01 pays its interest
     * 27,000.00 first, then 73,000.01 of its principal. No penalty interest is charged. */
    json_t *r2 = lf_repay(loan_a, "100000.01", "2024-08-20", "BANK-0002", FLE_OK, NULL);
    assert_string_equal(lf_jstr(r2, "overdue_interest"), "27000.00");
    assert_string_equal(lf_jstr(r2, "overdue_principal"), "73000.01");
    assert_string_equal(lf_jstr(r2, "current_interest"), "0.00");
    assert_string_equal(lf_jstr(r2, "current_principal"), "0.00");
    assert_allocation(lf_jid(r2, "id"), "2:interest:2700000,2:principal:7300001");
    /* 7,300,001 x 3/4 = 5,475,000.75 and x 1/4 = 1,825,000.25: floors leave 1 centavo, which goes
     * to the larger remainder (.75, the senior tranche). */
    /* Interest cleared so far 63,000.00 splits 47,250.00 / 15,750.00: steps 20,250.00 / 6,750.00. */
    snprintf(want, sizeof want,
             "1050:10000001,T%" PRId64 ".LOANS:-5475001,T%" PRId64 ".LOANS:-1825000,T%" PRId64
             ".INTEREST_RECEIVABLE:-2025000,T%" PRId64 ".INTEREST_RECEIVABLE:-675000",
             r_senior, r_fl, r_senior, r_fl);
    assert_entry(lf_jid(r2, "entry_id"), want);
    snprintf(sql, sizeof sql,
             "SELECT fees_minor || ',' || overdue_interest_minor || ',' || overdue_principal_minor || ',' || "
             "current_interest_minor || ',' || current_principal_minor || ',' || prepayment_minor "
             "FROM repayment WHERE id = %" PRId64,
             lf_jid(r2, "id"));
    lf_assert_scalar(sql, "0,2700000,7300001,0,0,0");
    json_decref(r2);

    /* Early: 600,000.00 on 2024-09-01: overdue principal of instalment 2 226,999.99; current
     * instalment 3 (period 2024-07-15 .. 2024-10-15, 92 days) owes the interest accrued to the day
     * on the not-yet-due 600,000.00, not the full 18,000.00 (docs/loan-servicing.md §6 bucket 5):
     * 600,000.00 x (1.12550881^(48/368) - 1) = 9,324.9098 -> 9,324.91; principal 300,000.00; the
     * excess 63,675.10 is a prepayment (recorded against the LAST instalment, 4). */
    json_t *r3 = lf_repay(loan_a, "600000.00", "2024-09-01", "BANK-0003", FLE_OK, NULL);
    assert_string_equal(lf_jstr(r3, "overdue_principal"), "226999.99");
    assert_string_equal(lf_jstr(r3, "current_interest"), "9324.91");
    assert_string_equal(lf_jstr(r3, "current_principal"), "300000.00");
    assert_string_equal(lf_jstr(r3, "prepayment"), "63675.10");
    assert_string_equal(lf_jstr(r3, "principal_outstanding"), "236324.90");
    assert_allocation(lf_jid(r3, "id"),
                      "2:principal:22699999,3:interest:932491,3:principal:30000000,4:principal:6367510");
    /* principal 590,675.09 split by the cumulative repaid total (§10): 963,675.10 splits 3:1 as
     * 722,756.33 / 240,918.77 (the .5 tie to position 1), 373,000.01 as 279,750.01 / 93,250.00:
     * the steps are 443,006.32 and 147,668.77. */
    /* Interest cleared 72,324.91 = 7,232,491 centavos: x 3/4 = 5,424,368.25, x 1/4 = 1,808,122.75;
     * the floors leave one centavo, to the larger remainder (.75, the first loss): 54,243.68 /
     * 18,081.23, steps 6,993.68 / 2,331.23. */
    snprintf(want, sizeof want,
             "1050:60000000,T%" PRId64 ".LOANS:-44300632,T%" PRId64 ".LOANS:-14766877,T%" PRId64
             ".INTEREST_RECEIVABLE:-699368,T%" PRId64 ".INTEREST_RECEIVABLE:-233123",
             r_senior, r_fl, r_senior, r_fl);
    assert_entry(lf_jid(r3, "entry_id"), want);
    json_decref(r3);
    lf_assert_books_balance();

    /* Refusals change nothing. Duplicate reference: 409 naming reference. */
    int64_t entries_before = lf_scalar_i64("SELECT count(*) FROM journal_entry");
    assert_null(lf_repay(loan_a, "1.00", "2024-09-02", "BANK-0003", FLE_DUPLICATE, &err));
    assert_string_equal(err.field, "reference");
    /* Overpayment: on 2024-09-02 the payoff is the 236,324.90 not yet due plus one day of
     * instalment 3's interest on it, 236,324.90 x (1.12550881^(1/368) - 1) = 75.94: at most
     * 236,400.84 is accepted (§7). */
    assert_null(lf_repay(loan_a, "245000.00", "2024-09-02", "BANK-0004", FLE_RULE, &err));
    assert_string_equal(err.field, "amount");
    assert_non_null(strstr(err.message, "overpayment"));
    assert_non_null(strstr(err.message, "236400.84"));
    /* Other refusals: bad amount, future date, before the disbursement, unknown loan. */
    assert_null(lf_repay(loan_a, "0.00", "2024-09-02", "BANK-X", FLE_BAD_FIELD, &err));
    assert_string_equal(err.field, "amount");
    assert_null(lf_repay(loan_a, "1.001", "2024-09-02", "BANK-X", FLE_BAD_FIELD, &err));
    assert_string_equal(err.field, "amount");
    assert_null(lf_repay(loan_a, "1.00", "2099-01-01", "BANK-X", FLE_BAD_FIELD, &err));
    assert_string_equal(err.field, "value_date");
    assert_null(lf_repay(loan_a, "1.00", "2024-01-19", "BANK-X", FLE_BAD_FIELD, &err));
    assert_string_equal(err.field, "value_date");
    assert_null(lf_repay(loan_a, "1.00", "2024-09-02", "", FLE_MISSING_FIELD, &err));
    assert_string_equal(err.field, "reference");
    assert_null(lf_repay(999999, "1.00", "2024-09-02", "BANK-X", FLE_NOT_FOUND, &err));
    assert_string_equal(err.field, "loan_id");
    assert_int_equal(lf_scalar_i64("SELECT count(*) FROM journal_entry"), entries_before);

    /* Paid off: 236,400.84 pays the day's interest 75.94 and prepays the 236,324.90 left; the loan
     * is repaid (the rest of instalment 3's period and instalment 4 never accrue) and the
     * entrepreneur moves to repaid. The tranches step to their targets of 1,200,000.00
     * (900,000.00 / 300,000.00): 177,243.67 and 59,081.23. */
    json_t *r4 = lf_repay(loan_a, "236400.84", "2024-09-02", "BANK-0004", FLE_OK, NULL);
    assert_string_equal(lf_jstr(r4, "current_interest"), "75.94");
    assert_string_equal(lf_jstr(r4, "prepayment"), "236324.90");
    assert_string_equal(lf_jstr(r4, "loan_status"), "repaid");
    assert_allocation(lf_jid(r4, "id"), "3:interest:7594,4:principal:23632490");
    /* Interest cleared 72,400.85: 7,240,085 centavos x 3/4 = 5,430,063.75, x 1/4 = 1,810,021.25:
     * 54,300.64 / 18,100.21, steps 56.96 / 18.98; both receivables are then exactly 0. */
    snprintf(want, sizeof want,
             "1050:23640084,T%" PRId64 ".LOANS:-17724367,T%" PRId64 ".LOANS:-5908123,T%" PRId64
             ".INTEREST_RECEIVABLE:-5696,T%" PRId64 ".INTEREST_RECEIVABLE:-1898",
             r_senior, r_fl, r_senior, r_fl);
    assert_entry(lf_jid(r4, "entry_id"), want);
    json_decref(r4);
    snprintf(sql, sizeof sql,
             "SELECT l.status || ' ' || e.stage FROM loan l JOIN entrepreneur e ON "
             "e.id = l.entrepreneur_id WHERE l.id = %" PRId64,
             loan_a);
    lf_assert_scalar(sql, "repaid repaid");
    /* Every tranche's share of the loan is back: LOANS 0; collections 1,272,400.85 =
     * 1,200,000.00 principal + 72,400.85 interest (4000: 36,000.00 + 27,000.00 + 9,324.91 + 75.94). */
    assert_int_equal(lf_tbal(r_fund, r_senior, "LOANS"), 0);
    assert_int_equal(lf_tbal(r_fund, r_fl, "LOANS"), 0);
    assert_int_equal(lf_balance(r_fund, "1050"), 127240085);
    assert_int_equal(lf_balance(r_fund, "4000"), -7240085);
    assert_int_equal(lf_tbal(r_fund, r_senior, "INTEREST_RECEIVABLE"), 0);
    assert_int_equal(lf_tbal(r_fund, r_fl, "INTEREST_RECEIVABLE"), 0);
    /* A repaid loan takes no more repayments. */
    assert_null(lf_repay(loan_a, "1.00", "2024-09-03", "BANK-0005", FLE_CONFLICT, &err));
    assert_string_equal(err.field, "loan_id");
    lf_assert_books_balance();
}

static void test_arrears_as_of_dates(void **state)
{
    (void)state;
    /* Counting only payments dated on or before each date. */
    assert_arrears(loan_a, "2024-04-10", 0, "0.00", "0.00", "1200000.00");
    assert_arrears(loan_a, "2024-04-15", 0, "0.00", "0.00", "900000.00"); /* paid on its due date */
    /* 2024-08-19: instalment 2 (due 2024-07-15) unpaid: 35 days, 300,000.00 + 27,000.00. */
    assert_arrears(loan_a, "2024-08-19", 35, "300000.00", "27000.00", "900000.00");
    /* 2024-08-20: the part payment leaves 226,999.99 of its principal; still 36 days late. */
    assert_arrears(loan_a, "2024-08-20", 36, "226999.99", "0.00", "826999.99");
    assert_arrears(loan_a, "2024-09-01", 0, "0.00", "0.00", "236324.90"); /* after r3's prepayment */
    assert_arrears(loan_a, "2025-06-30", 0, "0.00", "0.00", "0.00");      /* repaid */
    struct fl_error err;
    assert_null(loan_arrears(db, 999999, "2024-09-01", &err));
    assert_int_equal(err.code, FLE_NOT_FOUND);
    assert_null(loan_arrears(db, loan_a, "2024-02-30", &err));
    assert_int_equal(err.code, FLE_BAD_PARAM);
}

/* ---- CSV import ---- */

struct import_args {
    int64_t fund;
    const char *csv;
    json_t *report;
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

static const json_t *result_line(const json_t *rep, int line)
{
    const json_t *results = json_object_get(rep, "results");
    size_t i;
    json_t *x;
    json_array_foreach(results, i, x)
    {
        if (lf_jid(x, "line") == line) {
            return x;
        }
    }
    fail_msg("no result for line %d", line);
    return NULL;
}

static void assert_refused(const json_t *rep, int line, const char *code, const char *field)
{
    const json_t *x = result_line(rep, line);
    assert_string_equal(lf_jstr(x, "status"), "refused");
    const json_t *e = json_object_get(x, "error");
    if (strcmp(lf_jstr(e, "code"), code) != 0 || strcmp(lf_jstr(e, "field"), field) != 0) {
        fprintf(stderr, "line %d: %s %s %s\n", line, lf_jstr(e, "code"), lf_jstr(e, "field"), lf_jstr(e, "message"));
    }
    assert_string_equal(lf_jstr(e, "code"), code);
    assert_string_equal(lf_jstr(e, "field"), field);
}

static void test_csv_import(void **state)
{
    (void)state;
    struct fl_error err;
    int64_t eb = lf_make_entrepreneur(r_fund, "Productor B", "05088", "coffee");
    int64_t ec = lf_make_entrepreneur(r_fund, "Productor C", "05088", "coffee");
    json_t *shares = json_pack("[{s:I, s:s}, {s:I, s:s}]", "tranche_id", (json_int_t)r_senior, "amount", "900000.00",
                               "tranche_id", (json_int_t)r_fl, "amount", "300000.00");
    int64_t lb = make_loan(r_fund, eb, "1200000.00", "2024-04-15", shares);
    int64_t lc = make_loan(r_fund, ec, "1200000.00", "2024-04-15", shares);
    json_decref(shares);
    /* A header that is not exact refuses the whole file, naming the header. */
    struct import_args bad = {r_fund, "loan,amount,value_date,reference\n1,2.00,2024-04-15,X\n", NULL};
    assert_null(lf_run(import_fn, &bad, FLE_BAD_FIELD, &err));
    assert_string_equal(err.field, "header");

    int64_t entries_before = lf_scalar_i64("SELECT count(*) FROM journal_entry");
    char csv[2048];
    snprintf(csv, sizeof csv,
             "loan_id,amount,value_date,reference\r\n"    /* line 1 */
             "%" PRId64 ",336000.00,2024-04-15,B-1\r\n"   /* 2 applied */
             "%" PRId64 ",336000.00,2024-04-15,B-1\n"     /* 3 duplicate of line 2 */
             "999999,10.00,2024-04-15,X-1\n"              /* 4 no such loan */
             "%" PRId64 ",abc,2024-04-16,B-2\n"           /* 5 amount */
             "%" PRId64 ",\"10.00\",2024-04-16,B-3\n"     /* 6 quotes */
             "%" PRId64 ",10.00,2099-01-01,B-4\n"         /* 7 future */
             "%" PRId64 ",10.00,2024-01-01,B-5\n"         /* 8 before the disbursement */
             "%" PRId64 ",10.00,2024-10-01,A-9\n"         /* 9 loan A is repaid */
             "%" PRId64 ",1000000000.00,2024-07-15,B-6\n" /* 10 overpayment */
             "\n"                                         /* 11 empty */
             "%" PRId64 ",327000.00,2024-07-15,B-7\n"     /* 12 applied */
             "%" PRId64 ",1.00,2024-07-16\n"              /* 13 three fields */
             "%" PRId64 ",336000.00,2024-04-15,C-1\n"     /* 14 applied */
             "%" PRId64 ",1.00,2024-07-16,B-1\n",         /* 15 duplicate of a stored one */
             lb, lb, lb, lb, lb, lb, loan_a, lb, lb, lb, lc, lb);
    struct import_args a = {r_fund, csv, NULL};
    json_t *rep = lf_run(import_fn, &a, FLE_OK, NULL);
    assert_int_equal(lf_jid(rep, "lines"), 14);
    assert_int_equal(lf_jid(rep, "applied"), 3);
    assert_int_equal(lf_jid(rep, "refused"), 11);
    assert_string_equal(lf_jstr(rep, "amount_applied"), "999000.00"); /* 336,000 + 327,000 + 336,000 */
    assert_string_equal(lf_jstr(result_line(rep, 2), "status"), "applied");
    assert_string_equal(lf_jstr(result_line(rep, 12), "status"), "applied");
    assert_string_equal(lf_jstr(result_line(rep, 14), "status"), "applied");
    assert_refused(rep, 3, "duplicate", "reference");
    assert_refused(rep, 4, "not_found", "loan_id");
    assert_refused(rep, 5, "invalid_field", "amount");
    assert_refused(rep, 6, "invalid_field", "line");
    assert_refused(rep, 7, "invalid_field", "value_date");
    assert_refused(rep, 8, "invalid_field", "value_date");
    assert_refused(rep, 9, "conflict", "loan_id");
    assert_refused(rep, 10, "business_rule", "amount");
    assert_refused(rep, 11, "invalid_field", "line");
    assert_refused(rep, 13, "invalid_field", "line");
    assert_refused(rep, 15, "duplicate", "reference");
    /* Exactly three repayments, five entries: each repayment's, and before them the accruals to
     * their value dates (docs/loan-servicing.md §9: 36,000.00, 27,000.00 and 36,000.00, each the
     * interest of the instalment paid on its due date), one accrual entry per date (2024-04-15
     * holds both loans'); the refused lines wrote nothing. */
    assert_int_equal(lf_scalar_i64("SELECT count(*) FROM journal_entry") - entries_before, 5);
    char sql[200];
    snprintf(sql, sizeof sql,
             "SELECT string_agg(loan_id || ':' || accrual_date || ':' || ordinary_minor, ',' ORDER BY loan_id, id) "
             "FROM loan_accrual WHERE loan_id IN (%" PRId64 ", %" PRId64 ")",
             lb, lc);
    char want_acr[200];
    snprintf(want_acr, sizeof want_acr,
             "%" PRId64 ":2024-04-15:3600000,%" PRId64 ":2024-07-15:2700000,%" PRId64 ":2024-04-15:3600000", lb, lb,
             lc);
    lf_assert_scalar(sql, want_acr);
    snprintf(sql, sizeof sql, "SELECT count(*) || ':' || sum(amount_minor) FROM repayment WHERE loan_id = %" PRId64,
             lb);
    lf_assert_scalar(sql, "2:66300000");
    /* Line 12 paid instalment 2 on its due date: current interest and principal. */
    int64_t rid = lf_jid(result_line(rep, 12), "repayment_id");
    assert_allocation(rid, "2:interest:2700000,2:principal:30000000");
    json_decref(rep);
    assert_arrears(lb, "2024-07-15", 0, "0.00", "0.00", "600000.00");
    lf_assert_books_balance();

    /* The database refuses a whole chunk (a trigger of this test plays the part): the chunk is
     * rolled back and its lines redone one by one, so only the poisoned line is refused. */
    assert_true(testdb_exec(ci, "CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                                "IF NEW.reference = 'POISON' THEN RAISE EXCEPTION 'poisoned line'; END IF; "
                                "RETURN NEW; END $$; CREATE TRIGGER poison BEFORE INSERT ON repayment "
                                "FOR EACH ROW EXECUTE FUNCTION poison()"));
    snprintf(csv, sizeof csv,
             "loan_id,amount,value_date,reference\n"
             "%" PRId64 ",100.00,2024-10-15,C-2\n"
             "%" PRId64 ",100.00,2024-10-15,POISON\n"
             "%" PRId64 ",100.00,2024-10-15,C-3\n"
             "%" PRId64 ",100.00,2024-10-15,C-1\n", /* stored by the first import */
             lc, lc, lc, lc);
    struct import_args p = {r_fund, csv, NULL};
    rep = lf_run(import_fn, &p, FLE_OK, NULL);
    assert_int_equal(lf_jid(rep, "applied"), 2);
    assert_refused(rep, 3, "business_rule", "");
    assert_string_equal(lf_jstr(result_line(rep, 2), "status"), "applied");
    assert_string_equal(lf_jstr(result_line(rep, 4), "status"), "applied");
    assert_refused(rep, 5, "duplicate", "reference");
    json_decref(rep);
    assert_true(testdb_exec(ci, "DROP TRIGGER poison ON repayment; DROP FUNCTION poison()"));
    snprintf(sql, sizeof sql, "SELECT string_agg(reference, ',' ORDER BY id) FROM repayment WHERE loan_id = %" PRId64,
             lc);
    lf_assert_scalar(sql, "C-1,C-2,C-3");
    lf_assert_books_balance();
}

/* ---- losses: the worked example, four eyes, recoveries top-down ---- */

struct writeoff_args {
    int64_t loan;
    const char *amount, *date, *reason;
};

static json_t *writeoff_fn(struct db *d, void *arg, struct fl_error *err)
{
    struct writeoff_args *a = arg;
    return writeoff_propose(d, &manager, a->loan, a->amount, a->date, a->reason, err);
}

static json_t *recovery_fn(struct db *d, void *arg, struct fl_error *err)
{
    struct lf_repay_args *a = arg;
    return recovery_record(d, &manager, a->loan, a->amount, a->date, a->ref, err);
}

#define MILLION INT64_C(100000000) /* one million COP in centavos */

static void test_writeoff_worked_example_and_recovery(void **state)
{
    (void)state;
    struct fl_error err;
    /* domain.md §6 (COP millions): stack 3,000 first loss / 5,000 mezzanine / 12,000 senior. */
    int64_t w = make_fund("LOSS");
    int64_t senior = lf_make_tranche(w, investor_c, "Senior", "senior", 1, "12000000000.00", "0", "2024-01-10");
    int64_t mezz = lf_make_tranche(w, investor_b, "Mezzanine", "mezzanine", 2, "5000000000.00", "0", "2024-01-10");
    int64_t fl = lf_make_tranche(w, investor_a, "First loss", "first_loss", 3, "3000000000.00", "0", "2024-01-10");
    assert_int_equal(capital(w, fl), 3000 * MILLION);
    assert_int_equal(capital(w, mezz), 5000 * MILLION);
    assert_int_equal(capital(w, senior), 12000 * MILLION);
    /* A loan of 4,200 funded pro rata to cash (3:5:12 of 4,200 = 630 / 1,050 / 2,520). */
    int64_t e = lf_make_entrepreneur(w, "Asociación D", "05234", "beans");
    int64_t loan = make_loan(w, e, "4200000000.00", "2024-04-15", NULL);
    assert_int_equal(lf_tbal(w, fl, "LOANS"), 630 * MILLION);
    assert_int_equal(lf_tbal(w, mezz, "LOANS"), 1050 * MILLION);
    assert_int_equal(lf_tbal(w, senior, "LOANS"), 2520 * MILLION);

    /* Refusals: more than outstanding, no reason, future date. */
    struct writeoff_args too_much = {loan, "4200000000.01", "2024-06-30", "insolvent"};
    assert_null(lf_run(writeoff_fn, &too_much, FLE_RULE, &err));
    assert_string_equal(err.field, "amount");
    struct writeoff_args no_reason = {loan, NULL, "2024-06-30", ""};
    assert_null(lf_run(writeoff_fn, &no_reason, FLE_MISSING_FIELD, &err));
    assert_string_equal(err.field, "reason");
    struct writeoff_args future = {loan, NULL, "2099-06-30", "insolvent"};
    assert_null(lf_run(writeoff_fn, &future, FLE_BAD_FIELD, &err));
    assert_string_equal(err.field, "value_date");

    /* Four eyes: the proposal changes nothing; the maker cannot approve it. */
    struct writeoff_args all = {loan, NULL, "2024-06-30", "cooperative dissolved after the floods"};
    json_t *p = lf_run(writeoff_fn, &all, FLE_OK, NULL);
    assert_string_equal(lf_jstr(p, "kind"), "write_off");
    assert_string_equal(lf_jstr(p, "amount"), "4200000000.00");
    int64_t pid = lf_jid(p, "id");
    json_decref(p);
    assert_int_equal(lf_tbal(w, fl, "LOSS"), 0);
    assert_null(lf_run(self_approve_fn, &pid, FLE_SELF_APPROVAL, &err));
    lf_approve(pid);

    /* Loss 4,200 bottom-up: first loss 3,000 (to 0), mezzanine 1,200 (to 3,800), senior 0. */
    assert_int_equal(capital(w, fl), 0);
    assert_int_equal(capital(w, mezz), 3800 * MILLION);
    assert_int_equal(capital(w, senior), 12000 * MILLION);
    assert_int_equal(lf_tbal(w, fl, "LOSS"), 3000 * MILLION);
    assert_int_equal(lf_tbal(w, mezz, "LOSS"), 1200 * MILLION);
    assert_int_equal(lf_tbal(w, senior, "LOSS"), 0);
    assert_int_equal(lf_balance(w, "5100"), 0);
    /* The loan's receivable is gone from every funding tranche. */
    assert_int_equal(lf_tbal(w, fl, "LOANS"), 0);
    assert_int_equal(lf_tbal(w, mezz, "LOANS"), 0);
    assert_int_equal(lf_tbal(w, senior, "LOANS"), 0);
    char sql[300];
    snprintf(sql, sizeof sql,
             "SELECT l.status || ' ' || l.written_off_minor || ' ' || e.stage || ' ' || (SELECT count(*) FROM "
             "write_off w WHERE w.loan_id = l.id) FROM loan l JOIN entrepreneur e ON e.id = l.entrepreneur_id "
             "WHERE l.id = %" PRId64,
             loan);
    lf_assert_scalar(sql, "written_off 420000000000 written_off 1");
    char want[300];
    snprintf(
        sql, sizeof sql,
        "SELECT string_agg(a.code || ':' || l.amount_minor, ',' ORDER BY l.line_no) FROM journal_line l "
        "JOIN account a ON a.id = l.account_id JOIN write_off w ON w.entry_id = l.entry_id WHERE w.loan_id = %" PRId64,
        loan);
    /* Funding positions follow seniority (senior, mezzanine, first loss). */
    snprintf(want, sizeof want,
             "T%" PRId64 ".LOANS:-252000000000,T%" PRId64 ".LOANS:-105000000000,T%" PRId64
             ".LOANS:-63000000000,T%" PRId64 ".LOSS:120000000000,T%" PRId64 ".LOSS:300000000000",
             senior, mezz, fl, mezz, fl);
    lf_assert_scalar(sql, want);
    lf_assert_books_balance();
    /* Nothing more to write off or to repay. */
    assert_null(lf_run(writeoff_fn, &all, FLE_CONFLICT, &err));
    assert_null(lf_repay(loan, "1.00", "2024-07-01", "R-1", FLE_CONFLICT, &err));

    /* Recoveries top-down: senior lost nothing; 1,500 restores the mezzanine's 1,200 first, then
     * 300 of the first loss's 3,000. */
    struct lf_repay_args r1 = {loan, "1500000000.00", "2024-09-30", "REC-1"};
    json_t *rec = lf_run(recovery_fn, &r1, FLE_OK, NULL);
    assert_string_equal(lf_jstr(rec, "income"), "0.00");
    json_decref(rec);
    assert_int_equal(capital(w, senior), 12000 * MILLION);
    assert_int_equal(capital(w, mezz), 5000 * MILLION);
    assert_int_equal(capital(w, fl), 300 * MILLION);
    assert_int_equal(lf_balance(w, "1050"), 1500 * MILLION);
    /* 3,000 more: the first loss's remaining 2,700, then 300 of income (4000). */
    struct lf_repay_args r2 = {loan, "3000000000.00", "2024-10-31", "REC-2"};
    rec = lf_run(recovery_fn, &r2, FLE_OK, NULL);
    assert_string_equal(lf_jstr(rec, "income"), "300000000.00");
    snprintf(want, sizeof want, "1050:300000000000,T%" PRId64 ".LOSS:-270000000000,4000:-30000000000", fl);
    assert_entry(lf_jid(rec, "entry_id"), want);
    json_decref(rec);
    assert_int_equal(capital(w, fl), 3000 * MILLION);
    assert_int_equal(lf_balance(w, "4000"), -300 * MILLION);
    /* Duplicate reference; before the write-off; a loan never written off. */
    assert_null(lf_run(recovery_fn, &r2, FLE_DUPLICATE, &err));
    assert_string_equal(err.field, "reference");
    struct lf_repay_args early = {loan, "1.00", "2024-06-29", "REC-3"};
    assert_null(lf_run(recovery_fn, &early, FLE_BAD_FIELD, &err));
    assert_string_equal(err.field, "value_date");
    struct lf_repay_args never = {loan_a, "1.00", "2024-10-31", "REC-4"};
    assert_null(lf_run(recovery_fn, &never, FLE_CONFLICT, &err));
    assert_string_equal(err.field, "loan_id");
    lf_assert_books_balance();
}

/* ---- waterfall runs: sequential vs pro rata, carried interest, replay ---- */

struct run_args {
    int64_t fund;
    const char *date;
};

static json_t *run_fn(struct db *d, void *arg, struct fl_error *err)
{
    struct run_args *a = arg;
    return distribution_run(d, &manager, a->fund, a->date, err);
}

struct settings_args {
    int64_t fund;
    const char *mode, *target;
};

static json_t *settings_fn(struct db *d, void *arg, struct fl_error *err)
{
    struct settings_args *a = arg;
    return fund_settings_propose(d, &manager, a->fund, a->mode, a->target, err);
}

/* "kind:tranche:due:amount" per step. */
static void assert_steps(int64_t run_id, const char *want)
{
    char sql[300];
    snprintf(sql, sizeof sql,
             "SELECT string_agg(kind || ':' || coalesce(tranche_id::text, '-') || ':' || due_minor || ':' || "
             "amount_minor, ',' ORDER BY step_no) FROM waterfall_step WHERE run_id = %" PRId64,
             run_id);
    lf_assert_scalar(sql, want);
}

/* A step list with the placeholders :S: :M: :F: replaced by the tranche ids. */
static void steps_text(char *out, size_t cap, const char *tmpl, const int64_t *t)
{
    size_t n = 0;
    out[0] = '\0';
    for (const char *p = tmpl; *p != '\0' && n + 24 < cap; p++) {
        if (p[0] == ':' && (p[1] == 'S' || p[1] == 'M' || p[1] == 'F') && p[2] == ':') {
            int k = p[1] == 'S' ? 0 : p[1] == 'M' ? 1 : 2;
            n += (size_t)snprintf(out + n, cap - n, ":%" PRId64 ":", t[k]);
            p += 2;
        } else {
            out[n++] = *p;
            out[n] = '\0';
        }
    }
}

static void assert_replay_ok(int64_t run_id)
{
    struct fl_error err;
    json_t *r = distribution_replay(db, run_id, &err);
    assert_non_null(r);
    if (!json_is_true(json_object_get(r, "ok"))) {
        char *t = json_dumps(r, JSON_COMPACT);
        fprintf(stderr, "replay of run %" PRId64 ": %s\n", run_id, t);
        free(t);
    }
    assert_true(json_is_true(json_object_get(r, "ok")));
    json_decref(r);
}

/* A fund with senior (10 % EA) 1,000,000.00, mezzanine (5 % EA) 500,000.00 and first loss (0 %)
 * 250,000.00, all paid in on 2024-01-10, and one loan of 1,000,000.00 (shares 600,000 / 300,000 /
 * 100,000) whose first two instalments (280,000.00 and 272,500.00) are paid on time. */
static int64_t make_waterfall_fund(const char *code, int64_t *t, int64_t *loan)
{
    int64_t f = make_fund(code);
    t[0] = lf_make_tranche(f, investor_c, "Senior", "senior", 1, "1000000.00", "0.10", "2024-01-10");
    t[1] = lf_make_tranche(f, investor_b, "Mezzanine", "mezzanine", 2, "500000.00", "0.05", "2024-01-10");
    t[2] = lf_make_tranche(f, investor_a, "First loss", "first_loss", 3, "250000.00", "0", "2024-01-10");
    int64_t e = lf_make_entrepreneur(f, "Productora W", "52835", "cacao");
    json_t *shares = json_pack("[{s:I, s:s}, {s:I, s:s}, {s:I, s:s}]", "tranche_id", (json_int_t)t[0], "amount",
                               "600000.00", "tranche_id", (json_int_t)t[1], "amount", "300000.00", "tranche_id",
                               (json_int_t)t[2], "amount", "100000.00");
    *loan = make_loan(f, e, "1000000.00", "2024-06-01", shares);
    json_decref(shares);
    /* Schedule: 250,000.00 principal each; interest 30,000 / 22,500 / 15,000 / 7,500. */
    json_decref(lf_repay(*loan, "280000.00", "2024-06-01", "W-1", FLE_OK, NULL));
    json_decref(lf_repay(*loan, "272500.00", "2024-09-01", "W-2", FLE_OK, NULL));
    return f;
}

static void test_waterfall_sequential_and_pro_rata(void **state)
{
    (void)state;
    struct fl_error err;
    int64_t ts[3], tp[3], ls, lp;
    int64_t fs = make_waterfall_fund("WFSEQ", ts, &ls);
    int64_t fp = make_waterfall_fund("WFPRO", tp, &lp);
    /* Pro rata through four eyes (kind fund_settings). */
    struct settings_args bad = {fp, "turbo", NULL};
    assert_null(lf_run(settings_fn, &bad, FLE_BAD_FIELD, &err));
    assert_string_equal(err.field, "waterfall_mode");
    struct settings_args s = {fp, "pro_rata", NULL};
    json_t *p = lf_run(settings_fn, &s, FLE_OK, NULL);
    int64_t pid = lf_jid(p, "id");
    json_decref(p);
    char sql[200];
    snprintf(sql, sizeof sql, "SELECT waterfall_mode FROM fund WHERE id = %" PRId64, fp);
    lf_assert_scalar(sql, "sequential");
    lf_approve(pid);
    lf_assert_scalar(sql, "pro_rata");

    /* Run on 2025-01-09, 365 days after the contributions (2024 is a leap year): coupons are exact,
     * senior 1,000,000 x 10 % = 100,000.00, mezzanine 500,000 x 5 % = 25,000.00, first loss 0.
     * Cash 552,500.00: principal 500,000.00 (two instalments) and interest 52,500.00. */
    struct run_args rs = {fs, "2025-01-09"};
    json_t *run_s = lf_run(run_fn, &rs, FLE_OK, NULL);
    int64_t id_s = lf_jid(run_s, "id");
    const json_t *cash = json_object_get(run_s, "cash");
    assert_string_equal(lf_jstr(cash, "principal"), "500000.00");
    assert_string_equal(lf_jstr(cash, "interest"), "52500.00");
    assert_string_equal(lf_jstr(cash, "total"), "552500.00");
    json_decref(run_s);
    /* Sequential: fees 0; senior interest 100,000; senior principal 452,500 of 1,000,000; nothing
     * left for the reserve (target 0), the mezzanine, the first loss or the residual. */
    char want[600];
    steps_text(want, sizeof want,
               "fees:-:0:0,interest:S:10000000:10000000,principal:S:100000000:45250000,"
               "reserve:-:0:0,interest:M:2500000:0,principal:M:50000000:0,interest:F:0:0,"
               "principal:F:25000000:0,residual:F:0:0",
               ts);
    assert_steps(id_s, want);
    assert_int_equal(lf_balance(fs, "1050"), 0);
    assert_int_equal(lf_tbal(fs, ts[0], "DIST_INCOME"), 10000000);
    assert_int_equal(lf_tbal(fs, ts[0], "RETURNED"), 45250000);
    assert_int_equal(capital(fs, ts[0]), 54750000); /* 1,000,000 - 452,500 */
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM journal_entry WHERE event_type = 'waterfall' AND "
             "event_ref = 'waterfall_run:%" PRId64 "'",
             id_s);
    assert_int_equal(lf_scalar_i64(sql), 2); /* one entry per step that moves money */
    lf_assert_books_balance();

    /* Pro rata: fees; senior interest 100,000; mezzanine interest 25,000; the 427,500 left is shared
     * by senior and mezzanine principal 1,000,000 : 500,000 = 285,000 / 142,500. */
    struct run_args rp = {fp, "2025-01-09"};
    json_t *run_p = lf_run(run_fn, &rp, FLE_OK, NULL);
    int64_t id_p = lf_jid(run_p, "id");
    assert_string_equal(lf_jstr(run_p, "mode"), "pro_rata");
    json_decref(run_p);
    steps_text(want, sizeof want,
               "fees:-:0:0,interest:S:10000000:10000000,interest:M:2500000:2500000,"
               "principal:S:100000000:28500000,principal:M:50000000:14250000,"
               "reserve:-:0:0,interest:F:0:0,principal:F:25000000:0,residual:F:0:0",
               tp);
    assert_steps(id_p, want);
    assert_int_equal(capital(fp, tp[0]), 71500000); /* 1,000,000 - 285,000 */
    assert_int_equal(capital(fp, tp[1]), 35750000); /*   500,000 - 142,500 */
    lf_assert_books_balance();
    assert_replay_ok(id_s);
    assert_replay_ok(id_p);

    /* A run on or before the previous one is refused. */
    struct run_args again = {fs, "2025-01-09"};
    assert_null(lf_run(run_fn, &again, FLE_BAD_FIELD, &err));
    assert_string_equal(err.field, "run_date");

    /* Second sequential run, 365 days later, after instalments 3 and 4 were paid late on
     * 2025-04-01 (265,000 + 257,500 = 522,500: principal 500,000, interest 22,500).
     * Coupons: senior 547,500 x 10 % = 54,750.00; mezzanine 500,000 x 5 % = 25,000.00 plus the
     * 25,000.00 left unpaid by the first run = 50,000.00. Senior interest 54,750, senior
     * principal 467,750 of 547,500; the mezzanine gets nothing again. */
    json_decref(lf_repay(ls, "265000.00", "2025-04-01", "W-3", FLE_OK, NULL));
    json_decref(lf_repay(ls, "257500.00", "2025-04-01", "W-4", FLE_OK, NULL));
    struct run_args rs2 = {fs, "2026-01-09"};
    json_t *run_s2 = lf_run(run_fn, &rs2, FLE_OK, NULL);
    int64_t id_s2 = lf_jid(run_s2, "id");
    assert_string_equal(lf_jstr(json_object_get(run_s2, "cash"), "principal"), "500000.00");
    json_decref(run_s2);
    steps_text(want, sizeof want,
               "fees:-:0:0,interest:S:5475000:5475000,principal:S:54750000:46775000,"
               "reserve:-:0:0,interest:M:5000000:0,principal:M:50000000:0,interest:F:0:0,"
               "principal:F:25000000:0,residual:F:0:0",
               ts);
    assert_steps(id_s2, want);
    lf_assert_books_balance();
    /* Both runs replay to the same steps, the earlier one too now that a later one exists. */
    assert_replay_ok(id_s);
    assert_replay_ok(id_s2);

    /* A stored step that no longer matches the journal is found (the test forces the change past
     * the append-only trigger). */
    char tamper[400];
    snprintf(tamper, sizeof tamper,
             "ALTER TABLE waterfall_step DISABLE TRIGGER waterfall_step_append_only; UPDATE waterfall_step SET "
             "amount_minor = amount_minor - 1 WHERE run_id = %" PRId64 " AND step_no = 3; ALTER TABLE "
             "waterfall_step ENABLE TRIGGER waterfall_step_append_only",
             id_s2);
    assert_true(testdb_exec(ci, tamper));
    json_t *bad_replay = distribution_replay(db, id_s2, &err);
    assert_non_null(bad_replay);
    assert_true(json_is_false(json_object_get(bad_replay, "ok")));
    const json_t *diff = json_object_get(bad_replay, "difference");
    assert_int_equal(lf_jid(diff, "step_no"), 3);
    assert_string_equal(lf_jstr(diff, "field"), "amount");
    assert_string_equal(lf_jstr(diff, "stored"), "467749.99");
    assert_string_equal(lf_jstr(diff, "replayed"), "467750.00");
    json_decref(bad_replay);
    /* Reads. */
    json_t *one = distribution_get(db, id_s2, &err);
    assert_int_equal(json_array_size(json_object_get(one, "steps")), 9);
    json_decref(one);
    json_t *list = distribution_list(db, fs, 0, 10, &err);
    assert_int_equal(json_array_size(json_object_get(list, "runs")), 2);
    json_decref(list);
}

/* The coupon accrues on the capital actually outstanding each day (docs/fund-operations.md,
 * "Coupon"). Senior 10 % EA: 1,000,000.00 paid in on 2024-01-10 and 500,000.00 more on 2024-12-30,
 * 10 days before the run of 2025-01-09 (365 days after 2024-01-10):
 *   1,000,000.00 x 10 % = 100,000.00; 500,000.00 x (1.1^(10/365) - 1) = 1,307.33; coupon 101,307.33
 * (the former rule charged 1,500,000.00 for the whole year: 150,000.00).
 * Mezzanine 8 % EA: 500,000.00 from 2024-01-10; a loan of 600,000.00 (mezzanine 400,000.00, first
 * loss 200,000.00) written off on 2024-07-10 takes 250,000.00 of first loss (all of it) and
 * 350,000.00 of mezzanine (capital 150,000.00), 183 days before the run:
 *   500,000.00 x 8 % = 40,000.00; - 350,000.00 x (1.08^(183/365) - 1) = 13,769.02; coupon 26,230.98
 * (the former rule: 150,000.00 x 8 % = 12,000.00, erasing the coupon earned before the write-off).
 * No cash: both coupons are carried. The next run, 2026-01-09, 365 days with no change: senior
 * 150,000.00 + 101,307.33 = 251,307.33 due, mezzanine 12,000.00 + 26,230.98 = 38,230.98. */
static void test_waterfall_coupon_on_capital_dates(void **state)
{
    (void)state;
    int64_t f = make_fund("WFDATES");
    struct lf_tranche_args ta = {
        f, {investor_c, "Senior", "senior", 1, "COP", "1500000.00", "0.10", NULL, NULL, "2024-01-05", NULL}};
    json_t *p = lf_run(lf_tranche_fn, &ta, FLE_OK, NULL);
    int64_t pid = lf_jid(p, "id");
    json_decref(p);
    lf_approve(pid);
    char sql[300];
    snprintf(sql, sizeof sql, "SELECT id FROM tranche WHERE fund_id = %" PRId64 " AND name = 'Senior'", f);
    int64_t t[3];
    t[0] = lf_scalar_i64(sql);
    struct lf_money_args c1 = {t[0], "1000000.00", "2024-01-10", "first call"};
    json_decref(lf_run(lf_contribute_fn, &c1, FLE_OK, NULL));
    t[1] = lf_make_tranche(f, investor_b, "Mezzanine", "mezzanine", 2, "500000.00", "0.08", "2024-01-10");
    t[2] = lf_make_tranche(f, investor_a, "First loss", "first_loss", 3, "250000.00", "0", "2024-01-10");
    int64_t e = lf_make_entrepreneur(f, "Productora D", "52835", "cacao");
    json_t *shares = json_pack("[{s:I, s:s}, {s:I, s:s}]", "tranche_id", (json_int_t)t[1], "amount", "400000.00",
                               "tranche_id", (json_int_t)t[2], "amount", "200000.00");
    int64_t loan = make_loan(f, e, "600000.00", "2024-06-01", shares);
    json_decref(shares);
    struct writeoff_args wo = {loan, NULL, "2024-07-10", "the farm was lost to a landslide"};
    p = lf_run(writeoff_fn, &wo, FLE_OK, NULL);
    pid = lf_jid(p, "id");
    json_decref(p);
    lf_approve(pid);
    assert_int_equal(capital(f, t[2]), 0);
    assert_int_equal(capital(f, t[1]), 15000000);
    struct lf_money_args c2 = {t[0], "500000.00", "2024-12-30", "second call"};
    json_decref(lf_run(lf_contribute_fn, &c2, FLE_OK, NULL));
    assert_int_equal(capital(f, t[0]), 150000000);

    struct run_args r1 = {f, "2025-01-09"};
    json_t *o = lf_run(run_fn, &r1, FLE_OK, NULL);
    int64_t id1 = lf_jid(o, "id");
    const json_t *tr = json_object_get(json_object_get(o, "inputs"), "tranches");
    assert_string_equal(lf_jstr(json_array_get(tr, 0), "coupon"), "101307.33");
    assert_string_equal(lf_jstr(json_array_get(tr, 1), "coupon"), "26230.98");
    assert_string_equal(lf_jstr(json_array_get(tr, 2), "coupon"), "0.00");
    json_decref(o);
    char want[600];
    steps_text(want, sizeof want,
               "fees:-:0:0,interest:S:10130733:0,principal:S:150000000:0,reserve:-:0:0,"
               "interest:M:2623098:0,principal:M:15000000:0,interest:F:0:0,principal:F:0:0,residual:F:0:0",
               t);
    assert_steps(id1, want);
    lf_assert_books_balance();
    assert_replay_ok(id1);

    struct run_args r2 = {f, "2026-01-09"};
    o = lf_run(run_fn, &r2, FLE_OK, NULL);
    int64_t id2 = lf_jid(o, "id");
    json_decref(o);
    steps_text(want, sizeof want,
               "fees:-:0:0,interest:S:25130733:0,principal:S:150000000:0,reserve:-:0:0,"
               "interest:M:3823098:0,principal:M:15000000:0,interest:F:0:0,principal:F:0:0,residual:F:0:0",
               t);
    assert_steps(id2, want);
    lf_assert_books_balance();
    assert_replay_ok(id1);
    assert_replay_ok(id2);
}

/* ---- loss allowance ---- */

struct provision_args {
    int64_t fund;
    const char *date;
};

static json_t *provision_fn(struct db *d, void *arg, struct fl_error *err)
{
    struct provision_args *a = arg;
    return provision_run(d, &manager, a->fund, a->date, err);
}

static void assert_verify_ok(void)
{
    struct ledger_verify_report rep;
    struct fl_error err;
    assert_int_equal(ledger_verify(db, &rep, &err), FLE_OK);
    assert_true(rep.ok);
}

/* A loan through the SFC microcredit buckets and cured (docs/fund-operations.md, worked example 5
 * on this fund's loan). Senior 20,000,000.00 and first loss 3,000,000.00 (no coupon); a loan of
 * 10,000,000.00 (quarterly, 3 % a quarter, equal principal 2,500,000.00; first due 2024-06-01).
 *   2024-05-31:  0 days past due, A  1 %:   100,000.00 -> first loss 100,000.00      (+100,000.00)
 *   2024-07-16: 45 days, B 3.2 %:           320,000.00 -> first loss 320,000.00      (+220,000.00)
 *   2024-09-05: 96 days, D 50 %:          5,000,000.00 -> first loss 3,000,000.00 (all its capital),
 *                                                         senior 2,000,000.00      (+4,680,000.00)
 *   2024-09-10: both instalments paid (2,800,000.00 + 2,725,000.00) that day: 5,000,000.00
 *               outstanding, 0 days, A 1 %: 50,000.00 -> first loss 50,000.00      (-4,950,000.00) */
static void test_loss_allowance_buckets_and_cure(void **state)
{
    (void)state;
    struct fl_error err;
    int64_t f = make_fund("ALLOW");
    int64_t t[2];
    t[0] = lf_make_tranche(f, investor_c, "Senior", "senior", 1, "20000000.00", "0", "2024-01-10");
    t[1] = lf_make_tranche(f, investor_a, "First loss", "first_loss", 2, "3000000.00", "0", "2024-01-10");
    int64_t e = lf_make_entrepreneur(f, "Asociación P", "52835", "cacao");
    int64_t loan = make_loan(f, e, "10000000.00", "2024-06-01", NULL);
    const struct {
        const char *date;
        const char *allowance, *change, *category;
        int64_t dpd, senior, first_loss;
    } want[3] = {
        {"2024-05-31", "100000.00", "100000.00", "A", 0, 0, 10000000},
        {"2024-07-16", "320000.00", "220000.00", "B", 45, 0, 32000000},
        {"2024-09-05", "5000000.00", "4680000.00", "D", 96, 200000000, 300000000},
    };
    for (int k = 0; k < 3; k++) {
        struct provision_args a = {f, want[k].date};
        json_t *o = lf_run(provision_fn, &a, FLE_OK, NULL);
        assert_string_equal(lf_jstr(o, "allowance"), want[k].allowance);
        assert_string_equal(lf_jstr(o, "change"), want[k].change);
        assert_true(json_is_false(json_object_get(o, "replayed")));
        const json_t *l = json_array_get(json_object_get(o, "loans"), 0);
        assert_int_equal(lf_jid(l, "loan_id"), loan);
        assert_int_equal(lf_jid(l, "days_past_due"), want[k].dpd);
        assert_string_equal(lf_jstr(l, "category"), want[k].category);
        assert_string_equal(lf_jstr(l, "principal"), "10000000.00");
        json_decref(o);
        assert_int_equal(lf_tbal(f, t[0], "ALLOWANCE"), want[k].senior);
        assert_int_equal(lf_tbal(f, t[1], "ALLOWANCE"), want[k].first_loss);
        assert_int_equal(lf_balance(f, "1190"), -(want[k].senior + want[k].first_loss));
        lf_assert_books_balance();
    }
    /* The same date again posts nothing and returns the run; an earlier date is refused. */
    struct provision_args again = {f, "2024-09-05"};
    json_t *o = lf_run(provision_fn, &again, FLE_OK, NULL);
    assert_true(json_is_true(json_object_get(o, "replayed")));
    assert_string_equal(lf_jstr(o, "allowance"), "5000000.00");
    json_decref(o);
    char sql[300];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM journal_entry WHERE fund_id = %" PRId64 " AND event_type = 'provision'", f);
    assert_int_equal(lf_scalar_i64(sql), 3);
    struct provision_args before = {f, "2024-09-01"};
    assert_null(lf_run(provision_fn, &before, FLE_BAD_FIELD, &err));
    assert_string_equal(err.field, "date");
    struct provision_args future = {f, "2099-01-01"};
    assert_null(lf_run(provision_fn, &future, FLE_BAD_FIELD, &err));

    /* Cured: both overdue instalments paid on 2024-09-10. */
    json_decref(lf_repay(loan, "2800000.00", "2024-09-10", "P-1", FLE_OK, NULL));
    json_decref(lf_repay(loan, "2725000.00", "2024-09-10", "P-2", FLE_OK, NULL));
    struct provision_args cured = {f, "2024-09-10"};
    o = lf_run(provision_fn, &cured, FLE_OK, NULL);
    assert_string_equal(lf_jstr(o, "allowance"), "50000.00");
    assert_string_equal(lf_jstr(o, "change"), "-4950000.00");
    const json_t *l = json_array_get(json_object_get(o, "loans"), 0);
    assert_int_equal(lf_jid(l, "days_past_due"), 0);
    assert_string_equal(lf_jstr(l, "category"), "A");
    assert_string_equal(lf_jstr(l, "principal"), "5000000.00");
    const json_t *b = json_array_get(json_object_get(o, "buckets"), 0);
    assert_string_equal(lf_jstr(b, "category"), "A");
    assert_string_equal(lf_jstr(b, "allowance"), "50000.00");
    const json_t *tr = json_object_get(o, "tranches");
    assert_int_equal(lf_jid(json_array_get(tr, 0), "tranche_id"), t[0]);
    assert_string_equal(lf_jstr(json_array_get(tr, 0), "allowance"), "0.00");
    assert_string_equal(lf_jstr(json_array_get(tr, 1), "allowance"), "50000.00");
    json_decref(o);
    assert_int_equal(lf_tbal(f, t[0], "ALLOWANCE"), 0);
    assert_int_equal(lf_tbal(f, t[1], "ALLOWANCE"), 5000000);
    assert_int_equal(lf_balance(f, "1190"), -5000000);
    lf_assert_books_balance();
    assert_verify_ok();
    /* The read of an earlier date gives that date's run. */
    o = provision_get(db, f, "2024-08-01", 0, 10, &err);
    assert_non_null(o);
    assert_string_equal(lf_jstr(o, "as_of"), "2024-07-16");
    assert_string_equal(lf_jstr(o, "allowance"), "320000.00");
    json_decref(o);
    assert_null(provision_get(db, f, "2024-05-30", 0, 10, &err));
    assert_int_equal(err.code, FLE_NOT_FOUND);
}

/* ---- portfolio quality ---- */

static void test_portfolio_par(void **state)
{
    (void)state;
    struct fl_error err;
    int64_t f = make_fund("PAR");
    int64_t t = lf_make_tranche(f, investor_c, "Senior", "senior", 1, "10000000.00", "0", "2024-01-10");
    (void)t;
    int64_t e1 = lf_make_entrepreneur(f, "P1", "05088", "coffee");
    int64_t e2 = lf_make_entrepreneur(f, "P2", "52250", "cacao");
    int64_t e3 = lf_make_entrepreneur(f, "P3", "52835", "cacao");
    int64_t e4 = lf_make_entrepreneur(f, "P4", "05234", "beans");
    int64_t l1 = make_loan(f, e1, "1000000.00", "2024-04-15", NULL);
    int64_t l2 = make_loan(f, e2, "2000000.00", "2024-06-01", NULL);
    int64_t l3 = make_loan(f, e3, "3000000.00", "2024-04-15", NULL);
    int64_t l4 = make_loan(f, e4, "400000.00", "2024-04-15", NULL);
    /* l1 pays instalments 1 and 2 on time (280,000 + 272,500... no: 1,000,000 at 3 %:
     * 250,000 + 30,000 and 250,000 + 22,500). */
    json_decref(lf_repay(l1, "280000.00", "2024-04-15", "P1-1", FLE_OK, NULL));
    json_decref(lf_repay(l1, "272500.00", "2024-07-15", "P1-2", FLE_OK, NULL));
    /* l2 pays nothing: instalment 1 due 2024-06-01. l3 pays 50,000.00 of instalment 1's
     * 90,000.00 interest on 2024-05-01, nothing of its principal. */
    json_decref(lf_repay(l3, "50000.00", "2024-05-01", "P3-1", FLE_OK, NULL));
    /* l4 written off in full on 2024-06-30; 100,000.00 recovered on 2024-07-10. */
    struct writeoff_args wo = {l4, NULL, "2024-06-30", "borrower left the region"};
    json_t *p = lf_run(writeoff_fn, &wo, FLE_OK, NULL);
    int64_t pid = lf_jid(p, "id");
    json_decref(p);
    lf_approve(pid);
    struct lf_repay_args rec = {l4, "100000.00", "2024-07-10", "P4-R"};
    json_decref(lf_run(recovery_fn, &rec, FLE_OK, NULL));
    lf_assert_books_balance();

    /* As of 2024-07-20:
     *   l1 outstanding   500,000.00, nothing late                        DPD 0
     *   l2 outstanding 2,000,000.00, instalment 1 due 2024-06-01 unpaid  DPD 49  -> PAR30
     *   l3 outstanding 3,000,000.00, instalment 1 due 2024-04-15 unpaid  DPD 96  -> PAR30, PAR90
     *   l4 written off: outstanding 0, not in the portfolio
     * gross 5,500,000.00; PAR30 = 5,000,000 / 5,500,000 = 0.90909... -> 0.9091;
     * PAR90 = 3,000,000 / 5,500,000 = 0.54545... -> 0.5455.
     * Arrears: principal l2 500,000 + l3 750,000 (instalment 2 of l3 due 07-15 too: +750,000)
     * = 2,000,000.00; interest l2 60,000 + l3 (90,000 - 50,000) + 67,500 = 167,500.00. */
    json_t *q = portfolio_quality(db, f, "2024-07-20", NULL, &err);
    assert_non_null(q);
    assert_string_equal(lf_jstr(q, "gross_portfolio"), "5500000.00");
    assert_int_equal(lf_jid(q, "loans_outstanding"), 3);
    const json_t *par30 = json_object_get(q, "par30"), *par90 = json_object_get(q, "par90");
    assert_string_equal(lf_jstr(par30, "amount"), "5000000.00");
    assert_string_equal(lf_jstr(par30, "ratio"), "0.9091");
    assert_int_equal(lf_jid(par30, "loans"), 2);
    assert_string_equal(lf_jstr(par90, "amount"), "3000000.00");
    assert_string_equal(lf_jstr(par90, "ratio"), "0.5455");
    assert_int_equal(lf_jid(par90, "loans"), 1);
    assert_string_equal(lf_jstr(q, "principal_in_arrears"), "2000000.00");
    assert_string_equal(lf_jstr(q, "interest_in_arrears"), "167500.00");
    /* Period 2024-01-01 .. 2024-07-20: one write-off of 400,000.00, one recovery of 100,000.00. */
    assert_string_equal(lf_jstr(json_object_get(q, "period"), "from"), "2024-01-01");
    assert_int_equal(lf_jid(json_object_get(q, "write_offs"), "count"), 1);
    assert_string_equal(lf_jstr(json_object_get(q, "write_offs"), "amount"), "400000.00");
    assert_string_equal(lf_jstr(json_object_get(q, "recoveries"), "amount"), "100000.00");
    /* Concentration: cacao 5,000,000 (share 0.9091), coffee 500,000 (0.0909), beans 0. */
    char *vc = json_dumps(json_object_get(q, "by_value_chain"), JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(vc, "[{\"loans\":0,\"outstanding\":\"0.00\",\"par30\":\"0.00\",\"par90\":\"0.00\","
                            "\"share\":\"0.0000\",\"value_chain\":\"beans\"},"
                            "{\"loans\":2,\"outstanding\":\"5000000.00\",\"par30\":\"5000000.00\","
                            "\"par90\":\"3000000.00\",\"share\":\"0.9091\",\"value_chain\":\"cacao\"},"
                            "{\"loans\":1,\"outstanding\":\"500000.00\",\"par30\":\"0.00\",\"par90\":\"0.00\","
                            "\"share\":\"0.0909\",\"value_chain\":\"coffee\"}]");
    free(vc);
    assert_int_equal(json_array_size(json_object_get(q, "by_municipality")), 4);
    json_decref(q);

    /* As of 2024-04-10 nothing is late: gross = the four loans disbursed, 6,400,000.00. */
    q = portfolio_quality(db, f, "2024-04-10", "2024-01-01", &err);
    assert_string_equal(lf_jstr(q, "gross_portfolio"), "6400000.00");
    assert_string_equal(lf_jstr(json_object_get(q, "par30"), "ratio"), "0.0000");
    assert_int_equal(lf_jid(json_object_get(q, "write_offs"), "count"), 0);
    json_decref(q);

    /* The arrears listing, two loans a page. */
    json_t *page = portfolio_arrears_list(db, f, "2024-07-20", 0, 2, &err);
    const json_t *loans = json_object_get(page, "loans");
    assert_int_equal(json_array_size(loans), 2);
    assert_int_equal(lf_jid(json_array_get(loans, 1), "loan_id"), l2);
    assert_int_equal(lf_jid(json_array_get(loans, 1), "days_past_due"), 49);
    int64_t next = lf_jid(page, "next_after");
    assert_int_equal(next, l2);
    json_decref(page);
    page = portfolio_arrears_list(db, f, "2024-07-20", next, 2, &err);
    loans = json_object_get(page, "loans");
    assert_int_equal(json_array_size(loans), 2);
    assert_int_equal(lf_jid(json_array_get(loans, 0), "loan_id"), l3);
    assert_int_equal(lf_jid(json_array_get(loans, 0), "days_past_due"), 96);
    assert_string_equal(lf_jstr(json_array_get(loans, 0), "interest_in_arrears"), "107500.00");
    assert_int_equal(lf_jid(json_array_get(loans, 1), "days_past_due"), 0); /* l4, written off */
    assert_true(json_is_null(json_object_get(page, "next_after")));
    json_decref(page);
    assert_arrears(l3, "2024-07-20", 96, "1500000.00", "107500.00", "3000000.00");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_repayments_allocation_and_postings),
        cmocka_unit_test(test_arrears_as_of_dates),
        cmocka_unit_test(test_csv_import),
        cmocka_unit_test(test_writeoff_worked_example_and_recovery),
        cmocka_unit_test(test_waterfall_sequential_and_pro_rata),
        cmocka_unit_test(test_waterfall_coupon_on_capital_dates),
        cmocka_unit_test(test_loss_allowance_buckets_and_cure),
        cmocka_unit_test(test_portfolio_par),
    };
    return cmocka_run_group_tests_name("repayments (database)", tests, setup, teardown);
}
