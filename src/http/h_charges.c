/* h_charges: ad-hoc loan charges: propose (four eyes, kind loan_charge) and list. */
#include "fundledger/charge.h"
#include "fundledger/http.h"
#include "fundledger/jsonv.h"

struct charge_args {
    const struct principal *who;
    int64_t loan_id;
    const char *amount, *value_date, *reason;
};

static enum fl_err charge_op(struct db *db, void *arg, unsigned *status, json_t **reply, struct fl_error *err)
{
    struct charge_args *a = arg;
    *status = 201;
    *reply = loan_charge_propose(db, a->who, a->loan_id, a->amount, a->value_date, a->reason, err);
    return *reply ? FLE_OK : err->code;
}

void h_loan_charge_propose(struct http_req *r, struct http_reply *out)
{
    static const struct jv_field spec[] = {
        {"amount", JV_AMOUNT, true, 32},
        {"value_date", JV_DATE, true, 10},
        {"reason", JV_STRING, true, REASON_BYTES_MAX},
    };
    struct charge_args a = {.who = &r->who};
    struct fl_error err;
    if (!http_param_id(r, 0, &a.loan_id, out)) {
        return;
    }
    if (jv_check(r->body, spec, sizeof spec / sizeof spec[0], "", &err) != FLE_OK) {
        http_reply_error(out, &err);
        return;
    }
    a.amount = jv_str(r->body, "amount");
    a.value_date = jv_str(r->body, "value_date");
    a.reason = jv_str(r->body, "reason");
    http_write(r, out, charge_op, &a);
}

void h_loan_charges_list(struct http_req *r, struct http_reply *out)
{
    http_read_id(r, out, loan_charge_list);
}
