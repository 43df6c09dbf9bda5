/* rate: interest rates as exact decimals (int64 units of 1e-8), dates and day counts, and
 * correctly rounded compound interest and annuity payments (MPFR inside, integers outside). */
#ifndef FUNDLEDGER_RATE_H
#define FUNDLEDGER_RATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A rate is an int64 count of 1e-8: "0.2450" (24.5 %) is 24500000. Eight decimals hold any
 * rate a Colombian contract or the usury table quotes (they use at most 2 decimals of a percent). */
#define RATE_DECIMALS 8
#define RATE_SCALE INT64_C(100000000)

/* Largest accepted rate: 9.99999999 (999.99... % EA). The usury cap is far below (tens of
 * percent); the bound keeps (1+EA)^k small and the exact rounding checks cheap. */
#define RATE_MAX (10 * RATE_SCALE - 1)

/* Longest input rate_parse reads ("0" followed by many zeros is refused beyond this); longest
 * text rate_format writes is "9.99999999" or an int64 with 8 decimals: 22 bytes with NUL. */
#define RATE_INPUT_MAX 64
#define RATE_TEXT_MAX 32

/* Payments per year accepted for periodic rates: the divisors of 12 (monthly, bimonthly,
 * quarterly, four-monthly "cuatrimestral", half-yearly, yearly), so a period is whole months. */
#define RATE_PERIODS_PER_YEAR_MAX 12

/* Longest annuity rate_annuity_payment computes: 600 periods = 50 years of monthly payments,
 * longer than any loan the fund makes. schedule.h checks it equals SCHEDULE_INSTALMENTS_MAX. */
#define RATE_ANNUITY_PERIODS_MAX 600

/* Longest interval for day-count interest: 36600 days (about 100 years). Overdue interest can
 * run past the loan's term, but not for a century; the bound keeps the exact tie check (which
 * raises (1+EA) to the number of days) a bounded amount of work. */
#define RATE_DAYS_MAX 36600

/* Largest denominator of a compounding exponent num/den. 366 covers any day-count basis; an
 * accrual stretch inside an instalment period has exponent (1/n) * days / period_days
 * (docs/loan-servicing.md §2), denominator n * period_days: at most 12 * 31 = 372 act/365 and
 * 12 * 33 = 396 under 30/360 (28 Feb -> 31 Mar is 33 days). 400 covers both. */
#define RATE_EXP_DEN_MAX 400

/* Dates: proleptic Gregorian, years 1900..9999 (ISO 8601 four-digit years, nothing the fund
 * records is older). */
#define RATE_DATE_YEAR_MIN 1900
#define RATE_DATE_YEAR_MAX 9999

typedef enum rate_status {
    RATE_OK = 0,
    RATE_ERR_EMPTY,     /* "" */
    RATE_ERR_SYNTAX,    /* anything but digits[.digits]: "%", spaces, "+", "1.", ".5", "1e-2" */
    RATE_ERR_PRECISION, /* more than 8 decimals */
    RATE_ERR_NEGATIVE,  /* a minus sign, or a negative rate or amount where none is allowed */
    RATE_ERR_RANGE,     /* rate above RATE_MAX, or a count/date/exponent outside its limit */
    RATE_ERR_DATE,      /* an invalid calendar date, or an interval that ends before it starts */
    RATE_ERR_OVERFLOW,  /* the result does not fit int64 minor units */
    RATE_ERR_INTERNAL,  /* rounding could not be decided within the proven precision bound
                         * (unreachable unless the library is broken) */
} rate_status;

/* A short English phrase for a status, for error messages. Static storage. */
const char *rate_status_text(rate_status st);

/* Releases the calling thread's MPFR caches (constants MPFR computes once per thread). Call when
 * a thread that computed rates ends; the HTTP server does it for its worker threads. */
void rate_thread_end(void);

/* Parses a non-negative decimal fraction: digits, optionally '.' and 1..8 digits
 * ("0.245" -> 24500000, "0" -> 0, "1.5" -> 150000000). Percent signs, signs, spaces,
 * exponents, a leading or trailing '.' are refused; a value above RATE_MAX is RATE_ERR_RANGE.
 * text must be NUL-terminated; at most RATE_INPUT_MAX characters are read (longer is
 * RATE_ERR_RANGE). On error *out is untouched. */
rate_status rate_parse(const char *text, int64_t *out);

/* Formats a rate with its significant decimals but at least 4 (basis-point precision):
 * 24500000 -> "0.2450", 12345678 -> "0.12345678", 0 -> "0.0000", 150000000 -> "1.5000".
 * Negative values are written with a '-'. Returns the length (without NUL), or 0 when cap is
 * too small; RATE_TEXT_MAX bytes are always enough. */
size_t rate_format(int64_t rate, char *buf, size_t cap);

/* Formats a scaled integer with exactly `decimals` decimals (0..18): (12345, 4) -> "1.2345",
 * (-5, 2) -> "-0.05", (7, 0) -> "7". Returns the length, or 0 when cap is too small or
 * decimals is out of range; RATE_TEXT_MAX bytes are always enough. */
size_t rate_format_units(int64_t units, int decimals, char *buf, size_t cap);

/* A calendar date. Plain value type; valid when rate_date_valid says so. */
typedef struct rate_date {
    int y; /* RATE_DATE_YEAR_MIN..RATE_DATE_YEAR_MAX */
    int m; /* 1..12 */
    int d; /* 1..days in that month */
} rate_date;

/* true when the date exists in the Gregorian calendar and its year is within limits. */
bool rate_date_valid(rate_date date);

/* Days in a month (m 1..12) of year y, leap years included; 0 when m is out of range. */
int rate_days_in_month(int y, int m);

/* Days since 1970-01-01 (negative before). The date must be valid (asserted). */
int64_t rate_date_to_days(rate_date date);

/* The date `months` months after `from` (negative goes back), with the day clamped to the
 * end of the target month: 2024-01-31 + 1 -> 2024-02-29, 2023-01-31 + 1 -> 2023-02-28,
 * 2024-03-31 - 1 -> 2024-02-29. false (out untouched) when from is invalid or the result
 * leaves the year range. Clamping does not carry over: add to a fixed anchor date, not to the
 * previous result, to keep the anchor's day (31 Jan +1 = 29 Feb, 31 Jan +2 = 31 Mar). */
bool rate_date_add_months(rate_date from, int months, rate_date *out);

/* Day-count conventions for interest between two dates. */
typedef enum rate_daycount {
    RATE_DC_ACT_365 = 1, /* Actual/365 Fixed: actual days / 365 */
    RATE_DC_30_360,      /* 30/360 bond basis (ISDA 2006 4.16(f)): D1 31 -> 30; D2 31 -> 30
                          * when D1 (after that) is 30; days = 360*dY + 30*dM + dD, over 360 */
} rate_daycount;

/* The exact year fraction from..to under a convention, as *num / *den (den 365 or 360, not
 * reduced). RATE_ERR_DATE when a date is invalid or to is before from; RATE_ERR_RANGE for an
 * unknown convention or more than RATE_DAYS_MAX days. */
rate_status rate_daycount_fraction(rate_daycount dc, rate_date from, rate_date to, int64_t *num, int64_t *den);

/* Compound interest, correctly rounded:
 *   *interest_minor = round_half_even(balance * ((1 + ea)^(exp_num/exp_den) - 1))
 * where the real value is rounded, not an approximation of it. balance_minor >= 0,
 * ea in 0..RATE_MAX, exp_num in 0..RATE_DAYS_MAX, exp_den in 1..RATE_EXP_DEN_MAX.
 * Method (see rate.c): MPFR interval bounds from 256 bits, with twice the bits each round
 * while they straddle a half unit; a candidate tie N - 1/2 is checked exactly on integers with GMP
 * ((2b+2N-1)^den * 10^(8*num) == (10^8+ea)^num * (2b)^den), and the precision is capped by a
 * proven separation bound, so the loop always ends with the right answer.
 * Errors: RATE_ERR_NEGATIVE, RATE_ERR_RANGE, RATE_ERR_OVERFLOW; *interest_minor untouched. */
rate_status rate_compound_interest(int64_t balance_minor, int64_t ea, int64_t exp_num, int64_t exp_den,
                                   int64_t *interest_minor);

/* Interest of one payment period when the effective annual rate ea is paid
 * payments_per_year times a year: round_half_even(balance * ((1+ea)^(1/n) - 1)).
 * n must divide 12. Same method and errors as rate_compound_interest. */
rate_status rate_period_interest(int64_t balance_minor, int64_t ea, int payments_per_year, int64_t *interest_minor);

/* Interest between two dates under a day count: round_half_even(balance*((1+ea)^(f)-1)) with
 * f the exact fraction of rate_daycount_fraction (e.g. days/365). For overdue interest. */
rate_status rate_daycount_interest(int64_t balance_minor, int64_t ea, rate_daycount dc, rate_date from, rate_date to,
                                   int64_t *interest_minor);

/* The periodic rate (1+ea)^(1/n) - 1 rounded half-even to 1e-8, for display and storage only:
 * schedules compute interest from the exact rate (rate_period_interest), never from this. */
rate_status rate_periodic(int64_t ea, int payments_per_year, int64_t *periodic_rate);

/* The level payment of an annuity, correctly rounded half-even to the minor unit:
 *   round_half_even(P * r / (1 - (1+r)^-m)),  r = (1+ea)^(1/n) - 1,
 * and P/m rounded half-even when ea is 0. principal_minor >= 0, n divides 12,
 * 1 <= periods <= RATE_ANNUITY_PERIODS_MAX. A candidate tie is checked exactly in
 * Q(s), s = (1+ea)^(1/n) (see rate.c). Errors as rate_compound_interest. */
rate_status rate_annuity_payment(int64_t principal_minor, int64_t ea, int payments_per_year, int periods,
                                 int64_t *payment_minor);

#endif
