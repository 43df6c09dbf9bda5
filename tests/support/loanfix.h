/* loanfix: the fund / tranche / entrepreneur / loan scene that the database tests of the capital
 * stack build through the real C API, one domain call per transaction. A test program calls
 * lf_use once its connection and its two principals exist (before the first helper); the helpers
 * then act as that manager and approver on that connection. Assertions are cmocka's: a call that
 * ends otherwise than expected fails the test where it was made. */
#ifndef FUNDLEDGER_LOANFIX_H
#define FUNDLEDGER_LOANFIX_H

#include <stdint.h>

#include <jansson.h>

#include "fundledger/auth.h"
#include "fundledger/db.h"
#include "fundledger/error.h"
#include "fundledger/loan.h"
#include "fundledger/pipeline.h"
#include "fundledger/tranche.h"

/* The connection (and its conninfo, for owner-side reads) and the principals the helpers use;
 * manager and approver are read at each call, so they may be filled in after lf_use. */
void lf_use(const char *ci, struct db *db, struct principal *manager, struct principal *approver);

/* lf_use, then the two principals made: users "manager" (fund manager) and "approver"
 * (approver, with authority for cop_limit_minor COP), each asserted. */
void lf_setup(const char *ci, struct db *db, struct principal *manager, struct principal *approver,
              int64_t cop_limit_minor);

/* Runs fn in its own transaction; asserts it ends with expect (printing the error otherwise);
 * returns the JSON (caller frees) or NULL. err_out may be NULL. */
typedef json_t *(*lf_call_fn)(struct db *d, void *arg, struct fl_error *err);
json_t *lf_run(lf_call_fn fn, void *arg, enum fl_err expect, struct fl_error *err_out);

int64_t lf_jid(const json_t *o, const char *k);
const char *lf_jstr(const json_t *o, const char *k);

/* An owner-side query's first value as an integer (asserted present) / as the text want. */
int64_t lf_scalar_i64(const char *sql);
void lf_assert_scalar(const char *sql, const char *want);

/* The balance of account code of fund; of tranche's account T<tranche>.<suffix>. */
int64_t lf_balance(int64_t fund, const char *code);
int64_t lf_tbal(int64_t fund, int64_t tranche, const char *suffix);

/* The trial balance sums to zero: every account of every fund. */
void lf_assert_books_balance(void);

/* The approver approves proposal_id (asserted "approved"). */
json_t *lf_approve_fn(struct db *d, void *arg, struct fl_error *err);
void lf_approve(int64_t proposal_id);

/* arg: const char *[2] = {name, IATI identifier}: an investor organisation. */
json_t *lf_org_fn(struct db *d, void *arg, struct fl_error *err);

/* An investor organisation (lf_org_fn); returns its id. */
int64_t lf_make_investor(const char *name, const char *iati_id);

/* A COP fund with the given code and name. */
int64_t lf_make_fund(const char *code, const char *name);

struct lf_tranche_args {
    int64_t fund;
    struct tranche_terms t;
};
json_t *lf_tranche_fn(struct db *d, void *arg, struct fl_error *err);

struct lf_money_args {
    int64_t id;
    const char *amount, *date, *text;
};
json_t *lf_contribute_fn(struct db *d, void *arg, struct fl_error *err);

/* A tranche approved by four eyes and paid in full on paid_on. */
int64_t lf_make_tranche(int64_t fund, int64_t investor, const char *name, const char *kind, int rank,
                        const char *amount, const char *rate, const char *paid_on);

struct lf_entrepreneur_args {
    int64_t fund;
    struct pipeline_entrepreneur_input in;
};
json_t *lf_entrepreneur_fn(struct db *d, void *arg, struct fl_error *err);

struct lf_move_args {
    int64_t id;
    const char *to;
};
json_t *lf_move_fn(struct db *d, void *arg, struct fl_error *err);

/* An entrepreneur (a person) at the committee stage. */
int64_t lf_make_entrepreneur(int64_t fund, const char *name, const char *municipality, const char *chain);

struct lf_loan_args {
    int64_t fund;
    struct loan_terms t;
};
json_t *lf_loan_fn(struct db *d, void *arg, struct fl_error *err);
/* lf_money_args: id = loan, text = condition item, date = ticked on. */
json_t *lf_tick_fn(struct db *d, void *arg, struct fl_error *err);
/* lf_money_args: id = loan, amount, date. */
json_t *lf_disb_fn(struct db *d, void *arg, struct fl_error *err);

/* The loan proposed with a's terms and approved; returns the loan's id. */
int64_t lf_approve_loan(struct lf_loan_args *a);

/* The four conditions precedent ticked on 2024-01-16, then amount disbursed on 2024-01-20 and
 * the disbursement approved. */
void lf_disburse(int64_t loan, const char *amount);
/* The same on a value date (conditions ticked on 2024-01-16, or on the value date when earlier). */
void lf_disburse_on(int64_t loan, const char *amount, const char *value_date);

struct lf_repay_args {
    int64_t loan;
    const char *amount, *date, *ref;
};
json_t *lf_repay_fn(struct db *d, void *arg, struct fl_error *err);
json_t *lf_repay(int64_t loan, const char *amount, const char *date, const char *ref, enum fl_err expect,
                 struct fl_error *err);

#endif
