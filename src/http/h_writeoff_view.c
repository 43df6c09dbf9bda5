/* h_writeoff_view: what a write-off would do (inbox detail; read only). */
#include "fundledger/http.h"
#include "fundledger/writeoff_view.h"

void h_writeoff_preview(struct http_req *r, struct http_reply *out)
{
    int64_t loan_id;
    if (!http_param_id(r, 0, &loan_id, out)) {
        return;
    }
    struct fl_error err;
    fl_error_clear(&err);
    http_reply_result(out, 200, writeoff_preview(r->db, loan_id, http_query(r, "amount"), &err), &err);
}
