/* h_provisions: the loss allowance of a fund: post it for a date, read it. */
#include "fundledger/allowance.h"
#include "fundledger/http.h"

void h_provisions_create(struct http_req *r, struct http_reply *out)
{
    http_write_fund_date(r, out, "date", 201, provision_run);
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
