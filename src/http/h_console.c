/* h_console: small read routes the web console needs that no other route gives (docs/console.md):
 * the usury cap in force for a loan on a date and the margin of its rate under it. */
#include "fundledger/http.h"
#include "fundledger/tranche.h"
#include "fundledger/usury.h"

void h_loan_usury(struct http_req *r, struct http_reply *out)
{
    int64_t loan_id;
    const char *on;
    if (!http_param_id(r, 0, &loan_id, out) || !http_query_date(r, "on", &on, out)) {
        return;
    }
    char today[DATE_TEXT_BYTES];
    if (on == NULL) {
        tranche_today(today); /* no date given: today */
        on = today;
    }
    struct fl_error err;
    fl_error_clear(&err);
    http_reply_result(out, 200, usury_margin(r->db, loan_id, on, &err), &err);
}
