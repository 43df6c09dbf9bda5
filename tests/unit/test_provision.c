/* Unit tests of provision: the loss allowance worked example of docs/fund-operations.md (a loan
 * through the SFC microcredit categories and back), the dated table, the bottom-up allocation and
 * a write-off against the allowance; figures by hand. */
/* cmocka.h needs these four headers first, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include <string.h>

#include "fundledger/provision.h"

#define D(y, m, d) ((rate_date){(y), (m), (d)})

/* The demo table (SFC microcredit A-E: 1 %, 3.2 %, 20 %, 50 %, 100 %) from 2026-01-01, and a
 * later table from 2026-06-01 (listed first, to show order does not matter) that raises A to
 * 2 % and merges everything past 60 days into one 100 % bucket. */
static const provision_bucket rows[] = {
    {{2026, 6, 1}, 0, 2000000, "A"},   {{2026, 6, 1}, 31, 3200000, "B"},    {{2026, 6, 1}, 61, 100000000, "E"},
    {{2026, 1, 1}, 0, 1000000, "A"},   {{2026, 1, 1}, 31, 3200000, "B"},    {{2026, 1, 1}, 61, 20000000, "C"},
    {{2026, 1, 1}, 91, 50000000, "D"}, {{2026, 1, 1}, 121, 100000000, "E"},
};
#define N_ROWS (sizeof rows / sizeof rows[0])

static const char *category(rate_date date, int dpd)
{
    size_t i = 99;
    assert_int_equal(provision_bucket_find(rows, N_ROWS, date, dpd, &i), PROVISION_OK);
    return rows[i].category;
}

static void test_bucket_bounds(void **state)
{
    (void)state;
    rate_date d = D(2026, 3, 31);
    assert_string_equal(category(d, 0), "A");
    assert_string_equal(category(d, 30), "A");
    assert_string_equal(category(d, 31), "B");
    assert_string_equal(category(d, 60), "B");
    assert_string_equal(category(d, 61), "C");
    assert_string_equal(category(d, 90), "C");
    assert_string_equal(category(d, 91), "D");
    assert_string_equal(category(d, 120), "D");
    assert_string_equal(category(d, 121), "E");
    assert_string_equal(category(d, 5000), "E");
}

static void test_table_in_force_by_date(void **state)
{
    (void)state;
    /* 2026-05-31: the first table (75 days: C). From 2026-06-01: the second (75 days: E). */
    assert_string_equal(category(D(2026, 5, 31), 75), "C");
    assert_string_equal(category(D(2026, 6, 1), 75), "E");
    size_t i = 99;
    assert_int_equal(provision_bucket_find(rows, N_ROWS, D(2026, 6, 1), 0, &i), PROVISION_OK);
    assert_int_equal(rows[i].rate, 2000000);
    /* Before any table: refused, *idx untouched. */
    i = 99;
    assert_int_equal(provision_bucket_find(rows, N_ROWS, D(2025, 12, 31), 0, &i), PROVISION_ERR_NO_TABLE);
    assert_int_equal(i, 99);
    /* A table without a row from 0 days is refused. */
    provision_bucket gap[1] = {{{2026, 1, 1}, 31, 3200000, "B"}};
    assert_int_equal(provision_bucket_find(gap, 1, D(2026, 3, 1), 40, &i), PROVISION_ERR_NO_TABLE);
    assert_int_equal(provision_bucket_find(rows, N_ROWS, D(2026, 3, 1), -1, &i), PROVISION_ERR_INPUT);
    provision_bucket bad[1] = {{{2026, 1, 1}, 0, 100000001, "X"}};
    assert_int_equal(provision_bucket_find(bad, 1, D(2026, 3, 1), 0, &i), PROVISION_ERR_INPUT);
}

/* Worked example 5: 10,000,000.00 outstanding; month ends at 0, 45, 95 and 0 days past due:
 * allowance 100,000.00, 320,000.00, 5,000,000.00, 100,000.00; posted +100,000.00, +220,000.00,
 * +4,680,000.00, -4,900,000.00. */
static void test_loan_through_buckets_and_cure(void **state)
{
    (void)state;
    const struct {
        rate_date date;
        int dpd;
        const char *cat;
        int64_t allowance, posted;
    } want[4] = {
        {{2026, 1, 31}, 0, "A", 10000000, 10000000},
        {{2026, 2, 28}, 45, "B", 32000000, 22000000},
        {{2026, 3, 31}, 95, "D", 500000000, 468000000},
        {{2026, 4, 30}, 0, "A", 10000000, -490000000},
    };
    int64_t posted = 0, sum_changes = 0;
    for (int k = 0; k < 4; k++) {
        size_t i = 0;
        assert_int_equal(provision_bucket_find(rows, N_ROWS, want[k].date, want[k].dpd, &i), PROVISION_OK);
        assert_string_equal(rows[i].category, want[k].cat);
        int64_t a = -1, ch = 0;
        assert_int_equal(provision_allowance(1000000000, rows[i].rate, &a), PROVISION_OK);
        assert_int_equal(a, want[k].allowance);
        assert_int_equal(provision_change(posted, a, &ch), PROVISION_OK);
        assert_int_equal(ch, want[k].posted);
        posted = a;
        sum_changes += ch;
    }
    /* What is posted in all is the allowance standing at the end. */
    assert_int_equal(sum_changes, 10000000);
}

static void test_allowance_half_even(void **state)
{
    (void)state;
    int64_t a = -1;
    /* 3.2 % of 0.25 (25 minor) = 0.8 -> 1; 1 % of 50 minor = 0.5 -> 0 (even); of 150 = 1.5 -> 2. */
    assert_int_equal(provision_allowance(25, 3200000, &a), PROVISION_OK);
    assert_int_equal(a, 1);
    assert_int_equal(provision_allowance(50, 1000000, &a), PROVISION_OK);
    assert_int_equal(a, 0);
    assert_int_equal(provision_allowance(150, 1000000, &a), PROVISION_OK);
    assert_int_equal(a, 2);
    assert_int_equal(provision_allowance(INT64_MAX, 100000000, &a), PROVISION_OK);
    assert_int_equal(a, INT64_MAX);
    assert_int_equal(provision_allowance(-1, 1000000, &a), PROVISION_ERR_INPUT);
    assert_int_equal(provision_allowance(1, 100000001, &a), PROVISION_ERR_INPUT);
    assert_int_equal(provision_change(-1, 0, &a), PROVISION_ERR_INPUT);
}

/* Bottom-up: capital senior 1,000,000,000.00, mezzanine 600,000,000.00, first loss 3,000,000.00.
 * 5,000,000.00 -> 0 / 2,000,000.00 / 3,000,000.00; 100,000.00 -> all first loss. */
static void test_allocation_bottom_up(void **state)
{
    (void)state;
    int64_t cap[3] = {100000000000, 60000000000, 300000000}, a[3] = {0}, un = -1;
    assert_int_equal(provision_allocate(500000000, cap, 3, a, &un), WATERFALL_OK);
    assert_int_equal(a[0], 0);
    assert_int_equal(a[1], 200000000);
    assert_int_equal(a[2], 300000000);
    assert_int_equal(un, 0);
    assert_int_equal(provision_allocate(10000000, cap, 3, a, &un), WATERFALL_OK);
    assert_int_equal(a[0], 0);
    assert_int_equal(a[1], 0);
    assert_int_equal(a[2], 10000000);
    /* The same as a realised loss of that amount would be. */
    int64_t l[3] = {0};
    assert_int_equal(waterfall_allocate_loss(500000000, cap, 3, l, &un), WATERFALL_OK);
    assert_int_equal(l[0], 0);
    assert_int_equal(l[1], 200000000);
    assert_int_equal(l[2], 300000000);
}

/* A write-off of the whole 10,000,000.00 while the allowance is 5,000,000.00: 5,000,000.00 of the
 * allowance is used (released from unrealised), 5,000,000.00 more is charged; realised
 * 10,000,000.00. With an allowance above a partial write-off of 2,000,000.00, the allowance
 * covers it all and nothing more is charged. */
static void test_write_off_uses_allowance(void **state)
{
    (void)state;
    int64_t used = -1, extra = -1;
    assert_int_equal(provision_write_off(1000000000, 500000000, &used, &extra), PROVISION_OK);
    assert_int_equal(used, 500000000);
    assert_int_equal(extra, 500000000);
    assert_int_equal(provision_write_off(200000000, 500000000, &used, &extra), PROVISION_OK);
    assert_int_equal(used, 200000000);
    assert_int_equal(extra, 0);
    assert_int_equal(provision_write_off(-1, 0, &used, &extra), PROVISION_ERR_INPUT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bucket_bounds),
        cmocka_unit_test(test_table_in_force_by_date),
        cmocka_unit_test(test_loan_through_buckets_and_cure),
        cmocka_unit_test(test_allowance_half_even),
        cmocka_unit_test(test_allocation_bottom_up),
        cmocka_unit_test(test_write_off_uses_allowance),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
