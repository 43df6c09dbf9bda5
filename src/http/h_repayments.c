/* h_repayments: repayments (one, or a bank statement in CSV), arrears, write-offs, recoveries,
 * waterfall runs, portfolio quality and the fund's waterfall settings. */

#include "fundledger/distribution.h"
#include "fundledger/http.h"
#include "fundledger/jsonv.h"
#include "fundledger/portfolio.h"
#include "fundledger/repayment.h"
#include "fundledger/schedver.h"
#include "fundledger/servicing.h"

/* ---- repayments ---- */

struct repayment_args {
    const struct principal *who;
    int64_t id;
    const char *amount, *value_date, *reference;
    const char *prepayment_choice; /* repayments only; NULL: the fund's default */
};

static enum fl_err repayment_op(struct db *db, void *arg, unsigned *status, json_t **reply, struct fl_error *err)
{
    struct repayment_args *a = arg;
    *status = 201;
    *reply =
        repayment_record_choice(db, a->who, a->id, a->amount, a->value_date, a->reference, a->prepayment_choice, err);
    return *reply ? FLE_OK : err->code;
}

static enum fl_err recovery_op(struct db *db, void *arg, unsigned *status, json_t **reply, struct fl_error *err)
{
    struct repayment_args *a = arg;
    *status = 201;
    *reply = recovery_record(db, a->who, a->id, a->amount, a->value_date, a->reference, err);
    return *reply ? FLE_OK : err->code;
}

/* Both bodies: {"amount", "value_date", "reference"}; a repayment also takes
 * "prepayment_choice" (docs/loan-servicing.md §7). */
static void cash_in(struct http_req *r, struct http_reply *out, idem_fn fn)
{
    static const struct jv_field spec[] = {
        {"amount", JV_AMOUNT, true, 32},
        {"value_date", JV_DATE, true, 10},
        {"reference", JV_STRING, true, REPAYMENT_REFERENCE_BYTES_MAX},
        {"prepayment_choice", JV_STRING, false, 20},
    };
    const bool choice = fn == repayment_op;
    struct repayment_args a = {.who = &r->who};
    struct fl_error err;
    if (!http_param_id(r, 0, &a.id, out)) {
        return;
    }
    if (jv_check(r->body, spec, sizeof spec / sizeof spec[0] - (choice ? 0 : 1), "", &err) != FLE_OK) {
        http_reply_error(out, &err);
        return;
    }
    a.amount = jv_str(r->body, "amount");
    a.value_date = jv_str(r->body, "value_date");
    a.reference = jv_str(r->body, "reference");
    a.prepayment_choice = choice ? jv_str(r->body, "prepayment_choice") : NULL;
    http_write(r, out, fn, &a);
}

void h_repayments_create(struct http_req *r, struct http_reply *out)
{
    cash_in(r, out, repayment_op);
}

void h_recoveries_create(struct http_req *r, struct http_reply *out)
{
    cash_in(r, out, recovery_op);
}

struct import_args {
    const struct principal *who;
    int64_t fund_id;
    const char *csv;
    size_t len;
};

static enum fl_err import_op(struct db *db, void *arg, unsigned *status, json_t **reply, struct fl_error *err)
{
    struct import_args *a = arg;
    *status = 200;
    *reply = NULL;
    return repayment_import_csv(db, a->who, a->fund_id, a->csv, a->len, reply, err);
}

void h_repayments_import(struct http_req *r, struct http_reply *out)
{
    struct import_args a = {.who = &r->who, .csv = r->raw_body, .len = r->raw_len};
    if (!http_param_id(r, 0, &a.fund_id, out)) {
        return;
    }
    http_write(r, out, import_op, &a);
}

void h_loan_arrears(struct http_req *r, struct http_reply *out)
{
    http_read_id_date(r, out, "as_of", loan_arrears);
}

void h_loan_payoff(struct http_req *r, struct http_reply *out)
{
    http_read_id_date(r, out, "date", loan_payoff);
}

void h_loan_repayments(struct http_req *r, struct http_reply *out)
{
    http_read_id(r, out, repayment_list);
}

void h_loan_schedule_versions(struct http_req *r, struct http_reply *out)
{
    http_read_id(r, out, schedver_list);
}

void h_loan_accruals(struct http_req *r, struct http_reply *out)
{
    http_read_id(r, out, loan_accruals);
}

/* ---- month-end close ---- */

void h_fund_close(struct http_req *r, struct http_reply *out)
{
    http_write_fund_date(r, out, "date", 200, loan_close_period);
}

/* ---- default (moratorium) interest rates ---- */

struct default_rate_args {
    const struct principal *who;
    int64_t fund_id;
    const char *rate, *valid_from;
};

static enum fl_err default_rate_op(struct db *db, void *arg, unsigned *status, json_t **reply, struct fl_error *err)
{
    struct default_rate_args *a = arg;
    *status = 201;
    *reply = servicing_default_rate_set(db, a->who, a->fund_id, a->rate, a->valid_from, err);
    return *reply ? FLE_OK : err->code;
}

/* {"rate", "valid_from"} */
void h_default_rates_create(struct http_req *r, struct http_reply *out)
{
    static const struct jv_field spec[] = {
        {"rate", JV_STRING, true, 32},
        {"valid_from", JV_DATE, true, 10},
    };
    struct default_rate_args a = {.who = &r->who};
    struct fl_error err;
    if (!http_param_id(r, 0, &a.fund_id, out)) {
        return;
    }
    if (jv_check(r->body, spec, sizeof spec / sizeof spec[0], "", &err) != FLE_OK) {
        http_reply_error(out, &err);
        return;
    }
    a.rate = jv_str(r->body, "rate");
    a.valid_from = jv_str(r->body, "valid_from");
    http_write(r, out, default_rate_op, &a);
}

void h_default_rates_list(struct http_req *r, struct http_reply *out)
{
    http_read_id(r, out, servicing_default_rates);
}

/* ---- write-off ---- */

void h_writeoff_propose(struct http_req *r, struct http_reply *out)
{
    http_write_loan_proposal(r, out, false, writeoff_propose);
}

/* ---- waterfall ---- */

void h_waterfall_runs_create(struct http_req *r, struct http_reply *out)
{
    http_write_fund_date(r, out, "run_date", 201, distribution_run);
}

void h_waterfall_runs_list(struct http_req *r, struct http_reply *out)
{
    int64_t id, after;
    unsigned limit;
    if (!http_param_id(r, 0, &id, out) || !http_query_page(r, &after, &limit, out)) {
        return;
    }
    struct fl_error err;
    fl_error_clear(&err);
    http_reply_result(out, 200, distribution_list(r->db, id, after, limit, &err), &err);
}

void h_waterfall_run_get(struct http_req *r, struct http_reply *out)
{
    int64_t id;
    if (!http_param_id(r, 0, &id, out)) {
        return;
    }
    struct fl_error err;
    fl_error_clear(&err);
    http_reply_result(out, 200, distribution_get(r->db, id, &err), &err);
}

void h_waterfall_run_replay(struct http_req *r, struct http_reply *out)
{
    int64_t id;
    if (!http_param_id(r, 0, &id, out)) {
        return;
    }
    struct fl_error err;
    fl_error_clear(&err);
    http_reply_result(out, 200, distribution_replay(r->db, id, &err), &err);
}

/* ---- portfolio ---- */

void h_portfolio(struct http_req *r, struct http_reply *out)
{
    int64_t id;
    const char *as_of, *from;
    if (!http_param_id(r, 0, &id, out) || !http_query_date(r, "as_of", &as_of, out) ||
        !http_query_date(r, "from", &from, out)) {
        return;
    }
    struct fl_error err;
    fl_error_clear(&err);
    http_reply_result(out, 200, portfolio_quality(r->db, id, as_of, from, &err), &err);
}

void h_portfolio_arrears(struct http_req *r, struct http_reply *out)
{
    http_read_id_date_page(r, out, "as_of", portfolio_arrears_list);
}

/* ---- settings ---- */

struct settings_args {
    const struct principal *who;
    int64_t fund_id;
    const char *mode, *reserve_target;
};

static enum fl_err settings_op(struct db *db, void *arg, unsigned *status, json_t **reply, struct fl_error *err)
{
    struct settings_args *a = arg;
    *status = 201;
    *reply = fund_settings_propose(db, a->who, a->fund_id, a->mode, a->reserve_target, err);
    return *reply ? FLE_OK : err->code;
}

void h_fund_settings_propose(struct http_req *r, struct http_reply *out)
{
    static const struct jv_field spec[] = {
        {"waterfall_mode", JV_STRING, false, 16},
        {"reserve_target", JV_AMOUNT, false, 32},
    };
    struct settings_args a = {.who = &r->who};
    struct fl_error err;
    if (!http_param_id(r, 0, &a.fund_id, out)) {
        return;
    }
    if (jv_check(r->body, spec, sizeof spec / sizeof spec[0], "", &err) != FLE_OK) {
        http_reply_error(out, &err);
        return;
    }
    a.mode = jv_str(r->body, "waterfall_mode");
    a.reserve_target = jv_str(r->body, "reserve_target");
    http_write(r, out, settings_op, &a);
}
