/* Unit tests of rate: parsing, formatting, dates, day counts, correctly rounded interest. */
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

#include "fundledger/rate.h"

/* Reference values marked "Python" were computed independently with Python's decimal module
 * at 60 significant digits (e.g. Decimal('1.24') ** (Decimal(1)/12) - 1), not with this code. */

static void test_parse_valid(void **state)
{
    (void)state;
    int64_t v = -1;
    assert_int_equal(rate_parse("0.2450", &v), RATE_OK);
    assert_int_equal(v, 24500000);
    assert_int_equal(rate_parse("0.245", &v), RATE_OK);
    assert_int_equal(v, 24500000);
    assert_int_equal(rate_parse("0", &v), RATE_OK);
    assert_int_equal(v, 0);
    assert_int_equal(rate_parse("0.00000001", &v), RATE_OK);
    assert_int_equal(v, 1);
    assert_int_equal(rate_parse("1.5", &v), RATE_OK);
    assert_int_equal(v, 150000000);
    assert_int_equal(rate_parse("00.5", &v), RATE_OK);
    assert_int_equal(v, 50000000);
    assert_int_equal(rate_parse("9.99999999", &v), RATE_OK);
    assert_int_equal(v, RATE_MAX);
}

static void test_parse_invalid(void **state)
{
    (void)state;
    const struct {
        const char *text;
        rate_status st;
    } cases[] = {
        {"", RATE_ERR_EMPTY},        {"24.5%", RATE_ERR_SYNTAX}, {"0.245%", RATE_ERR_SYNTAX},
        {"+0.1", RATE_ERR_SYNTAX},   {" 0.1", RATE_ERR_SYNTAX},  {"0.1 ", RATE_ERR_SYNTAX},
        {"1.", RATE_ERR_SYNTAX},     {".5", RATE_ERR_SYNTAX},    {"1e-2", RATE_ERR_SYNTAX},
        {"0,5", RATE_ERR_SYNTAX},    {"0.1.2", RATE_ERR_SYNTAX}, {"abc", RATE_ERR_SYNTAX},
        {"-0.1", RATE_ERR_NEGATIVE}, {"-0", RATE_ERR_NEGATIVE},  {"0.123456789", RATE_ERR_PRECISION},
        {"10", RATE_ERR_RANGE},      {"10.0", RATE_ERR_RANGE},   {"99999999999999999999999999", RATE_ERR_RANGE},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t v = 77;
        assert_int_equal(rate_parse(cases[i].text, &v), cases[i].st);
        assert_int_equal(v, 77); /* untouched */
    }
    char longtext[RATE_INPUT_MAX + 8];
    memset(longtext, '0', sizeof longtext - 1);
    longtext[sizeof longtext - 1] = '\0';
    int64_t v = 77;
    assert_int_equal(rate_parse(longtext, &v), RATE_ERR_RANGE);
}

static void test_format(void **state)
{
    (void)state;
    char buf[RATE_TEXT_MAX];
    assert_int_equal(rate_format(24500000, buf, sizeof buf), 6);
    assert_string_equal(buf, "0.2450");
    rate_format(12345678, buf, sizeof buf);
    assert_string_equal(buf, "0.12345678");
    rate_format(0, buf, sizeof buf);
    assert_string_equal(buf, "0.0000");
    rate_format(150000000, buf, sizeof buf);
    assert_string_equal(buf, "1.5000");
    rate_format(1, buf, sizeof buf);
    assert_string_equal(buf, "0.00000001");
    rate_format(RATE_MAX, buf, sizeof buf);
    assert_string_equal(buf, "9.99999999");
    rate_format(INT64_MIN, buf, sizeof buf);
    assert_string_equal(buf, "-92233720368.54775808");
    assert_int_equal(rate_format(24500000, buf, 6), 0); /* needs 7 bytes with NUL */

    /* Round trip through the parser. */
    const int64_t rates[] = {0, 1, 24500000, 12345678, 99999999, RATE_MAX};
    for (size_t i = 0; i < sizeof rates / sizeof rates[0]; i++) {
        int64_t back = -1;
        rate_format(rates[i], buf, sizeof buf);
        assert_int_equal(rate_parse(buf, &back), RATE_OK);
        assert_int_equal(back, rates[i]);
    }

    rate_format_units(12345, 4, buf, sizeof buf);
    assert_string_equal(buf, "1.2345");
    rate_format_units(-5, 2, buf, sizeof buf);
    assert_string_equal(buf, "-0.05");
    rate_format_units(7, 0, buf, sizeof buf);
    assert_string_equal(buf, "7");
    rate_format_units(INT64_MAX, 18, buf, sizeof buf);
    assert_string_equal(buf, "9.223372036854775807");
    assert_int_equal(rate_format_units(1, 19, buf, sizeof buf), 0);
    assert_int_equal(rate_format_units(1, -1, buf, sizeof buf), 0);
}

static void test_status_text(void **state)
{
    (void)state;
    for (int s = RATE_OK; s <= RATE_ERR_INTERNAL; s++) {
        const char *t = rate_status_text((rate_status)s);
        assert_non_null(t);
        assert_true(strlen(t) > 0);
    }
}

static rate_date mkdate(int y, int m, int d)
{
    rate_date r = {y, m, d};
    return r;
}

static void assert_date(rate_date got, int y, int m, int d)
{
    assert_int_equal(got.y, y);
    assert_int_equal(got.m, m);
    assert_int_equal(got.d, d);
}

static void test_dates(void **state)
{
    (void)state;
    assert_true(rate_date_valid(mkdate(2024, 2, 29)));
    assert_false(rate_date_valid(mkdate(2023, 2, 29)));
    assert_false(rate_date_valid(mkdate(1900, 2, 29))); /* 1900 not a leap year */
    assert_true(rate_date_valid(mkdate(2000, 2, 29)));  /* 2000 is */
    assert_false(rate_date_valid(mkdate(2024, 13, 1)));
    assert_false(rate_date_valid(mkdate(2024, 0, 1)));
    assert_false(rate_date_valid(mkdate(2024, 4, 31)));
    assert_false(rate_date_valid(mkdate(2024, 1, 0)));
    assert_false(rate_date_valid(mkdate(1899, 12, 31)));
    assert_false(rate_date_valid(mkdate(10000, 1, 1)));
    assert_int_equal(rate_days_in_month(2024, 2), 29);
    assert_int_equal(rate_days_in_month(2023, 2), 28);
    assert_int_equal(rate_days_in_month(2023, 13), 0);

    /* Day numbers from Python's datetime: (date(y,m,d) - date(1970,1,1)).days */
    assert_int_equal(rate_date_to_days(mkdate(1970, 1, 1)), 0);
    assert_int_equal(rate_date_to_days(mkdate(2000, 3, 1)), 11017);
    assert_int_equal(rate_date_to_days(mkdate(2024, 2, 29)), 19782);
    assert_int_equal(rate_date_to_days(mkdate(1900, 1, 1)), -25567);
    assert_int_equal(rate_date_to_days(mkdate(9999, 12, 31)), 2932896);
}

static void test_add_months_end_of_month(void **state)
{
    (void)state;
    rate_date r;
    assert_true(rate_date_add_months(mkdate(2024, 1, 31), 1, &r));
    assert_date(r, 2024, 2, 29); /* leap year */
    assert_true(rate_date_add_months(mkdate(2023, 1, 31), 1, &r));
    assert_date(r, 2023, 2, 28);
    assert_true(rate_date_add_months(mkdate(2023, 1, 31), 2, &r));
    assert_date(r, 2023, 3, 31); /* from the anchor: the 31st comes back */
    assert_true(rate_date_add_months(mkdate(2024, 3, 31), -1, &r));
    assert_date(r, 2024, 2, 29);
    assert_true(rate_date_add_months(mkdate(2024, 8, 31), 1, &r));
    assert_date(r, 2024, 9, 30);
    assert_true(rate_date_add_months(mkdate(2024, 12, 15), 1, &r));
    assert_date(r, 2025, 1, 15);
    assert_true(rate_date_add_months(mkdate(2024, 2, 29), 12, &r));
    assert_date(r, 2025, 2, 28);
    assert_true(rate_date_add_months(mkdate(2024, 2, 29), 48, &r));
    assert_date(r, 2028, 2, 29);
    assert_true(rate_date_add_months(mkdate(2024, 5, 31), -15, &r));
    assert_date(r, 2023, 2, 28);
    assert_true(rate_date_add_months(mkdate(2024, 5, 17), 0, &r));
    assert_date(r, 2024, 5, 17);

    r = mkdate(1, 2, 3);
    assert_false(rate_date_add_months(mkdate(9999, 12, 1), 1, &r));
    assert_false(rate_date_add_months(mkdate(1900, 1, 15), -1, &r));
    assert_false(rate_date_add_months(mkdate(2023, 2, 29), 1, &r));
    assert_date(r, 1, 2, 3); /* untouched */
}

static void test_daycount_fraction(void **state)
{
    (void)state;
    int64_t num = 0;
    int64_t den = 0;
    /* Actual/365: Jan 2024 has 31 days, Feb 2024 29: 60 days. */
    assert_int_equal(rate_daycount_fraction(RATE_DC_ACT_365, mkdate(2024, 1, 1), mkdate(2024, 3, 1), &num, &den),
                     RATE_OK);
    assert_int_equal(num, 60);
    assert_int_equal(den, 365);
    /* 30/360: D1 31 -> 30, D2 29 stays: 30*1 + (29 - 30) = 29. */
    assert_int_equal(rate_daycount_fraction(RATE_DC_30_360, mkdate(2024, 1, 31), mkdate(2024, 2, 29), &num, &den),
                     RATE_OK);
    assert_int_equal(num, 29);
    assert_int_equal(den, 360);
    /* D1 30, D2 31 -> 30: two months exactly. */
    rate_daycount_fraction(RATE_DC_30_360, mkdate(2024, 1, 30), mkdate(2024, 3, 31), &num, &den);
    assert_int_equal(num, 60);
    /* D1 15: D2 31 stays 31: 60 + 16. */
    rate_daycount_fraction(RATE_DC_30_360, mkdate(2024, 1, 15), mkdate(2024, 3, 31), &num, &den);
    assert_int_equal(num, 76);
    /* Feb 28 -> Mar 1 is 3 days in 30/360, 2 actual (2023). */
    rate_daycount_fraction(RATE_DC_30_360, mkdate(2023, 2, 28), mkdate(2023, 3, 1), &num, &den);
    assert_int_equal(num, 3);
    rate_daycount_fraction(RATE_DC_ACT_365, mkdate(2023, 2, 28), mkdate(2023, 3, 1), &num, &den);
    assert_int_equal(num, 1);
    /* Same day: 0. */
    rate_daycount_fraction(RATE_DC_ACT_365, mkdate(2023, 2, 28), mkdate(2023, 2, 28), &num, &den);
    assert_int_equal(num, 0);

    num = 99;
    assert_int_equal(rate_daycount_fraction(RATE_DC_ACT_365, mkdate(2024, 3, 1), mkdate(2024, 1, 1), &num, &den),
                     RATE_ERR_DATE);
    assert_int_equal(rate_daycount_fraction(RATE_DC_ACT_365, mkdate(2023, 2, 29), mkdate(2024, 1, 1), &num, &den),
                     RATE_ERR_DATE);
    assert_int_equal(rate_daycount_fraction((rate_daycount)99, mkdate(2024, 1, 1), mkdate(2024, 1, 2), &num, &den),
                     RATE_ERR_RANGE);
    assert_int_equal(rate_daycount_fraction(RATE_DC_ACT_365, mkdate(1950, 1, 1), mkdate(2060, 1, 1), &num, &den),
                     RATE_ERR_RANGE); /* > RATE_DAYS_MAX */
    assert_int_equal(num, 99);
}

static void test_periodic_rate(void **state)
{
    (void)state;
    int64_t p = 0;
    /* Python: 1.24^(1/12) - 1 = 0.018087582483510674531... -> 1808758 (x1e-8, .248 rounds down) */
    assert_int_equal(rate_periodic(24000000, 12, &p), RATE_OK);
    assert_int_equal(p, 1808758);
    /* Python: 1.18^(1/4) - 1 = 0.042246635456321140907... -> 4224664 (.5456 rounds up) */
    assert_int_equal(rate_periodic(18000000, 4, &p), RATE_OK);
    assert_int_equal(p, 4224664);
    /* By hand: 1.21^(1/2) = 1.1 exactly; 1.771561^(1/6) = 1.1 (1.1^6 = 1.771561). */
    assert_int_equal(rate_periodic(21000000, 2, &p), RATE_OK);
    assert_int_equal(p, 10000000);
    assert_int_equal(rate_periodic(77156100, 6, &p), RATE_OK);
    assert_int_equal(p, 10000000);
    assert_int_equal(rate_periodic(0, 12, &p), RATE_OK);
    assert_int_equal(p, 0);
    assert_int_equal(rate_periodic(24000000, 5, &p), RATE_ERR_RANGE);
    assert_int_equal(rate_periodic(24000000, 0, &p), RATE_ERR_RANGE);
    assert_int_equal(rate_periodic(24000000, 24, &p), RATE_ERR_RANGE);
}

/* Exact ties are rounded half-even. With 1+EA = 1.21 paid twice a year the periodic rate is
 * exactly 0.1 (1.1^2 = 1.21), so balance 5 -> interest 0.5 -> 0, 15 -> 1.5 -> 2, 25 -> 2.5 -> 2,
 * 35 -> 3.5 -> 4. The same with 1.771561 = 1.1^6 six times a year and 1.21 once a year
 * (50 * 0.21 = 10.5 -> 10, 150 * 0.21 = 31.5 -> 32). */
static void test_interest_exact_ties(void **state)
{
    (void)state;
    const struct {
        int64_t balance, ea;
        int n;
        int64_t expect;
    } cases[] = {
        {5, 21000000, 2, 0},  {15, 21000000, 2, 2},  {25, 21000000, 2, 2},   {35, 21000000, 2, 4}, {5, 77156100, 6, 0},
        {15, 77156100, 6, 2}, {50, 21000000, 1, 10}, {150, 21000000, 1, 32}, {10, 10250000, 2, 0}, /* r = 0.05 */
        {30, 10250000, 2, 2}, {4, 21000000, 2, 0},                                                 /* 0.4 -> 0 */
        {6, 21000000, 2, 1},                                                                       /* 0.6 -> 1 */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t got = -1;
        assert_int_equal(rate_period_interest(cases[i].balance, cases[i].ea, cases[i].n, &got), RATE_OK);
        assert_int_equal(got, cases[i].expect);
    }
}

static void test_interest_irrational(void **state)
{
    (void)state;
    int64_t got = -1;
    /* Python: 120000000 * (1.24^(1/12) - 1) = 2170509.898... -> 2170510 */
    assert_int_equal(rate_period_interest(120000000, 24000000, 12, &got), RATE_OK);
    assert_int_equal(got, 2170510);
    /* Python: 1000000 * (1.24^(31/365) - 1) = 18437.646... -> 18438 */
    assert_int_equal(rate_compound_interest(1000000, 24000000, 31, 365, &got), RATE_OK);
    assert_int_equal(got, 18438);
    /* Python: 123456789 * (1.5^(45/365) - 1) = 6328317.678... -> 6328318 */
    assert_int_equal(rate_compound_interest(123456789, 50000000, 45, 365, &got), RATE_OK);
    assert_int_equal(got, 6328318);
    /* Zero balance, zero rate, zero time. */
    assert_int_equal(rate_compound_interest(0, 24000000, 31, 365, &got), RATE_OK);
    assert_int_equal(got, 0);
    assert_int_equal(rate_compound_interest(1000, 0, 31, 365, &got), RATE_OK);
    assert_int_equal(got, 0);
    assert_int_equal(rate_compound_interest(1000, 24000000, 0, 365, &got), RATE_OK);
    assert_int_equal(got, 0);
}

/* Overdue interest between dates: balance * ((1+EA)^(days/basis) - 1), rounded half-even. */
static void test_daycount_interest(void **state)
{
    (void)state;
    int64_t got = -1;
    /* 2021-01-01 .. 2023-01-01 = 730 actual days = 2 years: 1.21^2 - 1 = 0.4641 exactly. */
    assert_int_equal(
        rate_daycount_interest(1000000, 21000000, RATE_DC_ACT_365, mkdate(2021, 1, 1), mkdate(2023, 1, 1), &got),
        RATE_OK);
    assert_int_equal(got, 464100);
    /* 2023-01-01 .. 2024-01-01 = 365 days: exactly one year: 21 %. */
    rate_daycount_interest(1000000, 21000000, RATE_DC_ACT_365, mkdate(2023, 1, 1), mkdate(2024, 1, 1), &got);
    assert_int_equal(got, 210000);
    /* 30/360 from 2024-01-31 to 2024-07-31 = 180 days = half a year: 1.21^(1/2) - 1 = 0.1;
     * balance 1000005 -> 100000.5, an exact tie -> 100000 (even). */
    assert_int_equal(
        rate_daycount_interest(1000005, 21000000, RATE_DC_30_360, mkdate(2024, 1, 31), mkdate(2024, 7, 31), &got),
        RATE_OK);
    assert_int_equal(got, 100000);
    rate_daycount_interest(1000015, 21000000, RATE_DC_30_360, mkdate(2024, 1, 31), mkdate(2024, 7, 31), &got);
    assert_int_equal(got, 100002); /* 100001.5 -> 100002 (even) */
    got = 5;
    assert_int_equal(
        rate_daycount_interest(1000, 21000000, RATE_DC_30_360, mkdate(2024, 7, 31), mkdate(2024, 1, 31), &got),
        RATE_ERR_DATE);
    assert_int_equal(got, 5);
}

static void test_interest_errors(void **state)
{
    (void)state;
    int64_t got = 5;
    assert_int_equal(rate_compound_interest(-1, 24000000, 1, 12, &got), RATE_ERR_NEGATIVE);
    assert_int_equal(rate_compound_interest(100, -1, 1, 12, &got), RATE_ERR_NEGATIVE);
    assert_int_equal(rate_compound_interest(100, 24000000, -1, 12, &got), RATE_ERR_NEGATIVE);
    assert_int_equal(rate_compound_interest(100, RATE_MAX + 1, 1, 12, &got), RATE_ERR_RANGE);
    assert_int_equal(rate_compound_interest(100, 24000000, 1, 0, &got), RATE_ERR_RANGE);
    assert_int_equal(rate_compound_interest(100, 24000000, 1, RATE_EXP_DEN_MAX + 1, &got), RATE_ERR_RANGE);
    assert_int_equal(rate_compound_interest(100, 24000000, RATE_DAYS_MAX + 1, 365, &got), RATE_ERR_RANGE);
    /* INT64_MAX at 100 % for a year is 2^63 - 1 of interest... plus nothing: fits exactly;
     * at 100.000001 % it does not. */
    assert_int_equal(rate_compound_interest(INT64_MAX, 100000000, 1, 1, &got), RATE_OK);
    assert_int_equal(got, INT64_MAX);
    got = 5;
    assert_int_equal(rate_compound_interest(INT64_MAX, 100000001, 1, 1, &got), RATE_ERR_OVERFLOW);
    assert_int_equal(rate_compound_interest(1000, RATE_MAX, RATE_DAYS_MAX, 365, &got), RATE_ERR_OVERFLOW);
    assert_int_equal(rate_period_interest(100, 24000000, 7, &got), RATE_ERR_RANGE);
    assert_int_equal(got, 5);
}

static void test_annuity_payment(void **state)
{
    (void)state;
    int64_t w = -1;
    /* Python: 120000000 * r / (1 - (1+r)^-12), r = 1.24^(1/12) - 1: 11214301.1397... */
    assert_int_equal(rate_annuity_payment(120000000, 24000000, 12, 12, &w), RATE_OK);
    assert_int_equal(w, 11214301);
    /* Zero rate: P/m half-even: 100/3 = 33.3 -> 33; 5/2 = 2.5 -> 2; 7/2 = 3.5 -> 4. */
    rate_annuity_payment(100, 0, 12, 3, &w);
    assert_int_equal(w, 33);
    rate_annuity_payment(5, 0, 12, 2, &w);
    assert_int_equal(w, 2);
    rate_annuity_payment(7, 0, 12, 2, &w);
    assert_int_equal(w, 4);
    rate_annuity_payment(0, 24000000, 12, 12, &w);
    assert_int_equal(w, 0);
    /* Exact ties with r = 0.1 (EA 21 %, twice a year):
     * m = 1: W = 1.1 P: P = 5 -> 5.5 -> 6; P = 15 -> 16.5 -> 16.
     * m = 2: W = P * 0.1 / (1 - 1/1.21) = 121 P / 210: P = 105 -> 60.5 -> 60;
     *        P = 315 -> 181.5 -> 182; P = 100 -> 57.619 -> 58. */
    rate_annuity_payment(5, 21000000, 2, 1, &w);
    assert_int_equal(w, 6);
    rate_annuity_payment(15, 21000000, 2, 1, &w);
    assert_int_equal(w, 16);
    rate_annuity_payment(105, 21000000, 2, 2, &w);
    assert_int_equal(w, 60);
    rate_annuity_payment(315, 21000000, 2, 2, &w);
    assert_int_equal(w, 182);
    rate_annuity_payment(100, 21000000, 2, 2, &w);
    assert_int_equal(w, 58);
    /* r = 0.1 six times a year (1.1^6 = 1.771561), m = 1: 25 -> 27.5 -> 28, 35 -> 38.5 -> 38. */
    rate_annuity_payment(25, 77156100, 6, 1, &w);
    assert_int_equal(w, 28);
    rate_annuity_payment(35, 77156100, 6, 1, &w);
    assert_int_equal(w, 38);

    w = 9;
    assert_int_equal(rate_annuity_payment(-1, 24000000, 12, 12, &w), RATE_ERR_NEGATIVE);
    assert_int_equal(rate_annuity_payment(100, 24000000, 12, 0, &w), RATE_ERR_RANGE);
    assert_int_equal(rate_annuity_payment(100, 24000000, 12, RATE_ANNUITY_PERIODS_MAX + 1, &w), RATE_ERR_RANGE);
    assert_int_equal(rate_annuity_payment(100, 24000000, 5, 12, &w), RATE_ERR_RANGE);
    assert_int_equal(rate_annuity_payment(INT64_MAX / 2, RATE_MAX, 1, 600, &w), RATE_ERR_OVERFLOW);
    assert_int_equal(w, 9);
    /* Longest, smallest rate: still decided (100 / 600 = 0.17 -> 0). */
    assert_int_equal(rate_annuity_payment(100, 1, 12, 600, &w), RATE_OK);
    assert_int_equal(w, 0);
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
        cmocka_unit_test(test_parse_valid),
        cmocka_unit_test(test_parse_invalid),
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_status_text),
        cmocka_unit_test(test_dates),
        cmocka_unit_test(test_add_months_end_of_month),
        cmocka_unit_test(test_daycount_fraction),
        cmocka_unit_test(test_periodic_rate),
        cmocka_unit_test(test_interest_exact_ties),
        cmocka_unit_test(test_interest_irrational),
        cmocka_unit_test(test_daycount_interest),
        cmocka_unit_test(test_interest_errors),
        cmocka_unit_test(test_annuity_payment),
    };
    return cmocka_run_group_tests(tests, NULL, free_mpfr_caches);
}
