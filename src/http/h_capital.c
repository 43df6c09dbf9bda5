/* h_capital: tranches (four eyes), capital calls, contributions and cancellations. Investors
 * see only their own tranches; a transparency officer only what IATI publishes of them. */
#include "fundledger/http.h"
#include "fundledger/jsonv.h"
#include "fundledger/tranche.h"

/* An investor may read only tranches of its own organisation. */
static bool own_tranche_or_staff(struct http_req *r, const json_t *tranche, struct http_reply *out)
{
    if (r->who.role != ROLE_INVESTOR) {
        return true;
    }
    json_int_t owner = json_integer_value(json_object_get(json_object_get(tranche, "investor"), "id"));
    if (owner != r->who.organisation_id) {
        http_reply_fail(out, FLE_FORBIDDEN, "tranche_id", "an investor reads only its own tranches");
        return false;
    }
    return true;
}

void h_tranches_list(struct http_req *r, struct http_reply *out)
{
    int64_t fund_id;
    const char *as_of;
    if (!http_param_id(r, 0, &fund_id, out) || !http_query_date(r, "as_of", &as_of, out)) {
        return;
    }
    struct fl_error err;
    fl_error_clear(&err);
    if (r->who.role == ROLE_TRANSPARENCY_OFFICER) {
        /* What is public: what IATI publishes of each funder's capital, nothing more. */
        http_reply_result(out, 200, tranche_list_published(r->db, fund_id, as_of, &err), &err);
        return;
    }
    int64_t investor = r->who.role == ROLE_INVESTOR ? r->who.organisation_id : 0;
    http_reply_result(out, 200, tranche_list(r->db, fund_id, investor, as_of, &err), &err);
}

void h_tranches_get(struct http_req *r, struct http_reply *out)
{
    int64_t id;
    const char *as_of;
    if (!http_param_id(r, 0, &id, out) || !http_query_date(r, "as_of", &as_of, out)) {
        return;
    }
    struct fl_error err;
    fl_error_clear(&err);
    json_t *t = tranche_get(r->db, id, as_of, &err);
    if (t == NULL) {
        http_reply_error(out, &err);
        return;
    }
    if (!own_tranche_or_staff(r, t, out)) {
        json_decref(t);
        return;
    }
    http_reply_json(out, 200, t);
}

/* A tranche's capital calls and contributions: staff, or the investor whose tranche it is. */
void h_tranches_calls(struct http_req *r, struct http_reply *out)
{
    int64_t id;
    if (!http_param_id(r, 0, &id, out)) {
        return;
    }
    struct fl_error err;
    fl_error_clear(&err);
    json_t *t = tranche_get(r->db, id, NULL, &err);
    if (t == NULL) {
        http_reply_error(out, &err);
        return;
    }
    bool own = own_tranche_or_staff(r, t, out);
    json_decref(t);
    if (own) {
        http_reply_result(out, 200, tranche_calls(r->db, id, &err), &err);
    }
}

struct propose_args {
    const struct principal *who;
    int64_t fund_id;
    struct tranche_terms t;
};

static enum fl_err propose_op(struct db *db, void *arg, unsigned *status, json_t **reply, struct fl_error *err)
{
    struct propose_args *a = arg;
    *status = 201;
    *reply = tranche_propose(db, a->who, a->fund_id, &a->t, err);
    return *reply ? FLE_OK : err->code;
}

void h_tranches_propose(struct http_req *r, struct http_reply *out)
{
    static const struct jv_field spec[] = {
        {"investor_id", JV_ID, true, 0},       {"name", JV_STRING, true, 200},
        {"kind", JV_STRING, true, 16},         {"rank", JV_ID, true, 16},
        {"currency", JV_STRING, true, 3},      {"commitment", JV_AMOUNT, true, 0},
        {"return_rate", JV_STRING, false, 20}, {"fee_rate", JV_STRING, false, 20},
        {"eligibility", JV_OBJECT, false, 0},  {"signed_date", JV_DATE, true, 0},
        {"provider_activity_id", JV_STRING, false, 200},
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
    const json_t *b = r->body;
    a.t = (struct tranche_terms){jv_int(b, "investor_id"),      jv_str(b, "name"),     jv_str(b, "kind"),
                                 jv_int(b, "rank"),             jv_str(b, "currency"), jv_str(b, "commitment"),
                                 jv_str(b, "return_rate"),      jv_str(b, "fee_rate"), json_object_get(b, "eligibility"),
                                 jv_str(b, "signed_date"),      jv_str(b, "provider_activity_id")};
    http_write(r, out, propose_op, &a);
}

struct change_args {
    const struct principal *who;
    int64_t tranche_id;
    const json_t *changes;
};

static enum fl_err change_op(struct db *db, void *arg, unsigned *status, json_t **reply, struct fl_error *err)
{
    struct change_args *a = arg;
    *status = 201;
    *reply = tranche_change_propose(db, a->who, a->tranche_id, a->changes, err);
    return *reply ? FLE_OK : err->code;
}

void h_tranches_change(struct http_req *r, struct http_reply *out)
{
    static const struct jv_field spec[] = {
        {"commitment", JV_AMOUNT, false, 0},  {"return_rate", JV_STRING, false, 20},
        {"fee_rate", JV_STRING, false, 20},   {"eligibility", JV_OBJECT, false, 0},
        {"status", JV_STRING, false, 16},
    };
    struct change_args a = {.who = &r->who, .changes = r->body};
    struct fl_error err;
    if (!http_param_id(r, 0, &a.tranche_id, out)) {
        return;
    }
    if (jv_check(r->body, spec, sizeof spec / sizeof spec[0], "", &err) != FLE_OK) {
        http_reply_error(out, &err);
        return;
    }
    http_write(r, out, change_op, &a);
}

/* Calls, contributions and cancellations share one shape: an amount, a date and one text. */
enum movement { CALL, CONTRIBUTION, CANCELLATION };

struct movement_args {
    const struct principal *who;
    enum movement kind;
    int64_t tranche_id, call_id;
    const char *amount, *date, *text;
};

static enum fl_err movement_op(struct db *db, void *arg, unsigned *status, json_t **reply, struct fl_error *err)
{
    struct movement_args *a = arg;
    *status = 201;
    switch (a->kind) {
    case CALL:
        *reply = tranche_call(db, a->who, a->tranche_id, a->amount, a->date, a->text, err);
        break;
    case CONTRIBUTION:
        *reply = tranche_contribute(db, a->who, a->tranche_id, a->amount, a->date, a->text, a->call_id, err);
        break;
    default:
        *reply = tranche_cancel(db, a->who, a->tranche_id, a->amount, a->date, a->text, err);
        break;
    }
    return *reply ? FLE_OK : err->code;
}

static void movement(struct http_req *r, struct http_reply *out, enum movement kind)
{
    static const struct jv_field call_spec[] = {
        {"amount", JV_AMOUNT, true, 0}, {"call_date", JV_DATE, true, 0}, {"due_date", JV_DATE, true, 0}};
    static const struct jv_field contribution_spec[] = {{"amount", JV_AMOUNT, true, 0},
                                                        {"received_date", JV_DATE, true, 0},
                                                        {"reference", JV_STRING, true, 200},
                                                        {"capital_call_id", JV_ID, false, 0}};
    static const struct jv_field cancel_spec[] = {
        {"amount", JV_AMOUNT, true, 0}, {"cancel_date", JV_DATE, true, 0}, {"reason", JV_STRING, true, 500}};
    struct movement_args a = {.who = &r->who, .kind = kind};
    struct fl_error err;
    if (!http_param_id(r, 0, &a.tranche_id, out)) {
        return;
    }
    enum fl_err e = kind == CALL           ? jv_check(r->body, call_spec, 3, "", &err)
                    : kind == CONTRIBUTION ? jv_check(r->body, contribution_spec, 4, "", &err)
                                           : jv_check(r->body, cancel_spec, 3, "", &err);
    if (e != FLE_OK) {
        http_reply_error(out, &err);
        return;
    }
    a.amount = jv_str(r->body, "amount");
    a.date = jv_str(r->body, kind == CALL ? "call_date" : kind == CONTRIBUTION ? "received_date" : "cancel_date");
    a.text = jv_str(r->body, kind == CALL ? "due_date" : kind == CONTRIBUTION ? "reference" : "reason");
    a.call_id = jv_int(r->body, "capital_call_id");
    http_write(r, out, movement_op, &a);
}

void h_tranches_call(struct http_req *r, struct http_reply *out)
{
    movement(r, out, CALL);
}

void h_tranches_contribute(struct http_req *r, struct http_reply *out)
{
    movement(r, out, CONTRIBUTION);
}

void h_tranches_cancel(struct http_req *r, struct http_reply *out)
{
    movement(r, out, CANCELLATION);
}
