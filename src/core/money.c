/* money: ISO 4217 minor units, strict decimal parsing and formatting, checked and exact integer arithmetic. */
#include "fundledger/money.h"

#include "fundledger/limits.h"

#include <assert.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* Unsigned twin of money_i128 for magnitudes (GCC extension, hence __extension__). */
__extension__ typedef unsigned __int128 money_u128;

/* Largest exponent handled: 10^18 is the largest power of ten that fits int64, and with it
 * a formatted amount still fits MONEY_TEXT_MAX (sign, 19 digits, point, NUL = 22 bytes). */
#define EXPONENT_MAX 18

/* |INT64_MIN| = 2^63, the largest magnitude a negative amount may have. */
#define MAGNITUDE_NEG_MAX ((uint64_t)INT64_MAX + 1u)

struct currency {
    char code[4];    /* three upper-case letters and NUL */
    signed char exponent; /* ISO 4217 "minor unit" */
};

/* ISO 4217 list one (current currency and funds codes), as published by the ISO 4217
 * maintenance agency (SIX) on 2025-05-12, with each code's minor unit. Sorted by code
 * (bsearch below; tests check every code from AAA to ZZZ against their own copy).
 * Left out on purpose: the entries whose minor unit is "N.A." (XAG, XAU, XBA, XBB, XBC,
 * XBD, XDR, XPD, XPT, XSU, XTS, XUA, XXX: metals, bond-market units, SDR, test and "no
 * currency" codes), which have no minor unit and so cannot be int64 minor units. Withdrawn
 * codes (HRK, ANG, CUC, SLL, ZWL, ...) are not active and are absent. To update: apply the
 * agency's amendments here and in tests/unit/test_money.c. */
static const struct currency currencies[] = {
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

#define CURRENCY_COUNT (sizeof currencies / sizeof currencies[0])

_Static_assert(CURRENCY_COUNT > 150 && CURRENCY_COUNT < 200, "ISO 4217 list one has about 170 usable codes");

/* Phrases are static strings; an out-of-range value gets a generic phrase rather than NULL. */
const char *money_status_text(money_status st)
{
    switch (st) {
    case MONEY_OK:
        return "ok";
    case MONEY_ERR_EMPTY:
        return "amount is empty";
    case MONEY_ERR_SYNTAX:
        return "amount must be digits with an optional '-' and '.' (no spaces, '+', exponents or separators)";
    case MONEY_ERR_PRECISION:
        return "amount has more decimals than the currency allows";
    case MONEY_ERR_OVERFLOW:
        return "amount is too large";
    case MONEY_ERR_NEGATIVE:
        return "amount must not be negative";
    case MONEY_ERR_CURRENCY:
        return "not an active ISO 4217 currency code";
    case MONEY_ERR_LIMIT:
        return "amount is above the maximum of 1000000000000000 minor units (10000000000000.00 with two decimals)";
    }
    return "unknown money status";
}

/* bsearch comparator: key is a code of three upper-case letters, element a table entry. */
static int currency_compare(const void *key, const void *element)
{
    const struct currency *entry = element;
    return memcmp(key, entry->code, 3);
}

/* The table entry for code, or NULL when code is not three upper-case letters or unknown. */
static const struct currency *currency_find(const char *code)
{
    assert(code != NULL);
    for (size_t i = 0; i < 3; i++) {
        if (code[i] < 'A' || code[i] > 'Z') {
            return NULL; /* also stops at an early NUL */
        }
    }
    if (code[3] != '\0') {
        return NULL;
    }
    const struct currency *found =
        bsearch(code, currencies, CURRENCY_COUNT, sizeof currencies[0], currency_compare);
    assert(found == NULL || (found->exponent >= 0 && found->exponent <= EXPONENT_MAX));
    return found;
}

/* -1 for anything not in the table, malformed codes included (client input is never asserted). */
int money_currency_exponent(const char *code)
{
    const struct currency *found = currency_find(code);
    if (found == NULL) {
        return -1;
    }
    return found->exponent;
}

/* Same lookup as money_currency_exponent. */
bool money_currency_valid(const char *code)
{
    return currency_find(code) != NULL;
}

/* acc = acc * 10 + digit unless that exceeds limit; false (acc untouched) when it would. */
static bool accumulate_digit(uint64_t *acc, unsigned digit, uint64_t limit)
{
    assert(digit <= 9);
    assert(*acc <= limit);
    if (*acc > (limit - digit) / 10u) {
        return false;
    }
    *acc = *acc * 10u + digit;
    return true;
}

/* Grammar: '-'? digit+ ( '.' digit+ )? NUL. One pass records the shape and accumulates the
 * magnitude in uint64 against the limit of the sign (2^63 - 1, or 2^63 for negatives); the
 * errors are then reported in the order EMPTY, SYNTAX, PRECISION, NEGATIVE, OVERFLOW, so a
 * malformed text is always SYNTAX whatever its size. The loop ends at the text's NUL.
 * exponent must be 0..EXPONENT_MAX (a programmer error otherwise: pass a looked-up exponent). */
money_status money_parse(const char *text, int exponent, bool allow_negative, int64_t *out)
{
    assert(text != NULL);
    assert(out != NULL);
    assert(exponent >= 0 && exponent <= EXPONENT_MAX);

    const char *p = text;
    bool negative = false;
    if (*p == '-') {
        negative = true;
        p++;
    }
    if (*p == '\0') {
        return MONEY_ERR_EMPTY;
    }

    uint64_t limit = negative ? MAGNITUDE_NEG_MAX : (uint64_t)INT64_MAX;
    uint64_t magnitude = 0;
    bool overflow = false;
    size_t int_digits = 0;
    size_t frac_digits = 0;
    bool point = false;

    for (; *p != '\0'; p++) {
        char ch = *p;
        if (ch >= '0' && ch <= '9') {
            if (point) {
                frac_digits++;
            } else {
                int_digits++;
            }
            if (!overflow && !accumulate_digit(&magnitude, (unsigned)(ch - '0'), limit)) {
                overflow = true;
            }
        } else if (ch == '.' && !point && int_digits > 0) {
            point = true;
        } else {
            return MONEY_ERR_SYNTAX;
        }
    }
    if (int_digits == 0 || (point && frac_digits == 0)) {
        return MONEY_ERR_SYNTAX;
    }
    if (frac_digits > (size_t)exponent) {
        return MONEY_ERR_PRECISION;
    }
    if (negative && !allow_negative) {
        return MONEY_ERR_NEGATIVE;
    }
    /* Scale to minor units: "1234.5" with exponent 2 has read 12345, one zero to go. */
    for (size_t i = frac_digits; i < (size_t)exponent && !overflow; i++) {
        if (!accumulate_digit(&magnitude, 0, limit)) {
            overflow = true;
        }
    }
    if (overflow) {
        return MONEY_ERR_OVERFLOW;
    }

    if (!negative) {
        *out = (int64_t)magnitude;
    } else if (magnitude == MAGNITUDE_NEG_MAX) {
        *out = INT64_MIN;
    } else {
        *out = -(int64_t)magnitude;
    }
    return MONEY_OK;
}

/* The bound after the int64 parse: one rule, one message, whatever the size of the text. */
money_status money_parse_amount(const char *text, int exponent, int64_t *out)
{
    assert(out != NULL);
    int64_t v = 0;
    money_status st = money_parse(text, exponent, false, &v);
    if (st == MONEY_ERR_OVERFLOW || (st == MONEY_OK && v > MONEY_AMOUNT_MAX)) {
        return MONEY_ERR_LIMIT;
    }
    if (st == MONEY_OK) {
        *out = v;
    }
    return st;
}

/* Digits are produced from the unsigned magnitude, so the most negative value needs no special
 * case; on a too-small cap nothing is written and 0 is returned. exponent must be 0..EXPONENT_MAX.
 * One body for both widths: an int64 is formatted as a money_i128. */
size_t money_format_wide(money_i128 minor, int exponent, char *buf, size_t cap)
{
    assert(buf != NULL);
    assert(exponent >= 0 && exponent <= EXPONENT_MAX);

    bool negative = minor < 0;
    /* Unsigned negation is defined for the most negative value too. */
    money_u128 magnitude = negative ? (money_u128)0 - (money_u128)minor : (money_u128)minor;

    char digits[48]; /* least significant first; 39 digits at most, exponent + 1 at least */
    size_t n = 0;
    do {
        assert(n < sizeof digits);
        digits[n++] = (char)('0' + (int)(magnitude % 10u));
        magnitude /= 10u;
    } while (magnitude != 0);
    while (n < (size_t)exponent + 1) {
        assert(n < sizeof digits);
        digits[n++] = '0';
    }

    size_t len = (negative ? 1u : 0u) + n + (exponent > 0 ? 1u : 0u);
    assert(len < MONEY_WIDE_TEXT_MAX);
    if (len + 1 > cap) {
        return 0;
    }
    size_t w = 0;
    if (negative) {
        buf[w++] = '-';
    }
    for (size_t i = n; i > 0; i--) {
        if (exponent > 0 && i == (size_t)exponent) {
            buf[w++] = '.';
        }
        buf[w++] = digits[i - 1];
    }
    buf[w] = '\0';
    assert(w == len);
    return len;
}

size_t money_format(int64_t minor, int exponent, char *buf, size_t cap)
{
    size_t len = money_format_wide(minor, exponent, buf, cap);
    assert(len < MONEY_TEXT_MAX);
    return len;
}

/* Checked with the compiler's overflow builtins: exact, no undefined behaviour. */
bool money_add(int64_t a, int64_t b, int64_t *out)
{
    assert(out != NULL);
    int64_t sum;
    if (__builtin_add_overflow(a, b, &sum)) {
        return false;
    }
    *out = sum;
    return true;
}

/* As money_add. */
bool money_sub(int64_t a, int64_t b, int64_t *out)
{
    assert(out != NULL);
    int64_t difference;
    if (__builtin_sub_overflow(a, b, &difference)) {
        return false;
    }
    *out = difference;
    return true;
}

/* |v| as unsigned; defined for the most negative money_i128 too. */
static money_u128 magnitude_u128(money_i128 v)
{
    return v < 0 ? (money_u128)0 - (money_u128)v : (money_u128)v;
}

/* Works on magnitudes so that rounding is symmetric about zero (-2.5 -> -2, -3.5 -> -4)
 * and no signed division can overflow (the most negative money_i128 over -1 included). */
bool money_div_half_even(money_i128 num, money_i128 den, int64_t *out)
{
    assert(den != 0);
    assert(out != NULL);

    bool negative = (num < 0) != (den < 0);
    money_u128 n = magnitude_u128(num);
    money_u128 d = magnitude_u128(den);
    money_u128 q = n / d;
    money_u128 r = n % d;
    /* r < d <= 2^127, so 2r cannot wrap. */
    money_u128 twice_r = r * 2u;
    if (twice_r > d || (twice_r == d && (q & 1u) != 0)) {
        q += 1u;
    }
    if (negative) {
        if (q > (money_u128)MAGNITUDE_NEG_MAX) {
            return false;
        }
        *out = q == (money_u128)MAGNITUDE_NEG_MAX ? INT64_MIN : -(int64_t)q;
    } else {
        if (q > (money_u128)INT64_MAX) {
            return false;
        }
        *out = (int64_t)q;
    }
    return true;
}

/* How many of the n parts have remainder (magnitude * w_i) mod weight_sum >= threshold. */
static size_t split_count_at_least(money_i128 magnitude, const int64_t *weights, size_t n,
                                   money_i128 weight_sum, money_i128 threshold)
{
    size_t count = 0;
    for (size_t i = 0; i < n; i++) {
        if ((magnitude * weights[i]) % weight_sum >= threshold) {
            count++;
        }
    }
    return count;
}

/* Works on the magnitude T = |total| (at most 2^63, so T * w < 2^126 fits money_i128 and
 * every part, at most T, fits int64 with the sign put back). The leftover units L < n go to
 * the L largest remainders, ties to the lower index, found without sorting or allocating:
 * a binary search (at most 128 rounds of n) finds the largest remainder value t with at
 * least L remainders >= t; every part with a remainder > t gets a unit, then the parts with
 * remainder == t get the rest in index order. */
bool money_split(int64_t total, const int64_t *weights, size_t n, int64_t *parts)
{
    _Static_assert(sizeof(size_t) <= 8, "the weight sum must fit money_i128");
    if (n == 0) {
        return false;
    }
    assert(weights != NULL);
    assert(parts != NULL);

    money_i128 weight_sum = 0;
    for (size_t i = 0; i < n; i++) {
        if (weights[i] < 0) {
            return false;
        }
        weight_sum += weights[i]; /* < n * 2^63 <= 2^127: cannot overflow */
    }
    if (weight_sum == 0) {
        return false;
    }

    bool negative = total < 0;
    money_i128 magnitude = negative ? -(money_i128)total : (money_i128)total;

    money_i128 floor_sum = 0;
    for (size_t i = 0; i < n; i++) {
        floor_sum += (magnitude * weights[i]) / weight_sum;
    }
    money_i128 leftover = magnitude - floor_sum;
    assert(leftover >= 0 && leftover < (money_i128)n);

    money_i128 threshold = 0;
    if (leftover > 0) {
        money_i128 lo = 0;           /* invariant: count(remainder >= lo) >= leftover */
        money_i128 hi = weight_sum;  /* invariant: count(remainder >= hi) <  leftover */
        for (int round = 0; round < 130 && hi - lo > 1; round++) {
            money_i128 mid = lo + (hi - lo) / 2;
            if ((money_i128)split_count_at_least(magnitude, weights, n, weight_sum, mid) >= leftover) {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        assert(hi - lo == 1);
        threshold = lo;
    }

    /* First the parts strictly above the threshold, then ties at it by index. */
    money_i128 given = 0;
    for (size_t i = 0; i < n; i++) {
        if (leftover > 0 && (magnitude * weights[i]) % weight_sum > threshold) {
            given++;
        }
    }
    assert(given < leftover || leftover == 0);
    money_i128 ties_left = leftover - given;
    money_i128 check_sum = 0;
    for (size_t i = 0; i < n; i++) {
        money_i128 product = magnitude * weights[i];
        money_i128 part = product / weight_sum;
        money_i128 remainder = product % weight_sum;
        if (leftover > 0 && remainder > threshold) {
            part += 1;
        } else if (leftover > 0 && remainder == threshold && ties_left > 0) {
            part += 1;
            ties_left--;
        }
        assert(part >= 0 && part <= magnitude);
        check_sum += part;
        parts[i] = negative ? (int64_t)-part : (int64_t)part;
    }
    assert(ties_left == 0);
    assert(check_sum == magnitude);
    return true;
}
