/* navalloc: everything the fund earns and bears allocated to its tranches (docs/fund-operations.md,
 * "NAV: everything allocated to the tranches"), so that a tranche's NAV is read from its own
 * accounts and the tranches' NAVs sum to the fund's net assets. One run per fund and date, posted
 * at the month-end close after the loss allowance (fund_close_steps). */
#ifndef FUNDLEDGER_NAVALLOC_H
#define FUNDLEDGER_NAVALLOC_H

#include <jansson.h>
#include <stdint.h>

#include "fundledger/auth.h"
#include "fundledger/db.h"
#include "fundledger/error.h"

/* Allocates, as of `date` (YYYY-MM-DD, not in the future), in the caller's transaction:
 *  - each tranche's management fee for the days since the previous allocation (or its signing):
 *    Dr T<id>.FEES / Cr 2300 (paid by the waterfall's fee step);
 *  - the balance of 5000 (fund expenses) by the tranches' capital on the date, and of 5100
 *    (credit losses no tranche's capital absorbed) to the most junior: Dr T<id>.EXPENSES / Cr 5000,
 *    5100;
 *  - the balance of 4000 + 4100 (income) by the waterfall's rule: each tranche but the most
 *    junior the coupon it has earned from inception to the date (paid by the waterfall's runs
 *    before the date, due and unpaid at the last of them, accrued since it as the next run will
 *    compute it) less the income allocated to it before, most senior first, as far as the income
 *    goes; the rest to the most junior: Dr 4000, 4100 / Cr T<id>.INCOME.
 * One entry (`nav_allocation`, event_ref `nav_allocation:<id>`), none when nothing moves; the run
 * and each tranche's figures are stored (nav_allocation, nav_allocation_tranche). Idempotent per
 * date (a second call returns the run with "replayed": true); a date before the fund's last
 * allocation is refused (FLE_BAD_FIELD "date"). Creates T<id>.INCOME (income), T<id>.FEES and
 * T<id>.EXPENSES (expense) on first use. Returns nav_allocation_get of the run. */
json_t *nav_allocate(struct db *db, const struct principal *actor, int64_t fund_id, const char *date,
                     struct fl_error *err);

/* The fund's last allocation on or before as_of (NULL: today):
 * {"allocation_id", "fund_id", "as_of", "period_from", "currency", "income", "expenses", "losses",
 *  "fees", "entry_id", "tranches": [{"tranche_id", "capital", "coupon_earned", "allocated_before", "income",
 *  "coupon_unallocated", "management_fee", "expenses"}]}. FLE_NOT_FOUND when none. */
json_t *nav_allocation_get(struct db *db, int64_t fund_id, const char *as_of, struct fl_error *err);

/* The fund's allocation runs in date order, paged by allocation id (after_id, limit 1..PAGE_SIZE_MAX):
 * {"fund_id", "currency", "allocations": [ {as nav_allocation_get's object without "fund_id" and
 * "currency"} ], "next_after": the last id when there are more, else null}. investor_id != 0:
 * each run's "tranches" holds only that investor organisation's tranches (the run's fund totals
 * stay). FLE_NOT_FOUND fund_id. */
json_t *nav_allocation_list(struct db *db, int64_t fund_id, int64_t investor_id, int64_t after_id, unsigned limit,
                            struct fl_error *err);

/* What the month-end close runs for fund accounting on `date`, in this order, in the caller's
 * transaction: the loss allowance (provision_run) and then the NAV allocation (nav_allocate).
 * Both are idempotent per date, so a close repeated on a date posts nothing new.
 * {"provision": provision_run's reply, "allocation": nav_allocate's reply}. Caller owns. */
json_t *fund_close_steps(struct db *db, const struct principal *actor, int64_t fund_id, const char *date,
                         struct fl_error *err);

#endif
