/* fuzz_money: money_parse against an independent reference parser, and what follows from a
 * parse: formatting gives back the same amount, checked sums and splits are exact.
 *
 * Input: byte 0 picks the exponent (0..18) and whether a minus sign is allowed; the rest is the
 * text, split at the first '\n' into two amounts (the second one is optional). The next bytes
 * after a second '\n' are split weights. */
#include <stdbool.h>

#include "fundledger/money.h"
#include "fuzz.h"

#define EXP_MAX 18

/* The reference: same grammar and error order as money.h documents, computed with 128-bit
 * arithmetic (saturated) instead of money.c's guarded uint64 steps. */
static money_status reference_parse(const char *s, int exp, bool allow_negative, int64_t *out)
{
    bool neg = s[0] == '-';
    const char *p = s + (neg ? 1 : 0);
    if (*p == '\0') {
        return MONEY_ERR_EMPTY;
    }
    size_t i = 0, int_digits = 0, frac_digits = 0;
    bool point = false;
    unsigned __int128 mag = 0;
    const unsigned __int128 cap = (unsigned __int128)1 << 100; /* far above int64; saturate here */
    for (; p[i] != '\0'; i++) {
        char c = p[i];
        if (c >= '0' && c <= '9') {
            *(point ? &frac_digits : &int_digits) += 1;
            mag = mag * 10 + (unsigned)(c - '0');
            if (mag > cap) {
                mag = cap;
            }
        } else if (c == '.' && !point && int_digits > 0) {
            point = true;
        } else {
            return MONEY_ERR_SYNTAX;
        }
    }
    if (int_digits == 0 || (point && frac_digits == 0)) {
        return MONEY_ERR_SYNTAX;
    }
    if (frac_digits > (size_t)exp) {
        return MONEY_ERR_PRECISION;
    }
    if (neg && !allow_negative) {
        return MONEY_ERR_NEGATIVE;
    }
    for (size_t k = frac_digits; k < (size_t)exp; k++) {
        mag = mag * 10;
        if (mag > cap) {
            mag = cap;
        }
    }
    unsigned __int128 limit = neg ? (unsigned __int128)INT64_MAX + 1 : (unsigned __int128)INT64_MAX;
    if (mag > limit) {
        return MONEY_ERR_OVERFLOW;
    }
    __int128 v = neg ? -(__int128)mag : (__int128)mag;
    *out = (int64_t)v;
    return MONEY_OK;
}

/* Parses s both ways, checks they agree and that the result formats back to itself. */
static bool parse_checked(const char *s, int exp, bool allow_negative, int64_t *out)
{
    int64_t got = 0x5a5a5a5a5a5a5a5a, want = 0;
    money_status st = money_parse(s, exp, allow_negative, &got);
    money_status ref = reference_parse(s, exp, allow_negative, &want);
    FUZZ_CHECK(st == ref, "'%s' exp %d neg %d: money_parse %d, reference %d", s, exp, allow_negative, st, ref);
    FUZZ_CHECK(money_status_text(st) != NULL && money_status_text(st)[0] != '\0', "status %d has no text", st);
    if (st != MONEY_OK) {
        FUZZ_CHECK(got == 0x5a5a5a5a5a5a5a5a, "'%s': *out written on error %d", s, st);
        return false;
    }
    FUZZ_CHECK(got == want, "'%s' exp %d: %lld, reference %lld", s, exp, (long long)got, (long long)want);
    FUZZ_CHECK(allow_negative || got >= 0, "'%s': negative amount %lld without a minus allowed", s, (long long)got);

    /* Format and parse again: the same amount, in the canonical text. */
    char buf[MONEY_TEXT_MAX];
    size_t len = money_format(got, exp, buf, sizeof buf);
    FUZZ_CHECK(len > 0 && len < MONEY_TEXT_MAX && strlen(buf) == len, "format of %lld gave length %zu", (long long)got,
               len);
    int64_t again = 0;
    money_status st2 = money_parse(buf, exp, true, &again);
    FUZZ_CHECK(st2 == MONEY_OK && again == got, "'%s' -> %lld -> '%s' -> status %d, %lld", s, (long long)got, buf, st2,
               (long long)again);
    /* Canonical: exactly exp decimals, no superfluous leading zero, no "-0". */
    const char *digits = buf + (buf[0] == '-');
    const char *dot = strchr(buf, '.');
    FUZZ_CHECK(exp == 0 ? dot == NULL : (dot != NULL && strlen(dot + 1) == (size_t)exp), "'%s' exp %d", buf, exp);
    FUZZ_CHECK(digits[0] != '0' || digits[1] == '\0' || digits[1] == '.', "leading zero in '%s'", buf);
    FUZZ_CHECK(!(buf[0] == '-' && got == 0), "'-0' formatted");
    /* Too small a buffer: 0 and nothing written. */
    char small[MONEY_TEXT_MAX];
    memset(small, 'x', sizeof small);
    FUZZ_CHECK(money_format(got, exp, small, len) == 0 && small[0] == 'x', "format into %zu bytes wrote", len);
    FUZZ_CHECK(money_format(got, exp, small, len + 1) == len && memcmp(small, buf, len + 1) == 0,
               "format into exactly %zu bytes", len + 1);
    *out = got;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 256) {
        return 0;
    }
    int exp = data[0] % (EXP_MAX + 1);
    bool allow_negative = (data[0] & 0x80) != 0;
    char *text = fuzz_strdup(data + 1, size - 1);
    char *second = strchr(text, '\n');
    char *weights = NULL;
    if (second != NULL) {
        *second++ = '\0';
        weights = strchr(second, '\n');
        if (weights != NULL) {
            *weights++ = '\0';
        }
    }

    int64_t a = 0, b = 0;
    bool have_a = parse_checked(text, exp, allow_negative, &a);
    bool have_b = second != NULL && parse_checked(second, exp, allow_negative, &b);

    if (have_a && have_b) {
        __int128 sum = (__int128)a + b, diff = (__int128)a - b;
        int64_t r = 77;
        bool ok = money_add(a, b, &r);
        FUZZ_CHECK(ok == (sum >= INT64_MIN && sum <= INT64_MAX), "add %lld %lld ok %d", (long long)a, (long long)b, ok);
        FUZZ_CHECK(ok ? r == (int64_t)sum : r == 77, "add %lld %lld gave %lld", (long long)a, (long long)b,
                   (long long)r);
        r = 77;
        ok = money_sub(a, b, &r);
        FUZZ_CHECK(ok == (diff >= INT64_MIN && diff <= INT64_MAX), "sub %lld %lld ok %d", (long long)a, (long long)b,
                   ok);
        FUZZ_CHECK(ok ? r == (int64_t)diff : r == 77, "sub gave %lld", (long long)r);
        if (b != 0) {
            /* Half-even division against the definition. */
            int64_t q = 0;
            __int128 n = a, d = b;
            __int128 fq = n / d, rem = n % d; /* truncated */
            if (rem != 0 && ((rem < 0) != (d < 0))) {
                fq -= 1; /* floor */
                rem += d;
            }
            /* now n = fq*d + rem with rem between 0 and d (same sign as d) */
            __int128 twice = 2 * (rem < 0 ? -rem : rem), ad = d < 0 ? -d : d;
            __int128 want = fq + (twice > ad || (twice == ad && (fq % 2 != 0)) ? 1 : 0);
            bool fits = want >= INT64_MIN && want <= INT64_MAX;
            ok = money_div_half_even(n, d, &q);
            FUZZ_CHECK(ok == fits, "%lld / %lld fits %d ok %d", (long long)a, (long long)b, fits, ok);
            FUZZ_CHECK(!ok || q == (int64_t)want, "%lld / %lld = %lld, want %lld", (long long)a, (long long)b,
                       (long long)q, (long long)want);
        }
    }

    if (have_a && weights != NULL) {
        /* Weights: up to 8 bytes each a small weight; parts must sum exactly to the total. */
        int64_t w[16], parts[16];
        size_t n = strlen(weights);
        if (n > 16) {
            n = 16;
        }
        __int128 wsum = 0;
        for (size_t i = 0; i < n; i++) {
            w[i] = (int64_t)(unsigned char)weights[i] * ((int64_t)1 << ((unsigned char)weights[i] % 40));
            wsum += w[i];
        }
        bool ok = money_split(a, w, n, parts);
        if (ok) {
            __int128 total = 0;
            for (size_t i = 0; i < n; i++) {
                total += parts[i];
                FUZZ_CHECK(w[i] != 0 || parts[i] == 0, "part %zu of weight 0 got %lld", i, (long long)parts[i]);
                FUZZ_CHECK((a >= 0) ? parts[i] >= 0 : parts[i] <= 0, "part %zu has the wrong sign", i);
            }
            FUZZ_CHECK(total == a, "split of %lld sums to another total", (long long)a);
        } else {
            /* The only refusals possible here: no parts, all weights zero, or a total whose
             * negation does not fit (INT64_MIN). */
            FUZZ_CHECK(n == 0 || wsum == 0 || a == INT64_MIN, "split of %lld over %zu weights refused", (long long)a,
                       n);
        }
    }
    free(text);
    return 0;
}
