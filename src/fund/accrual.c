/* accrual: a loan serviced on an accrual basis; the conventions are docs/loan-servicing.md's. */
#include "fundledger/accrual.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include <mpfr.h>

#include "fundledger/limits.h"
#include "fundledger/money.h"

/* Precision of the cost-of-credit present value: far beyond any money figure (int64 minor
 * units are under 2^63); the comparison is not a rounding to money. */
#define ACCRUAL_PV_BITS 256

const char *accrual_status_text(accrual_status st)
{
    switch (st) {
    case ACCRUAL_OK:
        return "ok";
    case ACCRUAL_ERR_INVALID:
        return "invalid amount, order of events or terms";
    case ACCRUAL_ERR_DATE:
        return "invalid date or interval";
    case ACCRUAL_ERR_RANGE:
        return "day count or exponent out of range";
    case ACCRUAL_ERR_OVERFLOW:
        return "amount too large";
    case ACCRUAL_ERR_NO_CAP:
        return "no usury cap in force for a day of default interest";
    case ACCRUAL_ERR_OVERPAID:
        return "payment above the payoff";
    case ACCRUAL_ERR_CAPACITY:
        return "output array too small";
    case ACCRUAL_ERR_INTERNAL:
        return "internal error in rate computation";
    }
    return "unknown accrual status";
}

const char *accrual_bucket_name(accrual_bucket b)
{
    static const char *const names[ACCRUAL_BUCKETS] = {
        "fees",
        "default_interest",
        "overdue_interest",
        "overdue_principal",
        "current_interest",
        "current_principal",
        "prepayment",
    };
    return (int)b >= 0 && b < ACCRUAL_BUCKETS ? names[b] : "unknown";
}

bool accrual_choice_parse(const char *text, accrual_choice *out)
{
    assert(out != NULL);
    if (text != NULL && strcmp(text, "reduce_term") == 0) {
        *out = ACCRUAL_REDUCE_TERM;
        return true;
    }
    if (text != NULL && strcmp(text, "reduce_instalment") == 0) {
        *out = ACCRUAL_REDUCE_INSTALMENT;
        return true;
    }
    return false;
}

const char *accrual_choice_name(accrual_choice c)
{
    return c == ACCRUAL_REDUCE_INSTALMENT ? "reduce_instalment" : "reduce_term";
}

static accrual_status from_rate(rate_status st)
{
    switch (st) {
    case RATE_OK:
        return ACCRUAL_OK;
    case RATE_ERR_DATE:
        return ACCRUAL_ERR_DATE;
    case RATE_ERR_RANGE:
        return ACCRUAL_ERR_RANGE;
    case RATE_ERR_OVERFLOW:
        return ACCRUAL_ERR_OVERFLOW;
    case RATE_ERR_NEGATIVE:
        return ACCRUAL_ERR_INVALID;
    default:
        return ACCRUAL_ERR_INTERNAL;
    }
}

static int64_t day_no(rate_date d)
{
    return rate_date_to_days(d);
}

static bool before(rate_date a, rate_date b)
{
    return day_no(a) < day_no(b);
}

static rate_date min_date(rate_date a, rate_date b)
{
    return before(b, a) ? b : a;
}

static int64_t min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

accrual_status accrual_days(rate_daycount dc, rate_date from, rate_date to, int64_t *days)
{
    assert(days != NULL);
    int64_t num = 0;
    int64_t den = 1;
    accrual_status st = from_rate(rate_daycount_fraction(dc, from, to, &num, &den));
    if (st == ACCRUAL_OK) {
        *days = num;
    }
    return st;
}

accrual_status accrual_period_exponent(rate_daycount dc, int payments_per_year, rate_date start, rate_date end,
                                       rate_date from, rate_date to, int64_t *num, int64_t *den)
{
    assert(num != NULL && den != NULL);
    if (payments_per_year < 1 || payments_per_year > RATE_PERIODS_PER_YEAR_MAX ||
        RATE_PERIODS_PER_YEAR_MAX % payments_per_year != 0) {
        return ACCRUAL_ERR_INVALID;
    }
    if (!rate_date_valid(start) || !rate_date_valid(end) || !rate_date_valid(from) || !rate_date_valid(to)) {
        return ACCRUAL_ERR_DATE;
    }
    if (before(from, start) || before(to, from) || before(end, to)) {
        return ACCRUAL_ERR_DATE;
    }
    int64_t d = 0;
    int64_t p = 0;
    accrual_status st = accrual_days(dc, from, to, &d);
    if (st == ACCRUAL_OK) {
        st = accrual_days(dc, start, end, &p);
    }
    if (st != ACCRUAL_OK) {
        return st;
    }
    if (p <= 0 || d > p) {
        return ACCRUAL_ERR_DATE; /* a period of no days under 30/360 (30 Jan -> 31 Jan) */
    }
    *num = d;
    *den = (int64_t)payments_per_year * p;
    return ACCRUAL_OK;
}

accrual_status accrual_stretch_interest(int64_t balance, int64_t ea, rate_daycount dc, int n, rate_date start,
                                        rate_date end, rate_date from, rate_date to, int64_t *interest)
{
    assert(interest != NULL);
    if (balance < 0 || ea < 0) {
        return ACCRUAL_ERR_INVALID;
    }
    if (!rate_date_valid(from) || !rate_date_valid(to) || !rate_date_valid(start) || !rate_date_valid(end)) {
        return ACCRUAL_ERR_DATE;
    }
    if (before(to, from)) {
        return ACCRUAL_ERR_DATE;
    }
    if (day_no(from) == day_no(to) || balance == 0 || ea == 0) {
        *interest = 0;
        return ACCRUAL_OK;
    }
    if (!before(start, to) || !before(from, end)) {
        /* Wholly before the period or from its end on: the day count's own fraction. */
        return from_rate(rate_daycount_interest(balance, ea, dc, from, to, interest));
    }
    if (before(from, start) || before(end, to)) {
        return ACCRUAL_ERR_INVALID; /* straddles a period bound */
    }
    int64_t num = 0;
    int64_t den = 1;
    accrual_status st = accrual_period_exponent(dc, n, start, end, from, to, &num, &den);
    if (st != ACCRUAL_OK) {
        return st;
    }
    return from_rate(rate_compound_interest(balance, ea, num, den, interest));
}

/* The entry of a dated table in force on day x: index of the last entry with from <= x, or -1. */
static long in_force(const struct accrual_rate_from *t, size_t n, int64_t x)
{
    long found = -1;
    for (size_t i = 0; i < n && day_no(t[i].from) <= x; i++) {
        found = (long)i;
    }
    return found;
}

/* The first change of a table after day x, or limit. */
static int64_t next_change(const struct accrual_rate_from *t, size_t n, int64_t x, int64_t limit)
{
    for (size_t i = 0; i < n; i++) {
        int64_t d = day_no(t[i].from);
        if (d > x) {
            return d < limit ? d : limit;
        }
    }
    return limit;
}

static bool table_ok(const struct accrual_rate_from *t, size_t n)
{
    if (n > ACCRUAL_RATES_MAX || (n > 0 && t == NULL)) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (!rate_date_valid(t[i].from) || t[i].rate > RATE_MAX || (i > 0 && !before(t[i - 1].from, t[i].from))) {
            return false;
        }
    }
    return true;
}

static rate_date from_day_no(int64_t days)
{
    /* Civil from days (H. Hinnant's algorithm), days since 1970-01-01. */
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = yoe + era * 400;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t d = doy - (153 * mp + 2) / 5 + 1;
    int64_t m = mp < 10 ? mp + 3 : mp - 9;
    rate_date r = {(int)(y + (m <= 2)), (int)m, (int)d};
    return r;
}

accrual_status accrual_default_interest(int64_t amount, rate_daycount dc, rate_date from, rate_date to,
                                        const struct accrual_rate_from *rates, size_t n_rates,
                                        const struct accrual_rate_from *caps, size_t n_caps, int64_t *interest)
{
    assert(interest != NULL);
    if (amount < 0 || !table_ok(rates, n_rates) || !table_ok(caps, n_caps)) {
        return ACCRUAL_ERR_INVALID;
    }
    if (!rate_date_valid(from) || !rate_date_valid(to) || before(to, from)) {
        return ACCRUAL_ERR_DATE;
    }
    int64_t x = day_no(from);
    const int64_t end = day_no(to);
    int64_t total = 0;
    /* Each turn ends at a change of either table or at `to`: at most n_rates + n_caps + 1. */
    for (size_t turn = 0; x < end && turn <= n_rates + n_caps + 1; turn++) {
        int64_t next = next_change(rates, n_rates, x, end);
        next = next_change(caps, n_caps, x, next);
        long ri = in_force(rates, n_rates, x);
        int64_t r = ri < 0 || rates[ri].rate < 0 ? 0 : rates[ri].rate;
        if (r > 0 && amount > 0) {
            long ci = in_force(caps, n_caps, x);
            if (ci < 0 || caps[ci].rate < 0) {
                return ACCRUAL_ERR_NO_CAP;
            }
            int64_t eff = min64(r, caps[ci].rate);
            int64_t part = 0;
            accrual_status st =
                from_rate(rate_daycount_interest(amount, eff, dc, from_day_no(x), from_day_no(next), &part));
            if (st != ACCRUAL_OK) {
                return st;
            }
            if (!money_add(total, part, &total)) {
                return ACCRUAL_ERR_OVERFLOW;
            }
        }
        x = next;
    }
    assert(x == end);
    *interest = total;
    return ACCRUAL_OK;
}

/* ---- re-cut ---- */

static int grace_principal_eff(const schedule_terms *t)
{
    return t->method == SCHEDULE_BULLET ? t->instalments - 1 : t->grace_principal;
}

static accrual_status from_schedule(schedule_status st)
{
    switch (st) {
    case SCHEDULE_OK:
        return ACCRUAL_OK;
    case SCHEDULE_ERR_OVERFLOW:
        return ACCRUAL_ERR_OVERFLOW;
    case SCHEDULE_ERR_CAPACITY:
        return ACCRUAL_ERR_CAPACITY;
    case SCHEDULE_ERR_INTERNAL:
        return ACCRUAL_ERR_INTERNAL;
    default:
        return ACCRUAL_ERR_INVALID;
    }
}

static bool terms_equal(const schedule_terms *a, const schedule_terms *b)
{
    return a->principal_minor == b->principal_minor && a->exponent == b->exponent && a->ea_rate == b->ea_rate &&
           a->payments_per_year == b->payments_per_year && a->period_months == b->period_months &&
           a->instalments == b->instalments && a->first_due.y == b->first_due.y && a->first_due.m == b->first_due.m &&
           a->first_due.d == b->first_due.d && a->grace_principal == b->grace_principal &&
           a->grace_interest == b->grace_interest && a->method == b->method;
}

static accrual_status recut_instalment(const schedule_terms *terms, size_t keep, int64_t balance, schedule_row *out,
                                       size_t out_cap, size_t *out_len)
{
    const int n_left = terms->instalments - (int)keep;
    schedule_terms t = *terms;
    t.principal_minor = balance;
    t.instalments = n_left;
    t.grace_interest = terms->grace_interest > (int)keep ? terms->grace_interest - (int)keep : 0;
    t.grace_principal = terms->grace_principal > (int)keep ? terms->grace_principal - (int)keep : 0;
    if (!rate_date_add_months(terms->first_due, (int)keep * terms->period_months, &t.first_due)) {
        return ACCRUAL_ERR_DATE;
    }
    /* schedule_generate is a pure function of the terms and costs a few hundred microseconds
     * (MPFR): the last result is kept per thread, so replaying many loans with the same re-cut
     * (a drawdown of the whole principal at the start) computes it once. */
    static _Thread_local schedule_terms memo_terms;
    static _Thread_local schedule_row memo_rows[SCHEDULE_INSTALMENTS_MAX];
    static _Thread_local size_t memo_len;
    static _Thread_local bool memo_ok;
    size_t len = 0;
    accrual_status st = ACCRUAL_OK;
    if (memo_ok && terms_equal(&memo_terms, &t) && memo_len <= out_cap - keep) {
        memcpy(out + keep, memo_rows, memo_len * sizeof *memo_rows);
        len = memo_len;
    } else {
        st = from_schedule(schedule_generate(&t, out + keep, out_cap - keep, &len));
        if (st != ACCRUAL_OK) {
            return st;
        }
        memo_terms = t;
        memcpy(memo_rows, out + keep, len * sizeof *memo_rows);
        memo_len = len;
        memo_ok = true;
    }
    for (size_t i = 0; i < len; i++) {
        out[keep + i].no = (int)(keep + i + 1);
    }
    *out_len = keep + len;
    return ACCRUAL_OK;
}

static accrual_status recut_term(const schedule_terms *terms, size_t keep, int64_t balance, int64_t level,
                                 schedule_row *out, size_t out_cap, size_t *out_len)
{
    const int term = terms->instalments;
    const int gp = grace_principal_eff(terms);
    int64_t bal = balance;
    size_t len = keep;
    for (int no = (int)keep + 1; no <= term && bal > 0; no++) {
        if (len >= out_cap) {
            return ACCRUAL_ERR_CAPACITY;
        }
        schedule_row *row = &out[len];
        row->no = no;
        if (!rate_date_add_months(terms->first_due, (no - 1) * terms->period_months, &row->due_date)) {
            return ACCRUAL_ERR_DATE;
        }
        int64_t interest = 0;
        accrual_status st = from_rate(rate_period_interest(bal, terms->ea_rate, terms->payments_per_year, &interest));
        if (st != ACCRUAL_OK) {
            return st;
        }
        int64_t principal = 0;
        row->capitalised_minor = 0;
        if (no <= terms->grace_interest) {
            if (!money_add(bal, interest, &bal)) {
                return ACCRUAL_ERR_OVERFLOW;
            }
            row->capitalised_minor = interest;
            interest = 0;
        } else if (no > gp) {
            if (no == term) {
                principal = bal;
            } else if (terms->method == SCHEDULE_ANNUITY) {
                principal = level - interest;
            } else {
                principal = level;
            }
            principal = min64(principal, bal);
        }
        assert(principal >= 0);
        bal -= principal;
        row->principal_minor = principal;
        row->interest_minor = interest;
        if (!money_add(principal, interest, &row->total_minor)) {
            return ACCRUAL_ERR_OVERFLOW;
        }
        row->balance_after_minor = bal;
        len++;
    }
    assert(bal == 0);
    *out_len = len;
    return ACCRUAL_OK;
}

accrual_status accrual_recut(const schedule_terms *terms, const schedule_row *rows, size_t n, size_t keep,
                             int64_t balance, accrual_choice choice, schedule_row *out, size_t out_cap, size_t *out_len)
{
    assert(terms != NULL && out != NULL && out_len != NULL);
    *out_len = 0;
    if (balance < 0 || keep > n || n > SCHEDULE_INSTALMENTS_MAX || keep > (size_t)terms->instalments ||
        (keep > 0 && rows == NULL) || (choice != ACCRUAL_REDUCE_TERM && choice != ACCRUAL_REDUCE_INSTALMENT) ||
        terms->instalments < 1 || terms->instalments > SCHEDULE_INSTALMENTS_MAX) {
        return ACCRUAL_ERR_INVALID;
    }
    if (keep > out_cap) {
        return ACCRUAL_ERR_CAPACITY;
    }
    if (keep > 0) {
        memmove(out, rows, keep * sizeof *out);
    }
    if (balance == 0) {
        *out_len = keep;
        return ACCRUAL_OK;
    }
    if (keep == (size_t)terms->instalments) {
        return ACCRUAL_ERR_INVALID; /* no row left to repay the balance */
    }
    int64_t level = 0;
    if (choice == ACCRUAL_REDUCE_TERM && terms->method != SCHEDULE_BULLET) {
        const int gp = grace_principal_eff(terms);
        for (size_t k = keep; k + 1 < n; k++) {
            if (rows[k].no > gp) {
                level = terms->method == SCHEDULE_ANNUITY ? rows[k].total_minor : rows[k].principal_minor;
                break;
            }
        }
    }
    if (level > 0) {
        /* The level must beat the first amortising row's interest or the balance never falls. */
        int64_t i0 = 0;
        accrual_status st = from_rate(rate_period_interest(balance, terms->ea_rate, terms->payments_per_year, &i0));
        if (st != ACCRUAL_OK) {
            return st;
        }
        if (terms->method != SCHEDULE_ANNUITY || level > i0) {
            return recut_term(terms, keep, balance, level, out, out_cap, out_len);
        }
    }
    return recut_instalment(terms, keep, balance, out, out_cap, out_len);
}

/* ---- a loan's replay ---- */

static rate_date period_start(const struct accrual_loan *l, size_t i)
{
    return i == 0 ? l->first_start : l->rows[i - 1].due;
}

static int64_t unpaid_principal(const struct accrual_row *r)
{
    return r->principal_minor - r->principal_paid_minor;
}

accrual_status accrual_loan_init(struct accrual_loan *l, const schedule_terms *terms, rate_daycount dc,
                                 const struct accrual_rate_from *default_rates, size_t n_default_rates,
                                 const struct accrual_rate_from *caps, size_t n_caps)
{
    assert(l != NULL && terms != NULL);
    if ((dc != RATE_DC_ACT_365 && dc != RATE_DC_30_360) || !table_ok(default_rates, n_default_rates) ||
        !table_ok(caps, n_caps)) {
        return ACCRUAL_ERR_INVALID;
    }
    /* Only the due dates are needed before the first drawdown: the terms are checked as
     * schedule_generate checks them and the dates are its dates (first_due + (no-1) periods). */
    accrual_status st = from_schedule(schedule_check(terms));
    size_t len = st == ACCRUAL_OK ? (size_t)terms->instalments : 0;
    memset(l, 0, sizeof *l);
    if (st == ACCRUAL_OK && !rate_date_add_months(terms->first_due, -terms->period_months, &l->first_start)) {
        st = ACCRUAL_ERR_DATE;
    }
    if (st == ACCRUAL_OK) {
        l->terms = *terms;
        l->dc = dc;
        l->default_rates = default_rates;
        l->n_default_rates = n_default_rates;
        l->caps = caps;
        l->n_caps = n_caps;
        l->clock = (rate_date){RATE_DATE_YEAR_MIN, 1, 1};
        l->open_from = l->clock;
        l->n_rows = len;
        for (size_t i = 0; i < len && st == ACCRUAL_OK; i++) {
            if (!rate_date_add_months(terms->first_due, (int)i * terms->period_months, &l->rows[i].due)) {
                st = ACCRUAL_ERR_DATE;
            }
            l->rows[i].default_from = l->rows[i].due;
        }
    }
    return st;
}

/* Interest of the open ordinary stretch [open_from, to) of the current row: the stub before
 * the first period and the part inside the period are separate stretches. */
static accrual_status open_interest(const struct accrual_loan *l, rate_date to, int64_t *out)
{
    *out = 0;
    if (l->cur >= l->n_rows || l->not_due == 0 || !before(l->open_from, to)) {
        return ACCRUAL_OK;
    }
    const rate_date s = period_start(l, l->cur);
    const rate_date e = l->rows[l->cur].due;
    rate_date a = l->open_from;
    int64_t total = 0;
    if (before(a, s)) {
        rate_date b = min_date(to, s);
        int64_t part = 0;
        accrual_status st = accrual_stretch_interest(l->not_due, l->terms.ea_rate, l->dc, l->terms.payments_per_year, s,
                                                     e, a, b, &part);
        if (st != ACCRUAL_OK) {
            return st;
        }
        total = part;
        a = b;
    }
    if (before(a, to)) {
        int64_t part = 0;
        accrual_status st = accrual_stretch_interest(l->not_due, l->terms.ea_rate, l->dc, l->terms.payments_per_year, s,
                                                     e, a, to, &part);
        if (st != ACCRUAL_OK) {
            return st;
        }
        if (!money_add(total, part, &total)) {
            return ACCRUAL_ERR_OVERFLOW;
        }
    }
    *out = total;
    return ACCRUAL_OK;
}

/* Default interest of row i's open stretch [default_from, to). */
static accrual_status open_default(const struct accrual_loan *l, size_t i, rate_date to, int64_t *out)
{
    const struct accrual_row *r = &l->rows[i];
    *out = 0;
    if (unpaid_principal(r) == 0 || !before(r->default_from, to)) {
        return ACCRUAL_OK;
    }
    return accrual_default_interest(unpaid_principal(r), l->dc, r->default_from, to, l->default_rates,
                                    l->n_default_rates, l->caps, l->n_caps, out);
}

static void to_schedule_rows(const struct accrual_loan *l, schedule_row *rows)
{
    for (size_t i = 0; i < l->n_rows; i++) {
        const struct accrual_row *r = &l->rows[i];
        rows[i].no = (int)i + 1;
        rows[i].due_date = r->due;
        rows[i].principal_minor = r->principal_minor;
        rows[i].interest_minor = r->interest_minor;
        rows[i].total_minor = r->principal_minor + r->interest_minor;
        rows[i].capitalised_minor = r->capitalised_minor;
        rows[i].balance_after_minor = 0;
    }
}

/* Re-cuts rows keep.. on balance (their payments are none: payments never reach rows after
 * the current one, and a drawdown re-cuts from the current row only when it is unpaid). */
static accrual_status recut_rows(struct accrual_loan *l, size_t keep, int64_t balance, accrual_choice choice)
{
    schedule_row *in = malloc(2 * SCHEDULE_INSTALMENTS_MAX * sizeof *in);
    if (in == NULL) {
        return ACCRUAL_ERR_CAPACITY;
    }
    schedule_row *out = in + SCHEDULE_INSTALMENTS_MAX;
    size_t len = 0;
    accrual_status st = ACCRUAL_OK;
    if (l->seed != NULL && keep == 0 && balance == l->terms.principal_minor && choice == ACCRUAL_REDUCE_INSTALMENT) {
        /* The re-cut of the whole commitment from row 1 is schedule_generate of the terms
         * themselves (recut_instalment with keep 0): the approval schedule, lent by the caller. */
        len = (size_t)l->terms.instalments;
        memcpy(out, l->seed, len * sizeof *out);
    } else {
        to_schedule_rows(l, in);
        st = accrual_recut(&l->terms, in, l->n_rows, keep, balance, choice, out, SCHEDULE_INSTALMENTS_MAX, &len);
    }
    if (st == ACCRUAL_OK) {
        for (size_t i = keep; i < len; i++) {
            struct accrual_row *r = &l->rows[i];
            assert(r->principal_paid_minor == 0 && r->interest_paid_minor == 0);
            memset(r, 0, sizeof *r);
            r->due = out[i].due_date;
            r->default_from = r->due;
            r->principal_minor = out[i].principal_minor;
            r->interest_minor = out[i].interest_minor;
            r->capitalised_minor = out[i].capitalised_minor;
        }
        for (size_t i = len; i < l->n_rows; i++) {
            memset(&l->rows[i], 0, sizeof l->rows[i]);
        }
        l->n_rows = len < keep ? keep : len;
        l->versions++;
    }
    free(in);
    return st;
}

bool accrual_loan_seed(struct accrual_loan *l, const schedule_row *rows, size_t n)
{
    assert(l != NULL);
    l->seed = NULL;
    if (rows == NULL || l->started || n != (size_t)l->terms.instalments || n != l->n_rows ||
        n > SCHEDULE_INSTALMENTS_MAX) {
        return false;
    }
    int64_t principal = 0, capitalised = 0;
    for (size_t i = 0; i < n; i++) {
        const schedule_row *r = &rows[i];
        if (r->no != (int)i + 1 || day_no(r->due_date) != day_no(l->rows[i].due) || r->principal_minor < 0 ||
            r->interest_minor < 0 || r->capitalised_minor < 0 || r->principal_minor > MONEY_AMOUNT_MAX ||
            r->capitalised_minor > MONEY_AMOUNT_MAX || r->total_minor != r->principal_minor + r->interest_minor) {
            return false;
        }
        principal += r->principal_minor;
        capitalised += r->capitalised_minor;
    }
    if (principal != l->terms.principal_minor + capitalised) {
        return false;
    }
    l->seed = rows;
    return true;
}

accrual_status accrual_loan_version(const struct accrual_loan *l, struct accrual_row *out, size_t *n)
{
    assert(l != NULL && out != NULL && n != NULL);
    assert(l->n_rows <= SCHEDULE_INSTALMENTS_MAX);
    memcpy(out, l->rows, l->n_rows * sizeof *out);
    *n = l->n_rows;
    if (!l->started || l->cur >= l->n_rows) {
        return ACCRUAL_OK;
    }
    int64_t open = 0, total = 0;
    accrual_status st = open_interest(l, l->rows[l->cur].due, &open);
    if (st != ACCRUAL_OK) {
        return st;
    }
    if (!money_add(l->cur_closed_minor, open, &total)) {
        return ACCRUAL_ERR_OVERFLOW;
    }
    struct accrual_row *r = &out[l->cur];
    if ((int)l->cur + 1 <= l->terms.grace_interest) {
        if (total < r->interest_paid_minor) {
            return ACCRUAL_ERR_INTERNAL;
        }
        r->interest_minor = r->interest_paid_minor;
        r->capitalised_minor = total - r->interest_paid_minor;
    } else {
        r->interest_minor = total;
    }
    return ACCRUAL_OK;
}

/* Sum of the unpaid principal of rows from..n_rows (scheduled, not yet due). */
static int64_t unpaid_from(const struct accrual_loan *l, size_t from)
{
    int64_t s = 0;
    for (size_t i = from; i < l->n_rows; i++) {
        s += unpaid_principal(&l->rows[i]);
    }
    return s;
}

accrual_status accrual_loan_advance(struct accrual_loan *l, rate_date date)
{
    assert(l != NULL);
    if (!rate_date_valid(date) || before(date, l->clock)) {
        return ACCRUAL_ERR_DATE;
    }
    /* One turn per due date passed, and a last one: bounded by the rows. */
    for (size_t turn = 0; turn <= SCHEDULE_INSTALMENTS_MAX && l->cur < l->n_rows; turn++) {
        struct accrual_row *r = &l->rows[l->cur];
        if (before(date, r->due)) {
            break;
        }
        /* The current period ends: its interest is final. */
        int64_t part = 0;
        accrual_status st = open_interest(l, r->due, &part);
        if (st != ACCRUAL_OK) {
            return st;
        }
        int64_t interest = 0;
        if (!money_add(l->cur_closed_minor, part, &interest)) {
            return ACCRUAL_ERR_OVERFLOW;
        }
        if ((int)l->cur + 1 <= l->terms.grace_interest) {
            /* Interest grace: what was not paid joins the balance. */
            int64_t cap = interest - r->interest_paid_minor;
            assert(cap >= 0);
            r->interest_minor = r->interest_paid_minor;
            r->capitalised_minor = cap;
            if (!money_add(l->not_due, cap, &l->not_due) ||
                !money_add(l->capitalised_minor, cap, &l->capitalised_minor)) {
                return ACCRUAL_ERR_OVERFLOW;
            }
        } else {
            r->interest_minor = interest;
        }
        l->not_due -= unpaid_principal(r);
        assert(l->not_due >= 0);
        int64_t future_cap = 0;
        r->default_from = r->due;
        l->open_from = r->due;
        l->cur_closed_minor = 0;
        l->cur++;
        /* The rows after must repay what is not due; a capitalisation other than the one the
         * version foresaw (a drawdown inside a grace period) re-cuts them. */
        for (size_t i = l->cur; i < l->n_rows; i++) {
            future_cap += l->rows[i].capitalised_minor;
        }
        if (l->cur < l->n_rows && unpaid_from(l, l->cur) != l->not_due + future_cap) {
            st = recut_rows(l, l->cur, l->not_due, ACCRUAL_REDUCE_INSTALMENT);
            if (st != ACCRUAL_OK) {
                return st;
            }
        }
    }
    l->clock = date;
    return ACCRUAL_OK;
}

/* Closes the open ordinary stretch at the clock (the balance changes from that day on). */
static accrual_status close_open(struct accrual_loan *l)
{
    int64_t part = 0;
    accrual_status st = open_interest(l, l->clock, &part);
    if (st != ACCRUAL_OK) {
        return st;
    }
    if (!money_add(l->cur_closed_minor, part, &l->cur_closed_minor)) {
        return ACCRUAL_ERR_OVERFLOW;
    }
    l->open_from = l->clock;
    return ACCRUAL_OK;
}

accrual_status accrual_loan_drawdown(struct accrual_loan *l, rate_date date, int64_t amount)
{
    assert(l != NULL);
    if (amount <= 0) {
        return ACCRUAL_ERR_INVALID;
    }
    accrual_status st = accrual_loan_advance(l, date);
    if (st != ACCRUAL_OK) {
        return st;
    }
    if (l->cur >= l->n_rows) {
        return ACCRUAL_ERR_INVALID; /* after the last due date */
    }
    if ((st = close_open(l)) != ACCRUAL_OK) {
        return st;
    }
    int64_t drawn = 0;
    int64_t not_due = 0;
    if (!money_add(l->drawn_minor, amount, &drawn) || !money_add(l->not_due, amount, &not_due)) {
        return ACCRUAL_ERR_OVERFLOW;
    }
    const struct accrual_row *c = &l->rows[l->cur];
    size_t keep = l->cur;
    int64_t balance = not_due;
    if (c->principal_paid_minor > 0 || c->interest_paid_minor > 0) {
        keep = l->cur + 1; /* the current row keeps what was paid on it */
        balance = not_due - unpaid_principal(c);
        if (keep >= (size_t)l->terms.instalments) {
            return ACCRUAL_ERR_INVALID;
        }
    }
    l->drawn_minor = drawn;
    l->not_due = not_due;
    l->started = true;
    return recut_rows(l, keep, balance, ACCRUAL_REDUCE_INSTALMENT);
}

accrual_status accrual_loan_charge(struct accrual_loan *l, rate_date date, int64_t amount)
{
    assert(l != NULL);
    if (amount <= 0) {
        return ACCRUAL_ERR_INVALID;
    }
    accrual_status st = accrual_loan_advance(l, date);
    if (st != ACCRUAL_OK) {
        return st;
    }
    if (!money_add(l->fees_charged_minor, amount, &l->fees_charged_minor)) {
        return ACCRUAL_ERR_OVERFLOW;
    }
    return ACCRUAL_OK;
}

/* The row a payment on the clock's date pays as "current": the row due that very day, else the
 * row whose period runs (cur; n_rows after the last due date). */
static size_t current_row(const struct accrual_loan *l)
{
    if (l->cur > 0 && day_no(l->rows[l->cur - 1].due) == day_no(l->clock)) {
        return l->cur - 1;
    }
    return l->cur;
}

/* What is owed at the clock, per bucket. */
static accrual_status due_now(const struct accrual_loan *l, int64_t due[ACCRUAL_BUCKETS], int64_t *payoff)
{
    memset(due, 0, ACCRUAL_BUCKETS * sizeof due[0]);
    due[ACCRUAL_BUCKET_FEES] = l->fees_charged_minor - l->fees_paid_minor;
    const size_t cr = current_row(l);
    int64_t def = 0;
    bool ok = true;
    for (size_t i = 0; i < l->cur && ok; i++) {
        const struct accrual_row *r = &l->rows[i];
        int64_t open = 0;
        accrual_status st = open_default(l, i, l->clock, &open);
        if (st != ACCRUAL_OK) {
            return st;
        }
        ok = money_add(def, r->default_closed_minor, &def) && money_add(def, open, &def);
        if (i < cr) {
            ok = ok &&
                 money_add(due[ACCRUAL_BUCKET_OVERDUE_INTEREST], r->interest_minor - r->interest_paid_minor,
                           &due[ACCRUAL_BUCKET_OVERDUE_INTEREST]) &&
                 money_add(due[ACCRUAL_BUCKET_OVERDUE_PRINCIPAL], unpaid_principal(r),
                           &due[ACCRUAL_BUCKET_OVERDUE_PRINCIPAL]);
        }
    }
    if (!ok) {
        return ACCRUAL_ERR_OVERFLOW;
    }
    due[ACCRUAL_BUCKET_DEFAULT_INTEREST] = def - l->default_paid_minor;
    if (cr < l->cur) {
        /* Paid on its due date: the row due today is current; what runs from today is not due. */
        const struct accrual_row *c = &l->rows[cr];
        due[ACCRUAL_BUCKET_CURRENT_INTEREST] = c->interest_minor - c->interest_paid_minor;
        due[ACCRUAL_BUCKET_CURRENT_PRINCIPAL] = unpaid_principal(c);
        due[ACCRUAL_BUCKET_PREPAYMENT] = l->not_due;
    } else if (cr < l->n_rows) {
        const struct accrual_row *c = &l->rows[cr];
        int64_t open = 0;
        accrual_status st = open_interest(l, l->clock, &open);
        if (st != ACCRUAL_OK) {
            return st;
        }
        due[ACCRUAL_BUCKET_CURRENT_INTEREST] = l->cur_closed_minor + open - c->interest_paid_minor;
        due[ACCRUAL_BUCKET_CURRENT_PRINCIPAL] = unpaid_principal(c);
        due[ACCRUAL_BUCKET_PREPAYMENT] = l->not_due - unpaid_principal(c);
    }
    int64_t sum = 0;
    for (int b = 0; b < ACCRUAL_BUCKETS; b++) {
        if (due[b] < 0) {
            return ACCRUAL_ERR_INTERNAL;
        }
        if (!money_add(sum, due[b], &sum)) {
            return ACCRUAL_ERR_OVERFLOW;
        }
    }
    *payoff = sum;
    return ACCRUAL_OK;
}

accrual_status accrual_loan_due(const struct accrual_loan *l, rate_date date, int64_t due[ACCRUAL_BUCKETS],
                                int64_t *payoff)
{
    assert(l != NULL && due != NULL && payoff != NULL);
    struct accrual_loan *copy = malloc(sizeof *copy);
    if (copy == NULL) {
        return ACCRUAL_ERR_CAPACITY;
    }
    memcpy(copy, l, sizeof *copy);
    accrual_status st = accrual_loan_advance(copy, date);
    if (st == ACCRUAL_OK) {
        st = due_now(copy, due, payoff);
    }
    free(copy);
    return st;
}

/* Pays amount of a due row's principal: its default stretch closes on the clock's date. */
static accrual_status pay_due_principal(struct accrual_loan *l, size_t i, int64_t amount)
{
    struct accrual_row *r = &l->rows[i];
    assert(amount >= 0 && amount <= unpaid_principal(r));
    if (amount == 0) {
        return ACCRUAL_OK;
    }
    int64_t open = 0;
    accrual_status st = open_default(l, i, l->clock, &open);
    if (st != ACCRUAL_OK) {
        return st;
    }
    if (!money_add(r->default_closed_minor, open, &r->default_closed_minor)) {
        return ACCRUAL_ERR_OVERFLOW;
    }
    r->default_from = l->clock;
    r->principal_paid_minor += amount;
    return ACCRUAL_OK;
}

accrual_status accrual_loan_pay(struct accrual_loan *l, rate_date date, int64_t amount, accrual_choice choice,
                                int64_t applied[ACCRUAL_BUCKETS], int64_t *payoff)
{
    assert(l != NULL && applied != NULL && payoff != NULL);
    if (amount <= 0 || (choice != ACCRUAL_REDUCE_TERM && choice != ACCRUAL_REDUCE_INSTALMENT)) {
        return ACCRUAL_ERR_INVALID;
    }
    accrual_status st = accrual_loan_advance(l, date);
    if (st != ACCRUAL_OK) {
        return st;
    }
    int64_t due[ACCRUAL_BUCKETS];
    if ((st = due_now(l, due, payoff)) != ACCRUAL_OK) {
        return st;
    }
    if (amount > *payoff) {
        return ACCRUAL_ERR_OVERPAID;
    }
    int64_t left = amount;
    for (int b = 0; b < ACCRUAL_BUCKETS; b++) {
        applied[b] = min64(left, due[b]);
        left -= applied[b];
    }
    assert(left == 0);
    l->fees_paid_minor += applied[ACCRUAL_BUCKET_FEES];
    l->default_paid_minor += applied[ACCRUAL_BUCKET_DEFAULT_INTEREST];
    const size_t cr = current_row(l);
    int64_t oi = applied[ACCRUAL_BUCKET_OVERDUE_INTEREST];
    int64_t op = applied[ACCRUAL_BUCKET_OVERDUE_PRINCIPAL];
    for (size_t i = 0; i < cr; i++) {
        struct accrual_row *r = &l->rows[i];
        int64_t a = min64(oi, r->interest_minor - r->interest_paid_minor);
        r->interest_paid_minor += a;
        oi -= a;
    }
    for (size_t i = 0; i < cr && op > 0; i++) {
        int64_t a = min64(op, unpaid_principal(&l->rows[i]));
        if ((st = pay_due_principal(l, i, a)) != ACCRUAL_OK) {
            return st;
        }
        op -= a;
    }
    assert(oi == 0 && op == 0);
    const int64_t ci = applied[ACCRUAL_BUCKET_CURRENT_INTEREST];
    const int64_t cp = applied[ACCRUAL_BUCKET_CURRENT_PRINCIPAL];
    const int64_t pp = applied[ACCRUAL_BUCKET_PREPAYMENT];
    if (ci + cp > 0) {
        assert(cr < l->n_rows);
        l->rows[cr].interest_paid_minor += ci;
    }
    if (cr < l->cur) {
        /* The row due today: its principal already left the balance that earns interest. */
        if (cp > 0 && (st = pay_due_principal(l, cr, cp)) != ACCRUAL_OK) {
            return st;
        }
        if (pp > 0) {
            if ((st = close_open(l)) != ACCRUAL_OK) {
                return st;
            }
            l->not_due -= pp;
        }
    } else if (cp + pp > 0) {
        if ((st = close_open(l)) != ACCRUAL_OK) {
            return st;
        }
        l->rows[cr].principal_paid_minor += cp;
        l->not_due -= cp + pp;
    }
    l->principal_repaid_minor += applied[ACCRUAL_BUCKET_OVERDUE_PRINCIPAL] + cp + pp;
    if (pp > 0) {
        /* Re-cut what follows the current row (or, paid on a due date, the row just begun). */
        if (cr < l->cur) {
            return recut_rows(l, l->cur, l->not_due, choice);
        }
        assert(cr == l->cur && cr < l->n_rows && unpaid_principal(&l->rows[cr]) == 0);
        return recut_rows(l, cr + 1, l->not_due, choice);
    }
    return ACCRUAL_OK;
}

accrual_status accrual_loan_earned(const struct accrual_loan *l, rate_date date, int64_t *earned)
{
    assert(earned != NULL);
    int64_t ordinary = 0, dflt = 0;
    accrual_status st = accrual_loan_earned_split(l, date, &ordinary, &dflt);
    if (st == ACCRUAL_OK) {
        *earned = ordinary + dflt;
    }
    return st;
}

accrual_status accrual_loan_earned_split(const struct accrual_loan *l, rate_date date, int64_t *ordinary,
                                         int64_t *default_interest)
{
    assert(l != NULL && ordinary != NULL && default_interest != NULL);
    struct accrual_loan *c = malloc(sizeof *c);
    if (c == NULL) {
        return ACCRUAL_ERR_CAPACITY;
    }
    memcpy(c, l, sizeof *c);
    accrual_status st = accrual_loan_advance(c, date);
    int64_t ord = 0, dft = 0;
    for (size_t i = 0; st == ACCRUAL_OK && i < c->cur; i++) {
        int64_t open = 0;
        st = open_default(c, i, c->clock, &open);
        ord += c->rows[i].interest_minor + c->rows[i].capitalised_minor;
        dft += c->rows[i].default_closed_minor + open;
    }
    if (st == ACCRUAL_OK) {
        int64_t open = 0;
        st = open_interest(c, c->clock, &open);
        ord += c->cur_closed_minor + open;
    }
    free(c);
    if (st == ACCRUAL_OK) {
        *ordinary = ord;
        *default_interest = dft;
    }
    return st;
}

int64_t accrual_loan_outstanding(const struct accrual_loan *l)
{
    assert(l != NULL);
    return l->drawn_minor - l->principal_repaid_minor + l->capitalised_minor;
}

/* ---- charges and the cap ---- */

accrual_status accrual_cost_within_cap(int64_t received, const struct accrual_flow *flows, size_t n, int64_t cap,
                                       bool *within)
{
    assert(within != NULL);
    if (received < 0 || cap < 0 || cap > RATE_MAX || (n > 0 && flows == NULL) || n > 4 * SCHEDULE_INSTALMENTS_MAX) {
        return ACCRUAL_ERR_INVALID;
    }
    for (size_t i = 0; i < n; i++) {
        if (flows[i].amount_minor < 0 || flows[i].t_num < 0 || flows[i].t_den < 1 || flows[i].t_num > RATE_DAYS_MAX ||
            flows[i].t_den > RATE_DAYS_MAX) {
            return ACCRUAL_ERR_INVALID;
        }
    }
    mpfr_t q, pv, x;
    mpfr_inits2(ACCRUAL_PV_BITS, q, pv, x, (mpfr_ptr)0);
    mpfr_set_si(q, (long)(RATE_SCALE + cap), MPFR_RNDN);
    mpfr_div_si(q, q, (long)RATE_SCALE, MPFR_RNDN);
    mpfr_set_ui(pv, 0, MPFR_RNDN);
    for (size_t i = 0; i < n; i++) {
        /* amount / q^(num/den) */
        mpfr_rootn_ui(x, q, (unsigned long)flows[i].t_den, MPFR_RNDN);
        mpfr_pow_ui(x, x, (unsigned long)flows[i].t_num, MPFR_RNDN);
        mpfr_si_div(x, 1, x, MPFR_RNDN);
        mpfr_mul_si(x, x, (long)flows[i].amount_minor, MPFR_RNDN);
        mpfr_add(pv, pv, x, MPFR_RNDN);
    }
    *within = mpfr_cmp_si(pv, (long)received) <= 0;
    mpfr_clears(q, pv, x, (mpfr_ptr)0);
    return ACCRUAL_OK;
}

/* ---- splits ---- */

bool accrual_split_cumulative(int64_t total_after, const int64_t *weights, size_t n, const int64_t *held,
                              int64_t *parts)
{
    assert(parts != NULL);
    if (n == 0 || weights == NULL || held == NULL || n > 64) {
        return false;
    }
    int64_t target[64];
    if (!money_split(total_after, weights, n, target)) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (!money_sub(target[i], held[i], &parts[i])) {
            return false;
        }
    }
    return true;
}
