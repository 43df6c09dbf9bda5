/* h_provisions: the loss allowance of a fund: post it for a date, read it. */
#include "fundledger/allowance.h"
#include "fundledger/http.h"

void h_provisions_create(struct http_req *r, struct http_reply *out)
{
    http_write_fund_date(r, out, "date", 201, provision_run);
}

void h_provisions_get(struct http_req *r, struct http_reply *out)
{
    http_read_id_date_page(r, out, "as_of", provision_get);
}
