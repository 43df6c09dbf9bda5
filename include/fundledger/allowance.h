/* allowance: the loss allowance of a fund posted for a date (docs/fund-operations.md, "Loss
 * allowance"): each loan's days past due and principal outstanding, its bucket in the dated
 * table (provision.h), the fund's total allocated to the tranches bottom-up, and one journal
 * entry moving each tranche's T<id>.ALLOWANCE (and the fund's 1190) to the new figures. */
#ifndef FUNDLEDGER_ALLOWANCE_H
#define FUNDLEDGER_ALLOWANCE_H

#include <jansson.h>
#include <stdint.h>

#include "fundledger/auth.h"
#include "fundledger/db.h"
#include "fundledger/error.h"

/* Posts the allowance as of `date` (YYYY-MM-DD, not in the future) in the caller's transaction.
 * Idempotent per date: a second call for a date already run posts nothing and returns that run
 * (with "replayed": true). A date before the fund's last provision run is refused
 * (FLE_BAD_FIELD "date"). Creates the accounts it needs on first use: 1190 "Loan loss allowance"
 * (contra-asset, credit) and T<id>.ALLOWANCE "Loss allowance allocated" (equity, debit) per
 * tranche. Entry (`provision`, event_ref `provision_run:<id>`): Dr T.ALLOWANCE by each tranche's
 * change, Cr 1190 by the total change (signs reversed for a release); none when nothing moves.
 * Returns provision_get of the run. FLE_NOT_FOUND fund_id; FLE_RULE when no bucket table is in
 * force or a loan is in another currency. */
json_t *provision_run(struct db *db, const struct principal *actor, int64_t fund_id, const char *date,
                      struct fl_error *err);

/* The allowance of the fund's last provision run on or before `as_of` (NULL: the latest):
 * {"run_id", "fund_id", "as_of", "currency", "allowance", "change", "entry_id",
 *  "buckets": [{"category", "loans", "principal", "allowance"}],
 *  "tranches": [{"tranche_id", "capital", "allowance"}],
 *  "loans": [{"loan_id", "days_past_due", "category", "rate", "principal", "allowance"}],
 *  "next_after"}: the loans of the run by id after after_id, at most limit (1..PAGE_SIZE_MAX).
 * FLE_NOT_FOUND when the fund has no run by then, FLE_BAD_PARAM as_of. */
json_t *provision_get(struct db *db, int64_t fund_id, const char *as_of, int64_t after_id, unsigned limit,
                      struct fl_error *err);

#endif
