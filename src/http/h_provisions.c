/* h_provisions: the loss allowance of a fund: post it for a date, read it; the NAV allocation runs. */
#include "fundledger/allowance.h"
#include "fundledger/http.h"
#include "fundledger/navalloc.h"

void h_provisions_create(struct http_req *r, struct http_reply *out)
{
    http_write_fund_date(r, out, "date", 201, provision_run);
}

void h_provisions_get(struct http_req *r, struct http_reply *out)
{
    http_read_id_date_page(r, out, "as_of", provision_get);
}

/* The NAV allocation runs of a fund; an investor sees only its own tranches' rows in each run
 * (docs/authorization.md). */
void h_nav_allocations_list(struct http_req *r, struct http_reply *out)
{
    int64_t id, after;
    unsigned limit;
    if (!http_param_id(r, 0, &id, out) || !http_query_page(r, &after, &limit, out)) {
        return;
    }
    struct fl_error err;
    fl_error_clear(&err);
    int64_t investor = r->who.role == ROLE_INVESTOR ? r->who.organisation_id : 0;
    http_reply_result(out, 200, nav_allocation_list(r->db, id, investor, after, limit, &err), &err);
}
