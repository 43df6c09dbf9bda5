/* xirr: internal rate of return over dated flows (MPFR) and exact performance multiples. */
#include "fundledger/xirr.h"

#include <assert.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include <gmp.h>
#include <mpfr.h>

#include "fundledger/money.h"

#if LONG_MAX < INT64_MAX
#error "xirr.c passes int64 amounts to MPFR as long: needs a 64-bit long (LP64)"
#endif

/* Working precision: flows are at most ~2^63 each and 2000 of them; 256 bits keep the NPV's
 * rounding error near the root far below the 2^-100 the root is located to. */
#define XIRR_PREC_BITS 256

/* The root is located to within 2^-100, far finer than the 1e-10 it is rounded to. */
#define XIRR_TOL_LOG2 100

/* Newton/bisection steps: bisection alone needs ~125 to shrink 2^21 to 2^-100; 400 bounds it. */
#define XIRR_ITERATIONS_MAX 400

/* Grid points: 1 + r = 2^k for k = -20..20, plus Excel's guess 1.1 between 2^0 and 2^1. */
#define XIRR_GRID_POINTS (2 * XIRR_LOG2_RANGE + 2)

const char *xirr_status_text(xirr_status st)
{
    switch (st) {
    case XIRR_OK:
        return "ok";
    case XIRR_ERR_COUNT:
        return "number of cash flows out of range";
    case XIRR_ERR_DATE:
        return "invalid cash flow date";
    case XIRR_ERR_NO_SIGN_CHANGE:
        return "cash flows need at least one positive and one negative amount";
    case XIRR_ERR_NO_ROOT:
        return "no internal rate of return in range";
    case XIRR_ERR_NEGATIVE:
        return "negative amount";
    case XIRR_ERR_ZERO_PAID_IN:
        return "paid-in capital must be positive";
    case XIRR_ERR_OVERFLOW:
        return "ratio too large";
    }
    return "unknown xirr status";
}

/* Flows with their day offsets from the earliest date, and scratch variables. */
typedef struct npv_ctx {
    const xirr_flow *flows;
    size_t n;
    int64_t first_day;
    mpfr_t log1p_r, term, f, df;
} npv_ctx;

/* Sets ctx->f = NPV(r) and ctx->df = dNPV/dr. r > -1. */
static void npv_eval(npv_ctx *c, const mpfr_t r)
{
    assert(mpfr_cmp_si(r, -1) > 0);
    mpfr_log1p(c->log1p_r, r, MPFR_RNDN);
    mpfr_set_zero(c->f, 1);
    mpfr_set_zero(c->df, 1);
    for (size_t i = 0; i < c->n; i++) {
        int64_t days = rate_date_to_days(c->flows[i].date) - c->first_day;
        assert(days >= 0);
        /* term = CF * (1+r)^(-days/365) = CF * exp(-days * log1p(r) / 365) */
        mpfr_mul_si(c->term, c->log1p_r, -(long)days, MPFR_RNDN);
        mpfr_div_ui(c->term, c->term, 365, MPFR_RNDN);
        mpfr_exp(c->term, c->term, MPFR_RNDN);
        mpfr_mul_si(c->term, c->term, (long)c->flows[i].amount_minor, MPFR_RNDN);
        mpfr_add(c->f, c->f, c->term, MPFR_RNDN);
        /* d/dr: term * (-days/365) / (1+r) */
        mpfr_mul_si(c->term, c->term, -(long)days, MPFR_RNDN);
        mpfr_div_ui(c->term, c->term, 365, MPFR_RNDN);
        mpfr_add(c->df, c->df, c->term, MPFR_RNDN);
    }
    mpfr_add_ui(c->term, r, 1, MPFR_RNDN);
    mpfr_div(c->df, c->df, c->term, MPFR_RNDN);
}

/* Grid point g (0..XIRR_GRID_POINTS-1) as r, ascending. */
static void grid_rate(mpfr_t r, int g)
{
    const int guess = XIRR_LOG2_RANGE + 1; /* index of 1.1 */
    assert(g >= 0 && g < XIRR_GRID_POINTS);
    if (g == guess) {
        mpfr_set_ui(r, 1, MPFR_RNDN);
        mpfr_div_ui(r, r, 10, MPFR_RNDN); /* 0.1 */
        return;
    }
    long k = g < guess ? (long)g - XIRR_LOG2_RANGE : (long)g - XIRR_LOG2_RANGE - 1;
    mpfr_set_ui_2exp(r, 1, k, MPFR_RNDN); /* exact */
    mpfr_sub_ui(r, r, 1, MPFR_RNDN);      /* exact at 256 bits */
}

/* true when |x| < 2^-XIRR_TOL_LOG2. */
static bool tiny(const mpfr_t x)
{
    return mpfr_zero_p(x) || (mpfr_number_p(x) && mpfr_get_exp(x) <= -XIRR_TOL_LOG2);
}

/* Safeguarded Newton (Numerical Recipes' rtsafe) inside [lo, hi], where npv changes sign;
 * the root goes to `root`. false if it did not converge within XIRR_ITERATIONS_MAX steps. */
static bool refine(npv_ctx *c, mpfr_t lo, mpfr_t hi, mpfr_t root)
{
    mpfr_t xl, xh, dx, dxold, t1, t2;
    mpfr_inits2(XIRR_PREC_BITS, xl, xh, dx, dxold, t1, t2, (mpfr_ptr)0);
    /* Orient so that npv(xl) < 0. */
    npv_eval(c, lo);
    if (mpfr_sgn(c->f) < 0) {
        mpfr_set(xl, lo, MPFR_RNDN);
        mpfr_set(xh, hi, MPFR_RNDN);
    } else {
        mpfr_set(xl, hi, MPFR_RNDN);
        mpfr_set(xh, lo, MPFR_RNDN);
    }
    mpfr_add(root, xl, xh, MPFR_RNDN);
    mpfr_div_2ui(root, root, 1, MPFR_RNDN);
    mpfr_sub(dxold, xh, xl, MPFR_RNDN);
    mpfr_abs(dxold, dxold, MPFR_RNDN);
    mpfr_set(dx, dxold, MPFR_RNDN);
    npv_eval(c, root);
    bool done = mpfr_zero_p(c->f);
    for (int it = 0; it < XIRR_ITERATIONS_MAX && !done; it++) {
        /* Newton leaves the bracket if (root-xh)*df - f and (root-xl)*df - f share a sign;
         * it is too slow if |2f| > |dxold * df|. Then bisect. */
        mpfr_sub(t1, root, xh, MPFR_RNDN);
        mpfr_mul(t1, t1, c->df, MPFR_RNDN);
        mpfr_sub(t1, t1, c->f, MPFR_RNDN);
        mpfr_sub(t2, root, xl, MPFR_RNDN);
        mpfr_mul(t2, t2, c->df, MPFR_RNDN);
        mpfr_sub(t2, t2, c->f, MPFR_RNDN);
        bool outside = mpfr_sgn(t1) * mpfr_sgn(t2) > 0 || mpfr_zero_p(c->df);
        mpfr_mul_2ui(t1, c->f, 1, MPFR_RNDN);
        mpfr_abs(t1, t1, MPFR_RNDN);
        mpfr_mul(t2, dxold, c->df, MPFR_RNDN);
        mpfr_abs(t2, t2, MPFR_RNDN);
        bool slow = mpfr_cmp(t1, t2) > 0;
        mpfr_set(dxold, dx, MPFR_RNDN);
        if (outside || slow) {
            mpfr_sub(dx, xh, xl, MPFR_RNDN);
            mpfr_div_2ui(dx, dx, 1, MPFR_RNDN);
            mpfr_add(root, xl, dx, MPFR_RNDN);
        } else {
            mpfr_div(dx, c->f, c->df, MPFR_RNDN);
            mpfr_sub(root, root, dx, MPFR_RNDN);
        }
        mpfr_sub(t1, xh, xl, MPFR_RNDN);
        if (tiny(dx) || tiny(t1)) {
            done = true;
            break;
        }
        npv_eval(c, root);
        if (mpfr_zero_p(c->f)) {
            done = true;
        } else if (mpfr_sgn(c->f) < 0) {
            mpfr_set(xl, root, MPFR_RNDN);
        } else {
            mpfr_set(xh, root, MPFR_RNDN);
        }
    }
    mpfr_clears(xl, xh, dx, dxold, t1, t2, (mpfr_ptr)0);
    return done;
}

xirr_status xirr_compute(const xirr_flow *flows, size_t n, int64_t *rate_e10)
{
    assert(rate_e10 != NULL);
    if (n < 2 || n > XIRR_FLOWS_MAX) {
        return XIRR_ERR_COUNT;
    }
    assert(flows != NULL);
    bool has_pos = false;
    bool has_neg = false;
    int64_t first_day = INT64_MAX;
    for (size_t i = 0; i < n; i++) {
        if (!rate_date_valid(flows[i].date)) {
            return XIRR_ERR_DATE;
        }
        int64_t day = rate_date_to_days(flows[i].date);
        first_day = day < first_day ? day : first_day;
        has_pos = has_pos || flows[i].amount_minor > 0;
        has_neg = has_neg || flows[i].amount_minor < 0;
    }
    if (!has_pos || !has_neg) {
        return XIRR_ERR_NO_SIGN_CHANGE;
    }

    npv_ctx c = {.flows = flows, .n = n, .first_day = first_day};
    mpfr_inits2(XIRR_PREC_BITS, c.log1p_r, c.term, c.f, c.df, (mpfr_ptr)0);
    mpfr_t lo, hi, root;
    mpfr_inits2(XIRR_PREC_BITS, lo, hi, root, (mpfr_ptr)0);

    /* Signs of the NPV on the grid. */
    int sign[XIRR_GRID_POINTS];
    for (int g = 0; g < XIRR_GRID_POINTS; g++) {
        grid_rate(lo, g);
        npv_eval(&c, lo);
        sign[g] = mpfr_sgn(c.f);
    }
    /* The grid interval with a sign change (or a grid point with NPV 0) nearest to the guess:
     * look at distance 0, 1, ... on the right of the guess, then on its left. */
    const int guess = XIRR_LOG2_RANGE + 1;
    int found = -1; /* left index of the bracket */
    int exact = -1; /* a grid point that is a root */
    for (int d = 0; d < XIRR_GRID_POINTS && found < 0 && exact < 0; d++) {
        const int cand[2] = {guess + d, guess - d - 1};
        for (int k = 0; k < 2 && found < 0 && exact < 0; k++) {
            int g = cand[k];
            if (g < 0 || g + 1 >= XIRR_GRID_POINTS) {
                continue;
            }
            if (sign[g] == 0) {
                exact = g;
            } else if (sign[g + 1] == 0) {
                exact = g + 1;
            } else if (sign[g] != sign[g + 1]) {
                found = g;
            }
        }
    }
    xirr_status st = XIRR_ERR_NO_ROOT;
    bool have_root = false;
    if (exact >= 0) {
        grid_rate(root, exact);
        have_root = true;
    } else if (found >= 0) {
        grid_rate(lo, found);
        grid_rate(hi, found + 1);
        have_root = refine(&c, lo, hi, root);
    }
    if (have_root) {
        /* r * 1e10 to the nearest integer, ties to even (MPFR_RNDN). */
        mpfr_mul_si(root, root, (long)XIRR_SCALE, MPFR_RNDN);
        mpfr_rint(root, root, MPFR_RNDN);
        assert(mpfr_fits_intmax_p(root, MPFR_RNDN));
        *rate_e10 = (int64_t)mpfr_get_sj(root, MPFR_RNDN);
        st = XIRR_OK;
    }
    mpfr_clears(lo, hi, root, (mpfr_ptr)0);
    mpfr_clears(c.log1p_r, c.term, c.f, c.df, (mpfr_ptr)0);
    return st;
}

size_t xirr_format_rate(int64_t rate_e10, char *buf, size_t cap)
{
    assert(buf != NULL || cap == 0);
    return rate_format_units(rate_e10, XIRR_DECIMALS, buf, cap);
}

/* num * 10^4 / den rounded half-even; num >= 0, den > 0. */
static bool ratio_e4(money_i128 num, int64_t den, int64_t *out)
{
    assert(num >= 0 && den > 0);
    return money_div_half_even(num * XIRR_MULTIPLE_SCALE, den, out);
}

xirr_status xirr_multiples_compute(int64_t distributions_minor, int64_t nav_minor, int64_t paid_in_minor,
                                   xirr_multiples *out)
{
    assert(out != NULL);
    if (distributions_minor < 0 || nav_minor < 0 || paid_in_minor < 0) {
        return XIRR_ERR_NEGATIVE;
    }
    if (paid_in_minor == 0) {
        return XIRR_ERR_ZERO_PAID_IN;
    }
    xirr_multiples m;
    /* |num| < 2^64 * 10^4 < 2^78: no i128 overflow. */
    if (!ratio_e4(distributions_minor, paid_in_minor, &m.dpi_e4) || !ratio_e4(nav_minor, paid_in_minor, &m.rvpi_e4) ||
        !ratio_e4((money_i128)distributions_minor + nav_minor, paid_in_minor, &m.tvpi_e4)) {
        return XIRR_ERR_OVERFLOW;
    }
    *out = m;
    return XIRR_OK;
}

size_t xirr_format_multiple(int64_t multiple_e4, char *buf, size_t cap)
{
    assert(buf != NULL || cap == 0);
    return rate_format_units(multiple_e4, XIRR_MULTIPLE_DECIMALS, buf, cap);
}
