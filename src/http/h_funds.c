/* h_funds: funds, their accounts with balances, and the trial balance. */
#include "fundledger/fund.h"
#include "fundledger/http.h"
#include "fundledger/jsonv.h"
#include "fundledger/ledger.h"

void h_funds_list(struct http_req *r, struct http_reply *out)
{
    struct fl_error err;
    fl_error_clear(&err);
    http_reply_result(out, 200, fund_list(r->db, &err), &err);
}

void h_funds_get(struct http_req *r, struct http_reply *out)
{
    int64_t id;
    if (!http_param_id(r, 0, &id, out)) {
        return;
    }
    struct fl_error err;
    fl_error_clear(&err);
    http_reply_result(out, 200, fund_get(r->db, id, &err), &err);
}

struct fund_create_args {
    const struct principal *who;
    const char *code, *name, *currency;
};

static enum fl_err fund_create_op(struct db *db, void *arg, unsigned *status, json_t **reply, struct fl_error *err)
{
    struct fund_create_args *a = arg;
    *status = 201;
    *reply = fund_create(db, a->who, a->code, a->name, a->currency, err);
    return *reply ? FLE_OK : err->code;
}

void h_funds_create(struct http_req *r, struct http_reply *out)
{
    static const struct jv_field spec[] = {
        {"code", JV_STRING, true, 32},
        {"name", JV_STRING, true, 200},
        {"base_currency", JV_STRING, true, 3},
    };
    struct fl_error err;
    if (jv_check(r->body, spec, sizeof spec / sizeof spec[0], "", &err) != FLE_OK) {
        http_reply_error(out, &err);
        return;
    }
    struct fund_create_args a = {&r->who, jv_str(r->body, "code"), jv_str(r->body, "name"),
                                 jv_str(r->body, "base_currency")};
    http_write(r, out, fund_create_op, &a);
}

void h_accounts_list(struct http_req *r, struct http_reply *out)
{
    http_read_id_date(r, out, "as_of", fund_accounts_list);
}

void h_accounts_get(struct http_req *r, struct http_reply *out)
{
    http_read_id_date(r, out, "as_of", fund_account_get);
}

struct account_create_args {
    const struct principal *who;
    int64_t fund_id;
    const char *code, *name, *type, *currency;
};

static enum fl_err account_create_op(struct db *db, void *arg, unsigned *status, json_t **reply,
                                     struct fl_error *err)
{
    struct account_create_args *a = arg;
    *status = 201;
    *reply = fund_account_create(db, a->who, a->fund_id, a->code, a->name, a->type, a->currency, err);
    return *reply ? FLE_OK : err->code;
}

void h_accounts_create(struct http_req *r, struct http_reply *out)
{
    static const struct jv_field spec[] = {
        {"code", JV_STRING, true, 64},
        {"name", JV_STRING, true, 200},
        {"type", JV_STRING, true, 16},
        {"currency", JV_STRING, true, 3},
    };
    struct account_create_args a = {.who = &r->who};
    struct fl_error err;
    if (!http_param_id(r, 0, &a.fund_id, out)) {
        return;
    }
    if (jv_check(r->body, spec, sizeof spec / sizeof spec[0], "", &err) != FLE_OK) {
        http_reply_error(out, &err);
        return;
    }
    a.code = jv_str(r->body, "code");
    a.name = jv_str(r->body, "name");
    a.type = jv_str(r->body, "type");
    a.currency = jv_str(r->body, "currency");
    http_write(r, out, account_create_op, &a);
}

void h_trial_balance(struct http_req *r, struct http_reply *out)
{
    int64_t id;
    const char *as_of;
    if (!http_param_id(r, 0, &id, out) || !http_query_date(r, "as_of", &as_of, out)) {
        return;
    }
    struct fl_error err;
    fl_error_clear(&err);
    if (fund_exists(r->db, id, NULL, &err) != FLE_OK) {
        http_reply_error(out, &err);
        return;
    }
    http_reply_result(out, 200, ledger_trial_balance(r->db, id, as_of, &err), &err);
}
