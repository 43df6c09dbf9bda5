/* portfolio: quality of a fund's loan portfolio as of a date (gross portfolio, PAR30, PAR90,
 * write-offs, recoveries, concentration) and arrears per loan, computed set-based in SQL. */
#ifndef FUNDLEDGER_PORTFOLIO_H
#define FUNDLEDGER_PORTFOLIO_H

#include <jansson.h>
#include <stdint.h>

#include "fundledger/db.h"

/* Portfolio quality of a fund's loans in its base currency as of as_of (NULL = today), with
 * write-offs and recoveries of the period [from, as_of] (from NULL = 1 January of as_of's year).
 * Per loan (payments, disbursements and write-offs count when dated on or before as_of):
 * principal outstanding = drawn - principal repaid - written off; days past due = as_of minus
 * the oldest due date before as_of of an instalment not fully paid (0 when nothing is
 * outstanding). PAR30 / PAR90 (IRIS FP2635 / FP6373, CGAP) = the WHOLE principal outstanding of
 * the loans more than 30 / 90 days past due, divided by the gross portfolio: balances, not
 * counts; ratios as decimal strings with 4 decimals, rounded half-even in integers ("0.0000" for
 * an empty portfolio). {"fund_id", "currency", "as_of", "period": {"from", "to"},
 * "loans_outstanding", "gross_portfolio", "par30": {"loans", "amount", "ratio"}, "par90": {...},
 * "principal_in_arrears", "interest_in_arrears", "write_offs": {"count", "amount"},
 * "recoveries": {"count", "amount"}, "by_value_chain": [{"value_chain", "loans", "outstanding",
 * "share", "par30"}], "by_municipality": [{"municipality_code", "municipality", "department",
 * ...}]}. One query over loan, the latest schedule version as of as_of (loan_schedule_version_row:
 * docs/loan-servicing.md §4), repayment_allocation, disbursement and write_off.
 * Caller owns. FLE_NOT_FOUND fund_id, FLE_BAD_PARAM as_of / from. */
json_t *portfolio_quality(struct db *db, int64_t fund_id, const char *as_of, const char *from, struct fl_error *err);

/* Arrears of each disbursed loan of a fund as of a date, keyset-paged by loan id:
 * {"as_of", "loans": [{"loan_id", "currency", "principal_outstanding", "days_past_due",
 * "oldest_unpaid_due_date", "principal_in_arrears", "interest_in_arrears", "municipality_code",
 * "value_chain"}], "next_after"}. limit 1..PAGE_SIZE_MAX. Caller owns. */
json_t *portfolio_arrears_list(struct db *db, int64_t fund_id, const char *as_of, int64_t after_id, unsigned limit,
                               struct fl_error *err);

/* num / den as a decimal string with 4 decimals, rounded half-even ("0.0000" when den is 0).
 * buf holds at least 32 bytes. Exported for the unit tests. */
const char *portfolio_ratio(int64_t num, int64_t den, char *buf, size_t cap);

#endif
