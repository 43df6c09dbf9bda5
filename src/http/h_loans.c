/* h_loans: loan proposals, reads, conditions precedent and disbursement proposals. */
#include "fundledger/http.h"
#include "fundledger/jsonv.h"
#include "fundledger/loan.h"

struct propose_args {
    const struct principal *who;
    int64_t fund_id;
    struct loan_terms t;
};

static enum fl_err propose_op(struct db *db, void *arg, unsigned *status, json_t **reply, struct fl_error *err)
{
    struct propose_args *a = arg;
    *status = 201;
    *reply = loan_propose(db, a->who, a->fund_id, &a->t, err);
    return *reply ? FLE_OK : err->code;
}

/* A loan proposal's terms from a body jv_check accepted (absent fields: 0 or NULL). */
static struct loan_terms terms_of(const json_t *b)
{
    return (struct loan_terms){jv_int(b, "entrepreneur_id"),
                              jv_str(b, "principal"),
                              jv_str(b, "annual_rate"),
                              jv_str(b, "day_count"),
                              jv_int(b, "payments_per_year"),
                              jv_int(b, "term_count"),
                              jv_str(b, "first_due_date"),
                              jv_int(b, "grace_principal"),
                              jv_int(b, "grace_interest"),
                              jv_str(b, "amortisation"),
                              jv_str(b, "modality"),
                              jv_str(b, "purpose"),
                              jv_str(b, "approval_date"),
                              json_object_get(b, "shares"),
                              jv_str(b, "origination_fee"),
                              jv_str(b, "origination_fee_rate")};
}

void h_loans_propose(struct http_req *r, struct http_reply *out)
{
    static const struct jv_field spec[] = {
        {"entrepreneur_id", JV_ID, true, 0},     {"principal", JV_AMOUNT, true, 0},
        {"annual_rate", JV_STRING, true, 20},    {"day_count", JV_STRING, false, 8},
        {"payments_per_year", JV_ID, true, 12},  {"term_count", JV_ID, true, 600},
        {"first_due_date", JV_DATE, true, 0},    {"grace_principal", JV_UINT, false, 600},
        {"grace_interest", JV_UINT, false, 600}, {"amortisation", JV_STRING, true, 16},
        {"modality", JV_STRING, false, 20},      {"purpose", JV_TEXT, false, 1000},
        {"approval_date", JV_DATE, false, 0},    {"shares", JV_ARRAY, false, LOAN_FUNDING_MAX},
        {"origination_fee", JV_AMOUNT, false, 0}, {"origination_fee_rate", JV_STRING, false, 20},
    };
    struct propose_args a = {.who = &r->who};
    struct fl_error err;
    if (!http_param_id(r, 0, &a.fund_id, out)) {
        return;
    }
    if (jv_check(r->body, spec, sizeof spec / sizeof spec[0], "", &err) != FLE_OK) {
        http_reply_error(out, &err);
        return;
    }
    a.t = terms_of(r->body);
    http_write(r, out, propose_op, &a);
}

/* The schedule a proposal would store, nothing written (docs/console.md): the proposal's fields
 * but for entrepreneur_id, purpose and shares, read and checked as the proposal reads them. */
void h_loans_schedule_preview(struct http_req *r, struct http_reply *out)
{
    static const struct jv_field spec[] = {
        {"principal", JV_AMOUNT, true, 0},       {"annual_rate", JV_STRING, true, 20},
        {"day_count", JV_STRING, false, 8},      {"payments_per_year", JV_ID, true, 12},
        {"term_count", JV_ID, true, 600},        {"first_due_date", JV_DATE, true, 0},
        {"grace_principal", JV_UINT, false, 600}, {"grace_interest", JV_UINT, false, 600},
        {"amortisation", JV_STRING, true, 16},   {"modality", JV_STRING, false, 20},
        {"approval_date", JV_DATE, false, 0},    {"origination_fee", JV_AMOUNT, false, 0},
        {"origination_fee_rate", JV_STRING, false, 20},
    };
    int64_t fund_id;
    struct fl_error err;
    fl_error_clear(&err);
    if (!http_param_id(r, 0, &fund_id, out)) {
        return;
    }
    if (jv_check(r->body, spec, sizeof spec / sizeof spec[0], "", &err) != FLE_OK) {
        http_reply_error(out, &err);
        return;
    }
    struct loan_terms t = terms_of(r->body);
    http_reply_result(out, 200, loan_schedule_preview(r->db, fund_id, &t, &err), &err);
}

void h_loans_list(struct http_req *r, struct http_reply *out)
{
    int64_t fund_id, after;
    unsigned limit;
    if (!http_param_id(r, 0, &fund_id, out) || !http_query_page(r, &after, &limit, out)) {
        return;
    }
    struct fl_error err;
    fl_error_clear(&err);
    http_reply_result(out, 200, loan_list(r->db, fund_id, http_query(r, "status"), after, limit, &err), &err);
}

void h_loans_get(struct http_req *r, struct http_reply *out)
{
    http_read_id(r, out, loan_get);
}

struct condition_args {
    const struct principal *who;
    int64_t loan_id;
    const char *item, *done_on, *note;
};

static enum fl_err condition_op(struct db *db, void *arg, unsigned *status, json_t **reply, struct fl_error *err)
{
    struct condition_args *a = arg;
    *status = 201;
    *reply = loan_condition_tick(db, a->who, a->loan_id, a->item, a->done_on, a->note, err);
    return *reply ? FLE_OK : err->code;
}

void h_loans_condition(struct http_req *r, struct http_reply *out)
{
    static const struct jv_field spec[] = {
        {"item", JV_STRING, true, 32}, {"done_on", JV_DATE, true, 0}, {"note", JV_TEXT, false, 500}};
    struct condition_args a = {.who = &r->who};
    struct fl_error err;
    if (!http_param_id(r, 0, &a.loan_id, out)) {
        return;
    }
    if (jv_check(r->body, spec, 3, "", &err) != FLE_OK) {
        http_reply_error(out, &err);
        return;
    }
    a.item = jv_str(r->body, "item");
    a.done_on = jv_str(r->body, "done_on");
    a.note = jv_str(r->body, "note");
    http_write(r, out, condition_op, &a);
}

struct disburse_args {
    const struct principal *who;
    int64_t loan_id;
    const char *amount, *value_date;
};

static enum fl_err disburse_op(struct db *db, void *arg, unsigned *status, json_t **reply, struct fl_error *err)
{
    struct disburse_args *a = arg;
    *status = 201;
    *reply = disbursement_propose(db, a->who, a->loan_id, a->amount, a->value_date, err);
    return *reply ? FLE_OK : err->code;
}

void h_loans_disburse(struct http_req *r, struct http_reply *out)
{
    static const struct jv_field spec[] = {{"amount", JV_AMOUNT, true, 0}, {"value_date", JV_DATE, true, 0}};
    struct disburse_args a = {.who = &r->who};
    struct fl_error err;
    if (!http_param_id(r, 0, &a.loan_id, out)) {
        return;
    }
    if (jv_check(r->body, spec, 2, "", &err) != FLE_OK) {
        http_reply_error(out, &err);
        return;
    }
    a.amount = jv_str(r->body, "amount");
    a.value_date = jv_str(r->body, "value_date");
    http_write(r, out, disburse_op, &a);
}
