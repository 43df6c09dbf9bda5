/* loanfix: see loanfix.h. The bodies are those the database tests of loans and repayments each
 * carried a copy of. */
/* cmocka.h needs these four headers first, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include "loanfix.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fundledger/approval.h"
#include "fundledger/fund.h"
#include "fundledger/org.h"
#include "fundledger/repayment.h"
#include "testdb.h"

static const char *ci;
static struct db *db;
static struct principal *manager, *approver;

void lf_use(const char *conninfo, struct db *d, struct principal *m, struct principal *a)
{
    ci = conninfo;
    db = d;
    manager = m;
    approver = a;
}

void lf_setup(const char *conninfo, struct db *d, struct principal *m, struct principal *a, int64_t cop_limit_minor)
{
    lf_use(conninfo, d, m, a);
    struct fl_error err;
    *m = (struct principal){.role = ROLE_FUND_MANAGER};
    *a = (struct principal){.role = ROLE_APPROVER};
    assert_int_equal(auth_user_add(d, "manager", ROLE_FUND_MANAGER, 0, &m->user_id, &err), FLE_OK);
    assert_int_equal(auth_user_add(d, "approver", ROLE_APPROVER, 0, &a->user_id, &err), FLE_OK);
    assert_int_equal(auth_limit_set(d, a->user_id, "COP", cop_limit_minor, &err), FLE_OK);
}

/* ---- plumbing: one domain call per transaction ---- */

struct call {
    lf_call_fn fn;
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

json_t *lf_run(lf_call_fn fn, void *arg, enum fl_err expect, struct fl_error *err_out)
{
    struct call c = {fn, arg, NULL};
    struct fl_error err;
    fl_error_clear(&err);
    enum fl_err rc = db_tx(db, call_tx, &c, &err);
    if (rc != expect) {
        fprintf(stderr, "expected %s, got %s: %s (%s)\n", fl_err_code(expect), fl_err_code(rc), err.message, err.field);
    }
    assert_int_equal(rc, expect);
    if (err_out) {
        *err_out = err;
    }
    if (rc != FLE_OK) {
        json_decref(c.out);
        return NULL;
    }
    return c.out;
}

int64_t lf_jid(const json_t *o, const char *k)
{
    return json_integer_value(json_object_get(o, k));
}

const char *lf_jstr(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

int64_t lf_scalar_i64(const char *sql)
{
    char *v = testdb_scalar(ci, sql);
    assert_non_null(v);
    int64_t x = strtoll(v, NULL, 10);
    free(v);
    return x;
}

void lf_assert_scalar(const char *sql, const char *want)
{
    char *v = testdb_scalar(ci, sql);
    if (v == NULL || strcmp(v, want) != 0) {
        fprintf(stderr, "%s\n  got  %s\n  want %s\n", sql, v ? v : "(null)", want);
    }
    assert_non_null(v);
    assert_string_equal(v, want);
    free(v);
}

int64_t lf_balance(int64_t fund, const char *code)
{
    char sql[200];
    snprintf(sql, sizeof sql,
             "SELECT b.balance_minor FROM account a JOIN account_balance b ON b.account_id = a.id "
             "WHERE a.fund_id = %" PRId64 " AND a.code = '%s'",
             fund, code);
    return lf_scalar_i64(sql);
}

int64_t lf_tbal(int64_t fund, int64_t tranche, const char *suffix)
{
    char code[64];
    snprintf(code, sizeof code, "T%" PRId64 ".%s", tranche, suffix);
    return lf_balance(fund, code);
}

void lf_assert_books_balance(void)
{
    assert_int_equal(lf_scalar_i64("SELECT coalesce(sum(balance_minor), 0) FROM account_balance"), 0);
    assert_int_equal(
        lf_scalar_i64("SELECT count(*) FROM account_balance a WHERE balance_minor <> "
                      "(SELECT coalesce(sum(amount_minor), 0) FROM journal_line l WHERE l.account_id = a.account_id)"),
        0);
}

/* ---- scene: funds, investors, tranches, entrepreneurs, loans ---- */

json_t *lf_approve_fn(struct db *d, void *arg, struct fl_error *err)
{
    return approval_decide(d, approver, *(int64_t *)arg, true, "ok", err);
}

void lf_approve(int64_t proposal_id)
{
    json_t *done = lf_run(lf_approve_fn, &proposal_id, FLE_OK, NULL);
    assert_string_equal(lf_jstr(done, "status"), "approved");
    json_decref(done);
}

json_t *lf_org_fn(struct db *d, void *arg, struct fl_error *err)
{
    const char **a = arg;
    return org_create(d, NULL, a[0], "investor", a[1], "40", err);
}

int64_t lf_make_investor(const char *name, const char *iati_id)
{
    const char *a[2] = {name, iati_id};
    json_t *o = lf_run(lf_org_fn, a, FLE_OK, NULL);
    int64_t id = lf_jid(o, "id");
    json_decref(o);
    return id;
}

struct fund_args {
    const char *code, *name;
};

static json_t *fund_fn(struct db *d, void *arg, struct fl_error *err)
{
    struct fund_args *a = arg;
    return fund_create(d, manager, a->code, a->name, "COP", err);
}

int64_t lf_make_fund(const char *code, const char *name)
{
    struct fund_args a = {code, name};
    json_t *f = lf_run(fund_fn, &a, FLE_OK, NULL);
    int64_t id = lf_jid(f, "id");
    json_decref(f);
    return id;
}

json_t *lf_tranche_fn(struct db *d, void *arg, struct fl_error *err)
{
    struct lf_tranche_args *a = arg;
    return tranche_propose(d, manager, a->fund, &a->t, err);
}

json_t *lf_contribute_fn(struct db *d, void *arg, struct fl_error *err)
{
    struct lf_money_args *a = arg;
    return tranche_contribute(d, manager, a->id, a->amount, a->date, a->text, 0, err);
}

int64_t lf_make_tranche(int64_t fund, int64_t investor, const char *name, const char *kind, int rank,
                        const char *amount, const char *rate, const char *paid_on)
{
    struct lf_tranche_args a = {fund,
                                {investor, name, kind, rank, "COP", amount, rate, NULL, NULL, "2024-01-05", NULL}};
    json_t *p = lf_run(lf_tranche_fn, &a, FLE_OK, NULL);
    int64_t pid = lf_jid(p, "id");
    json_decref(p);
    lf_approve(pid);
    char sql[200];
    snprintf(sql, sizeof sql, "SELECT id FROM tranche WHERE fund_id = %" PRId64 " AND name = '%s'", fund, name);
    int64_t id = lf_scalar_i64(sql);
    struct lf_money_args m = {id, amount, paid_on, "paid in"};
    json_decref(lf_run(lf_contribute_fn, &m, FLE_OK, NULL));
    return id;
}

json_t *lf_entrepreneur_fn(struct db *d, void *arg, struct fl_error *err)
{
    struct lf_entrepreneur_args *a = arg;
    return pipeline_entrepreneur_create(d, manager, a->fund, &a->in, err);
}

json_t *lf_move_fn(struct db *d, void *arg, struct fl_error *err)
{
    struct lf_move_args *a = arg;
    return pipeline_move(d, manager, a->id, a->to, "test", err);
}

int64_t lf_make_entrepreneur(int64_t fund, const char *name, const char *municipality, const char *chain)
{
    struct lf_entrepreneur_args a = {fund,
                                     {.kind = "person",
                                      .name = name,
                                      .municipality_code = municipality,
                                      .value_chain = chain,
                                      .members = 1,
                                      .requested = "0.00",
                                      .purpose = "working capital"}};
    json_t *e = lf_run(lf_entrepreneur_fn, &a, FLE_OK, NULL);
    int64_t id = lf_jid(e, "id");
    json_decref(e);
    static const char *const path[] = {"screening", "due_diligence", "committee"};
    for (int i = 0; i < 3; i++) {
        struct lf_move_args m = {id, path[i]};
        json_decref(lf_run(lf_move_fn, &m, FLE_OK, NULL));
    }
    return id;
}

json_t *lf_loan_fn(struct db *d, void *arg, struct fl_error *err)
{
    struct lf_loan_args *a = arg;
    return loan_propose(d, manager, a->fund, &a->t, err);
}

json_t *lf_tick_fn(struct db *d, void *arg, struct fl_error *err)
{
    struct lf_money_args *a = arg;
    return loan_condition_tick(d, manager, a->id, a->text, a->date, "checked", err);
}

json_t *lf_disb_fn(struct db *d, void *arg, struct fl_error *err)
{
    struct lf_money_args *a = arg;
    return disbursement_propose(d, manager, a->id, a->amount, a->date, err);
}

int64_t lf_approve_loan(struct lf_loan_args *a)
{
    json_t *p = lf_run(lf_loan_fn, a, FLE_OK, NULL);
    int64_t pid = lf_jid(p, "id"), loan = lf_jid(p, "loan_id");
    json_decref(p);
    lf_approve(pid);
    return loan;
}

void lf_disburse(int64_t loan, const char *amount)
{
    lf_disburse_on(loan, amount, "2024-01-20");
}

void lf_disburse_on(int64_t loan, const char *amount, const char *value_date)
{
    static const char *const items[] = {"signed_agreement", "kyc", "sanctions_screening", "bank_account_verified"};
    for (int i = 0; i < 4; i++) {
        struct lf_money_args t = {loan, NULL, strcmp(value_date, "2024-01-16") < 0 ? value_date : "2024-01-16",
                                  items[i]};
        json_decref(lf_run(lf_tick_fn, &t, FLE_OK, NULL));
    }
    struct lf_money_args d = {loan, amount, value_date, NULL};
    json_t *p = lf_run(lf_disb_fn, &d, FLE_OK, NULL);
    int64_t pid = lf_jid(p, "id");
    json_decref(p);
    lf_approve(pid);
}

json_t *lf_repay_fn(struct db *d, void *arg, struct fl_error *err)
{
    struct lf_repay_args *a = arg;
    return repayment_record(d, manager, a->loan, a->amount, a->date, a->ref, err);
}

json_t *lf_repay(int64_t loan, const char *amount, const char *date, const char *ref, enum fl_err expect,
                 struct fl_error *err)
{
    struct lf_repay_args a = {loan, amount, date, ref};
    return lf_run(lf_repay_fn, &a, expect, err);
}
