/* rate: exact decimal rates, dates, day counts, and correctly rounded interest and annuities. */
#include "fundledger/rate.h"

#include <assert.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>

#include <gmp.h>
#include <mpfr.h>

/*
 * How interest is rounded (the one idea of this file)
 * ---------------------------------------------------
 * We want round_half_even(x) for a real x such as b*((1+ea)^(a/c) - 1), which is irrational in
 * general. MPFR evaluates x with directed rounding: every operation is monotone in its inputs,
 * so rounding each step down (up) gives a certified lower (upper) bound lo <= x <= hi. With
 * w = x + 1/2, round_half_even(x) = floor(w) unless w is an integer (x a tie). So:
 *   - no integer in [lo+1/2, hi+1/2]: the answer is floor(hi+1/2), done;
 *   - exactly one integer N in it: x might be the tie N - 1/2. Whether it is, is decided exactly
 *     with GMP integers (below). If it is, take the even one of N-1 and N; if not, raise the
 *     precision and try again (the bounds tighten around x, which is not N - 1/2);
 *   - more: raise the precision.
 * Precision starts at 256 bits and grows twofold per round. It never needs to exceed a cap
 * computed from the inputs: a separation bound proves |x - (N - 1/2)| > 2^-L when x is not the
 * tie, and the cap is L plus the bits the interval loses, so at the cap the bounds must
 * separate. In practice the first round (256 bits) decides unless x is an exact tie.
 *
 * Exact tie tests. Let q = (10^8 + ea)/10^8 = A/B.
 *   Interest x = b(s - 1), s = q^(a/c): x = N - 1/2 iff s = (2b+2N-1)/(2b) iff
 *     (2b+2N-1)^c * B^a == A^a * (2b)^c       (positive numbers, c-th powers are injective).
 *   Annuity x = P(s-1)s^m/(s^m-1), s = q^(1/n): x = N - 1/2 iff h(s) = 0 with
 *     h(X) = 2P X^(m+1) - (2P+2N-1) X^m + (2N-1).
 *     Let k be the least divisor of n with s^k = C1/C2 rational (A and B perfect (n/k)-th powers).
 *     By Capelli's theorem X^k - C1/C2 is then irreducible, so 1, s, ..., s^(k-1) are linearly
 *     independent over Q: h(s) = 0 iff every coefficient of h reduced mod X^k - C1/C2 is 0.
 * Separation bounds (how far a non-tie is from the tie at least):
 *   Interest (Liouville): with t = (2b+2N-1)/(2b) != s, |t^c - s^c| >= 1/((2b)^c B^a) and
 *     |t^c - s^c| <= c M^(c-1) |t - s| (M = max(s,t)), so |x - (N-1/2)| >= 1/(c M^(c-1) (2b)^c B^a).
 *   Annuity (norm): C2*s is an algebraic integer, so the norm of h(s) != 0 is a nonzero rational
 *     with denominator dividing C2^(D k), D = m+1; each conjugate |h(s zeta)| <= 3 H s^D
 *     (H the largest coefficient), hence |h(s)| >= C2^(-Dk) / (3 H s^D)^(k-1); with k <= n,
 *     C2 <= B, and |x - (N-1/2)| = |h(s)| / (2(s^m - 1)).
 */

/* First working precision: 256 bits hold an int64 integer part and ~190 fraction bits, which
 * decides every non-tie whose distance to a half unit exceeds 2^-180. Overridable at build time
 * only so that a verification build (e.g. -DRATE_PREC_START_BITS=2) can drive every input
 * through the refinement rounds; any value >= 1 gives the same results, only slower. */
#ifndef RATE_PREC_START_BITS
#define RATE_PREC_START_BITS 256
#endif

/* Precision rounds: growing twofold from 256 bits reaches any cap these inputs produce (a few million
 * bits at most) in under 20 rounds; 32 bounds the loop. */
#define RATE_PREC_ROUNDS_MAX 32

/* Extra bits on top of the separation bound for the error the interval arithmetic adds. */
#define RATE_PREC_SLACK_BITS 64

#if LONG_MAX < INT64_MAX
#error "rate.c converts int64 to GMP through long: needs a 64-bit long (LP64)"
#endif

const char *rate_status_text(rate_status st)
{
    switch (st) {
    case RATE_OK:
        return "ok";
    case RATE_ERR_EMPTY:
        return "empty rate";
    case RATE_ERR_SYNTAX:
        return "a rate is a decimal fraction like 0.2450 (digits, optional '.' and decimals)";
    case RATE_ERR_PRECISION:
        return "a rate has at most 8 decimals";
    case RATE_ERR_NEGATIVE:
        return "negative value not allowed";
    case RATE_ERR_RANGE:
        return "value outside its allowed range";
    case RATE_ERR_DATE:
        return "invalid date or interval";
    case RATE_ERR_OVERFLOW:
        return "result does not fit 64-bit minor units";
    case RATE_ERR_INTERNAL:
        return "internal error: rounding undecided";
    }
    return "unknown rate status";
}

static bool is_digit(char ch)
{
    return ch >= '0' && ch <= '9';
}

rate_status rate_parse(const char *text, int64_t *out)
{
    assert(text != NULL);
    assert(out != NULL);
    size_t len = strnlen(text, RATE_INPUT_MAX + 1);
    if (len == 0) {
        return RATE_ERR_EMPTY;
    }
    if (len > RATE_INPUT_MAX) {
        return RATE_ERR_RANGE;
    }
    if (text[0] == '-') {
        return RATE_ERR_NEGATIVE;
    }
    size_t i = 0;
    int64_t whole = 0;
    bool too_big = false;
    for (; i < len && is_digit(text[i]); i++) {
        if (!too_big) {
            whole = whole * 10 + (text[i] - '0');
            if (whole * RATE_SCALE > RATE_MAX) {
                too_big = true;
            }
        }
    }
    if (i == 0) {
        return RATE_ERR_SYNTAX;
    }
    int64_t frac = 0;
    int frac_digits = 0;
    if (i < len) {
        if (text[i] != '.') {
            return RATE_ERR_SYNTAX;
        }
        i++;
        for (; i < len && is_digit(text[i]); i++) {
            if (frac_digits < RATE_DECIMALS) {
                frac = frac * 10 + (text[i] - '0');
            }
            frac_digits++;
        }
        if (frac_digits == 0 || i != len) {
            return RATE_ERR_SYNTAX;
        }
        if (frac_digits > RATE_DECIMALS) {
            return RATE_ERR_PRECISION;
        }
    }
    if (too_big) {
        return RATE_ERR_RANGE;
    }
    for (int k = frac_digits; k < RATE_DECIMALS; k++) {
        frac *= 10;
    }
    int64_t value = whole * RATE_SCALE + frac;
    assert(value >= 0 && value <= RATE_MAX); /* whole <= 9 here */
    *out = value;
    return RATE_OK;
}

size_t rate_format_units(int64_t units, int decimals, char *buf, size_t cap)
{
    assert(buf != NULL || cap == 0);
    if (decimals < 0 || decimals > 18) {
        return 0;
    }
    uint64_t mag = units < 0 ? (uint64_t)0 - (uint64_t)units : (uint64_t)units;
    char rev[48];
    size_t count = 0;
    /* At most 20 digits of magnitude, or decimals + 1 digits: 21 iterations. */
    for (; count < sizeof rev && (mag > 0 || count <= (size_t)decimals); count++) {
        rev[count] = (char)('0' + (int)(mag % 10));
        mag /= 10;
    }
    assert(mag == 0);
    size_t len = (units < 0 ? 1u : 0u) + count + (decimals > 0 ? 1u : 0u);
    if (cap <= len) {
        return 0;
    }
    size_t pos = 0;
    if (units < 0) {
        buf[pos++] = '-';
    }
    for (size_t k = count; k > 0; k--) {
        if (k == (size_t)decimals) {
            buf[pos++] = '.';
        }
        buf[pos++] = rev[k - 1];
    }
    buf[pos] = '\0';
    assert(pos == len);
    return len;
}

size_t rate_format(int64_t rate, char *buf, size_t cap)
{
    assert(buf != NULL || cap == 0);
    int keep = RATE_DECIMALS;
    int64_t units = rate;
    /* Drop trailing zero decimals down to four (basis points). */
    for (int k = 0; k < RATE_DECIMALS - 4 && units % 10 == 0; k++) {
        units /= 10;
        keep--;
    }
    return rate_format_units(units, keep, buf, cap);
}

/* ---- dates ---- */

static bool is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int rate_days_in_month(int y, int m)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m < 1 || m > 12) {
        return 0;
    }
    if (m == 2 && is_leap(y)) {
        return 29;
    }
    return days[m - 1];
}

bool rate_date_valid(rate_date date)
{
    if (date.y < RATE_DATE_YEAR_MIN || date.y > RATE_DATE_YEAR_MAX) {
        return false;
    }
    if (date.m < 1 || date.m > 12) {
        return false;
    }
    return date.d >= 1 && date.d <= rate_days_in_month(date.y, date.m);
}

int64_t rate_date_to_days(rate_date date)
{
    assert(rate_date_valid(date));
    /* Howard Hinnant's days_from_civil, for non-negative years. */
    int64_t y = date.y - (date.m <= 2 ? 1 : 0);
    int64_t era = y / 400;
    int64_t yoe = y - era * 400;
    int64_t mp = date.m > 2 ? date.m - 3 : date.m + 9;
    int64_t doy = (153 * mp + 2) / 5 + date.d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    int64_t days = era * 146097 + doe - 719468;
    assert(days > -30000 && days < 3000000);
    return days;
}

bool rate_date_add_months(rate_date from, int months, rate_date *out)
{
    assert(out != NULL);
    if (!rate_date_valid(from)) {
        return false;
    }
    int64_t total = (int64_t)from.y * 12 + (from.m - 1) + months;
    int64_t y = total / 12;
    if (total < 0 || y < RATE_DATE_YEAR_MIN || y > RATE_DATE_YEAR_MAX) {
        return false;
    }
    rate_date r;
    r.y = (int)y;
    r.m = (int)(total % 12) + 1;
    int dim = rate_days_in_month(r.y, r.m);
    r.d = from.d < dim ? from.d : dim;
    assert(rate_date_valid(r));
    *out = r;
    return true;
}

rate_status rate_daycount_fraction(rate_daycount dc, rate_date from, rate_date to, int64_t *num, int64_t *den)
{
    assert(num != NULL);
    assert(den != NULL);
    if (!rate_date_valid(from) || !rate_date_valid(to)) {
        return RATE_ERR_DATE;
    }
    int64_t actual = rate_date_to_days(to) - rate_date_to_days(from);
    if (actual < 0) {
        return RATE_ERR_DATE;
    }
    int64_t days;
    int64_t basis;
    switch (dc) {
    case RATE_DC_ACT_365:
        days = actual;
        basis = 365;
        break;
    case RATE_DC_30_360: {
        int d1 = from.d == 31 ? 30 : from.d;
        int d2 = (to.d == 31 && d1 == 30) ? 30 : to.d;
        days = 360 * (int64_t)(to.y - from.y) + 30 * (int64_t)(to.m - from.m) + (d2 - d1);
        basis = 360;
        break;
    }
    default:
        return RATE_ERR_RANGE;
    }
    assert(days >= 0);
    if (days > RATE_DAYS_MAX) {
        return RATE_ERR_RANGE;
    }
    *num = days;
    *den = basis;
    return RATE_OK;
}

/* ---- correctly rounded evaluation ---- */

typedef enum job_kind {
    JOB_INTEREST, /* x = b * ((A/B)^(a/c) - 1) */
    JOB_ANNUITY,  /* x = P * (s-1) / (1 - s^-m), s = (A/B)^(1/c) */
} job_kind;

typedef struct job {
    job_kind kind;
    int64_t amount;  /* b or P, > 0 */
    int64_t ea;      /* > 0 */
    unsigned long a; /* exponent numerator (interest), >= 1 */
    unsigned long c; /* exponent denominator, or n for the annuity */
    unsigned long m; /* annuity periods */
} job;

/* Scratch MPFR variables of one rounding, all at the current precision. */
typedef struct scratch {
    mpfr_t lo, hi, t, half;
} scratch;

static uint64_t bit_length(uint64_t v)
{
    uint64_t bits = 0;
    for (; v != 0 && bits < 64; bits++) {
        v >>= 1;
    }
    return bits;
}

/* A as in q = A/B = (10^8 + ea)/10^8. */
static uint64_t job_a_num(const job *j)
{
    return (uint64_t)(RATE_SCALE + j->ea);
}

/* Precision at which the interval must decide: separation bound plus the interval's loss. */
static uint64_t job_cap_bits(const job *j)
{
    uint64_t bits_a = bit_length(job_a_num(j));
    uint64_t bits_b = bit_length((uint64_t)RATE_SCALE);
    uint64_t bits_amount = bit_length((uint64_t)j->amount);
    uint64_t log2_q = bits_a - bits_b + 1; /* >= log2(A/B) */
    uint64_t cap;
    if (j->kind == JOB_INTEREST) {
        /* log2 M, M = max(s, t) <= s + 1, s = q^(a/c). */
        uint64_t lm = (j->a * log2_q + j->c - 1) / j->c + 1;
        uint64_t sep = bit_length(j->c) + (j->c - 1) * lm + j->c * (1 + bits_amount) + j->a * bits_b;
        cap = sep + bits_amount + lm + bit_length(j->a) + 8;
    } else {
        uint64_t n = j->c;
        uint64_t ls = (log2_q + n - 1) / n; /* s <= 2^ls */
        uint64_t deg = j->m + 1;
        uint64_t log_h = bits_amount + j->m * ls + 3; /* H <= 2P + 2N <= 4 P s^m + 2 */
        uint64_t sep = deg * n * bits_b + (n - 1) * (2 + log_h + deg * ls) + 1 + j->m * ls;
        cap = sep + log_h + 2 * (bits_b + bit_length(n) + ls + 4) + bit_length(j->m);
    }
    return cap + RATE_PREC_SLACK_BITS;
}

/* Sets *out = q rounded in direction rnd: q = (10^8 + ea) / 10^8. */
static void set_q(mpfr_t out, const job *j, mpfr_rnd_t rnd)
{
    mpfr_set_si(out, (long)job_a_num(j), rnd); /* exact from 31 bits of precision on */
    mpfr_div_ui(out, out, (unsigned long)RATE_SCALE, rnd);
}

/* Bounds of q^(a/c) at the start precision by (ea, a, c), per thread: a loan book has few
 * distinct rates and exponents, and their root (of degree up to 400) is most of an interest's cost
 * (a month-end close computes one for every loan). An entry holds the very values job_eval
 * computes (MPFR's directed rounding is deterministic), so figures do not change. */
#define POW_CACHE_SLOTS 64
struct pow_cache_slot {
    bool used;
    int64_t ea;
    unsigned long a, c;
    mpfr_t lo, hi;
};
static _Thread_local struct pow_cache_slot pow_cache[POW_CACHE_SLOTS];
static _Thread_local unsigned pow_cache_next;

static const struct pow_cache_slot *pow_cached(const job *j)
{
    for (unsigned i = 0; i < POW_CACHE_SLOTS && pow_cache[i].used; i++) {
        const struct pow_cache_slot *x = &pow_cache[i];
        if (x->ea == j->ea && x->a == j->a && x->c == j->c) {
            return x;
        }
    }
    struct pow_cache_slot *x = &pow_cache[pow_cache_next];
    pow_cache_next = (pow_cache_next + 1) % POW_CACHE_SLOTS;
    if (!x->used) {
        mpfr_inits2(RATE_PREC_START_BITS, x->lo, x->hi, (mpfr_ptr)0);
        x->used = true;
    }
    x->ea = j->ea;
    x->a = j->a;
    x->c = j->c;
    const mpfr_rnd_t dir[2] = {MPFR_RNDD, MPFR_RNDU};
    for (int side = 0; side < 2; side++) {
        mpfr_ptr y = side == 0 ? x->lo : x->hi;
        set_q(y, j, dir[side]);
        mpfr_pow_ui(y, y, j->a, dir[side]);
        mpfr_rootn_ui(y, y, j->c, dir[side]);
    }
    return x;
}

/* Certified bounds sc->lo <= x <= sc->hi at the current precision (hi may be +inf). */
static void job_eval(const job *j, scratch *sc)
{
    if (j->kind == JOB_INTEREST && mpfr_get_prec(sc->lo) == RATE_PREC_START_BITS) {
        const struct pow_cache_slot *x = pow_cached(j);
        mpfr_set(sc->lo, x->lo, MPFR_RNDD); /* exact: the same precision */
        mpfr_set(sc->hi, x->hi, MPFR_RNDU);
        mpfr_sub_ui(sc->lo, sc->lo, 1, MPFR_RNDD);
        mpfr_sub_ui(sc->hi, sc->hi, 1, MPFR_RNDU);
        mpfr_mul_si(sc->lo, sc->lo, (long)j->amount, MPFR_RNDD);
        mpfr_mul_si(sc->hi, sc->hi, (long)j->amount, MPFR_RNDU);
        return;
    }
    const mpfr_rnd_t dir[2] = {MPFR_RNDD, MPFR_RNDU};
    for (int side = 0; side < 2; side++) {
        mpfr_rnd_t rnd = dir[side];
        mpfr_rnd_t anti = dir[1 - side];
        mpfr_ptr x = side == 0 ? sc->lo : sc->hi;
        set_q(x, j, rnd);
        if (j->kind == JOB_INTEREST) {
            mpfr_pow_ui(x, x, j->a, rnd);
            mpfr_rootn_ui(x, x, j->c, rnd);
            mpfr_sub_ui(x, x, 1, rnd);
            mpfr_mul_si(x, x, (long)j->amount, rnd);
            continue;
        }
        /* x = P (s-1) / (1 - s^-m), increasing in s: bound s, then numerator in the same
         * direction and denominator in the opposite one. */
        mpfr_rootn_ui(x, x, j->c, rnd);     /* s */
        mpfr_pow_ui(sc->t, x, j->m, anti);  /* s^m */
        mpfr_ui_div(sc->t, 1, sc->t, rnd);  /* s^-m */
        mpfr_ui_sub(sc->t, 1, sc->t, anti); /* 1 - s^-m */
        mpfr_sub_ui(x, x, 1, rnd);          /* s - 1 */
        mpfr_mul_si(x, x, (long)j->amount, rnd);
        if (mpfr_sgn(sc->t) <= 0 || mpfr_sgn(x) <= 0) {
            /* Precision too low to see s > 1: 0 bounds from below, +inf from above. */
            if (side == 0) {
                mpfr_set_zero(x, 1);
            } else {
                mpfr_set_inf(x, 1);
            }
            continue;
        }
        mpfr_div(x, x, sc->t, rnd);
    }
}

/* true when x == N - 1/2 exactly (see the comment at the top). */
static bool job_is_tie(const job *j, const mpz_t n_cand)
{
    bool tie = false;
    mpz_t a_num, b_den, lhs, rhs, two_t;
    mpz_inits(a_num, b_den, lhs, rhs, two_t, NULL);
    mpz_set_si(a_num, (long)job_a_num(j));
    mpz_set_si(b_den, (long)RATE_SCALE);
    /* two_t = 2N - 1 */
    mpz_mul_2exp(two_t, n_cand, 1);
    mpz_sub_ui(two_t, two_t, 1);
    if (j->kind == JOB_INTEREST) {
        mpz_t two_b;
        mpz_init(two_b);
        mpz_set_si(two_b, (long)j->amount);
        mpz_mul_2exp(two_b, two_b, 1);
        mpz_add(lhs, two_b, two_t);
        mpz_pow_ui(lhs, lhs, j->c);
        mpz_pow_ui(rhs, b_den, j->a);
        mpz_mul(lhs, lhs, rhs);
        mpz_pow_ui(rhs, two_b, j->c);
        mpz_pow_ui(two_b, a_num, j->a);
        mpz_mul(rhs, rhs, two_b);
        tie = mpz_sgn(two_t) > 0 && mpz_cmp(lhs, rhs) == 0;
        mpz_clear(two_b);
    } else {
        /* Reduce q, find the least k | n with s^k = c1/c2 rational. */
        unsigned long n = j->c;
        mpz_t g, c1, c2, two_p, term;
        mpz_inits(g, c1, c2, two_p, term, NULL);
        mpz_gcd(g, a_num, b_den);
        mpz_divexact(a_num, a_num, g);
        mpz_divexact(b_den, b_den, g);
        unsigned long k = n;
        for (unsigned long kk = 1; kk <= n; kk++) {
            if (n % kk != 0) {
                continue;
            }
            if (mpz_root(c1, a_num, n / kk) != 0 && mpz_root(c2, b_den, n / kk) != 0) {
                k = kk;
                break;
            }
        }
        assert(k >= 1 && k <= RATE_PERIODS_PER_YEAR_MAX);
        /* h(s) * c2^e, e = floor((m+1)/k): term v X^i -> v c1^(i/k) c2^(e - i/k) s^(i%k). */
        mpz_t coef[RATE_PERIODS_PER_YEAR_MAX];
        for (unsigned long i = 0; i < k; i++) {
            mpz_init(coef[i]);
        }
        unsigned long e = (j->m + 1) / k;
        mpz_set_si(two_p, (long)j->amount);
        mpz_mul_2exp(two_p, two_p, 1);
        const unsigned long power[3] = {j->m + 1, j->m, 0};
        for (int t = 0; t < 3; t++) {
            if (t == 0) {
                mpz_set(term, two_p);
            } else if (t == 1) {
                mpz_add(term, two_p, two_t);
                mpz_neg(term, term);
            } else {
                mpz_set(term, two_t);
            }
            unsigned long qi = power[t] / k;
            mpz_pow_ui(lhs, c1, qi);
            mpz_mul(term, term, lhs);
            mpz_pow_ui(lhs, c2, e - qi);
            mpz_mul(term, term, lhs);
            mpz_add(coef[power[t] % k], coef[power[t] % k], term);
        }
        tie = mpz_sgn(two_t) > 0;
        for (unsigned long i = 0; i < k; i++) {
            if (mpz_sgn(coef[i]) != 0) {
                tie = false;
            }
            mpz_clear(coef[i]);
        }
        mpz_clears(g, c1, c2, two_p, term, NULL);
    }
    mpz_clears(a_num, b_den, lhs, rhs, two_t, NULL);
    return tie;
}

typedef enum decision { DECIDED, REFINE, TOO_BIG } decision;

/* One round at the scratch's precision; on DECIDED *result holds round_half_even(x). */
static decision job_round_once(const job *j, scratch *sc, mpz_t result)
{
    job_eval(j, sc);
    if (!mpfr_number_p(sc->lo)) {
        return REFINE;
    }
    mpfr_add(sc->lo, sc->lo, sc->half, MPFR_RNDD);
    if (mpfr_cmp_ui_2exp(sc->lo, 1, 63) > 0) {
        return TOO_BIG;
    }
    if (!mpfr_number_p(sc->hi) || mpfr_cmp_ui_2exp(sc->hi, 1, 64) > 0) {
        return REFINE;
    }
    mpfr_add(sc->hi, sc->hi, sc->half, MPFR_RNDU);
    mpz_t ceil_lo, floor_hi;
    mpz_inits(ceil_lo, floor_hi, NULL);
    mpfr_get_z(ceil_lo, sc->lo, MPFR_RNDU);
    mpfr_get_z(floor_hi, sc->hi, MPFR_RNDD);
    decision d = REFINE;
    int cmp = mpz_cmp(ceil_lo, floor_hi);
    if (cmp > 0) {
        /* No integer in [lo + 1/2, hi + 1/2]: x + 1/2 lies strictly inside (F, F+1). */
        mpz_set(result, floor_hi);
        d = DECIDED;
    } else if (cmp == 0 && job_is_tie(j, ceil_lo)) {
        /* x = N - 1/2 exactly: the even one of N - 1 and N. */
        mpz_set(result, ceil_lo);
        if (mpz_odd_p(result)) {
            mpz_sub_ui(result, result, 1);
        }
        d = DECIDED;
    }
    mpz_clears(ceil_lo, floor_hi, NULL);
    return d;
}

static rate_status job_round(const job *j, int64_t *out)
{
    assert(j->amount > 0 && j->ea > 0 && j->ea <= RATE_MAX);
    assert(j->c >= 1);
    uint64_t cap = job_cap_bits(j);
    assert(cap < (uint64_t)MPFR_PREC_MAX / 2);
    uint64_t prec = RATE_PREC_START_BITS;
    scratch sc;
    mpfr_inits2(RATE_PREC_START_BITS, sc.lo, sc.hi, sc.t, sc.half, (mpfr_ptr)0);
    mpz_t result;
    mpz_init(result);
    rate_status st = RATE_ERR_INTERNAL;
    for (int round = 0; round < RATE_PREC_ROUNDS_MAX; round++) {
        mpfr_set_prec(sc.lo, (mpfr_prec_t)prec);
        mpfr_set_prec(sc.hi, (mpfr_prec_t)prec);
        mpfr_set_prec(sc.t, (mpfr_prec_t)prec);
        mpfr_set_prec(sc.half, (mpfr_prec_t)prec);
        mpfr_set_ui_2exp(sc.half, 1, -1, MPFR_RNDN);
        decision d = job_round_once(j, &sc, result);
        if (d == TOO_BIG) {
            st = RATE_ERR_OVERFLOW;
            break;
        }
        if (d == DECIDED) {
            if (mpz_sgn(result) < 0 || !mpz_fits_slong_p(result)) {
                st = RATE_ERR_OVERFLOW;
            } else {
                *out = (int64_t)mpz_get_si(result);
                st = RATE_OK;
            }
            break;
        }
        if (prec >= cap) {
            break; /* unreachable: the cap proves a decision (RATE_ERR_INTERNAL) */
        }
        prec = prec * 2 < cap ? prec * 2 : cap;
    }
    mpz_clear(result);
    mpfr_clears(sc.lo, sc.hi, sc.t, sc.half, (mpfr_ptr)0);
    return st;
}

static bool periods_per_year_ok(int n)
{
    return n >= 1 && n <= RATE_PERIODS_PER_YEAR_MAX && RATE_PERIODS_PER_YEAR_MAX % n == 0;
}

static uint64_t gcd_u64(uint64_t x, uint64_t y)
{
    /* Euclid: at most ~93 steps for 64-bit operands. */
    for (int i = 0; i < 128 && y != 0; i++) {
        uint64_t r = x % y;
        x = y;
        y = r;
    }
    return x;
}

rate_status rate_compound_interest(int64_t balance_minor, int64_t ea, int64_t exp_num, int64_t exp_den,
                                   int64_t *interest_minor)
{
    assert(interest_minor != NULL);
    if (balance_minor < 0 || ea < 0 || exp_num < 0) {
        return RATE_ERR_NEGATIVE;
    }
    if (ea > RATE_MAX || exp_num > RATE_DAYS_MAX || exp_den < 1 || exp_den > RATE_EXP_DEN_MAX) {
        return RATE_ERR_RANGE;
    }
    if (balance_minor == 0 || ea == 0 || exp_num == 0) {
        *interest_minor = 0;
        return RATE_OK;
    }
    uint64_t g = gcd_u64((uint64_t)exp_num, (uint64_t)exp_den);
    job j = {
        .kind = JOB_INTEREST,
        .amount = balance_minor,
        .ea = ea,
        .a = (unsigned long)((uint64_t)exp_num / g),
        .c = (unsigned long)((uint64_t)exp_den / g),
        .m = 0,
    };
    return job_round(&j, interest_minor);
}

rate_status rate_period_interest(int64_t balance_minor, int64_t ea, int payments_per_year, int64_t *interest_minor)
{
    assert(interest_minor != NULL);
    if (!periods_per_year_ok(payments_per_year)) {
        return RATE_ERR_RANGE;
    }
    return rate_compound_interest(balance_minor, ea, 1, payments_per_year, interest_minor);
}

rate_status rate_daycount_interest(int64_t balance_minor, int64_t ea, rate_daycount dc, rate_date from, rate_date to,
                                   int64_t *interest_minor)
{
    assert(interest_minor != NULL);
    int64_t num = 0;
    int64_t den = 1;
    rate_status st = rate_daycount_fraction(dc, from, to, &num, &den);
    if (st != RATE_OK) {
        return st;
    }
    return rate_compound_interest(balance_minor, ea, num, den, interest_minor);
}

rate_status rate_periodic(int64_t ea, int payments_per_year, int64_t *periodic_rate)
{
    assert(periodic_rate != NULL);
    return rate_period_interest(RATE_SCALE, ea, payments_per_year, periodic_rate);
}

rate_status rate_annuity_payment(int64_t principal_minor, int64_t ea, int payments_per_year, int periods,
                                 int64_t *payment_minor)
{
    assert(payment_minor != NULL);
    if (principal_minor < 0 || ea < 0) {
        return RATE_ERR_NEGATIVE;
    }
    if (ea > RATE_MAX || !periods_per_year_ok(payments_per_year) || periods < 1 || periods > RATE_ANNUITY_PERIODS_MAX) {
        return RATE_ERR_RANGE;
    }
    if (principal_minor == 0) {
        *payment_minor = 0;
        return RATE_OK;
    }
    if (ea == 0) {
        /* P / m, half-even. */
        int64_t q = principal_minor / periods;
        int64_t r = principal_minor % periods;
        if (2 * r > periods || (2 * r == periods && q % 2 != 0)) {
            q++;
        }
        *payment_minor = q;
        return RATE_OK;
    }
    job j = {
        .kind = JOB_ANNUITY,
        .amount = principal_minor,
        .ea = ea,
        .a = 1,
        .c = (unsigned long)payments_per_year,
        .m = (unsigned long)periods,
    };
    return job_round(&j, payment_minor);
}

void rate_thread_end(void)
{
    for (unsigned i = 0; i < POW_CACHE_SLOTS; i++) {
        if (pow_cache[i].used) {
            mpfr_clears(pow_cache[i].lo, pow_cache[i].hi, (mpfr_ptr)0);
            pow_cache[i].used = false;
        }
    }
    pow_cache_next = 0;
    mpfr_free_cache2(MPFR_FREE_LOCAL_CACHE);
}
