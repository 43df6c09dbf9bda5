/* accrual: a loan serviced on an accrual basis (docs/loan-servicing.md): day counts, interest on
 * a balance timeline, default interest under a dated usury cap, schedule re-cuts, allocation,
 * payoff, the cost of credit under the cap and cumulative splits. Pure: no database, no HTTP. */
#ifndef FUNDLEDGER_ACCRUAL_H
#define FUNDLEDGER_ACCRUAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fundledger/rate.h"
#include "fundledger/schedule.h"

/* Dated rates (default rates, usury caps) one loan's replay reads: a fund changes its default
 * rate rarely and the cap changes monthly, so 50 years of monthly caps is 600; 1200 leaves room. */
#define ACCRUAL_RATES_MAX 1200

typedef enum accrual_status {
    ACCRUAL_OK = 0,
    ACCRUAL_ERR_INVALID,  /* a negative amount, events out of date order, bad terms or choice */
    ACCRUAL_ERR_DATE,     /* an invalid date, or an interval that ends before it starts */
    ACCRUAL_ERR_RANGE,    /* a day count or exponent outside the rate engine's limits */
    ACCRUAL_ERR_OVERFLOW, /* an amount exceeds int64 */
    ACCRUAL_ERR_NO_CAP,   /* default interest on a day with no usury cap in force */
    ACCRUAL_ERR_OVERPAID, /* a payment above the payoff on its date */
    ACCRUAL_ERR_CAPACITY, /* an output array too small */
    ACCRUAL_ERR_INTERNAL, /* the rate engine failed (a bug) */
} accrual_status;

/* A short English phrase for a status, for error messages. Static storage. */
const char *accrual_status_text(accrual_status st);

/* Days from..to under a day count (act/365: calendar days; 30/360: rate.h's bond basis).
 * ACCRUAL_ERR_DATE when to is before from or a date is invalid. */
accrual_status accrual_days(rate_daycount dc, rate_date from, rate_date to, int64_t *days);

/* The exponent (year fraction) *num / *den of the stretch [from, to) inside the instalment
 * period (start, end] of a loan paying n times a year: (1/n) * days(from,to) / days(start,end)
 * (docs/loan-servicing.md §2); start <= from <= to <= end. Not reduced. */
accrual_status accrual_period_exponent(rate_daycount dc, int payments_per_year, rate_date start, rate_date end,
                                       rate_date from, rate_date to, int64_t *num, int64_t *den);

/* Interest of one stretch [from, to) on a constant balance, rounded once:
 * round_half_even(balance * ((1+ea)^f - 1)) with f the period fraction when the stretch lies in
 * the period (start, end], the day-count fraction days/year when it lies wholly before start or
 * from end on. A stretch straddling start or end is ACCRUAL_ERR_INVALID (cut it there first). */
accrual_status accrual_stretch_interest(int64_t balance_minor, int64_t ea, rate_daycount dc, int payments_per_year,
                                        rate_date start, rate_date end, rate_date from, rate_date to,
                                        int64_t *interest_minor);

/* A rate in force from a date on (until the next entry). rate < 0: none in force from then. */
struct accrual_rate_from {
    rate_date from;
    int64_t rate; /* EA, 1e-8 units (rate.h) */
};

/* Default interest on a constant overdue amount for [from, to): the stretch is cut at every
 * change of the default rate or of the cap; each piece earns
 * round_half_even(amount * ((1 + min(rate, cap))^(days/year) - 1)). rates and caps are sorted
 * by date (strictly increasing); a day before the first rate, or with rate < 0, has default
 * rate 0; a day before the first cap or with cap < 0 is ACCRUAL_ERR_NO_CAP (unless its default
 * rate is 0). */
accrual_status accrual_default_interest(int64_t amount_minor, rate_daycount dc, rate_date from, rate_date to,
                                        const struct accrual_rate_from *rates, size_t n_rates,
                                        const struct accrual_rate_from *caps, size_t n_caps, int64_t *interest_minor);

typedef enum accrual_choice {
    ACCRUAL_REDUCE_TERM = 1,  /* keep the instalment, fewer rows */
    ACCRUAL_REDUCE_INSTALMENT /* keep the rows, lower instalment */
} accrual_choice;

/* Parses "reduce_term" / "reduce_instalment"; false when neither. */
bool accrual_choice_parse(const char *text, accrual_choice *out);
const char *accrual_choice_name(accrual_choice c);

/* Re-cuts a schedule (docs/loan-servicing.md §7): rows[0..keep) are copied unchanged, and
 * balance_minor (> 0, or 0: no rows after keep) is spread over rows keep+1 .. terms->instalments
 * (numbered on, due dates from terms->first_due), keeping the grace instalments that remain:
 *  - REDUCE_INSTALMENT: schedule_generate on the balance over the remaining count;
 *  - REDUCE_TERM: the level of the first amortising row after keep (not the last) of rows[] is
 *    kept (annuity: its total; equal principal: its principal) and rows end when the balance is
 *    repaid; with no such row (or a bullet) as REDUCE_INSTALMENT.
 * terms are the loan's (principal ignored). out may not alias rows. */
accrual_status accrual_recut(const schedule_terms *terms, const schedule_row *rows, size_t n, size_t keep,
                             int64_t balance_minor, accrual_choice choice, schedule_row *out, size_t out_cap,
                             size_t *out_len);

/* The buckets a payment pays, in this order (domain §6). */
typedef enum accrual_bucket {
    ACCRUAL_BUCKET_FEES = 0,
    ACCRUAL_BUCKET_DEFAULT_INTEREST,
    ACCRUAL_BUCKET_OVERDUE_INTEREST,
    ACCRUAL_BUCKET_OVERDUE_PRINCIPAL,
    ACCRUAL_BUCKET_CURRENT_INTEREST,
    ACCRUAL_BUCKET_CURRENT_PRINCIPAL,
    ACCRUAL_BUCKET_PREPAYMENT,
    ACCRUAL_BUCKETS
} accrual_bucket;

const char *accrual_bucket_name(accrual_bucket b);

/* ---- a loan's replay ---- */

/* One row of a loan's current schedule with what is paid on it. */
struct accrual_row {
    rate_date due;
    int64_t principal_minor;   /* scheduled principal (current version) */
    int64_t interest_minor;    /* final interest once due; before: the period's full figure */
    int64_t capitalised_minor; /* interest-grace rows: interest added to the balance */
    int64_t principal_paid_minor;
    int64_t interest_paid_minor;
    int64_t default_closed_minor; /* default interest of this row's closed stretches */
    rate_date default_from;       /* start of its open default stretch (once due) */
};

/* A loan's state at a date. Large (SCHEDULE_INSTALMENTS_MAX rows): allocate it on the heap.
 * Fields are read by callers; change it only through the functions below. */
struct accrual_loan {
    schedule_terms terms; /* the approved terms; principal_minor = the commitment */
    rate_daycount dc;
    const struct accrual_rate_from *default_rates; /* not owned; sorted */
    size_t n_default_rates;
    const struct accrual_rate_from *caps; /* not owned; sorted */
    size_t n_caps;

    rate_date first_start;    /* start of instalment 1's period: first_due - period_months */
    rate_date clock;          /* state is as of this date (events on it applied) */
    bool started;             /* first drawdown made */
    size_t n_rows;            /* terms.instalments, fewer after a reduce_term re-cut */
    size_t cur;               /* index of the current row: the first with due > clock (n_rows: none) */
    int64_t not_due;          /* principal not yet due: sum over rows >= cur of unpaid principal */
    rate_date open_from;      /* start of the open ordinary stretch of the current row */
    int64_t cur_closed_minor; /* interest of the current row's closed stretches */
    int64_t drawn_minor;
    int64_t principal_repaid_minor;
    int64_t capitalised_minor; /* capitalised so far */
    int64_t fees_charged_minor;
    int64_t fees_paid_minor;
    int64_t default_paid_minor;
    int versions; /* schedule versions made (drawdowns and re-cuts) */
    /* The approval schedule (schedule_generate of terms), borrowed, or NULL: a re-cut of the
     * whole commitment from row 1 is that schedule, copied instead of generated again. */
    const schedule_row *seed;
    struct accrual_row rows[SCHEDULE_INSTALMENTS_MAX];
};

/* Starts the replay of a loan: rows with the terms' due dates, nothing drawn or owed. Checks the
 * terms (schedule_generate's rules) and the rate tables' order. The tables are borrowed. */
accrual_status accrual_loan_init(struct accrual_loan *l, const schedule_terms *terms, rate_daycount dc,
                                 const struct accrual_rate_from *default_rates, size_t n_default_rates,
                                 const struct accrual_rate_from *caps, size_t n_caps);

/* Lends the engine the loan's approval schedule (rows[0..n), as schedule_generate made it from
 * the same terms): a drawdown that re-cuts the whole commitment from row 1 (the first drawdown of
 * the whole principal before instalment 1 is due) copies it instead of generating it again, with
 * the very same result. Rows that do not match the terms (count, numbers, due dates, principal
 * summing to the commitment plus what they capitalise) are not lent: false. Borrowed. */
bool accrual_loan_seed(struct accrual_loan *l, const schedule_row *rows, size_t n);

/* The rows of the schedule version the loan has now (docs/loan-servicing.md §4): rows already
 * due as they ended; the current row with its interest the sum of its stretches (the closed ones
 * and the open one run to its due date: what it owes if nothing else happens; an interest-grace
 * row capitalises what is not paid of it); later rows as the last re-cut made them; each with
 * what is paid on it. out has room for SCHEDULE_INSTALMENTS_MAX rows; *n = l->n_rows. */
accrual_status accrual_loan_version(const struct accrual_loan *l, struct accrual_row *out, size_t *n);

/* Moves the clock to date (not before it): closes due dates on the way (a row's interest
 * becomes final; interest-grace rows capitalise; unpaid principal becomes overdue). */
accrual_status accrual_loan_advance(struct accrual_loan *l, rate_date date);

/* A drawdown of amount (> 0) on date: interest from that day; rows from the current one are
 * re-cut on the new balance (reduce_instalment). */
accrual_status accrual_loan_drawdown(struct accrual_loan *l, rate_date date, int64_t amount_minor);

/* A charge (fee) of amount (> 0) due on date. */
accrual_status accrual_loan_charge(struct accrual_loan *l, rate_date date, int64_t amount_minor);

/* What is owed on date per bucket (PREPAYMENT: the principal a prepayment may repay); the
 * state is not changed (the clock is advanced on a copy). *payoff = the sum. */
accrual_status accrual_loan_due(const struct accrual_loan *l, rate_date date, int64_t due[ACCRUAL_BUCKETS],
                                int64_t *payoff_minor);

/* A payment of amount (> 0) on date, allocated in bucket order; a prepayment re-cuts the rows
 * after the current one by choice. applied[] gets what each bucket took. ACCRUAL_ERR_OVERPAID
 * (state unchanged, *payoff_minor set) when amount is above the payoff. */
accrual_status accrual_loan_pay(struct accrual_loan *l, rate_date date, int64_t amount_minor, accrual_choice choice,
                                int64_t applied[ACCRUAL_BUCKETS], int64_t *payoff_minor);

/* Interest earned from the start to date (ordinary, capitalised included, and default), as the
 * books recognise it: closed stretches at their figures, open ones to date. The accrual posting
 * on a date is this minus what was posted before. State unchanged. */
accrual_status accrual_loan_earned(const struct accrual_loan *l, rate_date date, int64_t *earned_minor);

/* accrual_loan_earned in its two parts: *ordinary (interest, capitalised included) and
 * *default_interest; their sum is accrual_loan_earned's. State unchanged. */
accrual_status accrual_loan_earned_split(const struct accrual_loan *l, rate_date date, int64_t *ordinary,
                                         int64_t *default_interest);

/* Principal outstanding = drawn - repaid + capitalised. */
int64_t accrual_loan_outstanding(const struct accrual_loan *l);

/* ---- charges and the cap ---- */

/* One flow of the borrower's cost-of-credit check: an amount paid at t = num/den years after
 * the drawdown. */
struct accrual_flow {
    int64_t amount_minor;
    int64_t t_num;
    int64_t t_den;
};

/* Total cost of credit under a cap (docs/loan-servicing.md §8): *within = true when the present
 * value of the flows discounted at the cap, sum amount * (1+cap)^(-t), is not above
 * received_minor (the cost EA is then at most the cap). Evaluated with MPFR at 256 bits. */
accrual_status accrual_cost_within_cap(int64_t received_minor, const struct accrual_flow *flows, size_t n, int64_t cap,
                                       bool *within);

/* ---- splits ---- */

/* Splits a cumulative total without drift: target = money_split(total_after, weights), parts[i]
 * = target[i] - held[i] (what tranche i must receive so it holds its target). Parts sum to
 * total_after - sum(held); a part may be one unit of the other sign (largest remainder is not
 * monotone). false on bad weights or overflow. */
bool accrual_split_cumulative(int64_t total_after, const int64_t *weights, size_t n, const int64_t *held,
                              int64_t *parts);

#endif
