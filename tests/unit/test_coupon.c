/* Unit tests of coupon: the worked examples of docs/fund-operations.md ("Fund accounting"),
 * computed by hand (and with an independent 60-digit calculation) to the centavo. */
/* cmocka.h needs these four headers first, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include <stdbool.h>

#include "fundledger/coupon.h"

#define D(y, m, d) ((rate_date){(y), (m), (d)})
#define PCT(x) ((int64_t)(x)*1000000) /* whole percent -> rate scale (8 decimals) */

/* Worked example 1: 1,000,000,000.00 at 6 % EA from 2026-01-01, 500,000,000.00 contributed on
 * 2026-03-22, run 2026-04-01: 14,471,387.13 + 798,841.69 = 15,270,228.82. */
static void test_contribution_mid_period(void **state)
{
    (void)state;
    coupon_change ch[1] = {{D(2026, 3, 22), 50000000000}};
    int64_t c = -1;
    assert_int_equal(coupon_accrue(PCT(6), D(2026, 1, 1), D(2026, 4, 1), 100000000000, ch, 1, &c), RATE_OK);
    assert_int_equal(c, 1527022882);
    /* Each term alone. */
    assert_int_equal(coupon_accrue(PCT(6), D(2026, 1, 1), D(2026, 4, 1), 100000000000, NULL, 0, &c), RATE_OK);
    assert_int_equal(c, 1447138713);
    assert_int_equal(coupon_accrue(PCT(6), D(2026, 3, 22), D(2026, 4, 1), 50000000000, NULL, 0, &c), RATE_OK);
    assert_int_equal(c, 79884169);
    /* The former rule (run-date capital over the whole period) gave 21,707,080.70. */
    assert_int_equal(coupon_accrue(PCT(6), D(2026, 1, 1), D(2026, 4, 1), 150000000000, NULL, 0, &c), RATE_OK);
    assert_int_equal(c, 2170708070);
}

/* Worked example 2: 800,000,000.00 at 8 % EA from 2026-01-01, 200,000,000.00 lost on
 * 2026-02-15, run 2026-04-01: 15,326,317.55 - 1,906,700.92 = 13,419,616.63; the next quarter on
 * 600,000,000.00 (91 days): 11,623,686.75. */
static void test_write_off_mid_period(void **state)
{
    (void)state;
    coupon_change ch[1] = {{D(2026, 2, 15), -20000000000}};
    int64_t c = -1;
    assert_int_equal(coupon_accrue(PCT(8), D(2026, 1, 1), D(2026, 4, 1), 80000000000, ch, 1, &c), RATE_OK);
    assert_int_equal(c, 1341961663);
    assert_int_equal(coupon_accrue(PCT(8), D(2026, 4, 1), D(2026, 7, 1), 60000000000, NULL, 0, &c), RATE_OK);
    assert_int_equal(c, 1162368675);
    /* The former rule: 600,000,000.00 for all 90 days. */
    assert_int_equal(coupon_accrue(PCT(8), D(2026, 1, 1), D(2026, 4, 1), 60000000000, NULL, 0, &c), RATE_OK);
    assert_int_equal(c, 1149473817);
    /* The coupon before the write-off alone (45 days on 800,000,000.00): 7,626,803.69. */
    assert_int_equal(coupon_accrue(PCT(8), D(2026, 1, 1), D(2026, 2, 15), 80000000000, NULL, 0, &c), RATE_OK);
    assert_int_equal(c, 762680369);
}

static void test_change_on_run_date_earns_nothing(void **state)
{
    (void)state;
    coupon_change ch[2] = {{D(2026, 4, 1), 50000000000}, {D(2026, 4, 1), -10000000000}};
    int64_t c = -1;
    assert_int_equal(coupon_accrue(PCT(6), D(2026, 1, 1), D(2026, 4, 1), 100000000000, ch, 2, &c), RATE_OK);
    assert_int_equal(c, 1447138713);
    /* A zero-length period earns nothing. */
    assert_int_equal(coupon_accrue(PCT(6), D(2026, 4, 1), D(2026, 4, 1), 100000000000, NULL, 0, &c), RATE_OK);
    assert_int_equal(c, 0);
}

static void test_timeline_refused(void **state)
{
    (void)state;
    int64_t c = 77;
    coupon_change on_from[1] = {{D(2026, 1, 1), 100}};
    coupon_change after_to[1] = {{D(2026, 4, 2), 100}};
    coupon_change unordered[2] = {{D(2026, 3, 1), 100}, {D(2026, 2, 1), 100}};
    coupon_change below_zero[2] = {{D(2026, 2, 1), -600}, {D(2026, 3, 1), 700}};
    coupon_change bad_date[1] = {{D(2026, 2, 30), 100}};
    assert_int_equal(coupon_accrue(PCT(6), D(2026, 1, 1), D(2026, 4, 1), 500, on_from, 1, &c), RATE_ERR_DATE);
    assert_int_equal(coupon_accrue(PCT(6), D(2026, 1, 1), D(2026, 4, 1), 500, after_to, 1, &c), RATE_ERR_DATE);
    assert_int_equal(coupon_accrue(PCT(6), D(2026, 1, 1), D(2026, 4, 1), 500, unordered, 2, &c), RATE_ERR_DATE);
    assert_int_equal(coupon_accrue(PCT(6), D(2026, 1, 1), D(2026, 4, 1), 500, below_zero, 2, &c), RATE_ERR_NEGATIVE);
    assert_int_equal(coupon_accrue(PCT(6), D(2026, 1, 1), D(2026, 4, 1), 500, bad_date, 1, &c), RATE_ERR_DATE);
    assert_int_equal(coupon_accrue(PCT(6), D(2026, 4, 1), D(2026, 1, 1), 500, NULL, 0, &c), RATE_ERR_DATE);
    assert_int_equal(coupon_accrue(PCT(6), D(2026, 1, 1), D(2026, 4, 1), -1, NULL, 0, &c), RATE_ERR_NEGATIVE);
    assert_int_equal(coupon_accrue(-1, D(2026, 1, 1), D(2026, 4, 1), 500, NULL, 0, &c), RATE_ERR_NEGATIVE);
    assert_int_equal(c, 77);
}

/* Worked example 3: 2 % on 1,000,000,000.00 commitment for 31 days (to 2026-02-01, the end of
 * the investment period), then on 600,000,000.00 capital for 59 days: 3,638,356.16. */
static void test_management_fee_commitment_then_capital(void **state)
{
    (void)state;
    int64_t f = -1;
    assert_int_equal(coupon_management_fee(PCT(2), D(2026, 1, 1), D(2026, 4, 1), D(2026, 2, 1), 100000000000,
                                           60000000000, NULL, 0, &f),
                     RATE_OK);
    assert_int_equal(f, 363835616);
    /* All in the investment period: 1,000,000,000.00 x 90 x 2 % / 365 = 4,931,506.849 -> .85 */
    assert_int_equal(coupon_management_fee(PCT(2), D(2026, 1, 1), D(2026, 4, 1), D(2026, 6, 30), 100000000000,
                                           60000000000, NULL, 0, &f),
                     RATE_OK);
    assert_int_equal(f, 493150685);
    /* All after it, capital 600,000,000.00 + 300,000,000.00 from 2026-03-02 (30 days):
     * (600,000,000.00 x 90 + 300,000,000.00 x 30) x 2 % / 365 = 3,452,054.794 -> .79 */
    coupon_change ch[1] = {{D(2026, 3, 2), 30000000000}};
    assert_int_equal(coupon_management_fee(PCT(2), D(2026, 1, 1), D(2026, 4, 1), D(2025, 12, 31), 100000000000,
                                           60000000000, ch, 1, &f),
                     RATE_OK);
    assert_int_equal(f, 345205479);
    /* The same through coupon_fee_accrue. */
    assert_int_equal(coupon_fee_accrue(PCT(2), D(2026, 1, 1), D(2026, 4, 1), 60000000000, ch, 1, &f), RATE_OK);
    assert_int_equal(f, 345205479);
}

/* One rounding, half-even: a basis of 18250 minor for 1 day at 1 % is 0.5 -> 0 (even);
 * 54750 is 1.5 -> 2; 54751 is 1.50003 -> 2. */
static void test_fee_half_even(void **state)
{
    (void)state;
    int64_t f = -1;
    assert_int_equal(coupon_fee_accrue(PCT(1), D(2026, 1, 1), D(2026, 1, 2), 18250, NULL, 0, &f), RATE_OK);
    assert_int_equal(f, 0);
    assert_int_equal(coupon_fee_accrue(PCT(1), D(2026, 1, 1), D(2026, 1, 2), 54750, NULL, 0, &f), RATE_OK);
    assert_int_equal(f, 2);
    assert_int_equal(coupon_fee_accrue(PCT(1), D(2026, 1, 1), D(2026, 1, 2), 54751, NULL, 0, &f), RATE_OK);
    assert_int_equal(f, 2);
}

/* Worked example 4: 4,500,000.00 over capital 1,000,000,000.00 / 600,000,000.00 /
 * 400,000,000.00; 100.00 over three equal capitals: 33.34 / 33.33 / 33.33. */
static void test_expense_split(void **state)
{
    (void)state;
    int64_t cap[3] = {100000000000, 60000000000, 40000000000}, parts[3] = {0};
    assert_true(coupon_expense_split(450000000, cap, 3, parts));
    assert_int_equal(parts[0], 225000000);
    assert_int_equal(parts[1], 135000000);
    assert_int_equal(parts[2], 90000000);
    int64_t eq[3] = {100000000000, 100000000000, 100000000000};
    assert_true(coupon_expense_split(10000, eq, 3, parts));
    assert_int_equal(parts[0], 3334);
    assert_int_equal(parts[1], 3333);
    assert_int_equal(parts[2], 3333);
    int64_t none[2] = {0, 0};
    assert_false(coupon_expense_split(100, none, 2, parts));
}

/* Income by the waterfall's rule (docs/fund-operations.md, worked example 6): senior first up to
 * its coupon, the rest to the most junior; short income carries the senior's coupon. */
static void test_income_allocate(void **state)
{
    (void)state;
    int64_t parts[3], shorts[3];
    /* 50,000,000.00 with the senior entitled to 15,432,192.82 and no junior coupon. */
    int64_t e1[2] = {1543219282, 0};
    assert_true(coupon_income_allocate(5000000000, e1, 2, parts, shorts));
    assert_int_equal(parts[0], 1543219282);
    assert_int_equal(parts[1], 3456780718);
    assert_int_equal(shorts[0], 0);
    /* 10,000,000.00 against 22,175,851.39: all to the senior, 12,175,851.39 carried. */
    int64_t e2[2] = {2217585139, 0};
    assert_true(coupon_income_allocate(1000000000, e2, 2, parts, shorts));
    assert_int_equal(parts[0], 1000000000);
    assert_int_equal(parts[1], 0);
    assert_int_equal(shorts[0], 1217585139);
    assert_int_equal(shorts[1], 0);
    /* Three tranches, the mezzanine partly paid; a negative income (a reversal) is all the
     * junior's. */
    int64_t e3[3] = {600, 500, 900};
    assert_true(coupon_income_allocate(1000, e3, 3, parts, shorts));
    assert_int_equal(parts[0], 600);
    assert_int_equal(parts[1], 400);
    assert_int_equal(parts[2], 0);
    assert_int_equal(shorts[1], 100);
    assert_true(coupon_income_allocate(-250, e3, 3, parts, shorts));
    assert_int_equal(parts[0], 0);
    assert_int_equal(parts[1], 0);
    assert_int_equal(parts[2], -250);
    assert_int_equal(shorts[0], 600);
    int64_t bad[2] = {-1, 0};
    assert_false(coupon_income_allocate(10, bad, 2, parts, shorts));
    assert_false(coupon_income_allocate(10, e1, 0, parts, shorts));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_contribution_mid_period),
        cmocka_unit_test(test_write_off_mid_period),
        cmocka_unit_test(test_change_on_run_date_earns_nothing),
        cmocka_unit_test(test_timeline_refused),
        cmocka_unit_test(test_management_fee_commitment_then_capital),
        cmocka_unit_test(test_fee_half_even),
        cmocka_unit_test(test_expense_split),
        cmocka_unit_test(test_income_allocate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
