/* Unit tests of charge_cost_within_cap: the cost-of-credit rule for ad-hoc charges
 * (docs/loan-servicing.md §8), pure. Expected figures come from tests/charge_reference.py (Python
 * decimal, written from the rule alone): on loan L under the 26.5 % cap, with a charge of
 * 50,000.00 on 2026-03-10, the largest charge on 2026-04-20 is 81,160.89 (81,160.8969...); under
 * 28 % with no other charge, 204,792.52 on 2026-03-10. */
/* cmocka.h needs these four headers first, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include "fundledger/charge.h"

static rate_date D(int y, int m, int d)
{
    rate_date r = {y, m, d};
    return r;
}

/* Loan L: 12,000,000.00 at 24 % EA, monthly, 12 instalments, first due 2026-02-15, annuity. */
static schedule_terms terms_L(void)
{
    schedule_terms t = {
        .principal_minor = 1200000000,
        .exponent = 2,
        .ea_rate = 24000000,
        .payments_per_year = 12,
        .period_months = 1,
        .instalments = 12,
        .first_due = D(2026, 2, 15),
        .grace_principal = 0,
        .grace_interest = 0,
        .method = SCHEDULE_ANNUITY,
    };
    return t;
}

static bool within(const struct charge_flow *c, size_t n, int64_t cap)
{
    schedule_terms t = terms_L();
    bool w = true;
    assert_int_equal(charge_cost_within_cap(&t, 0, c, n, cap, &w), ACCRUAL_OK);
    return w;
}

static void test_largest_charge_under_28(void **state)
{
    (void)state;
    struct charge_flow c[1] = {{20479252, D(2026, 3, 10)}};
    assert_true(within(c, 1, 28000000));
    c[0].amount_minor = 20479253;
    assert_false(within(c, 1, 28000000));
    /* No charge: the loan's own rate (24 %) is under the cap. */
    assert_true(within(NULL, 0, 28000000));
}

static void test_second_charge_under_26_5(void **state)
{
    (void)state;
    struct charge_flow c[2] = {{5000000, D(2026, 3, 10)}, {8116089, D(2026, 4, 20)}};
    assert_true(within(c, 2, 26500000));
    c[1].amount_minor = 8116090;
    assert_false(within(c, 2, 26500000));
    /* Without the first charge there is room for 132,498.75 on 2026-04-20. */
    struct charge_flow one[1] = {{13249875, D(2026, 4, 20)}};
    assert_true(within(one, 1, 26500000));
    one[0].amount_minor = 13249876;
    assert_false(within(one, 1, 26500000));
}

/* A charge dated before instalment 1's period counts at t = 0: it reduces what is received. */
static void test_charge_before_the_first_period(void **state)
{
    (void)state;
    /* At 28 % there is 197,448.08 of room at t = 0 (12,000,000.00 - 11,802,551.92). */
    struct charge_flow c[1] = {{19744807, D(2026, 1, 1)}};
    assert_true(within(c, 1, 28000000));
    c[0].amount_minor = 19744808;
    assert_false(within(c, 1, 28000000));
}

static void test_invalid(void **state)
{
    (void)state;
    schedule_terms t = terms_L();
    bool w = true;
    struct charge_flow c[1] = {{0, D(2026, 3, 10)}};
    assert_int_equal(charge_cost_within_cap(&t, 0, c, 1, 28000000, &w), ACCRUAL_ERR_INVALID);
    assert_false(w);
    c[0].amount_minor = 100;
    assert_int_equal(charge_cost_within_cap(&t, t.principal_minor, c, 1, 28000000, &w), ACCRUAL_ERR_INVALID);
    assert_int_equal(charge_cost_within_cap(&t, 0, NULL, 1, 28000000, &w), ACCRUAL_ERR_INVALID);
    t.payments_per_year = 5;
    assert_int_equal(charge_cost_within_cap(&t, 0, c, 1, 28000000, &w), ACCRUAL_ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_largest_charge_under_28),
        cmocka_unit_test(test_second_charge_under_26_5),
        cmocka_unit_test(test_charge_before_the_first_period),
        cmocka_unit_test(test_invalid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
