/* Unit tests of the pure parts of repayments and portfolio quality: the allocation of one
 * payment over a loan's instalments (repayment_allocate) and the 4-decimal half-even ratio. */
/* cmocka.h needs these four headers first, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include <stdbool.h>
#include <string.h>

#include "fundledger/portfolio.h"
#include "fundledger/repayment.h"

/* Four instalments due on days 100, 200, 300, 400: principal 1000 each, interest 40/30/20/10. */
static void schedule(struct repayment_instalment *s)
{
    for (int i = 0; i < 4; i++) {
        s[i] = (struct repayment_instalment){
            .no = i + 1, .due_days = 100 * (i + 1), .principal_minor = 1000, .interest_minor = 40 - 10 * i};
    }
}

static void assert_part(const struct repayment_allocation *a, unsigned k, int no, bool principal, int64_t amount)
{
    assert_true(k < a->n);
    assert_int_equal(a->parts[k].no, no);
    assert_int_equal(a->parts[k].principal, principal);
    assert_int_equal(a->parts[k].amount_minor, amount);
}

static void test_on_time(void **state)
{
    (void)state;
    struct repayment_instalment s[4];
    schedule(s);
    struct repayment_allocation a;
    /* Paid on its due date, instalment 1 is current: interest, then principal. */
    assert_int_equal(repayment_allocate(1040, 100, 4000, s, 4, &a, NULL), REPAYMENT_ALLOC_OK);
    assert_int_equal(a.bucket_minor[WATERFALL_BUCKET_CURRENT_INTEREST], 40);
    assert_int_equal(a.bucket_minor[WATERFALL_BUCKET_CURRENT_PRINCIPAL], 1000);
    assert_int_equal(a.prepayment_minor, 0);
    assert_int_equal(a.n, 2);
    assert_part(&a, 0, 1, false, 40);
    assert_part(&a, 1, 1, true, 1000);
    assert_int_equal(s[0].principal_paid_minor, 1000);
    assert_int_equal(s[0].interest_paid_minor, 40);
}

static void test_late_pays_overdue_interest_then_principal(void **state)
{
    (void)state;
    struct repayment_instalment s[4];
    schedule(s);
    struct repayment_allocation a;
    /* Day 250: instalments 1 and 2 overdue (interest 40 + 30, principal 2000); 3 is current.
     * 100 pays overdue interest oldest first (40, 30), then 30 of instalment 1's principal. */
    assert_int_equal(repayment_allocate(100, 250, 4000, s, 4, &a, NULL), REPAYMENT_ALLOC_OK);
    assert_int_equal(a.bucket_minor[WATERFALL_BUCKET_OVERDUE_INTEREST], 70);
    assert_int_equal(a.bucket_minor[WATERFALL_BUCKET_OVERDUE_PRINCIPAL], 30);
    assert_int_equal(a.n, 3);
    assert_part(&a, 0, 1, false, 40);
    assert_part(&a, 1, 2, false, 30);
    assert_part(&a, 2, 1, true, 30);
    /* The next payment sees that: 2000 pays 970 + 1000 overdue principal, then 20 + 10 current. */
    assert_int_equal(repayment_allocate(2000, 250, 3970, s, 4, &a, NULL), REPAYMENT_ALLOC_OK);
    assert_int_equal(a.bucket_minor[WATERFALL_BUCKET_OVERDUE_PRINCIPAL], 1970);
    assert_int_equal(a.bucket_minor[WATERFALL_BUCKET_CURRENT_INTEREST], 20);
    assert_int_equal(a.bucket_minor[WATERFALL_BUCKET_CURRENT_PRINCIPAL], 10);
    assert_int_equal(a.principal_minor, 1980);
    assert_int_equal(a.interest_minor, 20);
}

static void test_prepayment_last_first_and_overpayment(void **state)
{
    (void)state;
    struct repayment_instalment s[4];
    schedule(s);
    struct repayment_allocation a;
    int64_t owed = 0;
    /* Day 50: instalment 1 current (1040); the rest is a prepayment of instalments 4, then 3. */
    assert_int_equal(repayment_allocate(2540, 50, 4000, s, 4, &a, &owed), REPAYMENT_ALLOC_OK);
    assert_int_equal(owed, 4040); /* 40 interest + 4000 principal: later interest is not owed */
    assert_int_equal(a.prepayment_minor, 1500);
    assert_int_equal(a.n, 4);
    assert_part(&a, 2, 4, true, 1000);
    assert_part(&a, 3, 3, true, 500);
    /* More than everything owed is refused and changes nothing: 1500 of principal is left. */
    assert_int_equal(repayment_allocate(1501, 60, 1500, s, 4, &a, &owed), REPAYMENT_ALLOC_OVERPAID);
    assert_int_equal(owed, 1500);
    assert_int_equal(s[2].principal_paid_minor, 500);
    assert_int_equal(repayment_allocate(1500, 60, 1500, s, 4, &a, &owed), REPAYMENT_ALLOC_OK);
    assert_int_equal(a.prepayment_minor, 1500);
}

static void test_principal_capped_by_outstanding(void **state)
{
    (void)state;
    struct repayment_instalment s[4];
    schedule(s);
    struct repayment_allocation a;
    int64_t owed = 0;
    /* Only 1500 drawn (or 2500 written off): on day 250 the overdue principal owed is 1500 at most,
     * and nothing is left to prepay. */
    assert_int_equal(repayment_allocate(2000, 250, 1500, s, 4, &a, &owed), REPAYMENT_ALLOC_OVERPAID);
    assert_int_equal(owed, 70 + 1500 + 20);
    assert_int_equal(repayment_allocate(1590, 250, 1500, s, 4, &a, &owed), REPAYMENT_ALLOC_OK);
    assert_int_equal(a.bucket_minor[WATERFALL_BUCKET_OVERDUE_PRINCIPAL], 1500);
    assert_int_equal(a.bucket_minor[WATERFALL_BUCKET_CURRENT_PRINCIPAL], 0);
}

static void test_invalid(void **state)
{
    (void)state;
    struct repayment_instalment s[4];
    schedule(s);
    struct repayment_allocation a;
    assert_int_equal(repayment_allocate(0, 50, 4000, s, 4, &a, NULL), REPAYMENT_ALLOC_INVALID);
    assert_int_equal(repayment_allocate(10, 50, -1, s, 4, &a, NULL), REPAYMENT_ALLOC_INVALID);
    s[2].no = 1; /* out of order */
    assert_int_equal(repayment_allocate(10, 50, 4000, s, 4, &a, NULL), REPAYMENT_ALLOC_INVALID);
    schedule(s);
    s[1].principal_paid_minor = 1001; /* paid more than scheduled */
    assert_int_equal(repayment_allocate(10, 50, 4000, s, 4, &a, NULL), REPAYMENT_ALLOC_INVALID);
}

static void test_ratio_half_even(void **state)
{
    (void)state;
    char buf[32];
    assert_string_equal(portfolio_ratio(5000000, 5500000, buf, sizeof buf), "0.9091");
    assert_string_equal(portfolio_ratio(1, 32, buf, sizeof buf), "0.0312"); /* 0.03125: tie to even */
    assert_string_equal(portfolio_ratio(3, 32, buf, sizeof buf), "0.0938"); /* 0.09375: tie to even */
    assert_string_equal(portfolio_ratio(0, 0, buf, sizeof buf), "0.0000");
    assert_string_equal(portfolio_ratio(7, 7, buf, sizeof buf), "1.0000");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_on_time),
        cmocka_unit_test(test_late_pays_overdue_interest_then_principal),
        cmocka_unit_test(test_prepayment_last_first_and_overpayment),
        cmocka_unit_test(test_principal_capped_by_outstanding),
        cmocka_unit_test(test_invalid),
        cmocka_unit_test(test_ratio_half_even),
    };
    return cmocka_run_group_tests_name("repayment", tests, NULL, NULL);
}
