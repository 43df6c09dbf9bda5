/* Unit tests for money: currency table, strict parsing, formatting, checked and exact arithmetic, splits. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "fundledger/limits.h"
#include "fundledger/money.h"

/* A fixed-seed 64-bit LCG (Knuth's MMIX constants) so runs are reproducible; not rand(). */
struct lcg {
    uint64_t state;
};

static uint64_t lcg_next(struct lcg *g)
{
    g->state = g->state * 6364136223846793005u + 1442695040888963407u;
    return g->state;
}

/* Uniform-enough value in [0, bound) for test data; bound > 0. */
static uint64_t lcg_below(struct lcg *g, uint64_t bound)
{
    return (lcg_next(g) >> 11) % bound;
}

/* ------------------------------------------------------------------ currencies */

/* Expected ISO 4217 list one (2025-05-12) with minor units, kept apart from the module's table
 * so that a typo in one shows up against the other. */
static const struct {
    const char *code;
    int exponent;
} expected_currencies[] = {
    {"AED", 2}, {"AFN", 2}, {"ALL", 2}, {"AMD", 2}, {"AOA", 2}, {"ARS", 2}, {"AUD", 2},
    {"AWG", 2}, {"AZN", 2}, {"BAM", 2}, {"BBD", 2}, {"BDT", 2}, {"BGN", 2}, {"BHD", 3},
    {"BIF", 0}, {"BMD", 2}, {"BND", 2}, {"BOB", 2}, {"BOV", 2}, {"BRL", 2}, {"BSD", 2},
    {"BTN", 2}, {"BWP", 2}, {"BYN", 2}, {"BZD", 2}, {"CAD", 2}, {"CDF", 2}, {"CHE", 2},
    {"CHF", 2}, {"CHW", 2}, {"CLF", 4}, {"CLP", 0}, {"CNY", 2}, {"COP", 2}, {"COU", 2},
    {"CRC", 2}, {"CUP", 2}, {"CVE", 2}, {"CZK", 2}, {"DJF", 0}, {"DKK", 2}, {"DOP", 2},
    {"DZD", 2}, {"EGP", 2}, {"ERN", 2}, {"ETB", 2}, {"EUR", 2}, {"FJD", 2}, {"FKP", 2},
    {"GBP", 2}, {"GEL", 2}, {"GHS", 2}, {"GIP", 2}, {"GMD", 2}, {"GNF", 0}, {"GTQ", 2},
    {"GYD", 2}, {"HKD", 2}, {"HNL", 2}, {"HTG", 2}, {"HUF", 2}, {"IDR", 2}, {"ILS", 2},
    {"INR", 2}, {"IQD", 3}, {"IRR", 2}, {"ISK", 0}, {"JMD", 2}, {"JOD", 3}, {"JPY", 0},
    {"KES", 2}, {"KGS", 2}, {"KHR", 2}, {"KMF", 0}, {"KPW", 2}, {"KRW", 0}, {"KWD", 3},
    {"KYD", 2}, {"KZT", 2}, {"LAK", 2}, {"LBP", 2}, {"LKR", 2}, {"LRD", 2}, {"LSL", 2},
    {"LYD", 3}, {"MAD", 2}, {"MDL", 2}, {"MGA", 2}, {"MKD", 2}, {"MMK", 2}, {"MNT", 2},
    {"MOP", 2}, {"MRU", 2}, {"MUR", 2}, {"MVR", 2}, {"MWK", 2}, {"MXN", 2}, {"MXV", 2},
    {"MYR", 2}, {"MZN", 2}, {"NAD", 2}, {"NGN", 2}, {"NIO", 2}, {"NOK", 2}, {"NPR", 2},
    {"NZD", 2}, {"OMR", 3}, {"PAB", 2}, {"PEN", 2}, {"PGK", 2}, {"PHP", 2}, {"PKR", 2},
    {"PLN", 2}, {"PYG", 0}, {"QAR", 2}, {"RON", 2}, {"RSD", 2}, {"RUB", 2}, {"RWF", 0},
    {"SAR", 2}, {"SBD", 2}, {"SCR", 2}, {"SDG", 2}, {"SEK", 2}, {"SGD", 2}, {"SHP", 2},
    {"SLE", 2}, {"SOS", 2}, {"SRD", 2}, {"SSP", 2}, {"STN", 2}, {"SVC", 2}, {"SYP", 2},
    {"SZL", 2}, {"THB", 2}, {"TJS", 2}, {"TMT", 2}, {"TND", 3}, {"TOP", 2}, {"TRY", 2},
    {"TTD", 2}, {"TWD", 2}, {"TZS", 2}, {"UAH", 2}, {"UGX", 0}, {"USD", 2}, {"USN", 2},
    {"UYI", 0}, {"UYU", 2}, {"UYW", 4}, {"UZS", 2}, {"VED", 2}, {"VES", 2}, {"VND", 0},
    {"VUV", 0}, {"WST", 2}, {"XAD", 2}, {"XAF", 0}, {"XCD", 2}, {"XCG", 2}, {"XOF", 0},
    {"XPF", 0}, {"YER", 2}, {"ZAR", 2}, {"ZMW", 2}, {"ZWG", 2},
};

#define EXPECTED_COUNT (sizeof expected_currencies / sizeof expected_currencies[0])

static void test_currency_known(void **state)
{
    (void)state;
    assert_int_equal(money_currency_exponent("COP"), 2);
    assert_int_equal(money_currency_exponent("USD"), 2);
    assert_int_equal(money_currency_exponent("EUR"), 2);
    assert_int_equal(money_currency_exponent("JPY"), 0);
    assert_int_equal(money_currency_exponent("KRW"), 0);
    assert_int_equal(money_currency_exponent("CLP"), 0);
    assert_int_equal(money_currency_exponent("BHD"), 3);
    assert_int_equal(money_currency_exponent("KWD"), 3);
    assert_int_equal(money_currency_exponent("JOD"), 3);
    assert_int_equal(money_currency_exponent("TND"), 3);
    assert_int_equal(money_currency_exponent("OMR"), 3);
    assert_int_equal(money_currency_exponent("LYD"), 3);
    assert_int_equal(money_currency_exponent("IQD"), 3);
    assert_int_equal(money_currency_exponent("CLF"), 4);
    assert_int_equal(money_currency_exponent("UYW"), 4);
    assert_true(money_currency_valid("COP"));
    assert_true(money_currency_valid("AED")); /* first entry */
    assert_true(money_currency_valid("ZWG")); /* last entry */
}

static void test_currency_refused(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "", "C", "CO", "COPX", "cop", "Cop", "CO1", " COP", "COP ", "CO-",
        "ABC", "AAA", "ZZZ",
        "XAU", "XAG", "XDR", "XTS", "XXX", /* minor unit N.A. */
        "HRK", "CUC", "SLL", "ZWL", "ANG", "VEF", "MRO", "STD", "BYR", /* withdrawn */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(money_currency_exponent(bad[i]), -1);
        assert_false(money_currency_valid(bad[i]));
    }
}

/* Every code from AAA to ZZZ: exactly the expected ones are valid, with their exponents.
 * This also proves the module's table is sorted, or bsearch would miss entries. */
static void test_currency_every_code(void **state)
{
    (void)state;
    for (size_t i = 1; i < EXPECTED_COUNT; i++) {
        assert_true(strcmp(expected_currencies[i - 1].code, expected_currencies[i].code) < 0);
    }
    size_t next = 0;
    size_t valid = 0;
    char code[4] = {0};
    for (int a = 'A'; a <= 'Z'; a++) {
        for (int b = 'A'; b <= 'Z'; b++) {
            for (int c = 'A'; c <= 'Z'; c++) {
                code[0] = (char)a;
                code[1] = (char)b;
                code[2] = (char)c;
                int expected = -1;
                if (next < EXPECTED_COUNT && strcmp(code, expected_currencies[next].code) == 0) {
                    expected = expected_currencies[next].exponent;
                    next++;
                }
                if (money_currency_exponent(code) != expected) {
                    fail_msg("%s: exponent %d, expected %d", code, money_currency_exponent(code), expected);
                }
                assert_int_equal(money_currency_valid(code), expected >= 0);
                if (expected >= 0) {
                    valid++;
                }
            }
        }
    }
    assert_int_equal(next, EXPECTED_COUNT);
    assert_int_equal(valid, EXPECTED_COUNT);
}

/* ------------------------------------------------------------------ parse */

struct parse_ok_case {
    const char *text;
    int exponent;
    bool allow_negative;
    int64_t want;
};

static void test_parse_ok(void **state)
{
    (void)state;
    static const struct parse_ok_case cases[] = {
        {"1234.5", 2, false, 123450},
        {"1234.50", 2, false, 123450},
        {"0.01", 2, false, 1},
        {"0", 2, false, 0},
        {"007.10", 2, false, 710},
        {"00", 2, false, 0},
        {"0.00", 2, false, 0},
        {"1", 2, false, 100},
        {"-1", 2, true, -100},
        {"-0.01", 2, true, -1},
        {"-0", 2, true, 0},
        {"-1234.5", 2, true, -123450},
        {"5", 0, false, 5},
        {"1.234", 3, false, 1234},
        {"0.001", 3, false, 1},
        {"1.2", 3, false, 1200},
        {"-1.001", 3, true, -1001},
        {"0.0001", 4, false, 1},
        {"000000000000000000000000000000000001", 0, false, 1},
        {"92233720368547758.07", 2, false, INT64_MAX},
        {"-92233720368547758.07", 2, true, -INT64_MAX},
        {"-92233720368547758.08", 2, true, INT64_MIN},
        {"9223372036854775807", 0, false, INT64_MAX},
        {"-9223372036854775808", 0, true, INT64_MIN},
        {"9.223372036854775807", 18, false, INT64_MAX},
        {"-9.223372036854775808", 18, true, INT64_MIN},
        {"0000092233720368547758.07", 2, false, INT64_MAX},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t got = 42;
        money_status st = money_parse(cases[i].text, cases[i].exponent, cases[i].allow_negative, &got);
        if (st != MONEY_OK || got != cases[i].want) {
            fail_msg("\"%s\" exp %d: status %d value %lld, want %lld", cases[i].text, cases[i].exponent,
                     (int)st, (long long)got, (long long)cases[i].want);
        }
    }
}

struct parse_bad_case {
    const char *text;
    int exponent;
    bool allow_negative;
    money_status want;
};

static void test_parse_refused(void **state)
{
    (void)state;
    static const struct parse_bad_case cases[] = {
        {"", 2, true, MONEY_ERR_EMPTY},
        {"-", 2, true, MONEY_ERR_EMPTY},
        {"-", 2, false, MONEY_ERR_EMPTY},
        {"1.234", 2, false, MONEY_ERR_PRECISION},
        {"1.230", 2, false, MONEY_ERR_PRECISION},
        {"0.001", 2, false, MONEY_ERR_PRECISION},
        {"1e3", 2, false, MONEY_ERR_SYNTAX},
        {"1E3", 2, false, MONEY_ERR_SYNTAX},
        {"1.5e1", 2, false, MONEY_ERR_SYNTAX},
        {"+1", 2, false, MONEY_ERR_SYNTAX},
        {"+1", 2, true, MONEY_ERR_SYNTAX},
        {" 1", 2, false, MONEY_ERR_SYNTAX},
        {"1 ", 2, false, MONEY_ERR_SYNTAX},
        {"1\n", 2, false, MONEY_ERR_SYNTAX},
        {"\t1", 2, false, MONEY_ERR_SYNTAX},
        {"- 1", 2, true, MONEY_ERR_SYNTAX},
        {"1,000", 2, false, MONEY_ERR_SYNTAX},
        {"1,5", 2, false, MONEY_ERR_SYNTAX},
        {"1_000", 2, false, MONEY_ERR_SYNTAX},
        {"1.", 2, false, MONEY_ERR_SYNTAX},
        {".5", 2, false, MONEY_ERR_SYNTAX},
        {"-.5", 2, true, MONEY_ERR_SYNTAX},
        {".", 2, false, MONEY_ERR_SYNTAX},
        {"abc", 2, false, MONEY_ERR_SYNTAX},
        {"12a", 2, false, MONEY_ERR_SYNTAX},
        {"0x10", 2, false, MONEY_ERR_SYNTAX},
        {"1.2.3", 2, false, MONEY_ERR_SYNTAX},
        {"1..2", 2, false, MONEY_ERR_SYNTAX},
        {"--1", 2, true, MONEY_ERR_SYNTAX},
        {"1-", 2, true, MONEY_ERR_SYNTAX},
        {"inf", 2, false, MONEY_ERR_SYNTAX},
        {"NaN", 2, false, MONEY_ERR_SYNTAX},
        {"\xc2\xa0" "1", 2, false, MONEY_ERR_SYNTAX},
        {"-1", 2, false, MONEY_ERR_NEGATIVE},
        {"-0", 2, false, MONEY_ERR_NEGATIVE},
        {"-0.00", 2, false, MONEY_ERR_NEGATIVE},
        {"92233720368547758.08", 2, false, MONEY_ERR_OVERFLOW},   /* INT64_MAX + 1 unit */
        {"92233720368547758.1", 2, false, MONEY_ERR_OVERFLOW},    /* overflows while scaling */
        {"-92233720368547758.09", 2, true, MONEY_ERR_OVERFLOW},   /* INT64_MIN - 1 unit */
        {"9223372036854775808", 0, false, MONEY_ERR_OVERFLOW},
        {"-9223372036854775809", 0, true, MONEY_ERR_OVERFLOW},
        {"99999999999999999999999999", 0, true, MONEY_ERR_OVERFLOW},
        {"10", 18, false, MONEY_ERR_OVERFLOW},
        {"5.0", 0, false, MONEY_ERR_PRECISION},
        {"5.", 0, false, MONEY_ERR_SYNTAX},
        {"1.2345", 3, false, MONEY_ERR_PRECISION},
        {"1.23456", 4, false, MONEY_ERR_PRECISION},
        /* Order of reports: syntax before precision before sign before size. */
        {"1.234x", 2, false, MONEY_ERR_SYNTAX},
        {"-1.234", 2, false, MONEY_ERR_PRECISION},
        {"-99999999999999999999", 2, false, MONEY_ERR_NEGATIVE},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t got = 4242;
        money_status st = money_parse(cases[i].text, cases[i].exponent, cases[i].allow_negative, &got);
        if (st != cases[i].want) {
            fail_msg("case %zu \"%s\" exp %d: status %d (%s), want %d", i, cases[i].text,
                     cases[i].exponent, (int)st, money_status_text(st), (int)cases[i].want);
        }
        assert_int_equal(got, 4242); /* untouched on error */
    }
}

static void test_parse_currency_exponents(void **state)
{
    (void)state;
    int64_t v = 0;
    int jpy = money_currency_exponent("JPY");
    assert_int_equal(money_parse("5", jpy, false, &v), MONEY_OK);
    assert_int_equal(v, 5);
    assert_int_equal(money_parse("5.0", jpy, false, &v), MONEY_ERR_PRECISION);
    int bhd = money_currency_exponent("BHD");
    assert_int_equal(money_parse("12.345", bhd, false, &v), MONEY_OK);
    assert_int_equal(v, 12345);
    assert_int_equal(money_parse("12.3456", bhd, false, &v), MONEY_ERR_PRECISION);
    assert_int_equal(money_parse("12.3", bhd, false, &v), MONEY_OK);
    assert_int_equal(v, 12300);
    int cop = money_currency_exponent("COP");
    assert_int_equal(money_parse("1.234", cop, false, &v), MONEY_ERR_PRECISION);
}

static void test_status_text(void **state)
{
    (void)state;
    for (int st = MONEY_OK; st <= MONEY_ERR_LIMIT; st++) {
        const char *text = money_status_text((money_status)st);
        assert_non_null(text);
        assert_true(strlen(text) > 0);
    }
}

/* money_parse_amount: the documented maximum (limits.h, docs/architecture.md "Amount limits"):
 * 10^15 minor units; the worked examples of the docs. */
static void test_parse_amount_limit(void **state)
{
    (void)state;
    int64_t v = -1;
    assert_int_equal(money_parse_amount("10000000000000.00", 2, &v), MONEY_OK);
    assert_int_equal(v, MONEY_AMOUNT_MAX);
    assert_int_equal(v, 1000000000000000LL);
    assert_int_equal(money_parse_amount("1000000000000000", 0, &v), MONEY_OK);
    assert_int_equal(v, 1000000000000000LL);
    assert_int_equal(money_parse_amount("1000000000000.000", 3, &v), MONEY_OK);
    assert_int_equal(v, 1000000000000000LL);
    assert_int_equal(money_parse_amount("0.01", 2, &v), MONEY_OK);
    assert_int_equal(v, 1);
    v = 7;
    assert_int_equal(money_parse_amount("10000000000000.01", 2, &v), MONEY_ERR_LIMIT);
    assert_int_equal(money_parse_amount("1000000000000001", 0, &v), MONEY_ERR_LIMIT);
    assert_int_equal(money_parse_amount("1000000000000.001", 3, &v), MONEY_ERR_LIMIT);
    assert_int_equal(money_parse_amount("92233720368547758.07", 2, &v), MONEY_ERR_LIMIT);
    assert_int_equal(money_parse_amount("92233720368547758.08", 2, &v), MONEY_ERR_LIMIT);
    assert_int_equal(money_parse_amount("99999999999999999999999999", 0, &v), MONEY_ERR_LIMIT);
    assert_int_equal(v, 7); /* untouched on refusal */
    /* The other refusals are money_parse's, in its order. */
    assert_int_equal(money_parse_amount("-1.00", 2, &v), MONEY_ERR_NEGATIVE);
    assert_int_equal(money_parse_amount("1e6", 2, &v), MONEY_ERR_SYNTAX);
    assert_int_equal(money_parse_amount("1.001", 2, &v), MONEY_ERR_PRECISION);
    assert_int_equal(money_parse_amount("", 2, &v), MONEY_ERR_EMPTY);
    assert_string_equal(money_status_text(MONEY_ERR_LIMIT),
                        "amount is above the maximum of 1000000000000000 minor units (10000000000000.00 with two "
                        "decimals)");
}

/* ------------------------------------------------------------------ format */

/* Totals beyond int64 (the trial balance's): exact, with the same layout as money_format. */
static void test_format_wide(void **state)
{
    (void)state;
    char buf[MONEY_WIDE_TEXT_MAX];
    money_i128 two_max = (money_i128)INT64_MAX * 2;
    assert_int_equal(money_format_wide(two_max, 2, buf, sizeof buf), 21);
    assert_string_equal(buf, "184467440737095516.14");
    assert_int_equal(money_format_wide(-two_max, 2, buf, sizeof buf), 22);
    assert_string_equal(buf, "-184467440737095516.14");
    money_i128 big = (money_i128)INT64_MAX * INT64_MAX;
    assert_true(money_format_wide(big, 0, buf, sizeof buf) > 0);
    assert_string_equal(buf, "85070591730234615847396907784232501249");
    assert_int_equal(money_format_wide(5, 2, buf, sizeof buf), 4);
    assert_string_equal(buf, "0.05");
    assert_int_equal(money_format_wide(two_max, 2, buf, 21), 0); /* no room for the NUL */
    /* Within int64 both agree. */
    char narrow[MONEY_TEXT_MAX];
    money_format(INT64_MIN, 2, narrow, sizeof narrow);
    money_format_wide(INT64_MIN, 2, buf, sizeof buf);
    assert_string_equal(buf, narrow);
}

static void check_format(int64_t minor, int exponent, const char *want)
{
    char buf[MONEY_TEXT_MAX];
    size_t len = money_format(minor, exponent, buf, sizeof buf);
    assert_int_equal(len, strlen(want));
    assert_string_equal(buf, want);
    int64_t back = 0;
    assert_int_equal(money_parse(buf, exponent, true, &back), MONEY_OK);
    assert_int_equal(back, minor);
}

static void test_format(void **state)
{
    (void)state;
    check_format(123450, 2, "1234.50");
    check_format(-1, 2, "-0.01");
    check_format(0, 2, "0.00");
    check_format(1, 2, "0.01");
    check_format(10, 2, "0.10");
    check_format(100, 2, "1.00");
    check_format(5, 0, "5");
    check_format(0, 0, "0");
    check_format(-5, 0, "-5");
    check_format(1, 3, "0.001");
    check_format(-12345, 3, "-12.345");
    check_format(1, 4, "0.0001");
    check_format(INT64_MAX, 2, "92233720368547758.07");
    check_format(INT64_MIN, 2, "-92233720368547758.08");
    check_format(INT64_MAX, 0, "9223372036854775807");
    check_format(INT64_MIN, 0, "-9223372036854775808");
    check_format(INT64_MIN, 18, "-9.223372036854775808");
    check_format(1, 18, "0.000000000000000001");
    check_format(-1, 18, "-0.000000000000000001");
}

static void test_format_capacity(void **state)
{
    (void)state;
    char buf[MONEY_TEXT_MAX];
    memset(buf, 'x', sizeof buf);
    assert_int_equal(money_format(-1, 2, buf, 5), 0); /* "-0.01" needs 6 bytes */
    assert_int_equal(money_format(-1, 2, buf, 6), 5);
    assert_string_equal(buf, "-0.01");
    assert_int_equal(money_format(7, 0, buf, 1), 0);
    assert_int_equal(money_format(7, 0, buf, 2), 1);
    assert_string_equal(buf, "7");
    assert_int_equal(money_format(INT64_MIN, 0, buf, 20), 0);
    assert_int_equal(money_format(INT64_MIN, 0, buf, 21), 20);
}

static void test_format_round_trip_random(void **state)
{
    (void)state;
    struct lcg g = {0x5eedf00dULL};
    char buf[MONEY_TEXT_MAX];
    for (int i = 0; i < 10000; i++) {
        int64_t v = (int64_t)lcg_next(&g);
        if (i % 3 == 0) {
            v >>= lcg_below(&g, 63); /* small magnitudes too */
        }
        int exponent = (int)lcg_below(&g, 19);
        size_t len = money_format(v, exponent, buf, sizeof buf);
        assert_true(len > 0);
        int64_t back = 0;
        assert_int_equal(money_parse(buf, exponent, true, &back), MONEY_OK);
        assert_int_equal(back, v);
    }
}

/* ------------------------------------------------------------------ add, sub */

static void test_add_sub(void **state)
{
    (void)state;
    int64_t r = 7;
    assert_true(money_add(2, 3, &r));
    assert_int_equal(r, 5);
    assert_true(money_add(INT64_MAX, INT64_MIN, &r));
    assert_int_equal(r, -1);
    assert_true(money_add(INT64_MAX - 1, 1, &r));
    assert_int_equal(r, INT64_MAX);
    r = 7;
    assert_false(money_add(INT64_MAX, 1, &r));
    assert_int_equal(r, 7);
    assert_false(money_add(INT64_MIN, -1, &r));
    assert_int_equal(r, 7);
    assert_true(money_sub(5, 7, &r));
    assert_int_equal(r, -2);
    assert_true(money_sub(INT64_MIN + 1, 1, &r));
    assert_int_equal(r, INT64_MIN);
    r = 7;
    assert_false(money_sub(INT64_MIN, 1, &r));
    assert_int_equal(r, 7);
    assert_false(money_sub(0, INT64_MIN, &r));
    assert_int_equal(r, 7);
    assert_false(money_sub(INT64_MAX, -1, &r));
    assert_int_equal(r, 7);
}

/* ------------------------------------------------------------------ half-even */

struct div_case {
    money_i128 num;
    money_i128 den;
    int64_t want;
};

static void test_div_half_even(void **state)
{
    (void)state;
    static const struct div_case cases[] = {
        {1, 2, 0},   /* 0.5 */
        {3, 2, 2},   /* 1.5 */
        {5, 2, 2},   /* 2.5 */
        {7, 2, 4},   /* 3.5 */
        {-1, 2, 0},  /* -0.5 */
        {-3, 2, -2}, /* -1.5 */
        {-5, 2, -2}, /* -2.5 */
        {-7, 2, -4}, /* -3.5 */
        {1, -2, 0},
        {5, -2, -2},
        {-5, -2, 2},
        {7, 3, 2},   /* 2.33 */
        {-7, 3, -2},
        {8, 3, 3},   /* 2.67 */
        {-8, 3, -3},
        {6, 3, 2},   /* exact */
        {-6, 3, -2},
        {0, 5, 0},
        {0, -5, 0},
        {249, 100, 2},
        {250, 100, 2},
        {251, 100, 3},
        {350, 100, 4},
        {-250, 100, -2},
        {-251, 100, -3},
        {INT64_MIN, 1, INT64_MIN},
        {INT64_MAX, 1, INT64_MAX},
        {INT64_MAX, -1, -INT64_MAX},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t got = 99;
        assert_true(money_div_half_even(cases[i].num, cases[i].den, &got));
        if (got != cases[i].want) {
            fail_msg("case %zu: got %lld want %lld", i, (long long)got, (long long)cases[i].want);
        }
    }
}

static void test_div_half_even_limits(void **state)
{
    (void)state;
    int64_t got = 99;
    money_i128 max = INT64_MAX;
    money_i128 min = INT64_MIN;
    /* INT64_MAX + 0.5: INT64_MAX is odd, so the tie goes up to 2^63, which does not fit. */
    assert_false(money_div_half_even(max * 2 + 1, 2, &got));
    assert_int_equal(got, 99);
    /* INT64_MAX - 0.5 rounds to the even INT64_MAX - 1. */
    assert_true(money_div_half_even(max * 2 - 1, 2, &got));
    assert_int_equal(got, INT64_MAX - 1);
    /* INT64_MIN - 0.5: magnitude 2^63 + 0.5, 2^63 is even, stays INT64_MIN. */
    assert_true(money_div_half_even(min * 2 - 1, 2, &got));
    assert_int_equal(got, INT64_MIN);
    /* INT64_MIN - 1.5 rounds to INT64_MIN - 2: does not fit. */
    got = 99;
    assert_false(money_div_half_even(min * 2 - 3, 2, &got));
    assert_false(money_div_half_even(min, -1, &got));
    assert_false(money_div_half_even(max + 1, 1, &got));
    assert_int_equal(got, 99);
    /* Products of amounts and weights far beyond int64, divided back into range. */
    money_i128 big = (money_i128)INT64_MAX * INT64_MAX;
    assert_true(money_div_half_even(big, INT64_MAX, &got));
    assert_int_equal(got, INT64_MAX);
    assert_true(money_div_half_even(-big, INT64_MAX, &got));
    assert_int_equal(got, -INT64_MAX);
    /* The extreme money_i128 values. */
    money_i128 i128_max = (((money_i128)1 << 126) - 1) + ((money_i128)1 << 126); /* 2^127 - 1 */
    money_i128 i128_min = -i128_max - 1;
    assert_true(money_div_half_even(i128_min, i128_min, &got));
    assert_int_equal(got, 1);
    assert_false(money_div_half_even(i128_min, -1, &got));
    assert_false(money_div_half_even(i128_max, 1, &got));
    assert_true(money_div_half_even(i128_max, i128_min, &got)); /* -(1 - 2^-127): rounds to -1 */
    assert_int_equal(got, -1);
    assert_true(money_div_half_even(1, i128_min, &got));
    assert_int_equal(got, 0);
}

static void test_div_half_even_random(void **state)
{
    (void)state;
    struct lcg g = {12345};
    for (int i = 0; i < 10000; i++) {
        int64_t n = (int64_t)(lcg_next(&g) >> lcg_below(&g, 64));
        if (lcg_below(&g, 2) != 0) {
            n = -n;
        }
        int64_t d = (int64_t)(lcg_below(&g, 1000) + 1);
        if (lcg_below(&g, 2) != 0) {
            d = -d;
        }
        int64_t got = 0;
        assert_true(money_div_half_even(n, d, &got));
        /* |n/d - got| <= 1/2, and exactly 1/2 only when got is even. */
        money_i128 diff2 = ((money_i128)n - (money_i128)got * d) * 2; /* (n/d - got) * 2d */
        money_i128 ad = d < 0 ? -(money_i128)d : d;
        money_i128 adiff2 = diff2 < 0 ? -diff2 : diff2;
        assert_true(adiff2 <= ad);
        if (adiff2 == ad) {
            assert_int_equal(got % 2, 0);
        }
    }
}

/* ------------------------------------------------------------------ split */

/* Checks the documented promises of a split against exact rational arithmetic:
 * sum(parts) == total; each part within one unit of total*w/W; a part got a leftover unit
 * only if its remainder beats (or ties at a lower index) every part that got none. */
static void check_split(int64_t total, const int64_t *weights, size_t n, const int64_t *parts)
{
    money_i128 W = 0;
    for (size_t i = 0; i < n; i++) {
        W += weights[i];
    }
    money_i128 T = total < 0 ? -(money_i128)total : (money_i128)total;
    money_i128 sum = 0;
    for (size_t i = 0; i < n; i++) {
        sum += parts[i];
        money_i128 p = total < 0 ? -(money_i128)parts[i] : (money_i128)parts[i];
        /* |p - T*w/W| < 1  <=>  |p*W - T*w| < W */
        money_i128 diff = p * W - T * weights[i];
        assert_true(diff < W && -diff < W);
    }
    assert_true(sum == (money_i128)total);
    for (size_t i = 0; i < n; i++) {
        money_i128 pi = total < 0 ? -(money_i128)parts[i] : (money_i128)parts[i];
        bool extra_i = pi != (T * weights[i]) / W;
        money_i128 ri = (T * weights[i]) % W;
        for (size_t j = 0; j < n; j++) {
            money_i128 pj = total < 0 ? -(money_i128)parts[j] : (money_i128)parts[j];
            bool extra_j = pj != (T * weights[j]) / W;
            money_i128 rj = (T * weights[j]) % W;
            if (extra_i && !extra_j) {
                assert_true(ri > rj || (ri == rj && i < j));
            }
        }
    }
}

static void test_split_examples(void **state)
{
    (void)state;
    int64_t parts[8];

    const int64_t equal3[] = {1, 1, 1};
    assert_true(money_split(100, equal3, 3, parts));
    assert_int_equal(parts[0], 34);
    assert_int_equal(parts[1], 33);
    assert_int_equal(parts[2], 33);
    check_split(100, equal3, 3, parts);

    assert_true(money_split(2, equal3, 3, parts));
    assert_int_equal(parts[0], 1);
    assert_int_equal(parts[1], 1);
    assert_int_equal(parts[2], 0);

    assert_true(money_split(-100, equal3, 3, parts));
    assert_int_equal(parts[0], -34);
    assert_int_equal(parts[1], -33);
    assert_int_equal(parts[2], -33);
    check_split(-100, equal3, 3, parts);

    assert_true(money_split(-2, equal3, 3, parts));
    assert_int_equal(parts[0], -1);
    assert_int_equal(parts[1], -1);
    assert_int_equal(parts[2], 0);

    assert_true(money_split(0, equal3, 3, parts));
    assert_int_equal(parts[0], 0);
    assert_int_equal(parts[1], 0);
    assert_int_equal(parts[2], 0);

    /* Largest remainder wins over index: 10 by {1,2,4}: quotas 1.43, 2.86, 5.71. */
    const int64_t w124[] = {1, 2, 4};
    assert_true(money_split(10, w124, 3, parts));
    assert_int_equal(parts[0], 1);
    assert_int_equal(parts[1], 3);
    assert_int_equal(parts[2], 6);
    check_split(10, w124, 3, parts);

    /* Zero weights get nothing, even when units are left over. */
    const int64_t zeros[] = {0, 1, 0, 1, 0};
    assert_true(money_split(5, zeros, 5, parts));
    assert_int_equal(parts[0], 0);
    assert_int_equal(parts[1], 3);
    assert_int_equal(parts[2], 0);
    assert_int_equal(parts[3], 2);
    assert_int_equal(parts[4], 0);
    check_split(5, zeros, 5, parts);

    const int64_t single[] = {7};
    assert_true(money_split(INT64_MIN, single, 1, parts));
    assert_int_equal(parts[0], INT64_MIN);

    /* Ties go to the lower index: 7 over {1,1,1,1} -> 2,2,2,1. */
    const int64_t four[] = {1, 1, 1, 1};
    assert_true(money_split(7, four, 4, parts));
    assert_int_equal(parts[0], 2);
    assert_int_equal(parts[1], 2);
    assert_int_equal(parts[2], 2);
    assert_int_equal(parts[3], 1);
}

static void test_split_huge(void **state)
{
    (void)state;
    int64_t parts[4];

    const int64_t big[] = {INT64_MAX, INT64_MAX - 1, 1};
    assert_true(money_split(INT64_MAX, big, 3, parts));
    check_split(INT64_MAX, big, 3, parts);
    assert_true(money_split(INT64_MIN, big, 3, parts));
    check_split(INT64_MIN, big, 3, parts);
    assert_true(money_split(INT64_MAX - 7, big, 3, parts));
    check_split(INT64_MAX - 7, big, 3, parts);

    const int64_t maxes[] = {INT64_MAX, INT64_MAX, INT64_MAX, INT64_MAX};
    assert_true(money_split(INT64_MAX, maxes, 4, parts));
    check_split(INT64_MAX, maxes, 4, parts);
    /* INT64_MAX = 4 * 2305843009213693951 + 3. */
    assert_int_equal(parts[0], 2305843009213693952);
    assert_int_equal(parts[1], 2305843009213693952);
    assert_int_equal(parts[2], 2305843009213693952);
    assert_int_equal(parts[3], 2305843009213693951);
    assert_true(money_split(INT64_MIN, maxes, 4, parts));
    check_split(INT64_MIN, maxes, 4, parts);
    assert_int_equal(parts[0], INT64_MIN / 4);
    assert_int_equal(parts[3], INT64_MIN / 4);

    const int64_t lopsided[] = {1, INT64_MAX, 1, 0};
    assert_true(money_split(INT64_MAX, lopsided, 4, parts));
    check_split(INT64_MAX, lopsided, 4, parts);
    assert_true(money_split(3, lopsided, 4, parts));
    check_split(3, lopsided, 4, parts);
    assert_int_equal(parts[1], 3);
}

static void test_split_refused(void **state)
{
    (void)state;
    int64_t parts[3] = {11, 22, 33};
    const int64_t ok[] = {1, 2, 3};
    const int64_t negative[] = {1, -1, 3};
    const int64_t zero[] = {0, 0, 0};
    const int64_t most_negative[] = {5, INT64_MIN, 5};
    assert_false(money_split(100, ok, 0, parts));
    assert_false(money_split(100, negative, 3, parts));
    assert_false(money_split(100, zero, 3, parts));
    assert_false(money_split(0, zero, 3, parts));
    assert_false(money_split(100, most_negative, 3, parts));
    assert_int_equal(parts[0], 11);
    assert_int_equal(parts[1], 22);
    assert_int_equal(parts[2], 33);
}

static void test_split_random(void **state)
{
    (void)state;
    struct lcg g = {20240601};
    int64_t weights[16];
    int64_t parts[16];
    for (int c = 0; c < 10000; c++) {
        size_t n = (size_t)lcg_below(&g, 16) + 1;
        int64_t total;
        switch (lcg_below(&g, 4)) {
        case 0:
            total = (int64_t)lcg_below(&g, 100);
            break;
        case 1:
            total = (int64_t)lcg_below(&g, 1000000000);
            break;
        default:
            total = (int64_t)lcg_next(&g); /* any int64, either sign */
            break;
        }
        if (lcg_below(&g, 2) != 0 && total > 0) {
            total = -total;
        }
        bool any = false;
        for (size_t i = 0; i < n; i++) {
            switch (lcg_below(&g, 4)) {
            case 0:
                weights[i] = 0;
                break;
            case 1:
                weights[i] = (int64_t)lcg_below(&g, 10);
                break;
            case 2:
                weights[i] = (int64_t)lcg_below(&g, 1000000);
                break;
            default:
                weights[i] = (int64_t)(lcg_next(&g) >> 1);
                break;
            }
            any = any || weights[i] > 0;
        }
        if (!any) {
            weights[lcg_below(&g, n)] = 1;
        }
        assert_true(money_split(total, weights, n, parts));
        check_split(total, weights, n, parts);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_currency_known),
        cmocka_unit_test(test_currency_refused),
        cmocka_unit_test(test_currency_every_code),
        cmocka_unit_test(test_parse_ok),
        cmocka_unit_test(test_parse_refused),
        cmocka_unit_test(test_parse_currency_exponents),
        cmocka_unit_test(test_status_text),
        cmocka_unit_test(test_parse_amount_limit),
        cmocka_unit_test(test_format_wide),
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_format_capacity),
        cmocka_unit_test(test_format_round_trip_random),
        cmocka_unit_test(test_add_sub),
        cmocka_unit_test(test_div_half_even),
        cmocka_unit_test(test_div_half_even_limits),
        cmocka_unit_test(test_div_half_even_random),
        cmocka_unit_test(test_split_examples),
        cmocka_unit_test(test_split_huge),
        cmocka_unit_test(test_split_refused),
        cmocka_unit_test(test_split_random),
    };
    return cmocka_run_group_tests_name("money", tests, NULL, NULL);
}
