/* h_charges: ad-hoc loan charges: propose (four eyes, kind loan_charge) and list. */
#include "fundledger/charge.h"
#include "fundledger/http.h"

void h_loan_charge_propose(struct http_req *r, struct http_reply *out)
{
    http_write_loan_proposal(r, out, true, loan_charge_propose);
}

void h_loan_charges_list(struct http_req *r, struct http_reply *out)
{
    http_read_id(r, out, loan_charge_list);
}
