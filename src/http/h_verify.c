/* h_verify: verify runs for the auditor: run verify now (recorded and audited), read past runs. */
#include <stdlib.h>

#include "fundledger/http.h"
#include "fundledger/jsonv.h"
#include "fundledger/verify_run.h"

struct record_args {
    const struct principal *who;
    const char *started_at;
    const struct ledger_verify_report *rep;
};

static enum fl_err record_op(struct db *db, void *arg, unsigned *status, json_t **reply, struct fl_error *err)
{
    struct record_args *a = arg;
    *status = 201;
    *reply = verify_run_record(db, a->who, "api", a->who->name, a->started_at, a->rep, err);
    return *reply ? FLE_OK : err->code;
}

/* The check runs first in its own read-only snapshot (it cannot share the write's transaction);
 * then the run is recorded and audited once per Idempotency-Key: a retry gets the stored run. */
void h_verify_runs_create(struct http_req *r, struct http_reply *out)
{
    struct fl_error err;
    fl_error_clear(&err);
    if (jv_check(r->body, NULL, 0, "", &err) != FLE_OK) {
        http_reply_error(out, &err);
        return;
    }
    struct ledger_verify_report *rep = malloc(sizeof *rep);
    if (rep == NULL) {
        http_reply_fail(out, FLE_INTERNAL, NULL, "out of memory");
        return;
    }
    char started[VERIFY_RUN_TIME_BYTES];
    if (verify_run_check(r->db, r->cfg, rep, started, NULL, &err) != FLE_OK) {
        free(rep);
        http_reply_error(out, &err);
        return;
    }
    struct record_args a = {.who = &r->who, .started_at = started, .rep = rep};
    http_write(r, out, record_op, &a);
    free(rep);
}

void h_verify_runs_list(struct http_req *r, struct http_reply *out)
{
    int64_t before, after;
    unsigned limit;
    if (!http_query_id(r, "before", &before, out) || !http_query_page(r, &after, &limit, out)) {
        return;
    }
    if (after != 0) {
        http_reply_fail(out, FLE_BAD_PARAM, "after", "this list pages backwards: use before (next_before)");
        return;
    }
    struct fl_error err;
    fl_error_clear(&err);
    http_reply_result(out, 200, verify_run_list(r->db, before, limit, &err), &err);
}
