/* schedule: generates a loan's repayment schedule once, at approval, from its terms. */
#include "fundledger/schedule.h"

#include <assert.h>
#include <string.h>

#include "fundledger/money.h"

const char *schedule_status_text(schedule_status st)
{
    switch (st) {
    case SCHEDULE_OK:
        return "ok";
    case SCHEDULE_ERR_PRINCIPAL:
        return "principal must be positive";
    case SCHEDULE_ERR_EXPONENT:
        return "currency exponent out of range";
    case SCHEDULE_ERR_RATE:
        return "rate out of range";
    case SCHEDULE_ERR_FREQUENCY:
        return "payments per year must be 1, 2, 3, 4, 6 or 12";
    case SCHEDULE_ERR_PERIOD:
        return "period in months does not match payments per year";
    case SCHEDULE_ERR_TERM:
        return "number of instalments out of range";
    case SCHEDULE_ERR_GRACE:
        return "grace periods invalid (need 0 <= interest grace <= principal grace < term)";
    case SCHEDULE_ERR_METHOD:
        return "unknown amortisation method";
    case SCHEDULE_ERR_DATE:
        return "invalid first due date or due dates out of range";
    case SCHEDULE_ERR_CAPACITY:
        return "row array too small";
    case SCHEDULE_ERR_OVERFLOW:
        return "amount too large";
    case SCHEDULE_ERR_INTERNAL:
        return "internal error in rate computation";
    }
    return "unknown schedule status";
}

static schedule_status from_rate(rate_status st)
{
    switch (st) {
    case RATE_OK:
        return SCHEDULE_OK;
    case RATE_ERR_OVERFLOW:
        return SCHEDULE_ERR_OVERFLOW;
    default:
        return SCHEDULE_ERR_INTERNAL; /* inputs were validated before */
    }
}

/* Principal grace as it applies: for a bullet, every instalment but the last. */
static int effective_grace_principal(const schedule_terms *t)
{
    return t->method == SCHEDULE_BULLET ? t->instalments - 1 : t->grace_principal;
}

static schedule_status validate(const schedule_terms *t, size_t rows_cap)
{
    if (t->principal_minor <= 0) {
        return SCHEDULE_ERR_PRINCIPAL;
    }
    if (t->exponent < 0 || t->exponent > SCHEDULE_EXPONENT_MAX) {
        return SCHEDULE_ERR_EXPONENT;
    }
    if (t->ea_rate < 0 || t->ea_rate > RATE_MAX) {
        return SCHEDULE_ERR_RATE;
    }
    int n = t->payments_per_year;
    if (n < 1 || n > RATE_PERIODS_PER_YEAR_MAX || RATE_PERIODS_PER_YEAR_MAX % n != 0) {
        return SCHEDULE_ERR_FREQUENCY;
    }
    if (t->period_months < 1 || t->period_months * n != 12) {
        return SCHEDULE_ERR_PERIOD;
    }
    if (t->instalments < 1 || t->instalments > SCHEDULE_INSTALMENTS_MAX) {
        return SCHEDULE_ERR_TERM;
    }
    if (t->method != SCHEDULE_ANNUITY && t->method != SCHEDULE_EQUAL_PRINCIPAL && t->method != SCHEDULE_BULLET) {
        return SCHEDULE_ERR_METHOD;
    }
    if (t->grace_principal < 0 || t->grace_principal > t->instalments - 1 || t->grace_interest < 0 ||
        t->grace_interest > effective_grace_principal(t)) {
        return SCHEDULE_ERR_GRACE;
    }
    rate_date last;
    if (!rate_date_valid(t->first_due) ||
        !rate_date_add_months(t->first_due, (t->instalments - 1) * t->period_months, &last)) {
        return SCHEDULE_ERR_DATE;
    }
    if (rows_cap < (size_t)t->instalments) {
        return SCHEDULE_ERR_CAPACITY;
    }
    return SCHEDULE_OK;
}

schedule_status schedule_check(const schedule_terms *terms)
{
    assert(terms != NULL);
    return validate(terms, SCHEDULE_INSTALMENTS_MAX);
}

/* The level amount of the amortising rows, fixed at the first of them from balance b over m. */
static schedule_status level_amount(const schedule_terms *t, int64_t b, int m, int64_t *level)
{
    assert(b >= 0 && m >= 1);
    switch (t->method) {
    case SCHEDULE_ANNUITY:
        return from_rate(rate_annuity_payment(b, t->ea_rate, t->payments_per_year, m, level));
    case SCHEDULE_EQUAL_PRINCIPAL:
        *level = b / m;
        return SCHEDULE_OK;
    case SCHEDULE_BULLET:
        *level = 0;
        return SCHEDULE_OK;
    }
    assert(0 && "method validated");
    return SCHEDULE_ERR_METHOD;
}

schedule_status schedule_generate(const schedule_terms *terms, schedule_row *rows, size_t rows_cap, size_t *rows_len)
{
    assert(terms != NULL);
    assert(rows_len != NULL);
    *rows_len = 0;
    schedule_status st = validate(terms, rows_cap);
    if (st != SCHEDULE_OK) {
        return st;
    }
    assert(rows != NULL);
    const int term = terms->instalments;
    const int grace_p = effective_grace_principal(terms);
    const int grace_i = terms->grace_interest;
    int64_t balance = terms->principal_minor;
    int64_t capitalised_total = 0;
    int64_t principal_total = 0;
    int64_t level = 0;
    for (int i = 1; i <= term; i++) {
        schedule_row *row = &rows[i - 1];
        row->no = i;
        bool ok = rate_date_add_months(terms->first_due, (i - 1) * terms->period_months, &row->due_date);
        assert(ok && "last due date validated");
        (void)ok;
        int64_t interest = 0;
        st = from_rate(rate_period_interest(balance, terms->ea_rate, terms->payments_per_year, &interest));
        if (st != SCHEDULE_OK) {
            return st;
        }
        int64_t principal = 0;
        row->capitalised_minor = 0;
        if (i <= grace_i) {
            /* Interest grace: nothing paid, the interest joins the balance. */
            if (!money_add(balance, interest, &balance) ||
                !money_add(capitalised_total, interest, &capitalised_total)) {
                return SCHEDULE_ERR_OVERFLOW;
            }
            row->capitalised_minor = interest;
            interest = 0;
        } else if (i > grace_p) {
            if (i == grace_p + 1) {
                st = level_amount(terms, balance, term - grace_p, &level);
                if (st != SCHEDULE_OK) {
                    return st;
                }
            }
            if (i == term) {
                principal = balance;
            } else if (terms->method == SCHEDULE_ANNUITY) {
                /* round(W) >= round(balance * r) because W > B r >= balance r. */
                assert(level >= interest);
                principal = level - interest;
            } else {
                principal = level;
            }
            if (principal > balance) {
                principal = balance; /* rounding would over-repay before the last row */
            }
        }
        assert(principal >= 0 && principal <= balance);
        balance -= principal;
        principal_total += principal;
        row->principal_minor = principal;
        row->interest_minor = interest;
        if (!money_add(principal, interest, &row->total_minor)) {
            return SCHEDULE_ERR_OVERFLOW;
        }
        row->balance_after_minor = balance;
    }
    /* Pair assertions: the principal column repays exactly the principal and the capitalised
     * interest, and nothing is left. */
    assert(balance == 0);
    assert(principal_total - capitalised_total == terms->principal_minor);
    *rows_len = (size_t)term;
    return SCHEDULE_OK;
}

schedule_method schedule_method_of(const char *amortisation)
{
    return strcmp(amortisation, "annuity") == 0           ? SCHEDULE_ANNUITY
           : strcmp(amortisation, "equal_principal") == 0 ? SCHEDULE_EQUAL_PRINCIPAL
                                                          : SCHEDULE_BULLET;
}
