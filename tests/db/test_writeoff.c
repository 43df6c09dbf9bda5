/* test_writeoff: a write-off uses the loan's loss allowance first (docs/fund-operations.md,
 * "Write-off: the allowance is used first", worked example 6), against a real PostgreSQL: the
 * exact lines per account and tranche of the provision runs and the write-offs, a zero trial
 * balance, and every entry accepted by ledger_verify_full (`fundledger verify`). */
/* cmocka.h needs these before it, in this order. */
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
#include "fundledger/ledger.h"
#include "fundledger/loan.h"
#include "fundledger/repayment.h"
#include "fundledger/writeoff_view.h"
#include "loanfix.h"
#include "testdb.h"

static const char *ci;
static struct db *db;
static struct principal manager, approver;
static int64_t investor_a, investor_b, investor_c;

static int setup(void **state)
{
    (void)state;
    ci = testdb_create("writeoff");
    db = testdb_open(ci);
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

struct date_args {
    int64_t fund;
    const char *date;
};

static json_t *provision_fn(struct db *d, void *arg, struct fl_error *err)
{
    struct date_args *a = arg;
    return provision_run(d, &manager, a->fund, a->date, err);
}

static json_t *writeoff_fn(struct db *d, void *arg, struct fl_error *err)
{
    struct lf_money_args *a = arg;
    return writeoff_propose(d, &manager, a->id, a->amount, a->date, a->text, err);
}

/* A write-off of amount on date, approved (four eyes); returns its entry id. */
static int64_t write_off(int64_t loan, const char *amount, const char *date)
{
    struct lf_money_args w = {loan, amount, date, "borrower unreachable"};
    json_t *p = lf_run(writeoff_fn, &w, FLE_OK, NULL);
    int64_t pid = lf_jid(p, "id");
    json_decref(p);
    lf_approve(pid);
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT entry_id FROM write_off WHERE proposal_id = %" PRId64, pid);
    return lf_scalar_i64(sql);
}

/* The lines of an entry as "code amount" by account code, read with SQL. */
static void assert_lines(int64_t entry, const char *want)
{
    char sql[400];
    snprintf(sql, sizeof sql,
             "SELECT string_agg(a.code || ' ' || l.amount_minor, ', ' ORDER BY a.code) FROM journal_line l "
             "JOIN account a ON a.id = l.account_id WHERE l.entry_id = %" PRId64,
             entry);
    lf_assert_scalar(sql, want);
}

static int64_t run_entry(int64_t fund, const char *date)
{
    char sql[200];
    snprintf(sql, sizeof sql, "SELECT entry_id FROM provision_run WHERE fund_id = %" PRId64 " AND as_of = '%s'",
             fund, date);
    return lf_scalar_i64(sql);
}

/* Every entry checked against what produced it (`fundledger verify`): no origin problem. The test
 * signs no anchors, so anchor problems are not looked at (test_tamper covers them). */
static void assert_verify_clean(void)
{
    struct ledger_verify_report rep;
    struct fl_error err;
    unsigned sealed = 0;
    assert_int_equal(ledger_seal(db, 1000, &sealed, &err), FLE_OK);
    assert_int_equal(ledger_verify(db, &rep, &err), FLE_OK);
    assert_true(rep.ok);
    struct ledger_verify_options o = {.verifier = NULL, .anchor_log = NULL};
    fl_error_clear(&err);
    assert_int_equal(ledger_verify_full(db, &o, &rep, &err), FLE_OK);
    assert_int_equal(rep.origins_checked, lf_scalar_i64("SELECT count(*) FROM journal_entry"));
    int origin_problems = 0;
    for (unsigned i = 0; i < rep.problems_n; i++) {
        if (strncmp(rep.problems[i].text, "entry ", 6) == 0 && strstr(rep.problems[i].text, "): ") != NULL) {
            fprintf(stderr, "verify: %s\n", rep.problems[i].text);
            origin_problems++;
        }
    }
    assert_int_equal(origin_problems, 0);
}

/* Worked example 6, then two more partial write-offs of the same loan after the next run. */
static void test_worked_example(void **state)
{
    (void)state;
    int64_t f = lf_make_fund("WOFF", "Write-off fund");
    int64_t s = lf_make_tranche(f, investor_c, "Senior", "senior", 1, "20000000.00", "0.06", "2024-01-06");
    int64_t m = lf_make_tranche(f, investor_b, "Mezzanine", "mezzanine", 2, "6000000.00", "0", "2024-01-06");
    int64_t fl = lf_make_tranche(f, investor_a, "First loss", "first_loss", 3, "1500000.00", "0", "2024-01-06");
    int64_t ent = lf_make_entrepreneur(f, "Productora Uno", "52250", "cacao");
    json_t *shares = json_pack("[{s:I, s:s}]", "tranche_id", (json_int_t)s, "amount", "10000000.00");
    struct lf_loan_args la = {f,
                              {.entrepreneur_id = ent,
                               .principal = "10000000.00",
                               .annual_rate = "0.2400",
                               .payments_per_year = 1,
                               .term_count = 1,
                               .first_due_date = "2024-03-31",
                               .amortisation = "bullet",
                               .approval_date = "2024-01-10",
                               .purpose = "working capital",
                               .shares = shares}};
    int64_t loan = lf_approve_loan(&la);
    json_decref(shares);
    lf_disburse_on(loan, "10000000.00", "2024-01-20");

    char ts[24], tm[24], tf[24];
    snprintf(ts, sizeof ts, "T%" PRId64 ".", s);
    snprintf(tm, sizeof tm, "T%" PRId64 ".", m);
    snprintf(tf, sizeof tf, "T%" PRId64 ".", fl);
    char want[400];

    /* 1. Run 2024-06-15: 76 days past due, C (20 %): 2,000,000.00, bottom-up F 1,500,000.00 and
     * M 500,000.00. */
    struct date_args r1 = {f, "2024-06-15"};
    json_decref(lf_run(provision_fn, &r1, FLE_OK, NULL));
    snprintf(want, sizeof want, "1190 -200000000, %sALLOWANCE 50000000, %sALLOWANCE 150000000", tm, tf);
    assert_lines(run_entry(f, "2024-06-15"), want);
    lf_assert_scalar("SELECT category || ' ' || days_past_due || ' ' || allowance_minor FROM provision_loan",
                     "C 76 200000000");

    /* 2. Write-off 4,000,000.00 on 2024-06-20: the allowance 2,000,000.00 used top-down (M
     * 500,000.00, F 1,500,000.00); the loss bottom-up (F 1,500,000.00, M 2,500,000.00). */
    /* What the approver's inbox shows first (writeoff_preview, GET /v1/loans/{id}/write-off-preview):
     * the same figures, before anything is posted. */
    struct fl_error perr;
    fl_error_clear(&perr);
    json_t *pv = writeoff_preview(db, loan, "4000000.00", &perr);
    assert_non_null(pv);
    char *pvt = json_dumps(pv, JSON_COMPACT);
    /* The senior tranche's capital is whatever it paid in; it absorbs nothing. */
    const char *senior_capital =
        json_string_value(json_object_get(json_array_get(json_object_get(pv, "tranches"), 0), "capital"));
    char wantpv[1024];
    snprintf(wantpv, sizeof wantpv,
             "{\"loan_id\":%" PRId64 ",\"fund_id\":%" PRId64 ",\"entrepreneur_id\":%" PRId64 ",\"currency\":\"COP\","
             "\"loan_status\":\"active\",\"principal_outstanding\":\"10000000.00\",\"amount\":\"4000000.00\","
             "\"allowance_held\":\"2000000.00\",\"allowance_used\":\"2000000.00\",\"loss_beyond_allowance\":"
             "\"2000000.00\",\"tranches\":[{\"tranche_id\":%" PRId64 ",\"name\":\"Senior\",\"rank\":1,"
             "\"capital\":\"%s\",\"absorbed\":\"0.00\",\"capital_after\":\"%s\"},{\"tranche_id\":%" PRId64
             ",\"name\":\"Mezzanine\",\"rank\":2,\"capital\":\"6000000.00\",\"absorbed\":\"2500000.00\","
             "\"capital_after\":\"3500000.00\"},{\"tranche_id\":%" PRId64 ",\"name\":\"First loss\",\"rank\":3,"
             "\"capital\":\"1500000.00\",\"absorbed\":\"1500000.00\",\"capital_after\":\"0.00\"}],"
             "\"unabsorbed\":\"0.00\"}",
             loan, f, ent, s, senior_capital, senior_capital, m, fl);
    assert_string_equal(pvt, wantpv);
    free(pvt);
    json_decref(pv);
    /* Above the outstanding principal, not an amount, or no loan: refused, nothing read as 0. */
    assert_null(writeoff_preview(db, loan, "10000000.01", &perr));
    assert_int_equal(perr.code, FLE_BAD_FIELD);
    assert_string_equal(perr.field, "amount");
    assert_null(writeoff_preview(db, loan, "4000000.001", &perr));
    assert_int_equal(perr.code, FLE_BAD_FIELD);
    assert_null(writeoff_preview(db, 99999999, NULL, &perr));
    assert_int_equal(perr.code, FLE_NOT_FOUND);
    pv = writeoff_preview(db, loan, NULL, &perr); /* all of it */
    assert_non_null(pv);
    assert_string_equal(json_string_value(json_object_get(pv, "amount")), "10000000.00");
    json_decref(pv);
    int64_t e1 = write_off(loan, "4000000.00", "2024-06-20");
    snprintf(want, sizeof want,
             "1190 200000000, %sLOANS -400000000, %sALLOWANCE -50000000, %sLOSS 250000000, %sALLOWANCE -150000000, "
             "%sLOSS 150000000",
             ts, tm, tm, tf, tf);
    assert_lines(e1, want);
    assert_int_equal(lf_balance(f, "1190"), 0);
    assert_int_equal(lf_tbal(f, s, "ALLOWANCE"), 0);
    assert_int_equal(lf_tbal(f, m, "ALLOWANCE"), 0);
    assert_int_equal(lf_tbal(f, fl, "ALLOWANCE"), 0);
    assert_int_equal(lf_tbal(f, fl, "LOSS"), 150000000);
    assert_int_equal(lf_tbal(f, m, "LOSS"), 250000000);
    lf_assert_books_balance();

    /* 3. Run 2024-06-25: 86 days, still C: 6,000,000.00 x 20 % = 1,200,000.00, all mezzanine
     * (first loss capital 0); posted so far 0, so +1,200,000.00, no release. */
    struct date_args r2 = {f, "2024-06-25"};
    json_t *o = lf_run(provision_fn, &r2, FLE_OK, NULL);
    assert_string_equal(json_string_value(json_object_get(o, "change")), "1200000.00");
    json_decref(o);
    snprintf(want, sizeof want, "1190 -120000000, %sALLOWANCE 120000000", tm);
    assert_lines(run_entry(f, "2024-06-25"), want);

    /* 4. Write-off 1,000,000.00 on 2024-06-26: the loan holds 1,200,000.00; 1,000,000.00 used,
     * all from the mezzanine (the senior holds none). */
    int64_t e2 = write_off(loan, "1000000.00", "2024-06-26");
    snprintf(want, sizeof want, "1190 100000000, %sLOANS -100000000, %sALLOWANCE -100000000, %sLOSS 100000000", ts,
             tm, tm);
    assert_lines(e2, want);
    /* 5. Write-off 2,000,000.00 on 2024-06-27: the loan holds 1,200,000.00 less the 1,000,000.00
     * used since the run = 200,000.00; the other 1,800,000.00 is a loss with no allowance. */
    int64_t e3 = write_off(loan, "2000000.00", "2024-06-27");
    snprintf(want, sizeof want, "1190 20000000, %sLOANS -200000000, %sALLOWANCE -20000000, %sLOSS 200000000", ts,
             tm, tm);
    assert_lines(e3, want);
    assert_int_equal(lf_balance(f, "1190"), 0);
    assert_int_equal(lf_tbal(f, m, "ALLOWANCE"), 0);
    assert_int_equal(lf_tbal(f, m, "LOSS"), 550000000);

    /* 6. Run 2024-06-28: 89 days, C: 3,000,000.00 x 20 % = 600,000.00 on the mezzanine (capital
     * 500,000.00) and the senior (20,000,000.00): M 500,000.00, S 100,000.00. */
    struct date_args r3 = {f, "2024-06-28"};
    json_decref(lf_run(provision_fn, &r3, FLE_OK, NULL));
    snprintf(want, sizeof want, "1190 -60000000, %sALLOWANCE 10000000, %sALLOWANCE 50000000", ts, tm);
    assert_lines(run_entry(f, "2024-06-28"), want);
    lf_assert_books_balance();
    assert_verify_clean();
}

/* A write-off of a loan never provisioned (no provision run yet) posts no allowance line. */
static void test_no_allowance(void **state)
{
    (void)state;
    int64_t f = lf_make_fund("WOF2", "Write-off fund 2");
    int64_t s = lf_make_tranche(f, investor_a, "Only", "first_loss", 1, "5000000.00", "0", "2024-01-06");
    int64_t ent = lf_make_entrepreneur(f, "Productora Dos", "52250", "cacao");
    json_t *shares = json_pack("[{s:I, s:s}]", "tranche_id", (json_int_t)s, "amount", "1000000.00");
    struct lf_loan_args la = {f,
                              {.entrepreneur_id = ent,
                               .principal = "1000000.00",
                               .annual_rate = "0.2400",
                               .payments_per_year = 1,
                               .term_count = 1,
                               .first_due_date = "2024-03-31",
                               .amortisation = "bullet",
                               .approval_date = "2024-01-10",
                               .purpose = "working capital",
                               .shares = shares}};
    int64_t loan = lf_approve_loan(&la);
    json_decref(shares);
    lf_disburse_on(loan, "1000000.00", "2024-01-20");
    int64_t e = write_off(loan, NULL, "2024-06-20");
    char want[200];
    snprintf(want, sizeof want, "T%" PRId64 ".LOANS -100000000, T%" PRId64 ".LOSS 100000000", s, s);
    assert_lines(e, want);
    lf_assert_books_balance();
    assert_verify_clean();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_worked_example),
        cmocka_unit_test(test_no_allowance),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
