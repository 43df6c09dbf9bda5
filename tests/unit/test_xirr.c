/* Unit tests of xirr: IRR over dated flows and the DPI/RVPI/TVPI multiples. */
/* cmocka.h needs these four headers first, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include <string.h>

#include <mpfr.h>

#include "fundledger/xirr.h"

static xirr_flow flow(int y, int m, int d, int64_t amount)
{
    xirr_flow f;
    f.date.y = y;
    f.date.m = m;
    f.date.d = d;
    f.amount_minor = amount;
    return f;
}

static int64_t abs64(int64_t v)
{
    return v < 0 ? -v : v;
}

/* Excel's documented example. Its exact root, found independently by bisection with Python's
 * decimal module at 60 digits, is 0.373362533518831510308455... -> 3733625335 in 1e-10
 * (next digit 1: rounds down). Assert to 1e-8 as asked (100 units of 1e-10), and exactly. */
static void test_excel_example(void **state)
{
    (void)state;
    const xirr_flow flows[5] = {
        flow(2008, 1, 1, -10000), flow(2008, 3, 1, 2750), flow(2008, 10, 30, 4250),
        flow(2009, 2, 15, 3250),  flow(2009, 4, 1, 2750),
    };
    int64_t r = 0;
    assert_int_equal(xirr_compute(flows, 5, &r), XIRR_OK);
    assert_true(abs64(r - 3733625335) <= 100);
    assert_int_equal(r, 3733625335);
    char buf[RATE_TEXT_MAX];
    assert_int_equal(xirr_format_rate(r, buf, sizeof buf), 12);
    assert_string_equal(buf, "0.3733625335");

    /* The same flows in centavos and in another order: same root (scale- and order-free). */
    const xirr_flow shuffled[5] = {
        flow(2009, 4, 1, 275000),  flow(2008, 10, 30, 425000), flow(2008, 1, 1, -1000000),
        flow(2009, 2, 15, 325000), flow(2008, 3, 1, 275000),
    };
    int64_t r2 = 0;
    assert_int_equal(xirr_compute(shuffled, 5, &r2), XIRR_OK);
    assert_int_equal(r2, r);
}

/* By hand: -1000 on 2021-01-01, +1100 on 2022-01-01 (365 days, exponent 1): 1000 (1+r) = 1100,
 * r = 0.1 exactly. Over 730 days (2021-01-01 .. 2023-01-01, exponent 2) 1210 gives 0.1 too;
 * getting twice the money back in 365 days gives 1; getting back 10 gives -0.99. */
static void test_hand_examples(void **state)
{
    (void)state;
    int64_t r = 0;
    const xirr_flow one[2] = {flow(2021, 1, 1, -1000), flow(2022, 1, 1, 1100)};
    assert_int_equal(xirr_compute(one, 2, &r), XIRR_OK);
    assert_int_equal(r, 1000000000);
    char buf[RATE_TEXT_MAX];
    xirr_format_rate(r, buf, sizeof buf);
    assert_string_equal(buf, "0.1000000000");

    const xirr_flow two[2] = {flow(2021, 1, 1, -1000), flow(2023, 1, 1, 1210)};
    assert_int_equal(xirr_compute(two, 2, &r), XIRR_OK);
    assert_int_equal(r, 1000000000);

    const xirr_flow dbl[2] = {flow(2021, 1, 1, -1000), flow(2022, 1, 1, 2000)};
    assert_int_equal(xirr_compute(dbl, 2, &r), XIRR_OK);
    assert_int_equal(r, XIRR_SCALE);

    const xirr_flow loss[2] = {flow(2021, 1, 1, -1000), flow(2022, 1, 1, 10)};
    assert_int_equal(xirr_compute(loss, 2, &r), XIRR_OK);
    assert_int_equal(r, -9900000000);
    xirr_format_rate(r, buf, sizeof buf);
    assert_string_equal(buf, "-0.9900000000");

    /* Nothing earned: r = 0. Three flows: -1000, +500 after a year, +550 after two years:
     * 1000 = 500/x + 550/x^2 with x = 1+r -> 1000x^2 - 500x - 550 = 0,
     * x = (500 + sqrt(250000 + 2200000)) / 2000 (the positive root). */
    const xirr_flow flat[2] = {flow(2021, 1, 1, -1000), flow(2022, 1, 1, 1000)};
    assert_int_equal(xirr_compute(flat, 2, &r), XIRR_OK);
    assert_int_equal(r, 0);
    const xirr_flow three[3] = {flow(2021, 1, 1, -1000), flow(2022, 1, 1, 500), flow(2023, 1, 1, 550)};
    assert_int_equal(xirr_compute(three, 3, &r), XIRR_OK);
    /* sqrt(2450000) = 1565.247584249852...; x = 2065.247584249852 / 2000 = 1.032623792124926 */
    assert_int_equal(r, 326237921);
}

/* Research note §2.3 worked example: calls -400 (2025-01-15), -300 (2025-07-01);
 * distributions 120 (2026-03-31), 150 (2026-12-31); NAV 520 at 2026-12-31.
 * Python decimal bisection: 0.0761763603082295... -> 761763603 ("IRR about 7.6 %"). */
static void test_statement_example(void **state)
{
    (void)state;
    const xirr_flow flows[5] = {
        flow(2025, 1, 15, -400), flow(2025, 7, 1, -300),  flow(2026, 3, 31, 120),
        flow(2026, 12, 31, 150), flow(2026, 12, 31, 520),
    };
    int64_t r = 0;
    assert_int_equal(xirr_compute(flows, 5, &r), XIRR_OK);
    assert_int_equal(r, 761763603);
}

static void test_xirr_refused(void **state)
{
    (void)state;
    int64_t r = 42;
    const xirr_flow pos[3] = {flow(2021, 1, 1, 1000), flow(2022, 1, 1, 1100), flow(2022, 6, 1, 0)};
    assert_int_equal(xirr_compute(pos, 3, &r), XIRR_ERR_NO_SIGN_CHANGE);
    const xirr_flow neg[2] = {flow(2021, 1, 1, -1000), flow(2022, 1, 1, -1100)};
    assert_int_equal(xirr_compute(neg, 2, &r), XIRR_ERR_NO_SIGN_CHANGE);
    const xirr_flow zeros[2] = {flow(2021, 1, 1, 0), flow(2022, 1, 1, 0)};
    assert_int_equal(xirr_compute(zeros, 2, &r), XIRR_ERR_NO_SIGN_CHANGE);
    assert_int_equal(xirr_compute(pos, 1, &r), XIRR_ERR_COUNT);
    assert_int_equal(xirr_compute(pos, 0, &r), XIRR_ERR_COUNT);
    assert_int_equal(xirr_compute(pos, XIRR_FLOWS_MAX + 1, &r), XIRR_ERR_COUNT);
    const xirr_flow bad_date[2] = {flow(2021, 2, 29, -1000), flow(2022, 1, 1, 1100)};
    assert_int_equal(xirr_compute(bad_date, 2, &r), XIRR_ERR_DATE);
    /* Same-day flows of opposite sign that do not cancel: the NPV is constant, no root. */
    const xirr_flow same_day[2] = {flow(2021, 1, 1, -1000), flow(2021, 1, 1, 1100)};
    assert_int_equal(xirr_compute(same_day, 2, &r), XIRR_ERR_NO_ROOT);
    /* A return beyond the searched range (x 10^12 in a year). */
    const xirr_flow wild[2] = {flow(2021, 1, 1, -1), flow(2022, 1, 1, 1000000000000)};
    assert_int_equal(xirr_compute(wild, 2, &r), XIRR_ERR_NO_ROOT);
    assert_int_equal(r, 42);
    for (int s = XIRR_OK; s <= XIRR_ERR_OVERFLOW; s++) {
        assert_non_null(xirr_status_text((xirr_status)s));
    }
}

/* Research note §2.3: paid-in 700, distributions 270, NAV 520. By hand: DPI 270/700 =
 * 0.385714... -> 0.3857; RVPI 520/700 = 0.742857... -> 0.7429; TVPI 790/700 = 1.128571... ->
 * 1.1286. */
static void test_multiples(void **state)
{
    (void)state;
    xirr_multiples m;
    assert_int_equal(xirr_multiples_compute(27000, 52000, 70000, &m), XIRR_OK);
    assert_int_equal(m.dpi_e4, 3857);
    assert_int_equal(m.rvpi_e4, 7429);
    assert_int_equal(m.tvpi_e4, 11286);
    char buf[RATE_TEXT_MAX];
    xirr_format_multiple(m.dpi_e4, buf, sizeof buf);
    assert_string_equal(buf, "0.3857");
    xirr_format_multiple(m.tvpi_e4, buf, sizeof buf);
    assert_string_equal(buf, "1.1286");
    assert_int_equal(xirr_format_multiple(m.tvpi_e4, buf, 6), 0);

    /* Half-even on exact ties: 1/20000 = 0.00005 -> 0.0000; 3/20000 = 0.00015 -> 0.0002;
     * TVPI 4/20000 = 0.0002. DPI + RVPI as rounded (0.0002) equals TVPI here; with 1 and 1:
     * DPI 0.0000, RVPI 0.0000, TVPI 2/20000 = 0.0001: TVPI comes from its own exact ratio. */
    assert_int_equal(xirr_multiples_compute(1, 3, 20000, &m), XIRR_OK);
    assert_int_equal(m.dpi_e4, 0);
    assert_int_equal(m.rvpi_e4, 2);
    assert_int_equal(m.tvpi_e4, 2);
    assert_int_equal(xirr_multiples_compute(1, 1, 20000, &m), XIRR_OK);
    assert_int_equal(m.dpi_e4, 0);
    assert_int_equal(m.rvpi_e4, 0);
    assert_int_equal(m.tvpi_e4, 1);
    assert_int_equal(xirr_multiples_compute(5, 7, 20000, &m), XIRR_OK);
    assert_int_equal(m.dpi_e4, 2);  /* 2.5 -> 2 */
    assert_int_equal(m.rvpi_e4, 4); /* 3.5 -> 4 */
    assert_int_equal(xirr_multiples_compute(0, 0, 1, &m), XIRR_OK);
    assert_int_equal(m.tvpi_e4, 0);

    memset(&m, 0x33, sizeof m);
    xirr_multiples before = m;
    assert_int_equal(xirr_multiples_compute(1, 1, 0, &m), XIRR_ERR_ZERO_PAID_IN);
    assert_int_equal(xirr_multiples_compute(-1, 1, 10, &m), XIRR_ERR_NEGATIVE);
    assert_int_equal(xirr_multiples_compute(1, -1, 10, &m), XIRR_ERR_NEGATIVE);
    assert_int_equal(xirr_multiples_compute(1, 1, -10, &m), XIRR_ERR_NEGATIVE);
    assert_int_equal(xirr_multiples_compute(INT64_MAX, INT64_MAX, 1, &m), XIRR_ERR_OVERFLOW);
    assert_memory_equal(&m, &before, sizeof m);
}

/* MPFR keeps per-thread constant caches and an integer pool (library-owned, reachable); free
 * them so that valgrind sees nothing in use at exit and any leak of ours would stand out. */
static int free_mpfr_caches(void **state)
{
    (void)state;
    mpfr_free_cache();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_excel_example),     cmocka_unit_test(test_hand_examples),
        cmocka_unit_test(test_statement_example), cmocka_unit_test(test_xirr_refused),
        cmocka_unit_test(test_multiples),
    };
    return cmocka_run_group_tests(tests, NULL, free_mpfr_caches);
}
