/* writeoff_view: what a write-off would do, for the approver's inbox (read only): the loan, its
 * borrower and outstanding principal, the loan's loss allowance held and used, and how the loss
 * falls on the tranches bottom-up, as writeoff_execute (repayment.c) would post it now. */
#ifndef FUNDLEDGER_WRITEOFF_VIEW_H
#define FUNDLEDGER_WRITEOFF_VIEW_H

#include <jansson.h>

#include "fundledger/db.h"
#include "fundledger/error.h"

/* The write-off of amount (a decimal string; NULL = all the principal outstanding) on loan_id, as
 * of today: {"loan_id", "fund_id", "entrepreneur_id", "currency", "loan_status",
 * "principal_outstanding", "amount", "allowance_held", "allowance_used", "loss_beyond_allowance",
 * "tranches": [{"tranche_id", "name", "rank", "capital", "absorbed", "capital_after"}] (most senior
 * first), "unabsorbed"}; amounts as decimal strings. Writes nothing. Errors: FLE_NOT_FOUND (no
 * loan), FLE_BAD_FIELD "amount" (not an amount of the currency, zero, or above the outstanding
 * principal), FLE_RULE "loan_id" (the fund has no active tranche in the currency), database errors. */
json_t *writeoff_preview(struct db *db, int64_t loan_id, const char *amount, struct fl_error *err);

#endif
