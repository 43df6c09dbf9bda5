/* test_loan_charges: ad-hoc loan charges against a real PostgreSQL (docs/loan-servicing.md §8):
 * four eyes, nothing posted before the approval, Dr 1160 / Cr 4100, collected first by the next
 * repayment (which credits 1160), in the payoff, and refused above the usury cap with nothing
 * written. Expected figures are the worked example of §8, recomputed independently by
 * tests/charge_reference.py (Python decimal), never by the code under test. */
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
#include <unistd.h>

#include "fundledger/anchor.h"
#include "fundledger/approval.h"
#include "fundledger/auth.h"
#include "fundledger/charge.h"
#include "fundledger/ledger.h"
#include "fundledger/loan.h"
#include "fundledger/repayment.h"
#include "loanfix.h"
#include "testdb.h"

static const char *ci;
static struct db *db;
static struct principal manager, approver;
static int64_t investor;
static int64_t fee_fund, fee_loan; /* test_origination_fee_first's, forged on by the last test */
static char key_dir[64];
static struct anchor_paths paths;
static struct anchor_signer *signer;

/* `fundledger verify` (ledger_verify_full) after sealing and anchoring everything: the chain, the
 * balances, the anchors and every entry against what produced it (the loan_charge path too). */
static void verify_full(struct ledger_verify_report *rep)
{
    struct fl_error err;
    fl_error_clear(&err);
    unsigned sealed = 1;
    while (sealed > 0) {
        assert_int_equal(ledger_seal_anchored(db, 1000, signer, &sealed, &err), FLE_OK);
    }
    struct anchor_verifier *v = NULL;
    assert_int_equal(anchor_verifier_open(&paths, &v, &err), FLE_OK);
    struct ledger_verify_options o = {.verifier = v, .anchor_log = paths.log};
    assert_int_equal(ledger_verify_full(db, &o, rep, &err), FLE_OK);
    anchor_verifier_close(v);
}

static void assert_verify(void)
{
    static struct ledger_verify_report rep;
    verify_full(&rep);
    if (!rep.ok) {
        ledger_verify_print(&rep, paths.log, stderr);
        fail_msg("verify: %u problems", rep.problems_total);
    }
}

static void assert_books(void)
{
    lf_assert_books_balance();
    assert_verify();
}

static int setup(void **state)
{
    (void)state;
    ci = testdb_create("loan_charges");
    db = testdb_open(ci);
    lf_setup(ci, db, &manager, &approver, 10000000000000);
    investor = lf_make_investor("UNDP", "XM-DAC-41114");
    snprintf(key_dir, sizeof key_dir, "/tmp/fundledger-charges-XXXXXX");
    assert_non_null(mkdtemp(key_dir));
    snprintf(paths.key, sizeof paths.key, "%s/anchor.key", key_dir);
    snprintf(paths.public_key, sizeof paths.public_key, "%s/anchor.key.pub", key_dir);
    snprintf(paths.log, sizeof paths.log, "%s/anchor.log", key_dir);
    struct fl_error err;
    fl_error_clear(&err);
    assert_int_equal(anchor_signer_open(&paths, &signer, &err), FLE_OK);
    /* Consumo ordinario: 28 % from 2026-01-01 (migration 0003), 26.5 % from 2026-04-01. */
    assert_true(testdb_exec(ci, "INSERT INTO usury_rate (modality, valid_from, valid_to, rate, source) VALUES "
                                "('consumo_ordinario', '2026-04-01', '9999-12-31', 26500000, 'test: April 2026')"));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    anchor_signer_close(signer);
    (void)remove(paths.key);
    (void)remove(paths.public_key);
    (void)remove(paths.log);
    (void)rmdir(key_dir);
    db_close(db);
    return 0;
}

/* Loan L (docs/loan-servicing.md): 12,000,000.00 at 24 % EA, monthly, 12 instalments, annuity,
 * first due 2026-02-15, conditions ticked, drawn in full on 2026-01-15. */
static int64_t loan_L(int64_t fund, const char *modality, const char *fee_rate)
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
                              .purpose = "mill",
                              .origination_fee_rate = fee_rate}};
    int64_t loan = lf_approve_loan(&a);
    static const char *const items[] = {"signed_agreement", "kyc", "sanctions_screening", "bank_account_verified"};
    for (int i = 0; i < 4; i++) {
        struct lf_money_args t = {loan, NULL, "2026-01-15", items[i]};
        json_decref(lf_run(lf_tick_fn, &t, FLE_OK, NULL));
    }
    struct lf_money_args d = {loan, "12000000.00", "2026-01-15", NULL};
    json_t *p = lf_run(lf_disb_fn, &d, FLE_OK, NULL);
    int64_t pid = lf_jid(p, "id");
    json_decref(p);
    lf_approve(pid);
    return loan;
}

struct charge_args {
    int64_t loan;
    const char *amount, *date, *reason;
};

static json_t *charge_fn(struct db *d, void *arg, struct fl_error *err)
{
    struct charge_args *a = arg;
    return loan_charge_propose(d, &manager, a->loan, a->amount, a->date, a->reason, err);
}

/* Proposes a charge (asserted pending); returns the proposal id. */
static int64_t propose(int64_t loan, const char *amount, const char *date)
{
    struct charge_args a = {loan, amount, date, "collection visit"};
    json_t *p = lf_run(charge_fn, &a, FLE_OK, NULL);
    assert_string_equal(lf_jstr(p, "status"), "pending");
    assert_string_equal(lf_jstr(p, "kind"), "loan_charge");
    assert_string_equal(lf_jstr(json_object_get(p, "payload"), "amount"), amount);
    int64_t id = lf_jid(p, "id");
    json_decref(p);
    return id;
}

static void refuse(int64_t loan, const char *amount, const char *date, const char *reason, enum fl_err code,
                   const char *field)
{
    struct fl_error err;
    struct charge_args a = {loan, amount, date, reason};
    assert_null(lf_run(charge_fn, &a, code, &err));
    assert_string_equal(err.field, field);
}

struct decide_args {
    const struct principal *who;
    int64_t id;
};

static json_t *decide_fn(struct db *d, void *arg, struct fl_error *err)
{
    struct decide_args *a = arg;
    return approval_decide(d, a->who, a->id, true, NULL, err);
}

static json_t *payoff(int64_t loan, const char *date)
{
    struct fl_error err;
    json_t *q = loan_payoff(db, loan, date, &err);
    if (q == NULL) {
        fail_msg("payoff of loan %" PRId64 " on %s: %s %s", loan, date, err.field, err.message);
    }
    return q;
}

static json_t *charges(int64_t loan)
{
    struct fl_error err;
    json_t *c = loan_charge_list(db, loan, &err);
    assert_non_null(c);
    return c;
}

/* What a set of tables holds about charges: "<loan_charge rows> <loan_charge entries>
 * <loan_charge proposals pending>". */
static void assert_state(int64_t loan, const char *want)
{
    char sql[600];
    snprintf(sql, sizeof sql,
             "SELECT (SELECT count(*) FROM loan_charge WHERE loan_id = %" PRId64 ") || ' ' || "
             "(SELECT count(*) FROM journal_entry WHERE event_type = 'loan_charge' AND event_ref = 'loan:%" PRId64
             "') || ' ' || (SELECT count(*) FROM proposal WHERE kind = 'loan_charge' AND status = 'pending' AND "
             "(payload->>'loan_id')::bigint = %" PRId64 ")",
             loan, loan, loan);
    lf_assert_scalar(sql, want);
}

/* The worked example of docs/loan-servicing.md §8. L (consumo ordinario) drawn 2026-01-15, row 1
 * paid on 2026-02-15 (balance 11,095,620.88). A collection charge of 50,000.00 dated 2026-03-10:
 *  - proposed by the manager, approved by the approver (the manager cannot approve it);
 *  - posted Dr 1160 50,000.00 / Cr 4100 50,000.00 on 2026-03-10;
 *  - payoff on 2026-03-12: fees 50,000.00 + current interest 11,095,620.88 x (1.24^(25/336) - 1)
 *    = 179,017.66 + principal 11,095,620.88 = 11,324,638.54 (50,000.00 more than before it);
 *  - repayment of 1,171,430.11 on 2026-03-15 (the charge and row 2): fees 50,000.00, current
 *    interest 200,692.96, current principal 920,737.15; Cr 1160 50,000.00, 1160 back to 0.
 * Under the 26.5 % cap of 2026-04-20 the contract's instalments are worth 11,875,364.93 and the
 * charge of 2026-03-10 (t = 54/365) 48,291.00: what is left, 76,344.07 at t = 0, is
 * 76,344.07 x 1.265^(95/365) = 81,160.89 on 2026-04-20. 81,160.90 is refused; 60,000.00 and
 * 21,160.90 pass alone at proposal, but the second is refused at approval once the first is
 * approved; 21,160.89 passes. */
static void test_charge_worked_example(void **state)
{
    (void)state;
    struct fl_error err;
    int64_t fund = lf_make_fund("CHARGES", "Charges test fund");
    lf_make_tranche(fund, investor, "Senior", "senior", 1, "20000000.00", "0.0800", "2024-01-10");
    int64_t loan = loan_L(fund, "consumo_ordinario", NULL);
    json_decref(lf_repay(loan, "1121430.11", "2026-02-15", "C-1", FLE_OK, NULL));
    json_t *q = payoff(loan, "2026-03-12");
    assert_string_equal(lf_jstr(q, "fees"), "0.00");
    assert_string_equal(lf_jstr(q, "payoff"), "11274638.54");
    json_decref(q);

    /* Bad proposals: each names its field, nothing is written. */
    refuse(loan, "0.00", "2026-03-10", "visit", FLE_BAD_FIELD, "amount");
    refuse(loan, "12.345", "2026-03-10", "visit", FLE_BAD_FIELD, "amount");
    refuse(loan, NULL, "2026-03-10", "visit", FLE_MISSING_FIELD, "amount");
    refuse(loan, "50000.00", "2099-01-01", "visit", FLE_BAD_FIELD, "value_date");
    refuse(loan, "50000.00", "2026-01-10", "visit", FLE_BAD_FIELD, "value_date"); /* before the drawdown */
    refuse(loan, "50000.00", "2026-02-15", "visit", FLE_RULE, "value_date");      /* not after a repayment */
    refuse(loan, "50000.00", "2026-03-10", "", FLE_MISSING_FIELD, "reason");
    refuse(loan, "50000.00", "2026-03-10", NULL, FLE_MISSING_FIELD, "reason");
    refuse(999999, "50000.00", "2026-03-10", "visit", FLE_NOT_FOUND, "loan_id");
    assert_state(loan, "0 0 0");

    /* Proposed: nothing posted, nothing owed yet. */
    int64_t pid = propose(loan, "50000.00", "2026-03-10");
    assert_state(loan, "0 0 1");
    q = payoff(loan, "2026-03-12");
    assert_string_equal(lf_jstr(q, "fees"), "0.00");
    json_decref(q);
    /* The maker cannot approve their own charge. */
    struct decide_args self = {&manager, pid};
    assert_null(lf_run(decide_fn, &self, FLE_SELF_APPROVAL, &err));
    assert_state(loan, "0 0 1");
    /* The approver does: Dr 1160 / Cr 4100 on the value date. */
    struct decide_args ok = {&approver, pid};
    json_t *d = lf_run(decide_fn, &ok, FLE_OK, NULL);
    assert_string_equal(lf_jstr(d, "status"), "approved");
    int64_t entry = lf_jid(d, "result_entry_id");
    json_decref(d);
    assert_state(loan, "1 1 0");
    char sql[800];
    snprintf(sql, sizeof sql,
             "SELECT e.effective_date || ' ' || string_agg(a.code || ':' || l.amount_minor, ',' ORDER BY a.code) "
             "FROM journal_entry e JOIN journal_line l ON l.entry_id = e.id JOIN account a ON a.id = l.account_id "
             "WHERE e.id = %" PRId64 " GROUP BY e.effective_date",
             entry);
    lf_assert_scalar(sql, "2026-03-10 1160:5000000,4100:-5000000");
    assert_int_equal(lf_balance(fund, "1160"), 5000000);
    assert_int_equal(lf_balance(fund, "4100"), -5000000);
    assert_books();

    json_t *c = charges(loan);
    assert_string_equal(lf_jstr(c, "total"), "50000.00");
    assert_string_equal(lf_jstr(c, "collected"), "0.00");
    assert_string_equal(lf_jstr(c, "due"), "50000.00");
    const json_t *c0 = json_array_get(json_object_get(c, "charges"), 0);
    assert_string_equal(lf_jstr(c0, "amount"), "50000.00");
    assert_string_equal(lf_jstr(c0, "value_date"), "2026-03-10");
    assert_string_equal(lf_jstr(c0, "reason"), "collection visit");
    assert_int_equal(lf_jid(c0, "entry_id"), entry);
    assert_int_equal(lf_jid(c0, "approved_by"), approver.user_id);
    json_decref(c);

    /* The payoff includes it (before its date it is not due). */
    q = payoff(loan, "2026-03-12");
    assert_string_equal(lf_jstr(q, "fees"), "50000.00");
    assert_string_equal(lf_jstr(q, "current_interest"), "179017.66");
    assert_string_equal(lf_jstr(q, "payoff"), "11324638.54");
    json_decref(q);
    /* Neither a quote nor a repayment dated before the charge (recorded in date order). */
    assert_null(loan_payoff(db, loan, "2026-03-09", &err));
    assert_int_equal(err.code, FLE_BAD_PARAM);
    assert_string_equal(err.field, "date");
    assert_null(lf_repay(loan, "1000.00", "2026-03-09", "C-early", FLE_BAD_FIELD, &err));
    assert_string_equal(err.field, "value_date");

    /* The next repayment collects it first. */
    json_t *r = lf_repay(loan, "1171430.11", "2026-03-15", "C-2", FLE_OK, NULL);
    assert_string_equal(lf_jstr(r, "fees"), "50000.00");
    assert_string_equal(lf_jstr(r, "default_interest"), "0.00");
    assert_string_equal(lf_jstr(r, "overdue_interest"), "0.00");
    assert_string_equal(lf_jstr(r, "overdue_principal"), "0.00");
    assert_string_equal(lf_jstr(r, "current_interest"), "200692.96");
    assert_string_equal(lf_jstr(r, "current_principal"), "920737.15");
    assert_string_equal(lf_jstr(r, "prepayment"), "0.00");
    json_decref(r);
    /* The fund is on the accrual basis (docs/loan-servicing.md §9): the interest collected clears
     * the tranches' interest receivable (RECV: their sum), which the accrual to the value date
     * filled; nothing is credited to 4000 or 4100 by the repayment itself. */
    snprintf(sql, sizeof sql,
             "SELECT string_agg(code || ':' || amt, ',' ORDER BY code) FROM (SELECT CASE WHEN a.code LIKE "
             "'T%%.INTEREST_RECEIVABLE' THEN 'RECV' ELSE a.code END AS code, sum(l.amount_minor) AS amt "
             "FROM journal_entry e JOIN journal_line l ON l.entry_id = e.id JOIN account a ON a.id = l.account_id "
             "WHERE e.event_type = 'repayment' AND e.event_ref = 'loan:%" PRId64
             "' AND e.effective_date = '2026-03-15' "
             "AND (a.code IN ('1050', '1160', '4000', '4100') OR a.code LIKE 'T%%.INTEREST_RECEIVABLE') "
             "GROUP BY 1) x",
             loan);
    lf_assert_scalar(sql, "1050:117143011,1160:-5000000,RECV:-20069296");
    snprintf(sql, sizeof sql,
             "SELECT coalesce(sum(l.amount_minor), 0) FROM journal_line l JOIN account a ON a.id = l.account_id "
             "WHERE a.fund_id = %" PRId64 " AND a.code LIKE 'T%%.INTEREST_RECEIVABLE'",
             fund);
    lf_assert_scalar(sql, "0");
    assert_int_equal(lf_balance(fund, "1160"), 0);
    assert_int_equal(lf_balance(fund, "4100"), -5000000);
    c = charges(loan);
    assert_string_equal(lf_jstr(c, "collected"), "50000.00");
    assert_string_equal(lf_jstr(c, "due"), "0.00");
    json_decref(c);
    q = payoff(loan, "2026-03-15");
    assert_string_equal(lf_jstr(q, "fees"), "0.00");
    json_decref(q);
    assert_books();

    /* The usury cap (26.5 % on 2026-04-20): at most 81,160.89 more. */
    refuse(loan, "81160.90", "2026-04-20", "legal costs", FLE_RULE, "amount");
    assert_state(loan, "1 1 0");
    int64_t p1 = propose(loan, "60000.00", "2026-04-20");
    int64_t p2 = propose(loan, "21160.90", "2026-04-20");
    lf_approve(p1);
    int64_t entries = lf_scalar_i64("SELECT count(*) FROM journal_entry");
    struct decide_args over = {&approver, p2};
    assert_null(lf_run(decide_fn, &over, FLE_RULE, &err));
    assert_string_equal(err.field, "amount");
    assert_non_null(strstr(err.message, "usury cap"));
    assert_state(loan, "2 2 1"); /* nothing written: the proposal is still pending */
    assert_int_equal(lf_scalar_i64("SELECT count(*) FROM journal_entry"), entries);
    assert_int_equal(lf_balance(fund, "1160"), 6000000);
    int64_t p3 = propose(loan, "21160.89", "2026-04-20");
    lf_approve(p3);
    assert_state(loan, "3 3 1");
    assert_int_equal(lf_balance(fund, "1160"), 8116089);
    assert_int_equal(lf_balance(fund, "4100"), -13116089);
    q = payoff(loan, "2026-04-20");
    assert_string_equal(lf_jstr(q, "fees"), "81160.89");
    json_decref(q);
    assert_books();
}

/* With an origination fee (2 %: 240,000.00, microcredito, cap 52 %) the fees bucket collects the
 * origination fee first, on a cash basis to 4100, then the charges, from 1160: a charge of
 * 50,000.00 on 2026-02-01 and row 1 paid with both on 2026-02-15 (1,411,430.11): fees 290,000.00,
 * Cr 4100 240,000.00 and Cr 1160 50,000.00. */
static void test_origination_fee_first(void **state)
{
    (void)state;
    int64_t fund = lf_make_fund("CHFEE", "Charges and fee fund");
    lf_make_tranche(fund, investor, "Senior", "senior", 1, "20000000.00", "0.0800", "2024-01-10");
    int64_t loan = loan_L(fund, "microcredito", "0.02");
    fee_fund = fund;
    fee_loan = loan;
    int64_t pid = propose(loan, "50000.00", "2026-02-01");
    lf_approve(pid);
    json_t *q = payoff(loan, "2026-02-10");
    assert_string_equal(lf_jstr(q, "fees"), "290000.00");
    json_decref(q);
    json_t *r = lf_repay(loan, "1411430.11", "2026-02-15", "F-1", FLE_OK, NULL);
    assert_string_equal(lf_jstr(r, "fees"), "290000.00");
    assert_string_equal(lf_jstr(r, "current_interest"), "217050.99");
    assert_string_equal(lf_jstr(r, "current_principal"), "904379.12");
    json_decref(r);
    char sql[400];
    snprintf(sql, sizeof sql,
             "SELECT string_agg(a.code || ':' || l.amount_minor, ',' ORDER BY a.code) FROM journal_entry e "
             "JOIN journal_line l ON l.entry_id = e.id JOIN account a ON a.id = l.account_id "
             "WHERE e.event_type = 'repayment' AND e.event_ref = 'loan:%" PRId64 "' AND a.code IN ('1160', '4100')",
             loan);
    lf_assert_scalar(sql, "1160:-5000000,4100:-24000000");
    assert_int_equal(lf_balance(fund, "1160"), 0);
    assert_int_equal(lf_balance(fund, "4100"), -29000000);
    json_t *c = charges(loan);
    assert_string_equal(lf_jstr(c, "collected"), "50000.00");
    json_decref(c);
    assert_books();
}

/* verify checks a loan_charge entry against its row: an entry with an approved loan_charge
 * proposal, its audit row and a loan_charge row naming both, but crediting 4000 instead of 4100,
 * is reported (and it is the only problem). */
static void test_verify_checks_charge_lines(void **state)
{
    (void)state;
    assert_true(fee_loan != 0);
    int64_t e = lf_scalar_i64("SELECT nextval('journal_entry_id_seq')");
    int64_t p = lf_scalar_i64("SELECT nextval('proposal_id_seq')");
    char sql[1200];
    snprintf(sql, sizeof sql,
             "WITH e AS (INSERT INTO journal_entry (id, fund_id, effective_date, posted_by, memo, event_type, "
             "event_ref) VALUES (%" PRId64 ", %" PRId64 ", '2026-03-01', %" PRId64 ", 'loan charge', 'loan_charge', "
             "'loan:%" PRId64 "')) INSERT INTO journal_line (entry_id, line_no, account_id, currency, amount_minor, "
             "effective_date) VALUES (%" PRId64 ", 1, (SELECT id FROM account WHERE fund_id = %" PRId64
             " AND code = '1160'), 'COP', 10000, '2026-03-01'), (%" PRId64 ", 2, (SELECT id FROM account "
             "WHERE fund_id = %" PRId64 " AND code = '4000'), 'COP', -10000, '2026-03-01')",
             e, fee_fund, approver.user_id, fee_loan, e, fee_fund, e, fee_fund);
    assert_true(testdb_exec(ci, sql));
    snprintf(sql, sizeof sql,
             "INSERT INTO proposal (id, fund_id, kind, payload, amount_minor, currency, status, proposed_by, "
             "decided_at, result_entry_id) VALUES (%" PRId64 ", %" PRId64 ", 'loan_charge', '{}', 10000, 'COP', "
             "'approved', %" PRId64 ", now(), %" PRId64 ")",
             p, fee_fund, manager.user_id, e);
    assert_true(testdb_exec(ci, sql));
    snprintf(sql, sizeof sql,
             "INSERT INTO audit_log (user_id, action, object_type, object_id, fund_id, detail) VALUES (%" PRId64
             ", 'proposal.approve', 'proposal', '%" PRId64 "', %" PRId64 ", '{\"entry_id\": %" PRId64 "}')",
             approver.user_id, p, fee_fund, e);
    assert_true(testdb_exec(ci, sql));
    snprintf(sql, sizeof sql,
             "INSERT INTO loan_charge (loan_id, amount_minor, value_date, reason, proposal_id, entry_id, created_by) "
             "VALUES (%" PRId64 ", 10000, '2026-03-01', 'forged', %" PRId64 ", %" PRId64 ", %" PRId64 ")",
             fee_loan, p, e, approver.user_id);
    assert_true(testdb_exec(ci, sql));
    static struct ledger_verify_report rep;
    verify_full(&rep);
    assert_false(rep.ok);
    assert_int_equal(rep.problems_total, 1);
    assert_int_equal(rep.problems[0].entry_id, e);
    assert_non_null(strstr(rep.problems[0].text, "lines are not Dr 1160 / Cr 4100"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_charge_worked_example),
        cmocka_unit_test(test_origination_fee_first),
        cmocka_unit_test(test_verify_checks_charge_lines),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
