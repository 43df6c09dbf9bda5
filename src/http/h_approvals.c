/* h_approvals: the four-eyes queue: list, read, approve, reject. */
#include <string.h>

#include "fundledger/approval.h"
#include "fundledger/http.h"
#include "fundledger/jsonv.h"

void h_approvals_list(struct http_req *r, struct http_reply *out)
{
    int64_t fund_id, after;
    unsigned limit;
    if (!http_query_id(r, "fund_id", &fund_id, out) || !http_query_page(r, &after, &limit, out)) {
        return;
    }
    const char *status = http_query(r, "status");
    if (status == NULL) {
        status = "pending";
    } else if (strcmp(status, "any") == 0) {
        status = NULL;
    } else if (strcmp(status, "pending") != 0 && strcmp(status, "approved") != 0 &&
               strcmp(status, "rejected") != 0) {
        http_reply_fail(out, FLE_BAD_PARAM, "status", "pending, approved, rejected or any");
        return;
    }
    struct fl_error err;
    fl_error_clear(&err);
    http_reply_result(out, 200, approval_list(r->db, fund_id, status, after, limit, &err), &err);
}

void h_approvals_get(struct http_req *r, struct http_reply *out)
{
    int64_t id;
    if (!http_param_id(r, 0, &id, out)) {
        return;
    }
    struct fl_error err;
    fl_error_clear(&err);
    http_reply_result(out, 200, approval_get(r->db, id, &err), &err);
}

struct decide_args {
    const struct principal *who;
    int64_t id;
    bool approve;
    const char *reason;
};

static enum fl_err decide_op(struct db *db, void *arg, unsigned *status, json_t **reply, struct fl_error *err)
{
    struct decide_args *a = arg;
    *status = 200;
    *reply = approval_decide(db, a->who, a->id, a->approve, a->reason, err);
    return *reply ? FLE_OK : err->code;
}

static void decide(struct http_req *r, struct http_reply *out, bool approve)
{
    static const struct jv_field spec[] = {{"reason", JV_TEXT, false, REASON_BYTES_MAX}};
    struct decide_args a = {.who = &r->who, .approve = approve};
    struct fl_error err;
    if (!http_param_id(r, 0, &a.id, out)) {
        return;
    }
    if (jv_check(r->body, spec, 1, "", &err) != FLE_OK) {
        http_reply_error(out, &err);
        return;
    }
    a.reason = jv_str(r->body, "reason");
    http_write(r, out, decide_op, &a);
}

void h_approvals_approve(struct http_req *r, struct http_reply *out)
{
    decide(r, out, true);
}

void h_approvals_reject(struct http_req *r, struct http_reply *out)
{
    decide(r, out, false);
}
