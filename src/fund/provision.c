/* provision: loss allowance buckets, allowance per loan, bottom-up allocation
 * (docs/fund-operations.md, "Loss allowance"). */
#include "fundledger/provision.h"

#include <assert.h>

#include "fundledger/money.h"

static int date_cmp(rate_date a, rate_date b)
{
    int64_t x = rate_date_to_days(a), y = rate_date_to_days(b);
    return x < y ? -1 : x > y;
}

provision_status provision_bucket_find(const provision_bucket *rows, size_t n, rate_date date, int dpd, size_t *idx)
{
    assert(idx != NULL && (n == 0 || rows != NULL));
    if (dpd < 0 || !rate_date_valid(date)) {
        return PROVISION_ERR_INPUT;
    }
    /* The table in force: the latest effective date on or before `date`. */
    bool have = false;
    rate_date in_force = date;
    for (size_t i = 0; i < n; i++) {
        if (!rate_date_valid(rows[i].effective) || rows[i].dpd_from < 0 || rows[i].rate < 0 ||
            rows[i].rate > RATE_SCALE) {
            return PROVISION_ERR_INPUT;
        }
        if (date_cmp(rows[i].effective, date) <= 0 && (!have || date_cmp(rows[i].effective, in_force) > 0)) {
            in_force = rows[i].effective;
            have = true;
        }
    }
    if (!have) {
        return PROVISION_ERR_NO_TABLE;
    }
    bool from_zero = false, found = false;
    size_t best = 0;
    for (size_t i = 0; i < n; i++) {
        if (date_cmp(rows[i].effective, in_force) != 0) {
            continue;
        }
        from_zero = from_zero || rows[i].dpd_from == 0;
        if (rows[i].dpd_from <= dpd && (!found || rows[i].dpd_from > rows[best].dpd_from)) {
            best = i;
            found = true;
        }
    }
    if (!from_zero || !found) {
        return PROVISION_ERR_NO_TABLE;
    }
    *idx = best;
    return PROVISION_OK;
}

provision_status provision_allowance(int64_t principal_minor, int64_t rate, int64_t *allowance_minor)
{
    assert(allowance_minor != NULL);
    if (principal_minor < 0 || rate < 0 || rate > RATE_SCALE) {
        return PROVISION_ERR_INPUT;
    }
    /* rate <= 10^8 < 2^27: the product fits 90 bits. */
    if (!money_div_half_even((money_i128)principal_minor * rate, RATE_SCALE, allowance_minor)) {
        return PROVISION_ERR_OVERFLOW;
    }
    return PROVISION_OK;
}

provision_status provision_change(int64_t posted_minor, int64_t target_minor, int64_t *change_minor)
{
    assert(change_minor != NULL);
    if (posted_minor < 0 || target_minor < 0) {
        return PROVISION_ERR_INPUT;
    }
    return money_sub(target_minor, posted_minor, change_minor) ? PROVISION_OK : PROVISION_ERR_OVERFLOW;
}

waterfall_status provision_allocate(int64_t allowance_minor, const int64_t *capital_minor, size_t n,
                                    int64_t *allocated_minor, int64_t *unabsorbed_minor)
{
    return waterfall_allocate_loss(allowance_minor, capital_minor, n, allocated_minor, unabsorbed_minor);
}

provision_status provision_write_off(int64_t loss_minor, int64_t allowance_minor, int64_t *used_minor,
                                     int64_t *extra_minor)
{
    assert(used_minor != NULL && extra_minor != NULL);
    if (loss_minor < 0 || allowance_minor < 0) {
        return PROVISION_ERR_INPUT;
    }
    *used_minor = allowance_minor < loss_minor ? allowance_minor : loss_minor;
    *extra_minor = loss_minor - *used_minor;
    return PROVISION_OK;
}
