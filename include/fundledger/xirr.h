/* xirr: investor performance: IRR over dated cash flows (XIRR, MPFR inside) and the exact
 * multiples DPI, RVPI, TVPI (integer arithmetic). */
#ifndef FUNDLEDGER_XIRR_H
#define FUNDLEDGER_XIRR_H

#include <stddef.h>
#include <stdint.h>

#include "fundledger/rate.h"

/* Most cash flows in one XIRR: a tranche's calls and distributions over its life (monthly for
 * 50 years is 600, plus the NAV); 2000 leaves room and bounds the work of each evaluation. */
#define XIRR_FLOWS_MAX 2000

/* The rate is returned as an int64 count of 1e-10: 0.3733625335 is 3733625335. */
#define XIRR_DECIMALS 10
#define XIRR_SCALE INT64_C(10000000000)

/* Roots are searched for 1 + r in [2^-20, 2^20], i.e. r from -0.99999905 to about 1048575
 * (104,857,500 %): any IRR outside is not a meaningful figure for an investor statement. */
#define XIRR_LOG2_RANGE 20

/* Multiples are int64 counts of 1e-4 (4 decimals): 1.1286 is 11286. */
#define XIRR_MULTIPLE_DECIMALS 4
#define XIRR_MULTIPLE_SCALE 10000

typedef enum xirr_status {
    XIRR_OK = 0,
    XIRR_ERR_COUNT,          /* fewer than 2 flows, or more than XIRR_FLOWS_MAX */
    XIRR_ERR_DATE,           /* a flow's date is invalid */
    XIRR_ERR_NO_SIGN_CHANGE, /* the flows need at least one positive and one negative amount */
    XIRR_ERR_NO_ROOT,        /* no rate in the searched range makes the NPV zero */
    XIRR_ERR_NEGATIVE,       /* a multiple's input is negative */
    XIRR_ERR_ZERO_PAID_IN,   /* multiples need paid-in capital > 0 */
    XIRR_ERR_OVERFLOW,       /* a multiple does not fit int64 */
} xirr_status;

/* A short English phrase for a status, for error messages. Static storage. */
const char *xirr_status_text(xirr_status st);

/* One dated cash flow from the investor's point of view: contributions negative,
 * distributions (and the closing NAV) positive. */
typedef struct xirr_flow {
    rate_date date;
    int64_t amount_minor;
} xirr_flow;

/* Solves sum_i CF_i / (1+r)^((d_i - d_0)/365) = 0 for r (Excel's XIRR; d_0 the earliest date,
 * flows in any order; the root does not depend on which date is d_0). Method: MPFR at 256 bits;
 * the NPV is evaluated on 1+r = 2^k (k = -20..20) and 1.1 (Excel's guess 0.1), the sign change
 * nearest to the guess brackets the root, then Newton's method safeguarded by bisection
 * (bounded iterations) narrows it below 2^-100. *rate_e10 = r rounded to the nearest 1e-10
 * (ties to even). When the flows change sign more than once several roots may exist: the one
 * nearest to 0.1 is returned, as Excel does. Errors: XIRR_ERR_COUNT, _DATE, _NO_SIGN_CHANGE,
 * _NO_ROOT; *rate_e10 untouched on error. */
xirr_status xirr_compute(const xirr_flow *flows, size_t n, int64_t *rate_e10);

/* Formats a rate in 1e-10 with exactly 10 decimals: 3733625335 -> "0.3733625335". Returns
 * the length, or 0 if cap is too small (RATE_TEXT_MAX is enough). */
size_t xirr_format_rate(int64_t rate_e10, char *buf, size_t cap);

typedef struct xirr_multiples {
    int64_t dpi_e4;  /* distributions / paid-in */
    int64_t rvpi_e4; /* NAV / paid-in */
    int64_t tvpi_e4; /* (distributions + NAV) / paid-in */
} xirr_multiples;

/* DPI, RVPI and TVPI, each the exact ratio of integers rounded half-even to 4 decimals
 * (TVPI is rounded from its own exact ratio, so it can differ by 0.0001 from DPI + RVPI as
 * rounded). All inputs in the same minor units; distributions and NAV >= 0, paid-in > 0.
 * Errors: XIRR_ERR_NEGATIVE, XIRR_ERR_ZERO_PAID_IN, XIRR_ERR_OVERFLOW; *out untouched. */
xirr_status xirr_multiples_compute(int64_t distributions_minor, int64_t nav_minor, int64_t paid_in_minor,
                                   xirr_multiples *out);

/* Formats a multiple in 1e-4 with exactly 4 decimals: 11286 -> "1.1286". As xirr_format_rate. */
size_t xirr_format_multiple(int64_t multiple_e4, char *buf, size_t cap);

#endif
