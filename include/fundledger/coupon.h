/* coupon: what a tranche earns and bears between two dates, from the dates its capital
 * actually changed (docs/fund-operations.md, "Fund accounting"): the coupon at an effective
 * annual rate, the management fee at a simple annual rate on a daily basis, and a fund expense
 * split by capital. Pure: no database. */
#ifndef FUNDLEDGER_COUPON_H
#define FUNDLEDGER_COUPON_H

#include <stddef.h>
#include <stdint.h>

#include "fundledger/rate.h"

/* Most capital changes one accrual reads (a tranche's contributions, returns, losses and
 * recoveries within one period between runs). */
#define COUPON_CHANGES_MAX 4096

/* A change of the basis (capital or commitment) on a date: delta_minor > 0 adds, < 0 removes. */
typedef struct coupon_change {
    rate_date date;
    int64_t delta_minor;
} coupon_change;

/* The coupon from `from` to `to` (Actual/365 Fixed) at the effective annual rate ea (8 decimals,
 * rate_parse's scale) on capital that is opening_minor on `from` and changes by changes[i] on
 * their dates (ascending, each in (from, to]; a change on `from` belongs in opening_minor):
 *   coupon = Σ_j round_half_even(ΔC_j × ((1+ea)^(d_j/365) − 1))
 * with ΔC_0 = opening over all the days and each change over the days from its date to `to`
 * (a sum below zero, possible only by the half units of rounding, is 0).
 * RATE_ERR_DATE: to before from, a change outside (from, to] or out of date order;
 * RATE_ERR_NEGATIVE: opening < 0, ea < 0 or the capital below zero after some change;
 * RATE_ERR_RANGE: n > COUPON_CHANGES_MAX or ea above RATE_MAX; RATE_ERR_OVERFLOW.
 * *coupon_minor untouched on error. */
rate_status coupon_accrue(int64_t ea, rate_date from, rate_date to, int64_t opening_minor, const coupon_change *changes,
                          size_t n, int64_t *coupon_minor);

/* A fee at the simple annual rate fee_rate (8 decimals) on a basis that is opening_minor on
 * `from` and changes as above, day by day from `from` to `to`, Actual/365 Fixed:
 *   fee = round_half_even(Σ_days basis_day × fee_rate / 365)   (exact, one rounding).
 * Errors as coupon_accrue. */
rate_status coupon_fee_accrue(int64_t fee_rate, rate_date from, rate_date to, int64_t opening_minor,
                              const coupon_change *changes, size_t n, int64_t *fee_minor);

/* The management fee on the basis a tranche's terms name: the commitment (commitment_minor,
 * constant) up to the end of the investment period `period_end`, then the capital (opening
 * capital capital_minor on max(from, period_end), with capital changes after it). A period
 * entirely before period_end is all on the commitment (changes must then be empty), one
 * entirely after all on capital; changes lie in (max(from, period_end), to].
 * Errors as coupon_accrue. */
rate_status coupon_management_fee(int64_t fee_rate, rate_date from, rate_date to, rate_date period_end,
                                  int64_t commitment_minor, int64_t capital_minor, const coupon_change *changes,
                                  size_t n, int64_t *fee_minor);

/* Splits a fund expense over n tranches (most senior first) by their capital with money_split
 * (largest remainder, ties to the more senior); parts sum to expense_minor. false on n == 0, a
 * negative capital, all capital zero or overflow (parts untouched). */
bool coupon_expense_split(int64_t expense_minor, const int64_t *capital_minor, size_t n, int64_t *parts_minor);

/* Allocates the fund's income of a period (interest, fees from borrowers, recoveries above the
 * losses: may be negative) over n tranches (most senior first) by the waterfall's rule: each
 * tranche but the last, in order, is allocated the coupon it is entitled to (entitled_minor[i]:
 * the period's coupon plus what was not allocated before) up to what income is left; the last
 * (most junior, the residual holder) is allocated the rest, whatever its sign. short_minor[i] =
 * entitled - allocated for all but the last (0 for it): the coupon carried to the next period.
 * Parts sum to income_minor. false on n == 0, a negative entitlement or overflow. */
bool coupon_income_allocate(int64_t income_minor, const int64_t *entitled_minor, size_t n, int64_t *parts_minor,
                            int64_t *short_minor);

#endif
