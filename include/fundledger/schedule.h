/* schedule: a loan's repayment schedule (annuity, equal principal, bullet; grace periods). */
#ifndef FUNDLEDGER_SCHEDULE_H
#define FUNDLEDGER_SCHEDULE_H

#include <stddef.h>
#include <stdint.h>

#include "fundledger/rate.h"

/* Most instalments in a schedule: 600 = 50 years of monthly instalments, beyond any loan of the
 * fund; bounds the row array and every loop. The annuity formula has the same bound. */
#define SCHEDULE_INSTALMENTS_MAX 600
_Static_assert(SCHEDULE_INSTALMENTS_MAX == RATE_ANNUITY_PERIODS_MAX,
               "the annuity payment must cover every schedule length");

/* Largest currency exponent: ISO 4217's largest minor unit is 4 (CLF, UYW). */
#define SCHEDULE_EXPONENT_MAX 4

typedef enum schedule_method {
    SCHEDULE_ANNUITY = 1,     /* equal instalments after grace (French amortisation) */
    SCHEDULE_EQUAL_PRINCIPAL, /* equal principal after grace, interest on the balance */
    SCHEDULE_BULLET,          /* interest each period, all principal at the last instalment */
} schedule_method;

/* The method a loan's stored `amortisation` names ("annuity", "equal_principal"; anything else,
 * which the database's check leaves as "bullet", is SCHEDULE_BULLET). */
schedule_method schedule_method_of(const char *amortisation);

/* A loan's terms. All amounts in minor units of the loan's currency.
 *
 * Grace, counted from instalment 1:
 *  - grace_interest = k: instalments 1..k pay nothing; each period's interest (rounded half-even
 *    on the balance at the start of the period) is capitalised: added to the balance, so later
 *    interest is charged on it (compounding) and it is repaid as principal. Rows show it in
 *    capitalised_minor. Chosen because crop loans pay at harvest and the borrower still owes the
 *    interest; the alternative (forgiving it) is a subsidy the fund would record elsewhere.
 *  - grace_principal = k: instalments 1..k pay no principal; those after the interest grace pay
 *    the period's interest. It includes the interest-grace instalments, so
 *    0 <= grace_interest <= grace_principal <= instalments - 1 (an instalment that pays no
 *    interest pays no principal either, and the last instalment always repays the balance).
 *    For BULLET every instalment but the last is principal-free anyway: grace_principal only has
 *    to be 0..instalments-1 and grace_interest may go up to instalments - 1.
 * After grace, m = instalments - grace_principal instalments amortise the balance B (principal
 * plus capitalised interest):
 *  - ANNUITY: level payment W = round_half_even(B r / (1 - (1+r)^-m)) (rate_annuity_payment);
 *    each row pays interest i = round_half_even(balance * r) and principal W - i, the last row
 *    pays the remaining balance (so its total absorbs the rounding). If rounding W up would repay
 *    the balance before the last row, the principal is capped at the balance (tiny loans only).
 *  - EQUAL_PRINCIPAL: floor(B / m) each row, the last row B - (m-1) floor(B/m).
 *  - BULLET: B at the last row.
 * r = (1+ea)^(1/payments_per_year) - 1 is never rounded: interest is the correctly rounded
 * value of balance * r (rate_period_interest). The principal column always sums to exactly
 * principal_minor plus the capitalised interest; balance_after of the last row is 0. */
typedef struct schedule_terms {
    int64_t principal_minor; /* > 0 */
    int exponent;            /* currency minor digits, 0..SCHEDULE_EXPONENT_MAX (COP: 2) */
    int64_t ea_rate;         /* effective annual rate in 1e-8 (rate.h), 0..RATE_MAX */
    int payments_per_year;   /* 1, 2, 3, 4, 6 or 12 */
    int period_months;       /* months between due dates; payments_per_year * period_months == 12 */
    int instalments;         /* the term: 1..SCHEDULE_INSTALMENTS_MAX */
    rate_date first_due;     /* due date of instalment 1 */
    int grace_principal;     /* see above */
    int grace_interest;      /* see above */
    schedule_method method;
} schedule_terms;

typedef struct schedule_row {
    int no;                      /* 1..instalments */
    rate_date due_date;          /* first_due + (no-1)*period_months months, end-of-month clamped */
    int64_t principal_minor;     /* principal repaid */
    int64_t interest_minor;      /* interest paid (0 in interest grace) */
    int64_t total_minor;         /* principal + interest: what the borrower pays */
    int64_t capitalised_minor;   /* interest added to the balance (interest grace), else 0 */
    int64_t balance_after_minor; /* balance after this instalment */
} schedule_row;

typedef enum schedule_status {
    SCHEDULE_OK = 0,
    SCHEDULE_ERR_PRINCIPAL, /* principal <= 0 */
    SCHEDULE_ERR_EXPONENT,  /* exponent outside 0..SCHEDULE_EXPONENT_MAX */
    SCHEDULE_ERR_RATE,      /* rate negative or above RATE_MAX */
    SCHEDULE_ERR_FREQUENCY, /* payments per year not a divisor of 12 */
    SCHEDULE_ERR_PERIOD,    /* period_months * payments_per_year != 12 */
    SCHEDULE_ERR_TERM,      /* instalments outside 1..SCHEDULE_INSTALMENTS_MAX */
    SCHEDULE_ERR_GRACE,     /* grace counts negative, out of order, or leaving no repayment */
    SCHEDULE_ERR_METHOD,    /* unknown amortisation method */
    SCHEDULE_ERR_DATE,      /* first due date invalid, or a due date past year 9999 */
    SCHEDULE_ERR_CAPACITY,  /* rows_cap smaller than the number of instalments */
    SCHEDULE_ERR_OVERFLOW,  /* an amount (capitalised balance, instalment) exceeds int64 */
    SCHEDULE_ERR_INTERNAL,  /* the rate engine failed (a bug) */
} schedule_status;

/* A short English phrase for a status, for error messages. Static storage. */
const char *schedule_status_text(schedule_status st);

/* Generates the schedule of `terms` into rows[0 .. instalments-1], the caller's array of
 * rows_cap rows (SCHEDULE_INSTALMENTS_MAX rows are always enough), and sets *rows_len to
 * the number of rows. Pure: no allocation besides MPFR/GMP temporaries, freed before return.
 * On error *rows_len is 0 and the rows' contents are unspecified. */
/* The checks schedule_generate makes of terms, without computing any row (a rows_cap of
 * SCHEDULE_INSTALMENTS_MAX): SCHEDULE_OK when schedule_generate would accept them. */
schedule_status schedule_check(const schedule_terms *terms);

schedule_status schedule_generate(const schedule_terms *terms, schedule_row *rows, size_t rows_cap, size_t *rows_len);

#endif
