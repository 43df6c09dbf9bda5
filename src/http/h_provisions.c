/* h_provisions: the loss allowance of a fund: post it for a date, read it. */
#include "fundledger/allowance.h"
#include "fundledger/http.h"
#include "fundledger/jsonv.h"

struct provision_args {
    const struct principal *who;
    int64_t fund_id;
    const char *date;
};

static enum fl_err provision_op(struct db *db, void *arg, unsigned *status, json_t **reply, struct fl_error *err)
{
    struct provision_args *a = arg;
    *status = 201;
    *reply = provision_run(db, a->who, a->fund_id, a->date, err);
    return *reply ? FLE_OK : err->code;
}

void h_provisions_create(struct http_req *r, struct http_reply *out)
{
    static const struct jv_field spec[] = {{"date", JV_DATE, true, 10}};
    struct provision_args a = {.who = &r->who};
    struct fl_error err;
    if (!http_param_id(r, 0, &a.fund_id, out)) {
        return;
    }
    if (jv_check(r->body, spec, 1, "", &err) != FLE_OK) {
        http_reply_error(out, &err);
        return;
    }
    a.date = jv_str(r->body, "date");
    http_write(r, out, provision_op, &a);
}

void h_provisions_get(struct http_req *r, struct http_reply *out)
{
    int64_t id, after;
    unsigned limit;
    const char *as_of;
    if (!http_param_id(r, 0, &id, out) || !http_query_date(r, "as_of", &as_of, out) ||
        !http_query_page(r, &after, &limit, out)) {
        return;
    }
    struct fl_error err;
    fl_error_clear(&err);
    http_reply_result(out, 200, provision_get(r->db, id, as_of, after, limit, &err), &err);
}
