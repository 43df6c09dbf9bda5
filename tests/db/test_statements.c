/* test_statements: investor statements against a real PostgreSQL. A small fund history is built
 * through the real C API (three tranches, contributions on known dates, three loans, a
 * repayment, two waterfall runs, a write-off and a recovery); every figure of the statements is
 * checked to the centavo against values worked out by hand in the comments, and every figure is
 * reconciled with ledger balances read independently with SQL. */
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

#include "fundledger/approval.h"
#include "fundledger/auth.h"
#include "fundledger/distribution.h"
#include "fundledger/fund.h"
#include "fundledger/ledger.h"
#include "fundledger/loan.h"
#include "fundledger/money.h"
#include "fundledger/org.h"
#include "fundledger/pipeline.h"
#include "fundledger/repayment.h"
#include "fundledger/statement.h"
#include "fundledger/tranche.h"
#include "testdb.h"

/* Tests run from the project root (tests/run.sh cds there). */
#define TEMPLATE "reports/statement.html"
/* A person borrower's name: it must never appear in a statement. */
#define PERSON_NAME "Maria Fernanda Quintero Test"

static const char *ci;
static struct db *db;
static struct principal manager, approver;
static int64_t fund_id, impact, partner, undp; /* investor organisations */
static int64_t t_s, t_m, t_f;                  /* senior, mezzanine, first-loss tranches */
static int64_t coop, person, assoc;            /* entrepreneurs */
static int64_t loan_a, loan_b, loan_c;

/* ---- helpers (as in test_loans.c) ---------------------------------------------------------- */

typedef json_t *(*call_fn)(struct db *d, void *arg, struct fl_error *err);
struct call {
    call_fn fn;
    void *arg;
    json_t *out;
};

static enum fl_err call_tx(struct db *d, void *arg, struct fl_error *err)
{
    struct call *c = arg;
    json_decref(c->out);
    c->out = c->fn(d, c->arg, err);
    return c->out ? FLE_OK : err->code;
}

static json_t *run(call_fn fn, void *arg, enum fl_err expect)
{
    struct call c = {fn, arg, NULL};
    struct fl_error err;
    fl_error_clear(&err);
    enum fl_err rc = db_tx(db, call_tx, &c, &err);
    if (rc != expect) {
        fprintf(stderr, "expected %s, got %s: %s (%s)\n", fl_err_code(expect), fl_err_code(rc), err.message, err.field);
    }
    assert_int_equal(rc, expect);
    if (rc != FLE_OK) {
        json_decref(c.out);
        return NULL;
    }
    return c.out;
}

static int64_t jid(const json_t *o, const char *k)
{
    return json_integer_value(json_object_get(o, k));
}

static int64_t scalar_i64(const char *sql)
{
    char *v = testdb_scalar(ci, sql);
    assert_non_null(v);
    int64_t x = strtoll(v, NULL, 10);
    free(v);
    return x;
}

/* A member by dotted path ("capital_account.qtd.opening"). */
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

#define expect_str(o, path, want) expect_str_at((o), (path), (want), __FILE__, __LINE__)
static void expect_str_at(const json_t *o, const char *path, const char *want, const char *file, int line)
{
    const char *got = json_string_value(jpath(o, path));
    if (got == NULL || strcmp(got, want) != 0) {
        print_message("%s:%d: %s: expected \"%s\", got \"%s\"\n", file, line, path, want, got ? got : "(null)");
    }
    _assert_true(got != NULL && strcmp(got, want) == 0, path, file, line);
}

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

static json_t *approve_fn(struct db *d, void *arg, struct fl_error *err)
{
    return approval_decide(d, &approver, *(int64_t *)arg, true, "ok", err);
}

static void approve(const json_t *proposal)
{
    int64_t pid = jid(proposal, "id");
    json_t *done = run(approve_fn, &pid, FLE_OK);
    assert_string_equal(json_string_value(json_object_get(done, "status")), "approved");
    json_decref(done);
}

static json_t *org_fn(struct db *d, void *arg, struct fl_error *err)
{
    const char **a = arg;
    return org_create(d, NULL, a[0], "investor", a[1], "40", err);
}

static json_t *fund_fn(struct db *d, void *arg, struct fl_error *err)
{
    (void)arg;
    return fund_create(d, &manager, "STMT", "Statement test fund", "COP", err);
}

static json_t *tranche_fn(struct db *d, void *arg, struct fl_error *err)
{
    return tranche_propose(d, &manager, fund_id, arg, err);
}

static int64_t make_tranche(int64_t investor, const char *name, const char *kind, int rank, const char *commitment,
                            const char *rate)
{
    struct tranche_terms t = {investor, name, kind, rank, "COP", commitment, rate, NULL, NULL, "2025-01-01", NULL};
    json_t *p = run(tranche_fn, &t, FLE_OK);
    approve(p);
    json_decref(p);
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT id FROM tranche WHERE name = '%s'", name);
    return scalar_i64(sql);
}

struct money_args {
    int64_t id;
    const char *amount, *date, *text;
};

static json_t *contribute_fn(struct db *d, void *arg, struct fl_error *err)
{
    struct money_args *a = arg;
    return tranche_contribute(d, &manager, a->id, a->amount, a->date, a->text, 0, err);
}

static void contribute(int64_t tranche, const char *amount, const char *date, const char *ref)
{
    struct money_args a = {tranche, amount, date, ref};
    json_decref(run(contribute_fn, &a, FLE_OK));
}

static json_t *entrepreneur_fn(struct db *d, void *arg, struct fl_error *err)
{
    return pipeline_entrepreneur_create(d, &manager, fund_id, arg, err);
}

struct move_args {
    int64_t id;
    const char *to;
};

static json_t *move_fn(struct db *d, void *arg, struct fl_error *err)
{
    struct move_args *a = arg;
    return pipeline_move(d, &manager, a->id, a->to, "test", err);
}

static int64_t make_entrepreneur(struct pipeline_entrepreneur_input *in)
{
    json_t *e = run(entrepreneur_fn, in, FLE_OK);
    int64_t id = jid(e, "id");
    json_decref(e);
    static const char *const path[] = {"screening", "due_diligence", "committee"};
    for (int i = 0; i < 3; i++) {
        struct move_args m = {id, path[i]};
        json_decref(run(move_fn, &m, FLE_OK));
    }
    return id;
}

static json_t *loan_fn(struct db *d, void *arg, struct fl_error *err)
{
    return loan_propose(d, &manager, fund_id, arg, err);
}

struct tick_args {
    int64_t loan;
    const char *item, *date;
};

static json_t *tick_fn(struct db *d, void *arg, struct fl_error *err)
{
    struct tick_args *a = arg;
    return loan_condition_tick(d, &manager, a->loan, a->item, a->date, "checked", err);
}

static json_t *disb_fn(struct db *d, void *arg, struct fl_error *err)
{
    struct money_args *a = arg;
    return disbursement_propose(d, &manager, a->id, a->amount, a->date, err);
}

/* A bullet loan of one yearly instalment (interest = principal x 24 %), with explicit shares
 * [{tranche, amount}], approved, conditions ticked and fully disbursed on disb_date. */
static int64_t make_loan(int64_t entrepreneur, const char *principal, const char *first_due, const char *approval_date,
                         json_t *shares, const char *disb_date)
{
    struct loan_terms t = {.entrepreneur_id = entrepreneur,
                           .principal = principal,
                           .annual_rate = "0.2400",
                           .payments_per_year = 1,
                           .term_count = 1,
                           .first_due_date = first_due,
                           .amortisation = "bullet",
                           .approval_date = approval_date,
                           .purpose = "working capital",
                           .shares = shares};
    json_t *p = run(loan_fn, &t, FLE_OK);
    int64_t id = jid(p, "loan_id");
    approve(p);
    json_decref(p);
    json_decref(shares);
    static const char *const items[] = {"signed_agreement", "kyc", "sanctions_screening", "bank_account_verified"};
    for (int i = 0; i < 4; i++) {
        struct tick_args a = {id, items[i], approval_date};
        json_decref(run(tick_fn, &a, FLE_OK));
    }
    struct money_args d = {id, principal, disb_date, NULL};
    p = run(disb_fn, &d, FLE_OK);
    approve(p);
    json_decref(p);
    return id;
}

static json_t *shares3(int64_t t1, const char *a1, int64_t t2, const char *a2, int64_t t3, const char *a3)
{
    json_t *s = json_array();
    json_array_append_new(s, json_pack("{s:I, s:s}", "tranche_id", (json_int_t)t1, "amount", a1));
    if (t2) {
        json_array_append_new(s, json_pack("{s:I, s:s}", "tranche_id", (json_int_t)t2, "amount", a2));
    }
    if (t3) {
        json_array_append_new(s, json_pack("{s:I, s:s}", "tranche_id", (json_int_t)t3, "amount", a3));
    }
    return s;
}

static json_t *repay_fn(struct db *d, void *arg, struct fl_error *err)
{
    struct money_args *a = arg;
    return repayment_record(d, &manager, a->id, a->amount, a->date, a->text, err);
}

static json_t *writeoff_fn(struct db *d, void *arg, struct fl_error *err)
{
    struct money_args *a = arg;
    return writeoff_propose(d, &manager, a->id, a->amount, a->date, a->text, err);
}

static json_t *recovery_fn(struct db *d, void *arg, struct fl_error *err)
{
    struct money_args *a = arg;
    return recovery_record(d, &manager, a->id, a->amount, a->date, a->text, err);
}

static json_t *waterfall_fn(struct db *d, void *arg, struct fl_error *err)
{
    return distribution_run(d, &manager, fund_id, arg, err);
}

/* A tranche account's balance as of the end of a date, read with SQL (not through the code
 * under test). */
static int64_t ledger_as_of(int64_t tranche, const char *suffix, const char *date)
{
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT coalesce(sum(l.amount_minor), 0) FROM journal_line l JOIN account a ON a.id = l.account_id "
             "WHERE a.fund_id = %" PRId64 " AND a.code = 'T%" PRId64 ".%s' AND l.effective_date <= '%s'",
             fund_id, tranche, suffix, date);
    return scalar_i64(sql);
}

static json_t *statement(int64_t investor, int64_t tranche, const char *period_end)
{
    json_t *st = NULL;
    struct fl_error err;
    fl_error_clear(&err);
    enum fl_err e = statement_build(db, fund_id, investor, tranche, period_end, &st, &err);
    if (e != FLE_OK) {
        fail_msg("statement_build: %s (%s)", err.message, err.field);
    }
    assert_non_null(st);
    return st;
}

static const json_t *tranche_of(const json_t *st, int64_t tranche)
{
    size_t i;
    const json_t *t;
    json_array_foreach(json_object_get(st, "tranches"), i, t)
    {
        if (jid(t, "id") == tranche) {
            return t;
        }
    }
    fail_msg("tranche %" PRId64 " not in the statement", tranche);
    return NULL;
}

/* ---- setup: the fund's history ------------------------------------------------------------- */

static int setup(void **state)
{
    (void)state;
    ci = testdb_create("statements");
    db = testdb_open(ci);
    struct fl_error err;
    manager = (struct principal){.role = ROLE_FUND_MANAGER};
    approver = (struct principal){.role = ROLE_APPROVER};
    if (auth_user_add(db, "manager", ROLE_FUND_MANAGER, 0, &manager.user_id, &err) != FLE_OK ||
        auth_user_add(db, "approver", ROLE_APPROVER, 0, &approver.user_id, &err) != FLE_OK ||
        auth_limit_set(db, approver.user_id, "COP", 100000000000, &err) != FLE_OK) {
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    db_close(db);
    return 0;
}

static void test_history(void **state)
{
    (void)state;
    json_t *f = run(fund_fn, NULL, FLE_OK);
    fund_id = jid(f, "id");
    json_decref(f);
    /* The figures below were worked out under the stored-schedule allocation (a repayment before
     * the due date pays the instalment's whole interest): the fund keeps that servicing basis
     * (migration 0016, docs/loan-servicing.md §11) until they are redone on the accrual basis. */
    char basis[120];
    snprintf(basis, sizeof basis, "UPDATE fund SET servicing_basis = 'schedule' WHERE id = %" PRId64, fund_id);
    assert_true(testdb_exec(ci, basis));
    const char *o1[2] = {"Impact Investor", "CO-RUE-900000011"}, *o2[2] = {"Corporate Partner", "CO-RUE-900000012"},
               *o3[2] = {"UNDP", "XM-DAC-41114"};
    json_t *o = run(org_fn, o1, FLE_OK);
    impact = jid(o, "id");
    json_decref(o);
    o = run(org_fn, o2, FLE_OK);
    partner = jid(o, "id");
    json_decref(o);
    o = run(org_fn, o3, FLE_OK);
    undp = jid(o, "id");
    json_decref(o);

    /* The stack, all signed 2025-01-01: senior 1,000,000.00 at 10 % EA; mezzanine 2,000,000.00
     * and first loss 3,000,000.00 at 0 %. */
    t_s = make_tranche(impact, "Senior", "senior", 1, "1000000.00", "0.1000");
    t_m = make_tranche(partner, "Mezzanine", "mezzanine", 2, "2000000.00", NULL);
    t_f = make_tranche(undp, "First loss", "first_loss", 3, "3000000.00", NULL);
    contribute(t_s, "1000000.00", "2025-01-01", "S-1");
    contribute(t_f, "3000000.00", "2025-01-20", "F-1");
    contribute(t_m, "1000000.00", "2025-02-15", "M-1");
    contribute(t_m, "500000.00", "2025-05-10", "M-2");

    struct pipeline_entrepreneur_input a = {.kind = "cooperative",
                                            .name = "Cooperativa Cacaotera",
                                            .tax_id = "900123456",
                                            .municipality_code = "52250",
                                            .value_chain = "cacao",
                                            .women_led = true,
                                            .members = 40};
    struct pipeline_entrepreneur_input b = {.kind = "person",
                                            .name = PERSON_NAME,
                                            .tax_id = "1012345678",
                                            .municipality_code = "05234",
                                            .value_chain = "beans",
                                            .members = 1};
    struct pipeline_entrepreneur_input c = {.kind = "association",
                                            .name = "Asociacion de Cafeteros",
                                            .tax_id = "900765432",
                                            .municipality_code = "52835",
                                            .value_chain = "coffee",
                                            .members = 25};
    coop = make_entrepreneur(&a);
    person = make_entrepreneur(&b);
    assoc = make_entrepreneur(&c);

    /* Loan A: 1,200,000.00 to the cooperative, due 2026-12-31, shares S 200,000 / M 400,000 /
     * F 600,000. Loan B: 500,000.00 to the person, due 2025-09-30, all first loss. */
    loan_a = make_loan(coop, "1200000.00", "2026-12-31", "2025-06-01",
                       shares3(t_s, "200000.00", t_m, "400000.00", t_f, "600000.00"), "2025-06-05");
    loan_b = make_loan(person, "500000.00", "2025-09-30", "2025-06-01", shares3(t_f, "500000.00", 0, NULL, 0, NULL),
                       "2025-06-05");
    assert_int_equal(ledger_as_of(t_s, "LOANS", "2025-06-30"), 20000000);
    assert_int_equal(ledger_as_of(t_f, "LOANS", "2025-06-30"), 110000000);

    /* 2025-12-31: 1,188,000.00 on loan A before its due date: the current instalment's interest
     * 1,200,000 x 0.24 = 288,000.00, then 900,000.00 principal, split 1:2:3 = 150,000 / 300,000 /
     * 450,000. Loan A keeps 300,000.00 outstanding (S 50,000, M 100,000, F 150,000). */
    struct money_args rp = {loan_a, "1188000.00", "2025-12-31", "BANK-1"};
    json_decref(run(repay_fn, &rp, FLE_OK));
    assert_int_equal(ledger_as_of(t_m, "LOANS", "2025-12-31"), 10000000);

    /* Run 1, 2026-01-01: cash 1,188,000.00. Senior interest due = 1,000,000.00 x 0.10 x 365/365
     * = 100,000.00 (paid); senior principal due = its capital 1,000,000.00 (paid); the 88,000.00
     * left goes to mezzanine principal (due 1,500,000.00); first loss and residual get nothing. */
    json_decref(run(waterfall_fn, (void *)"2026-01-01", FLE_OK));
    assert_int_equal(ledger_as_of(t_s, "DIST_INCOME", "2026-01-01"), 10000000);
    assert_int_equal(ledger_as_of(t_s, "RETURNED", "2026-01-01"), 100000000);
    assert_int_equal(ledger_as_of(t_m, "RETURNED", "2026-01-01"), 8800000);

    /* Loan C: 800,000.00 to the association, approved 2026-01-05 (mezzanine cash 1,100,000.00),
     * due 2026-03-31, all mezzanine, disbursed 2026-01-10; never repaid. */
    loan_c = make_loan(assoc, "800000.00", "2026-03-31", "2026-01-05", shares3(t_m, "800000.00", 0, NULL, 0, NULL),
                       "2026-01-10");

    /* 2026-01-15: loan B written off in full (500,000.00), absorbed bottom-up by the first loss. */
    struct money_args wo = {loan_b, NULL, "2026-01-15", "borrower unreachable"};
    json_t *p = run(writeoff_fn, &wo, FLE_OK);
    approve(p);
    json_decref(p);
    assert_int_equal(ledger_as_of(t_f, "LOSS", "2026-01-15"), 50000000);
    /* 2026-02-10: 120,000.00 recovered, restored top-down: only the first loss had absorbed. */
    struct money_args rc = {loan_b, "120000.00", "2026-02-10", "REC-1"};
    json_decref(run(recovery_fn, &rc, FLE_OK));
    assert_int_equal(ledger_as_of(t_f, "LOSS", "2026-02-10"), 38000000);

    /* Run 2, 2026-03-31: cash 120,000.00 (the recovery, principal). Senior capital is 0: its
     * interest and principal due are 0. Mezzanine principal due 1,412,000.00: paid 120,000.00. */
    json_decref(run(waterfall_fn, (void *)"2026-03-31", FLE_OK));
    assert_int_equal(ledger_as_of(t_m, "RETURNED", "2026-03-31"), 20800000);

    /* 2026-05-15: a third mezzanine contribution, 200,000.00. */
    contribute(t_m, "200000.00", "2026-05-15", "M-3");
}

/* ---- the statements ------------------------------------------------------------------------ */

/* The mezzanine investor's statement for Q2 2026, every figure by hand. */
static void test_partner_q2(void **state)
{
    (void)state;
    json_t *st = statement(partner, 0, "2026-06-30");
    assert_int_equal(json_array_size(json_object_get(st, "tranches")), 1);
    expect_str(st, "period_end", "2026-06-30");
    expect_str(st, "periods.qtd.from", "2026-04-01");
    expect_str(st, "periods.ytd.from", "2026-01-01");
    assert_true(json_is_null(jpath(st, "periods.itd.from")));
    expect_str(st, "fund.currency", "COP");
    assert_int_equal(jid(json_object_get(st, "investor"), "id"), partner);
    const json_t *m = tranche_of(st, t_m);
    /* Commitment 2,000,000.00; paid in 1,000,000 + 500,000 + 200,000 = 1,700,000.00; unfunded 300,000.00. */
    expect_str(m, "commitment.commitment", "2000000.00");
    expect_str(m, "commitment.paid_in", "1700000.00");
    expect_str(m, "commitment.unfunded", "300000.00");
    /* QTD (from 2026-04-01): opening = 1,500,000 - 88,000 - 120,000 = 1,292,000.00; + 200,000.00. */
    expect_str(m, "capital_account.qtd.from", "2026-04-01");
    expect_str(m, "capital_account.qtd.opening", "1292000.00");
    expect_str(m, "capital_account.qtd.contributions", "200000.00");
    expect_str(m, "capital_account.qtd.income_allocated", "0.00");
    expect_str(m, "capital_account.qtd.distributions_income", "0.00");
    expect_str(m, "capital_account.qtd.distributions_principal", "0.00");
    expect_str(m, "capital_account.qtd.losses_absorbed", "0.00");
    expect_str(m, "capital_account.qtd.fees", "0.00");
    expect_str(m, "capital_account.qtd.closing", "1492000.00");
    /* YTD: opening 1,500,000.00 (nothing returned in 2025); + 200,000; - 88,000 - 120,000 principal. */
    expect_str(m, "capital_account.ytd.opening", "1500000.00");
    expect_str(m, "capital_account.ytd.contributions", "200000.00");
    expect_str(m, "capital_account.ytd.distributions_principal", "208000.00");
    expect_str(m, "capital_account.ytd.closing", "1492000.00");
    /* Since inception: 0 + 1,700,000 - 208,000 = 1,492,000.00. */
    expect_str(m, "capital_account.itd.opening", "0.00");
    expect_str(m, "capital_account.itd.contributions", "1700000.00");
    expect_str(m, "capital_account.itd.distributions_principal", "208000.00");
    expect_str(m, "capital_account.itd.losses_absorbed", "0.00");
    expect_str(m, "capital_account.itd.closing", "1492000.00");
    /* Position: loans = A 400,000 - 300,000 + C 800,000 = 900,000.00; cash = 1,700,000 - 400,000
     * - 800,000 = 500,000.00 (repayments go to collections, not back to tranche cash). */
    expect_str(m, "position.capital", "1492000.00");
    expect_str(m, "position.loans_outstanding", "900000.00");
    expect_str(m, "position.cash_available", "500000.00");
    expect_str(m, "position.interest_received.qtd", "0.00");
    expect_str(m, "position.interest_received.itd", "0.00");
    /* Run 2 (2026-03-31) was the last: mezzanine interest due 0, paid 0. */
    expect_str(m, "position.interest_unpaid_at_last_run.run_date", "2026-03-31");
    expect_str(m, "position.interest_unpaid_at_last_run.amount", "0.00");
    /* Subordination: first loss 3,000,000 - 380,000 = 2,620,000 below; stack = 0 (senior) +
     * 1,492,000 + 2,620,000 = 4,112,000; 2,620,000 / 4,112,000 = 0.63715... -> 0.6372. */
    expect_str(m, "position.subordination.junior_capital", "2620000.00");
    expect_str(m, "position.subordination.stack_capital", "4112000.00");
    expect_str(m, "position.subordination.ratio", "0.6372");
    /* Performance: DPI = 208,000 / 1,700,000 = 0.12235... -> 0.1224; RVPI = 1,492,000 / 1,700,000
     * = 0.87764... -> 0.8776; TVPI = 1,700,000 / 1,700,000 = 1.0000. The flows (-1,000,000,
     * -500,000, +88,000, +120,000, -200,000, NAV +1,492,000) sum to 0, so r = 0 is a root, the
     * only one: the NPV is positive below 0 and negative above (checked at -0.9 .. 100). */
    expect_str(m, "performance.paid_in", "1700000.00");
    expect_str(m, "performance.distributions", "208000.00");
    expect_str(m, "performance.nav", "1492000.00");
    expect_str(m, "performance.dpi", "0.1224");
    expect_str(m, "performance.rvpi", "0.8776");
    expect_str(m, "performance.tvpi", "1.0000");
    expect_str(m, "performance.irr", "0.0000000000");
    assert_int_equal(jid(json_object_get(m, "performance"), "cash_flows"), 6);
    /* No waterfall run in Q2. */
    assert_int_equal(json_array_size(jpath(m, "waterfall.runs")), 0);
    /* Capital history: month ends from January 2025 to the period end (18 points). */
    const json_t *h = json_object_get(m, "capital_history");
    assert_int_equal(json_array_size(h), 18);
    expect_str(json_array_get(h, 0), "date", "2025-01-31");
    expect_str(json_array_get(h, 0), "capital", "0.00");
    expect_str(json_array_get(h, 1), "capital", "1000000.00");  /* 2025-02-28 */
    expect_str(json_array_get(h, 4), "capital", "1500000.00");  /* 2025-05-31 */
    expect_str(json_array_get(h, 12), "capital", "1412000.00"); /* 2026-01-31 */
    expect_str(json_array_get(h, 14), "capital", "1292000.00"); /* 2026-03-31 */
    expect_str(json_array_get(h, 17), "date", "2026-06-30");
    expect_str(json_array_get(h, 17), "capital", "1492000.00");
    json_decref(st);
}

/* Q1 2026 for the mezzanine: both waterfall runs with the steps that touched it. */
static void test_partner_q1_waterfall(void **state)
{
    (void)state;
    json_t *st = statement(partner, t_m, "2026-03-31");
    const json_t *m = tranche_of(st, t_m);
    /* QTD = YTD (Q1): opening 1,500,000.00, principal 208,000.00, closing 1,292,000.00. */
    expect_str(m, "capital_account.qtd.opening", "1500000.00");
    expect_str(m, "capital_account.qtd.distributions_principal", "208000.00");
    expect_str(m, "capital_account.qtd.closing", "1292000.00");
    expect_str(m, "capital_account.ytd.closing", "1292000.00");
    const json_t *runs = jpath(m, "waterfall.runs");
    assert_int_equal(json_array_size(runs), 2);
    const json_t *r1 = json_array_get(runs, 0), *r2 = json_array_get(runs, 1);
    expect_str(r1, "run_date", "2026-01-01");
    /* Run 1 collected 288,000.00 interest and 900,000.00 principal. */
    expect_str(r1, "collected.interest", "288000.00");
    expect_str(r1, "collected.principal", "900000.00");
    expect_str(r2, "run_date", "2026-03-31");
    expect_str(r2, "collected.principal", "120000.00");
    /* The mezzanine's steps: interest (due 0), principal. */
    const json_t *s1 = json_object_get(r1, "steps"), *s2 = json_object_get(r2, "steps");
    assert_int_equal(json_array_size(s1), 2);
    assert_int_equal(json_array_size(s2), 2);
    const json_t *p1 = json_array_get(s1, 1), *p2 = json_array_get(s2, 1);
    expect_str(json_array_get(s1, 0), "kind", "interest");
    expect_str(json_array_get(s1, 0), "due", "0.00");
    expect_str(p1, "kind", "principal");
    expect_str(p1, "due", "1500000.00");
    expect_str(p1, "paid", "88000.00");
    expect_str(p1, "shortfall", "1412000.00");
    expect_str(p2, "due", "1412000.00");
    expect_str(p2, "paid", "120000.00");
    expect_str(p2, "shortfall", "1292000.00");
    json_decref(st);
}

/* The senior tranche: the hand-derived IRR. Flows: -1,000,000.00 on 2025-01-01; on 2026-01-01
 * +100,000.00 interest and +1,000,000.00 principal, NAV 0: 1,100,000 / 1,000,000 after exactly
 * 365 days, so (1 + r)^1 = 1.1 and r = 0.1000000000. */
static void test_senior_irr(void **state)
{
    (void)state;
    json_t *st = statement(impact, 0, "2026-01-01");
    const json_t *s = tranche_of(st, t_s);
    expect_str(s, "performance.paid_in", "1000000.00");
    expect_str(s, "performance.distributions", "1100000.00");
    expect_str(s, "performance.nav", "0.00");
    expect_str(s, "performance.dpi", "1.1000");
    expect_str(s, "performance.rvpi", "0.0000");
    expect_str(s, "performance.tvpi", "1.1000");
    expect_str(s, "performance.irr", "0.1000000000");
    /* Q1 2026 (one day): opening 1,000,000.00; income allocated and distributed 100,000.00;
     * principal 1,000,000.00; closing 0.00. */
    expect_str(s, "capital_account.qtd.opening", "1000000.00");
    expect_str(s, "capital_account.qtd.income_allocated", "100000.00");
    expect_str(s, "capital_account.qtd.distributions_income", "100000.00");
    expect_str(s, "capital_account.qtd.distributions_principal", "1000000.00");
    expect_str(s, "capital_account.qtd.closing", "0.00");
    expect_str(s, "position.interest_received.qtd", "100000.00");
    expect_str(s, "position.interest_received.ytd", "100000.00");
    expect_str(s, "position.interest_received.itd", "100000.00");
    /* Senior: everything is below it. Stack on 2026-01-01: 0 + (1,500,000 - 88,000) + 3,000,000. */
    expect_str(s, "position.subordination.junior_capital", "4412000.00");
    expect_str(s, "position.subordination.ratio", "1.0000");
    /* Loans: 200,000 - 150,000 = 50,000.00; cash 1,000,000 - 200,000 = 800,000.00. */
    expect_str(s, "position.loans_outstanding", "50000.00");
    expect_str(s, "position.cash_available", "800000.00");
    /* Run 1 paid the senior interest in full. */
    expect_str(s, "position.interest_unpaid_at_last_run.amount", "0.00");
    json_decref(st);
    /* The same IRR half a year later: no flow since, NAV 0. */
    st = statement(impact, t_s, "2026-06-30");
    expect_str(tranche_of(st, t_s), "performance.irr", "0.1000000000");
    json_decref(st);
}

/* The first loss: losses absorbed net of the recovery, and a negative IRR. */
static void test_first_loss(void **state)
{
    (void)state;
    json_t *st = statement(undp, 0, "2026-06-30");
    const json_t *f = tranche_of(st, t_f);
    /* YTD: opening 3,000,000.00; losses 500,000 - 120,000 = 380,000.00; closing 2,620,000.00. */
    expect_str(f, "capital_account.ytd.opening", "3000000.00");
    expect_str(f, "capital_account.ytd.losses_absorbed", "380000.00");
    expect_str(f, "capital_account.ytd.closing", "2620000.00");
    expect_str(f, "capital_account.qtd.opening", "2620000.00");
    expect_str(f, "capital_account.qtd.losses_absorbed", "0.00");
    expect_str(f, "capital_account.itd.contributions", "3000000.00");
    expect_str(f, "capital_account.itd.losses_absorbed", "380000.00");
    /* Loans: A 600,000 - 450,000 = 150,000.00 (B written off); cash 3,000,000 - 600,000 - 500,000. */
    expect_str(f, "position.loans_outstanding", "150000.00");
    expect_str(f, "position.cash_available", "1900000.00");
    expect_str(f, "position.subordination.junior_capital", "0.00");
    expect_str(f, "position.subordination.ratio", "0.0000");
    /* DPI 0; RVPI = TVPI = 2,620,000 / 3,000,000 = 0.87333... -> 0.8733. IRR: two flows,
     * -3,000,000 on 2025-01-20 and +2,620,000 on 2026-06-30, 526 days apart:
     * r = (2,620,000 / 3,000,000)^(365/526) - 1 = -0.08970141908... -> -0.0897014191. */
    expect_str(f, "performance.dpi", "0.0000");
    expect_str(f, "performance.rvpi", "0.8733");
    expect_str(f, "performance.tvpi", "0.8733");
    expect_str(f, "performance.irr", "-0.0897014191");
    json_decref(st);
}

/* The fund's portfolio quality and impact on 2026-06-30. Loans: A 300,000.00 outstanding, due
 * 2026-12-31 (current); C 800,000.00, due 2026-03-31 and unpaid: 91 days past due. */
static void test_portfolio_and_impact(void **state)
{
    (void)state;
    json_t *st = statement(partner, 0, "2026-06-30");
    const json_t *p = json_object_get(st, "portfolio");
    expect_str(p, "gross_portfolio", "1100000.00");
    assert_int_equal(jid(p, "loans_outstanding"), 2);
    /* PAR30 = PAR90 = 800,000 / 1,100,000 = 0.72727... -> 0.7273 (the whole balance of C). */
    expect_str(p, "par30.amount", "800000.00");
    expect_str(p, "par30.ratio", "0.7273");
    expect_str(p, "par90.amount", "800000.00");
    expect_str(p, "par90.ratio", "0.7273");
    /* Write-offs (B, 2026-01-15) and the recovery (2026-02-10): in the year, not in the quarter. */
    expect_str(p, "write_offs.qtd.amount", "0.00");
    expect_str(p, "write_offs.ytd.amount", "500000.00");
    expect_str(p, "write_offs.itd.amount", "500000.00");
    expect_str(p, "recoveries.qtd.amount", "0.00");
    expect_str(p, "recoveries.ytd.amount", "120000.00");
    /* Concentration, largest first: coffee 800,000 (0.7273), cacao 300,000 (0.2727). */
    const json_t *vc = jpath(p, "concentration.value_chain"), *mu = jpath(p, "concentration.municipality");
    assert_int_equal(json_array_size(vc), 2);
    expect_str(json_array_get(vc, 0), "code", "coffee");
    expect_str(json_array_get(vc, 0), "name", "Coffee");
    expect_str(json_array_get(vc, 0), "amount", "800000.00");
    expect_str(json_array_get(vc, 0), "share", "0.7273");
    expect_str(json_array_get(vc, 1), "code", "cacao");
    expect_str(json_array_get(vc, 1), "share", "0.2727");
    assert_int_equal(json_array_size(mu), 2);
    expect_str(json_array_get(mu, 0), "code", "52835");
    expect_str(json_array_get(mu, 1), "code", "52250");
    expect_str(json_array_get(mu, 1), "name", "El Charco");
    /* The ledger's LOANS accounts hold the same: 50,000 + 900,000 + 150,000. */
    expect_str(p, "reconciliation.ledger_loans_accounts", "1100000.00");
    expect_str(p, "reconciliation.difference", "0.00");
    /* Impact: the cooperative (women-led, 40 members) and the association (25); the person's
     * loan was written off. */
    const json_t *im = json_object_get(st, "impact");
    assert_int_equal(jid(im, "borrowers"), 2);
    assert_int_equal(jid(im, "persons_financed"), 0);
    const json_t *ind = json_object_get(im, "indicators");
    size_t i;
    const json_t *x;
    int seen = 0;
    json_array_foreach(ind, i, x)
    {
        const char *code = json_string_value(json_object_get(x, "code"));
        const json_t *v = json_object_get(x, "value");
        assert_true(json_is_null(json_object_get(x, "target")));
        if (strcmp(code, "PI4874") == 0) {
            assert_true(json_is_null(v)); /* jobs are not measured */
        } else if (strcmp(code, "PI5576") == 0) {
            assert_int_equal(json_integer_value(v), 1);
        } else if (strcmp(code, "PI4060") == 0) {
            assert_int_equal(json_integer_value(v), 65);
        } else if (strcmp(code, "PI1478") == 0) {
            assert_int_equal(json_integer_value(v), 2);
        } else if (strcmp(code, "PI7569") == 0) {
            assert_string_equal(json_string_value(v), "1100000.00");
        } else if (strcmp(code, "FP2635") == 0 || strcmp(code, "FP6373") == 0) {
            assert_string_equal(json_string_value(v), "800000.00");
        } else if (strcmp(code, "FP9717") == 0) {
            assert_string_equal(json_string_value(v), "0.00");
        } else {
            fail_msg("unexpected indicator %s", code);
        }
        seen++;
    }
    assert_int_equal(seen, 8);
    /* At the end of 2025 loan B (500,000.00, due 2025-09-30) was 92 days late: PAR90. Loan A
     * had 300,000.00 left. 500,000 / 800,000 = 0.6250. */
    json_decref(st);
    st = statement(undp, 0, "2025-12-31");
    p = json_object_get(st, "portfolio");
    expect_str(p, "gross_portfolio", "800000.00");
    expect_str(p, "par90.amount", "500000.00");
    expect_str(p, "par90.ratio", "0.6250");
    const json_t *f = tranche_of(st, t_f);
    expect_str(f, "position.loans_outstanding", "650000.00"); /* A 150,000 + B 500,000 */
    json_decref(st);
}

/* A statement and its canonical hash; nobody is named. */
static void test_hash_and_privacy(void **state)
{
    (void)state;
    json_t *st = statement(partner, 0, "2026-06-30");
    const char *h = json_string_value(json_object_get(st, "hash"));
    assert_non_null(h);
    assert_int_equal(strlen(h), 64);
    assert_int_equal(strspn(h, "0123456789abcdef"), 64);
    char again[HASH_HEX_BYTES];
    assert_true(statement_hash(st, again));
    assert_string_equal(again, h);
    /* One centavo more in one figure: another hash. */
    json_t *changed = json_deep_copy(st);
    json_t *t = json_array_get(json_object_get(changed, "tranches"), 0);
    json_object_set_new(json_object_get(t, "position"), "capital", json_string("1492000.01"));
    char other[HASH_HEX_BYTES];
    assert_true(statement_hash(changed, other));
    assert_string_not_equal(other, h);
    json_decref(changed);
    /* The same data gives the same hash once the cut-off time is the same. */
    json_t *st2 = statement(partner, 0, "2026-06-30");
    json_object_set(st2, "cutoff", json_object_get(st, "cutoff"));
    assert_true(statement_hash(st2, again));
    assert_string_equal(again, h);
    json_decref(st2);
    /* No person's name anywhere: not the borrower's, not the tax id. */
    char *text = json_dumps(st, JSON_COMPACT);
    assert_non_null(text);
    assert_null(strstr(text, PERSON_NAME));
    assert_null(strstr(text, "1012345678"));
    free(text);
    json_decref(st);
}

static void test_html(void **state)
{
    (void)state;
    json_t *st = statement(partner, 0, "2026-06-30");
    char *html = NULL;
    struct fl_error err;
    fl_error_clear(&err);
    enum fl_err e = statement_render_html(st, TEMPLATE, &html, &err);
    if (e != FLE_OK) {
        fail_msg("render: %s", err.message);
    }
    assert_non_null(html);
    assert_non_null(strstr(html, "<!DOCTYPE html>"));
    /* Three charts: capital over time, municipalities, value chains. */
    const char *p = html;
    int svgs = 0;
    while ((p = strstr(p, "<svg")) != NULL && svgs < 100) {
        svgs++;
        p++;
    }
    assert_int_equal(svgs, 3);
    assert_non_null(strstr(html, "<polyline"));
    assert_non_null(strstr(html, "San Andr"));
    /* Amounts with separators; the hash and the cut-off. */
    assert_non_null(strstr(html, "1,492,000.00"));
    /* Write-offs and recoveries of the quarter, the year and since inception; PAR30 with its ratio. */
    assert_non_null(strstr(html, "0.00 / 500,000.00 / 500,000.00"));
    assert_non_null(strstr(html, "0.00 / 120,000.00 / 120,000.00"));
    assert_non_null(strstr(html, "800,000.00 (72.73&#8239;%)"));
    assert_non_null(strstr(html, "Loans outstanding / borrowers</td><td class=\"num\">2 / 2<"));
    assert_non_null(strstr(html, "Statement test fund"));
    assert_non_null(strstr(html, json_string_value(json_object_get(st, "hash"))));
    /* Self-contained: no external URL, no script, no remote resource, no placeholder left. */
    assert_null(strstr(html, "http://"));
    assert_null(strstr(html, "https://"));
    assert_null(strstr(html, "url("));
    assert_null(strstr(html, "<script"));
    assert_null(strstr(html, " src="));
    assert_null(strstr(html, "{{"));
    /* Words for investors: no template comment, no account codes or formulas, no "null", no
     * "shortfall" of capital that is not due; print CSS for A4. */
    assert_null(strstr(html, "<!--"));
    assert_null(strstr(html, "CONTRIB"));
    assert_null(strstr(html, "null"));
    assert_null(strstr(html, "Shortfall"));
    assert_null(strstr(html, "shortfall"));
    assert_non_null(strstr(html, "No targets have been set for these indicators yet."));
    assert_non_null(strstr(html, "@page { size: A4;"));
    assert_non_null(strstr(html, "@media print"));
    /* The capital chart labels more dates than its first and last, as month and year. */
    int xlabels = 0;
    for (p = strstr(html, "class=\"xlabel"); p != NULL; p = strstr(p + 1, "class=\"xlabel")) {
        xlabels++;
    }
    assert_true(xlabels > 2);
    assert_non_null(strstr(html, " 2026</text>"));
    assert_null(strstr(html, PERSON_NAME));
    free(html);
    /* Text from the statement is escaped. */
    json_t *evil = json_deep_copy(st);
    json_object_set_new(json_object_get(evil, "investor"), "name", json_string("<b>Partner & \"Co\"</b>"));
    assert_int_equal(statement_render_html(evil, TEMPLATE, &html, &err), FLE_OK);
    assert_null(strstr(html, "<b>Partner"));
    assert_non_null(strstr(html, "&lt;b&gt;Partner &amp; &quot;Co&quot;&lt;/b&gt;"));
    free(html);
    json_decref(evil);
    /* A template with an unknown placeholder is refused; a missing template too. */
    char path[] = "/tmp/fundledger-stmt-tpl-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    assert_non_null(f);
    fputs("<p>{{fund_name}} {{no_such_thing}}</p>", f);
    fclose(f);
    assert_int_equal(statement_render_html(st, path, &html, &err), FLE_INTERNAL);
    assert_null(html);
    assert_non_null(strstr(err.message, "no_such_thing"));
    remove(path);
    assert_int_equal(statement_render_html(st, "/nonexistent/statement.html", &html, &err), FLE_INTERNAL);
    json_decref(st);
}

/* For every investor of the fund and several dates, every statement figure equals the ledger
 * balances as of that date, read here with SQL; every roll-forward adds up. */
static void test_reconciliation(void **state)
{
    (void)state;
    static const char *const dates[] = {"2025-01-01", "2025-03-31", "2025-06-30", "2025-12-31",
                                        "2026-01-01", "2026-02-10", "2026-03-31", "2026-06-30"};
    static const char *const periods[] = {"qtd", "ytd", "itd"};
    const int64_t investors[3] = {impact, partner, undp};
    for (size_t d = 0; d < sizeof dates / sizeof dates[0]; d++) {
        int64_t loans_sum = 0;
        json_t *st = NULL;
        for (int k = 0; k < 3; k++) {
            json_decref(st);
            st = statement(investors[k], 0, dates[d]);
            size_t i;
            const json_t *t;
            json_array_foreach(json_object_get(st, "tranches"), i, t)
            {
                int64_t id = jid(t, "id");
                int64_t contrib = ledger_as_of(id, "CONTRIB", dates[d]), ret = ledger_as_of(id, "RETURNED", dates[d]),
                        inc = ledger_as_of(id, "DIST_INCOME", dates[d]), loss = ledger_as_of(id, "LOSS", dates[d]),
                        loans = ledger_as_of(id, "LOANS", dates[d]), cash = ledger_as_of(id, "CASH", dates[d]),
                        unfunded = ledger_as_of(id, "UNFUNDED", dates[d]);
                int64_t capital = -(contrib + ret + loss);
                loans_sum += loans;
                assert_int_equal(cop(t, "capital_account.itd.closing"), capital);
                assert_int_equal(cop(t, "position.capital"), capital);
                assert_int_equal(cop(t, "performance.nav"), capital);
                assert_int_equal(cop(t, "commitment.paid_in"), -contrib);
                assert_int_equal(cop(t, "commitment.unfunded"), unfunded);
                assert_int_equal(cop(t, "performance.distributions"), ret + inc);
                assert_int_equal(cop(t, "position.loans_outstanding"), loans);
                assert_int_equal(cop(t, "position.cash_available"), cash);
                assert_int_equal(cop(t, "capital_account.itd.distributions_principal"), ret);
                assert_int_equal(cop(t, "capital_account.itd.distributions_income"), inc);
                assert_int_equal(cop(t, "capital_account.itd.losses_absorbed"), loss);
                for (int p = 0; p < 3; p++) {
                    const json_t *ca = jpath(jpath(t, "capital_account"), periods[p]);
                    int64_t sum = cop(ca, "opening") + cop(ca, "contributions") + cop(ca, "income_allocated") -
                                  cop(ca, "distributions_income") - cop(ca, "distributions_principal") -
                                  cop(ca, "losses_absorbed") - cop(ca, "fees");
                    assert_int_equal(sum, cop(ca, "closing"));
                    assert_int_equal(cop(ca, "closing"), capital);
                }
                /* The last chart point is the closing capital. */
                const json_t *hist = json_object_get(t, "capital_history");
                assert_int_equal(cop(json_array_get(hist, json_array_size(hist) - 1), "capital"), capital);
                /* The tranche's own ledger balances as reported. */
                char code[40];
                snprintf(code, sizeof code, "T%" PRId64 ".CONTRIB", id);
                int64_t reported = 0;
                const char *text = json_string_value(json_object_get(json_object_get(t, "ledger_balances"), code));
                assert_non_null(text);
                assert_int_equal(money_parse(text, 2, true, &reported), MONEY_OK);
                assert_int_equal(reported, contrib);
            }
        }
        /* Portfolio gross = the LOANS balances of the whole stack. */
        assert_int_equal(cop(st, "portfolio.gross_portfolio"), loans_sum);
        json_decref(st);
    }
}

/* Refusals: each names its parameter. */
static void test_refusals(void **state)
{
    (void)state;
    json_t *st = NULL;
    struct fl_error err;
    assert_int_equal(statement_build(db, fund_id, partner, 0, "2999-01-01", &st, &err), FLE_BAD_PARAM);
    assert_string_equal(err.field, "period_end");
    assert_int_equal(statement_build(db, fund_id, partner, 0, "2026-02-30", &st, &err), FLE_BAD_PARAM);
    assert_string_equal(err.field, "period_end");
    assert_int_equal(statement_build(db, fund_id, partner, 0, NULL, &st, &err), FLE_BAD_PARAM);
    assert_string_equal(err.field, "period_end");
    assert_int_equal(statement_build(db, 999999, partner, 0, "2026-06-30", &st, &err), FLE_NOT_FOUND);
    assert_string_equal(err.field, "fund_id");
    assert_int_equal(statement_build(db, fund_id, 999999, 0, "2026-06-30", &st, &err), FLE_NOT_FOUND);
    assert_string_equal(err.field, "investor_id");
    /* The mezzanine tranche is not the first-loss investor's. */
    assert_int_equal(statement_build(db, fund_id, undp, t_m, "2026-06-30", &st, &err), FLE_BAD_PARAM);
    assert_string_equal(err.field, "tranche_id");
    assert_int_equal(statement_build(db, fund_id, undp, 999999, "2026-06-30", &st, &err), FLE_NOT_FOUND);
    assert_string_equal(err.field, "tranche_id");
    /* Before any tranche was signed the investor has nothing to report. */
    assert_int_equal(statement_build(db, fund_id, partner, 0, "2024-12-31", &st, &err), FLE_NOT_FOUND);
    assert_string_equal(err.field, "investor_id");
    assert_null(st);
}

/* Last: a back-dated contribution changes the figures, so the hash of the same period changes. */
static void test_hash_changes_with_figures(void **state)
{
    (void)state;
    json_t *before = statement(partner, 0, "2026-06-30");
    contribute(t_m, "0.01", "2026-06-20", "M-4");
    json_t *after = statement(partner, 0, "2026-06-30");
    expect_str(tranche_of(after, t_m), "capital_account.qtd.contributions", "200000.01");
    expect_str(tranche_of(after, t_m), "capital_account.qtd.closing", "1492000.01");
    json_object_set(after, "cutoff", json_object_get(before, "cutoff"));
    char h[HASH_HEX_BYTES];
    assert_true(statement_hash(after, h));
    assert_string_not_equal(h, json_string_value(json_object_get(before, "hash")));
    json_decref(before);
    json_decref(after);
}

/* ---- one connection or two; the borrower counts --------------------------------------------- */

/* A statement's figures as text: the JSON without the build time and the hash over it. */
static char *figures_text(const json_t *st)
{
    json_t *copy = json_deep_copy(st);
    assert_non_null(copy);
    json_object_del(copy, "hash");
    json_object_del(json_object_get(copy, "cutoff"), "built_at");
    char *text = json_dumps(copy, JSON_SORT_KEYS | JSON_COMPACT);
    json_decref(copy);
    assert_non_null(text);
    return text;
}

/* Connections of this program's databases open with fundledger's application name. */
static int64_t fundledger_connections(void)
{
    return scalar_i64("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                      "AND application_name = 'fundledger'");
}

/* The borrower counts of the impact section as the statement read them before the statement
 * speed work (statement_loans_outstanding of commit 49f6135, verbatim): borrowers, women-led,
 * members, persons. */
static void ledger_borrowers(const char *date, int64_t out[4])
{
    char sql[2048];
    snprintf(sql, sizeof sql,
             "SELECT concat_ws(' ', q.b, q.w, q.m, q.p) FROM ("
             "WITH o AS (SELECT e.event_ref, sum(l.amount_minor)::bigint AS s FROM account a JOIN journal_line l "
             "ON l.account_id = a.id AND l.effective_date <= '%s'::date JOIN journal_entry e ON e.id = l.entry_id "
             "WHERE a.fund_id = %" PRId64 " AND a.code ~ '^T[0-9]+[.]LOANS$' GROUP BY e.event_ref), "
             "lo AS (SELECT ln.id, ln.entrepreneur_id, o.s FROM o JOIN loan ln ON o.event_ref = 'loan:' || ln.id "
             "WHERE ln.fund_id = %" PRId64 " AND length(o.event_ref) <= 23 "
             "UNION ALL SELECT ln.id, ln.entrepreneur_id, o.s FROM o JOIN loan ln ON ln.id = CASE WHEN "
             "o.event_ref ~ '^loan:[0-9]{1,18}$' THEN substr(o.event_ref, 6)::bigint END "
             "WHERE ln.fund_id = %" PRId64 " AND o.event_ref LIKE 'loan:0_%%'), "
             "b AS (SELECT DISTINCT entrepreneur_id FROM (SELECT entrepreneur_id FROM lo GROUP BY id, entrepreneur_id "
             "HAVING sum(s) > 0) x) "
             "SELECT count(*), count(*) FILTER (WHERE n.women_led), coalesce(sum(n.members), 0)::bigint, "
             "count(*) FILTER (WHERE n.kind = 'person') FROM b JOIN entrepreneur n ON n.id = b.entrepreneur_id) "
             "q(b, w, m, p)",
             date, fund_id, fund_id, fund_id);
    char *v = testdb_scalar(ci, sql);
    assert_non_null(v);
    int got = sscanf(v, "%" SCNd64 " %" SCNd64 " %" SCNd64 " %" SCNd64, &out[0], &out[1], &out[2], &out[3]);
    assert_int_equal(got, 4);
    free(v);
}

static int64_t indicator(const json_t *st, const char *code)
{
    size_t i;
    const json_t *x;
    json_array_foreach(jpath(st, "impact.indicators"), i, x)
    {
        if (strcmp(json_string_value(json_object_get(x, "code")), code) == 0) {
            return json_integer_value(json_object_get(x, "value"));
        }
    }
    fail_msg("no indicator %s", code);
    return -1;
}

/* At one period end: every investor's statement is the same built with the portfolio pass on a
 * second connection (the default) and on this one alone, and its borrower counts are the
 * ledger's (ledger_borrowers). Returns the borrowers. */
static int64_t check_period_end(const char *date)
{
    const int64_t investors[3] = {impact, partner, undp};
    int64_t borrowers = -1;
    for (int k = 0; k < 3; k++) {
        json_t *st = NULL;
        struct fl_error err;
        fl_error_clear(&err);
        enum fl_err e2 = statement_build(db, fund_id, investors[k], 0, date, &st, &err);
        db_sibling_allow(db, false);
        json_t *one = NULL;
        enum fl_err e1 = statement_build(db, fund_id, investors[k], 0, date, &one, &err);
        db_sibling_allow(db, true);
        assert_int_equal(e1, e2);
        if (e1 != FLE_OK) {
            assert_int_equal(e1, FLE_NOT_FOUND); /* no tranche signed yet */
            continue;
        }
        char *a = figures_text(st), *b = figures_text(one);
        if (strcmp(a, b) != 0) {
            fail_msg("%s, investor %" PRId64 ": two connections\n%s\none\n%s", date, investors[k], a, b);
        }
        free(a);
        free(b);
        int64_t want[4];
        ledger_borrowers(date, want);
        const json_t *im = json_object_get(st, "impact");
        assert_int_equal(jid(im, "borrowers"), want[0]);
        assert_int_equal(indicator(st, "PI5576"), want[1]);
        assert_int_equal(indicator(st, "PI4060"), want[2]);
        assert_int_equal(jid(im, "persons_financed"), want[3]);
        assert_int_equal(jid(im, "enterprises_financed"), want[0] - want[3]);
        borrowers = want[0];
        json_decref(st);
        json_decref(one);
    }
    return borrowers;
}

static const char *const period_ends[] = {"2025-01-01", "2025-03-31", "2025-06-04", "2025-06-05", "2025-06-30",
                                          "2025-09-30", "2025-12-31", "2026-01-09", "2026-01-10", "2026-01-15",
                                          "2026-02-10", "2026-03-31", "2026-06-30", "2026-07-05", "2026-07-31"};

/* The portfolio pass on a second connection reads the first one's snapshot: every figure is the
 * same as on one connection, at every period end of the history (before the first drawdown, the
 * day of it, loans current and late, the person's loan written off and recovered). The borrower
 * counts are the ledger's at each: 0 before the drawdowns of 2025-06-05, then the cooperative
 * (women-led, 40 members) and the person; the person's loan written off on 2026-01-15, the
 * association's drawn on 2026-01-10. */
static void test_one_or_two_connections(void **state)
{
    (void)state;
    static const int64_t borrowers[] = {0, 0, 0, 2, 2, 2, 2, 2, 3, 2, 2, 2, 2, 2, 2};
    _Static_assert(sizeof borrowers / sizeof borrowers[0] == sizeof period_ends / sizeof period_ends[0],
                   "one count per date");
    for (size_t d = 0; d < sizeof period_ends / sizeof period_ends[0]; d++) {
        assert_int_equal(check_period_end(period_ends[d]), borrowers[d]);
    }
    /* Turning the sibling off closed it; the next statement opens one again, and keeps it. */
    assert_int_equal(fundledger_connections(), 1);
    json_decref(statement(partner, 0, "2026-06-30"));
    assert_int_equal(fundledger_connections(), 2);
    json_decref(statement(undp, 0, "2026-06-30"));
    assert_int_equal(fundledger_connections(), 2);
}

/* The sibling's connection lost (its server process ended): the next statement has the same
 * figures, its sibling reconnected in place (db.c reconnects a lost idle connection before
 * using it: a new server process, still two connections), and so does the one after. */
static void test_sibling_lost(void **state)
{
    (void)state;
    json_t *st = statement(partner, 0, "2026-06-30");
    char *before = figures_text(st);
    json_decref(st);
    assert_int_equal(fundledger_connections(), 2);
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = "
             "'fundledger' AND pid <> %d",
             PQbackendPID(db_pg(db)));
    int64_t lost_pid = scalar_i64(sql);
    snprintf(sql, sizeof sql, "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 10000)) FROM pg_stat_activity "
             "WHERE pid = %" PRId64, lost_pid);
    assert_int_equal(scalar_i64(sql), 1);
    st = statement(partner, 0, "2026-06-30");
    char *after = figures_text(st);
    json_decref(st);
    assert_string_equal(after, before);
    free(after);
    assert_int_equal(fundledger_connections(), 2); /* the lost sibling reconnected: a new process */
    snprintf(sql, sizeof sql, "SELECT count(*) FROM pg_stat_activity WHERE pid = %" PRId64, lost_pid);
    assert_int_equal(scalar_i64(sql), 0);
    st = statement(partner, 0, "2026-06-30");
    after = figures_text(st);
    json_decref(st);
    assert_string_equal(after, before);
    free(after);
    free(before);
    assert_int_equal(fundledger_connections(), 2);
}

static json_t *padded_fn(struct db *d, void *arg, struct fl_error *err)
{
    (void)arg;
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT id FROM account WHERE fund_id = %" PRId64 " AND code = 'T%" PRId64 ".LOANS'",
             fund_id, t_m);
    int64_t loans = scalar_i64(sql);
    snprintf(sql, sizeof sql, "SELECT id FROM account WHERE fund_id = %" PRId64 " AND code = 'T%" PRId64 ".CASH'",
             fund_id, t_m);
    int64_t cash = scalar_i64(sql);
    static struct ledger_entry e;
    memset(&e, 0, sizeof e);
    e.fund_id = fund_id;
    e.posted_by = approver.user_id;
    snprintf(e.effective_date, sizeof e.effective_date, "2026-07-10");
    snprintf(e.memo, sizeof e.memo, "test: a zero-padded loan reference");
    snprintf(e.event_type, sizeof e.event_type, "manual");
    snprintf(e.event_ref, sizeof e.event_ref, "loan:00%" PRId64, loan_c);
    e.n_lines = 2;
    e.lines[0] = (struct ledger_line){loans, "COP", -80000000};
    e.lines[1] = (struct ledger_line){cash, "COP", 80000000};
    const struct ledger_entry *one = &e;
    int64_t id = 0;
    if (ledger_post(d, &one, 1, &id, err) != FLE_OK) {
        return NULL;
    }
    return json_integer(id);
}

/* After the history: loan A repaid in full on 2026-07-05 (the cooperative is no borrower from
 * then), and on 2026-07-10 an entry with a zero-padded reference to loan C ("loan:00<id>", which
 * no code writes but the ledger's count reads) credits C's whole balance out of the mezzanine's
 * LOANS account: the ledger has no loan outstanding left, while the portfolio (business rows)
 * still has C, and the reconciliation shows the difference. One connection or two, the same
 * figures; the borrower counts stay the ledger's. */
static void test_borrowers_repaid_and_padded(void **state)
{
    (void)state;
    struct money_args rp = {loan_a, "300000.00", "2026-07-05", "BANK-2"};
    json_decref(run(repay_fn, &rp, FLE_OK));
    assert_int_equal(check_period_end("2026-07-04"), 2);
    assert_int_equal(check_period_end("2026-07-05"), 1);
    assert_int_equal(check_period_end("2026-07-09"), 1);
    json_decref(run(padded_fn, NULL, FLE_OK));
    assert_int_equal(check_period_end("2026-07-09"), 1);
    assert_int_equal(check_period_end("2026-07-10"), 0);
    assert_int_equal(check_period_end("2026-07-31"), 0);
    json_t *st = statement(partner, 0, "2026-07-31");
    expect_str(st, "portfolio.gross_portfolio", "800000.00");
    expect_str(st, "portfolio.reconciliation.ledger_loans_accounts", "0.00");
    expect_str(st, "portfolio.reconciliation.difference", "-800000.00");
    json_decref(st);
}

struct snap {
    char id[DB_SNAPSHOT_ID_BYTES];
    int64_t before, seen;
};

static enum fl_err count_orgs(struct db *d, int64_t *out, struct fl_error *err)
{
    PGresult *r = db_exec_sql(d, "SELECT count(*) FROM organisation", err);
    if (r == NULL) {
        return err->code;
    }
    *out = db_i64(r, 0, 0);
    PQclear(r);
    return FLE_OK;
}

static enum fl_err seen_tx(struct db *d, void *arg, struct fl_error *err)
{
    return count_orgs(d, &((struct snap *)arg)->seen, err);
}

static enum fl_err export_tx(struct db *d, void *arg, struct fl_error *err)
{
    struct snap *s = arg;
    PGresult *r = db_exec_sql(d, "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY", err);
    if (r == NULL) {
        return err->code;
    }
    PQclear(r);
    enum fl_err e = count_orgs(d, &s->before, err);
    if (e != FLE_OK || (e = db_snapshot_export(d, s->id, err)) != FLE_OK) {
        return e;
    }
    /* Committed by another connection after the snapshot was taken. */
    assert_true(testdb_exec(ci, "INSERT INTO organisation (name, kind) VALUES ('Snapshot test', 'investor')"));
    struct db *sibling = NULL;
    if ((e = db_sibling(d, &sibling, err)) != FLE_OK) {
        return e;
    }
    return db_tx_snapshot(sibling, s->id, seen_tx, s, err);
}

/* db_tx_snapshot reads what the exporting transaction reads, not what was committed since; once
 * that transaction is over, its snapshot cannot be imported. */
static void test_snapshot_shared(void **state)
{
    (void)state;
    struct snap s = {.before = -1, .seen = -1};
    struct fl_error err;
    fl_error_clear(&err);
    assert_int_equal(db_tx(db, export_tx, &s, &err), FLE_OK);
    assert_true(s.before > 0);
    assert_int_equal(s.seen, s.before);
    assert_int_equal(scalar_i64("SELECT count(*) FROM organisation"), s.before + 1);
    struct db *sibling = NULL;
    assert_int_equal(db_sibling(db, &sibling, &err), FLE_OK);
    assert_int_equal(db_tx_snapshot(sibling, s.id, seen_tx, &s, &err), FLE_INTERNAL);
    assert_int_equal(db_tx_snapshot(sibling, "1'; SELECT 1; --", seen_tx, &s, &err), FLE_INTERNAL);
    /* The sibling still serves statements. */
    json_decref(statement(partner, 0, "2026-06-30"));
    assert_int_equal(fundledger_connections(), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_history),
        cmocka_unit_test(test_partner_q2),
        cmocka_unit_test(test_partner_q1_waterfall),
        cmocka_unit_test(test_senior_irr),
        cmocka_unit_test(test_first_loss),
        cmocka_unit_test(test_portfolio_and_impact),
        cmocka_unit_test(test_hash_and_privacy),
        cmocka_unit_test(test_html),
        cmocka_unit_test(test_reconciliation),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_hash_changes_with_figures),
        cmocka_unit_test(test_one_or_two_connections),
        cmocka_unit_test(test_sibling_lost),
        cmocka_unit_test(test_borrowers_repaid_and_padded),
        cmocka_unit_test(test_snapshot_shared),
    };
    return cmocka_run_group_tests_name("statements (database)", tests, setup, teardown);
}
