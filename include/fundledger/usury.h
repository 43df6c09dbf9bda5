/* usury: the usury cap in force for a loan on a date and the margin of the loan's rate under it
 * (for the web console's approver inbox; docs/console.md). Read only. */
#ifndef FUNDLEDGER_USURY_H
#define FUNDLEDGER_USURY_H

#include <jansson.h>
#include <stdint.h>

#include "fundledger/db.h"
#include "fundledger/error.h"

/* {"loan_id", "modality", "on", "annual_rate", "cap", "margin", "valid_from", "valid_to",
 * "source"}: cap the rate certified for the loan's modality on `on` ("YYYY-MM-DD"), margin =
 * cap - annual_rate (negative when above the cap), rates as decimal strings (rate_format, at
 * least 4 decimals); cap, margin, valid_from, valid_to and source are null when no cap is
 * certified for that date. Exact integer arithmetic (RATE_SCALE), no floating point.
 * Errors: FLE_NOT_FOUND loan_id; database errors. */
json_t *usury_margin(struct db *db, int64_t loan_id, const char *on, struct fl_error *err);

/* The same without a loan: {"modality", "on", "annual_rate", "cap", "margin", "valid_from",
 * "valid_to", "source"} for a rate (1e-8 units, 0..RATE_MAX) under modality's cap on `on` (the
 * loan proposal form's schedule preview, docs/console.md). Errors: database errors. */
json_t *usury_on(struct db *db, const char *modality, int64_t rate, const char *on, struct fl_error *err);

#endif
