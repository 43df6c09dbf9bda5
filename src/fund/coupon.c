/* coupon: coupon, management fee and expense split over a dated capital timeline
 * (docs/fund-operations.md, "Fund accounting"). */
#include "fundledger/coupon.h"

#include <assert.h>
#include <stdbool.h>

#include "fundledger/money.h"

/* Checks the timeline: from <= to, changes ascending within (from, to], the basis never below
 * zero. */
static rate_status check_timeline(rate_date from, rate_date to, int64_t opening, const coupon_change *ch, size_t n)
{
    if (!rate_date_valid(from) || !rate_date_valid(to)) {
        return RATE_ERR_DATE;
    }
    int64_t f = rate_date_to_days(from), t = rate_date_to_days(to);
    if (t < f) {
        return RATE_ERR_DATE;
    }
    if (t - f > RATE_DAYS_MAX || n > COUPON_CHANGES_MAX) {
        return RATE_ERR_RANGE;
    }
    if (opening < 0) {
        return RATE_ERR_NEGATIVE;
    }
    assert(n == 0 || ch != NULL);
    int64_t prev = f, basis = opening;
    for (size_t i = 0; i < n; i++) {
        if (!rate_date_valid(ch[i].date)) {
            return RATE_ERR_DATE;
        }
        int64_t d = rate_date_to_days(ch[i].date);
        if (d <= f || d > t || d < prev) {
            return RATE_ERR_DATE;
        }
        prev = d;
        if (!money_add(basis, ch[i].delta_minor, &basis)) {
            return RATE_ERR_OVERFLOW;
        }
        if (basis < 0) {
            return RATE_ERR_NEGATIVE;
        }
    }
    return RATE_OK;
}

rate_status coupon_accrue(int64_t ea, rate_date from, rate_date to, int64_t opening_minor, const coupon_change *changes,
                          size_t n, int64_t *coupon_minor)
{
    assert(coupon_minor != NULL);
    if (ea < 0) {
        return RATE_ERR_NEGATIVE;
    }
    rate_status st = check_timeline(from, to, opening_minor, changes, n);
    if (st != RATE_OK) {
        return st;
    }
    int64_t total = 0, term = 0;
    if ((st = rate_daycount_interest(opening_minor, ea, RATE_DC_ACT_365, from, to, &term)) != RATE_OK) {
        return st;
    }
    total = term;
    for (size_t i = 0; i < n; i++) {
        int64_t d = changes[i].delta_minor;
        /* -INT64_MIN does not exist; check_timeline's running sum never lets it through with a
         * non-negative basis, but say so rather than rely on it. */
        if (d == INT64_MIN) {
            return RATE_ERR_OVERFLOW;
        }
        if ((st = rate_daycount_interest(d < 0 ? -d : d, ea, RATE_DC_ACT_365, changes[i].date, to, &term)) != RATE_OK) {
            return st;
        }
        if (!money_add(total, d < 0 ? -term : term, &total)) {
            return RATE_ERR_OVERFLOW;
        }
    }
    /* The basis is never negative, so the exact sum is >= 0; the rounded terms can only take it
     * below zero by the half units of rounding (a loss of capital contributed in small amounts
     * within the period), and a coupon is never negative. */
    *coupon_minor = total < 0 ? 0 : total;
    return RATE_OK;
}

/* Σ over the days of [from, to) of the basis that day, added to *acc. */
static void basis_days(rate_date from, rate_date to, int64_t opening, const coupon_change *ch, size_t n,
                       money_i128 *acc)
{
    int64_t t = rate_date_to_days(to);
    money_i128 sum = (money_i128)opening * (t - rate_date_to_days(from));
    for (size_t i = 0; i < n; i++) {
        sum += (money_i128)ch[i].delta_minor * (t - rate_date_to_days(ch[i].date));
    }
    *acc += sum;
}

static rate_status fee_of(int64_t fee_rate, money_i128 basis_days_sum, int64_t *fee_minor)
{
    if (fee_rate > RATE_MAX) {
        return RATE_ERR_RANGE;
    }
    /* basis_days_sum < 2^63 * 2^16 and fee_rate < 2^37: the product fits 127 bits. */
    if (!money_div_half_even(basis_days_sum * fee_rate, (money_i128)365 * RATE_SCALE, fee_minor)) {
        return RATE_ERR_OVERFLOW;
    }
    return RATE_OK;
}

rate_status coupon_fee_accrue(int64_t fee_rate, rate_date from, rate_date to, int64_t opening_minor,
                              const coupon_change *changes, size_t n, int64_t *fee_minor)
{
    assert(fee_minor != NULL);
    if (fee_rate < 0) {
        return RATE_ERR_NEGATIVE;
    }
    rate_status st = check_timeline(from, to, opening_minor, changes, n);
    if (st != RATE_OK) {
        return st;
    }
    money_i128 acc = 0;
    basis_days(from, to, opening_minor, changes, n, &acc);
    return fee_of(fee_rate, acc, fee_minor);
}

rate_status coupon_management_fee(int64_t fee_rate, rate_date from, rate_date to, rate_date period_end,
                                  int64_t commitment_minor, int64_t capital_minor, const coupon_change *changes,
                                  size_t n, int64_t *fee_minor)
{
    assert(fee_minor != NULL);
    if (fee_rate < 0 || commitment_minor < 0) {
        return RATE_ERR_NEGATIVE;
    }
    if (!rate_date_valid(period_end)) {
        return RATE_ERR_DATE;
    }
    int64_t f = rate_date_valid(from) ? rate_date_to_days(from) : 0;
    int64_t t = rate_date_valid(to) ? rate_date_to_days(to) : 0;
    int64_t e = rate_date_to_days(period_end);
    /* The commitment part: [from, min(to, period_end)); the capital part: [max(from, period_end), to). */
    rate_date cap_from = e > f ? period_end : from;
    if (e >= t) {
        cap_from = to;
    }
    rate_status st = check_timeline(cap_from, to, capital_minor, changes, n);
    if (st != RATE_OK) {
        return st;
    }
    rate_date com_to = e < t ? (e > f ? period_end : from) : to;
    if ((st = check_timeline(from, com_to, commitment_minor, NULL, 0)) != RATE_OK) {
        return st;
    }
    money_i128 acc = 0;
    basis_days(from, com_to, commitment_minor, NULL, 0, &acc);
    basis_days(cap_from, to, capital_minor, changes, n, &acc);
    return fee_of(fee_rate, acc, fee_minor);
}

bool coupon_expense_split(int64_t expense_minor, const int64_t *capital_minor, size_t n, int64_t *parts_minor)
{
    return money_split(expense_minor, capital_minor, n, parts_minor);
}

bool coupon_income_allocate(int64_t income_minor, const int64_t *entitled_minor, size_t n, int64_t *parts_minor,
                            int64_t *short_minor)
{
    if (n == 0) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (entitled_minor[i] < 0) {
            return false;
        }
    }
    int64_t left = income_minor;
    for (size_t i = 0; i + 1 < n; i++) {
        int64_t part = left > 0 ? (entitled_minor[i] < left ? entitled_minor[i] : left) : 0;
        parts_minor[i] = part;
        short_minor[i] = entitled_minor[i] - part;
        left -= part; /* 0 <= part <= left when left > 0: no overflow */
    }
    parts_minor[n - 1] = left;
    short_minor[n - 1] = 0;
    return true;
}
