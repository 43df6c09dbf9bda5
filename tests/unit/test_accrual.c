/* Unit tests of accrual: the worked examples of docs/loan-servicing.md. */
/* cmocka.h needs these four headers first, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include <stdlib.h>
#include <string.h>

#include "fundledger/accrual.h"
#include "fundledger/money.h"

/* Every expected figure comes from tests/accrual_reference.py (Python decimal at 80 digits and
 * fractions, written from the document alone), printed there under the name in the comment. */

static rate_date D(int y, int m, int d)
{
    rate_date r = {y, m, d};
    return r;
}

/* Loan L: 12,000,000.00 at 24 % EA, monthly, 12 instalments, first due 2026-02-15, annuity. */
static schedule_terms terms_L(void)
{
    schedule_terms t = {
        .principal_minor = 1200000000,
        .exponent = 2,
        .ea_rate = 24000000,
        .payments_per_year = 12,
        .period_months = 1,
        .instalments = 12,
        .first_due = D(2026, 2, 15),
        .grace_principal = 0,
        .grace_interest = 0,
        .method = SCHEDULE_ANNUITY,
    };
    return t;
}

/* Loan G (the issue's): 176,800,000.00 at 24.75 % EA, quarterly, 10 instalments, 2 interest-
 * and 3 principal-grace instalments, first due 2026-04-30. */
static schedule_terms terms_G(void)
{
    schedule_terms t = terms_L();
    t.principal_minor = 17680000000;
    t.ea_rate = 24750000;
    t.payments_per_year = 4;
    t.period_months = 3;
    t.instalments = 10;
    t.first_due = D(2026, 4, 30);
    t.grace_principal = 3;
    t.grace_interest = 2;
    return t;
}

static struct accrual_loan *new_loan(const schedule_terms *t, const struct accrual_rate_from *rates, size_t nr,
                                     const struct accrual_rate_from *caps, size_t nc)
{
    struct accrual_loan *l = malloc(sizeof *l);
    assert_non_null(l);
    assert_int_equal(accrual_loan_init(l, t, RATE_DC_ACT_365, rates, nr, caps, nc), ACCRUAL_OK);
    return l;
}

static int64_t sum_buckets(const int64_t *b, int from, int to)
{
    int64_t s = 0;
    for (int i = from; i < to; i++) {
        s += b[i];
    }
    return s;
}

/* Pays everything due on date but nothing in advance; returns the interest it paid (current and
 * overdue) and checks the whole amount went to due buckets. */
static int64_t pay_due(struct accrual_loan *l, rate_date date)
{
    int64_t due[ACCRUAL_BUCKETS];
    int64_t payoff = 0;
    assert_int_equal(accrual_loan_due(l, date, due, &payoff), ACCRUAL_OK);
    int64_t amount = sum_buckets(due, 0, ACCRUAL_BUCKET_PREPAYMENT);
    if (amount == 0) {
        return 0;
    }
    int64_t applied[ACCRUAL_BUCKETS];
    assert_int_equal(accrual_loan_pay(l, date, amount, ACCRUAL_REDUCE_TERM, applied, &payoff), ACCRUAL_OK);
    for (int b = 0; b < ACCRUAL_BUCKET_PREPAYMENT; b++) {
        assert_int_equal(applied[b], due[b]);
    }
    assert_int_equal(applied[ACCRUAL_BUCKET_PREPAYMENT], 0);
    return applied[ACCRUAL_BUCKET_OVERDUE_INTEREST] + applied[ACCRUAL_BUCKET_CURRENT_INTEREST];
}

static void test_day_counts(void **state)
{
    (void)state;
    int64_t d = 0;
    assert_int_equal(accrual_days(RATE_DC_ACT_365, D(2026, 1, 15), D(2026, 3, 1), &d), ACCRUAL_OK);
    assert_int_equal(d, 45); /* dc.act365.2026-01-15..2026-03-01 */
    assert_int_equal(accrual_days(RATE_DC_30_360, D(2026, 1, 15), D(2026, 3, 1), &d), ACCRUAL_OK);
    assert_int_equal(d, 46); /* dc.30360.2026-01-15..2026-03-01 */
    assert_int_equal(accrual_days(RATE_DC_30_360, D(2026, 1, 31), D(2026, 3, 31), &d), ACCRUAL_OK);
    assert_int_equal(d, 60);
    assert_int_equal(accrual_days(RATE_DC_30_360, D(2026, 2, 28), D(2026, 3, 31), &d), ACCRUAL_OK);
    assert_int_equal(d, 33);
    assert_int_equal(accrual_days(RATE_DC_ACT_365, D(2026, 3, 1), D(2026, 1, 15), &d), ACCRUAL_ERR_DATE);
    int64_t num = 0, den = 0;
    assert_int_equal(accrual_period_exponent(RATE_DC_ACT_365, 12, D(2026, 1, 15), D(2026, 2, 15), D(2026, 1, 15),
                                             D(2026, 1, 25), &num, &den),
                     ACCRUAL_OK);
    assert_int_equal(num, 10);
    assert_int_equal(den, 372);
    /* 30/360 period of 33 days, monthly: denominator 396 is within the rate engine's limit. */
    assert_int_equal(accrual_period_exponent(RATE_DC_30_360, 12, D(2026, 2, 28), D(2026, 3, 31), D(2026, 2, 28),
                                             D(2026, 3, 31), &num, &den),
                     ACCRUAL_OK);
    assert_int_equal(den, 396);
    int64_t i = 0;
    assert_int_equal(accrual_stretch_interest(100000000, 24000000, RATE_DC_30_360, 12, D(2026, 2, 28), D(2026, 3, 31),
                                              D(2026, 2, 28), D(2026, 3, 31), &i),
                     ACCRUAL_OK);
    int64_t whole = 0;
    assert_int_equal(rate_period_interest(100000000, 24000000, 12, &whole), RATE_OK);
    assert_int_equal(i, whole); /* a whole period is 1/n whatever its days */
    /* The largest denominators: one day of a 31-day month, one day of a 33-day 30/360 month. */
    assert_int_equal(accrual_stretch_interest(1200000000, 24000000, RATE_DC_ACT_365, 12, D(2026, 1, 1), D(2026, 2, 1),
                                              D(2026, 1, 10), D(2026, 1, 11), &i),
                     ACCRUAL_OK);
    assert_int_equal(i, 694108); /* DEN.372 */
    assert_int_equal(accrual_stretch_interest(1200000000, 24000000, RATE_DC_30_360, 12, D(2026, 2, 28), D(2026, 3, 31),
                                              D(2026, 3, 10), D(2026, 3, 11), &i),
                     ACCRUAL_OK);
    assert_int_equal(i, 652030); /* DEN.396 */
    /* from inside the period to after it: not allowed (cut at the bound first) */
    assert_int_equal(accrual_stretch_interest(100, 24000000, RATE_DC_ACT_365, 12, D(2026, 1, 15), D(2026, 2, 15),
                                              D(2026, 2, 1), D(2026, 2, 20), &i),
                     ACCRUAL_ERR_INVALID);
}

static void test_d_days(void **state)
{
    (void)state;
    int64_t i = 0;
    /* Outside any period (the period given is a year later): the day count's fraction. */
    assert_int_equal(accrual_stretch_interest(1000000000, 24000000, RATE_DC_ACT_365, 12, D(2027, 1, 1), D(2027, 2, 1),
                                              D(2026, 1, 15), D(2026, 3, 1), &i),
                     ACCRUAL_OK);
    assert_int_equal(i, 26875381); /* accrual.45d.act365 */
    assert_int_equal(accrual_stretch_interest(1000000000, 24000000, RATE_DC_30_360, 12, D(2027, 1, 1), D(2027, 2, 1),
                                              D(2026, 1, 15), D(2026, 3, 1), &i),
                     ACCRUAL_OK);
    assert_int_equal(i, 27867692); /* accrual.46d.30360 */
    assert_int_equal(accrual_stretch_interest(-1, 24000000, RATE_DC_ACT_365, 12, D(2027, 1, 1), D(2027, 2, 1),
                                              D(2026, 1, 15), D(2026, 3, 1), &i),
                     ACCRUAL_ERR_INVALID);
}

/* No event: L drawn in full at the start of period 1 and paid on every due date owes exactly its
 * stored schedule; the month-end accrual of 2026-01-31 and the rest at the due date. */
static void test_no_event_is_the_schedule(void **state)
{
    (void)state;
    schedule_terms t = terms_L();
    schedule_row rows[12];
    size_t n = 0;
    assert_int_equal(schedule_generate(&t, rows, 12, &n), SCHEDULE_OK);
    struct accrual_loan *l = new_loan(&t, NULL, 0, NULL, 0);
    assert_int_equal(accrual_loan_drawdown(l, D(2026, 1, 15), 1200000000), ACCRUAL_OK);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(l->rows[i].principal_minor, rows[i].principal_minor);
        assert_int_equal(l->rows[i].interest_minor, rows[i].interest_minor);
    }
    int64_t earned = 0;
    assert_int_equal(accrual_loan_earned(l, D(2026, 1, 31), &earned), ACCRUAL_OK);
    assert_int_equal(earned, 11154042); /* L.accrued.2026-01-31 */
    assert_int_equal(accrual_loan_earned(l, D(2026, 2, 15), &earned), ACCRUAL_OK);
    assert_int_equal(earned, 21705099); /* L.row1.interest */
    int64_t total_interest = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t due[ACCRUAL_BUCKETS];
        int64_t payoff = 0;
        assert_int_equal(accrual_loan_due(l, rows[i].due_date, due, &payoff), ACCRUAL_OK);
        assert_int_equal(due[ACCRUAL_BUCKET_CURRENT_INTEREST], rows[i].interest_minor);
        assert_int_equal(due[ACCRUAL_BUCKET_CURRENT_PRINCIPAL], rows[i].principal_minor);
        assert_int_equal(due[ACCRUAL_BUCKET_OVERDUE_PRINCIPAL], 0);
        total_interest += pay_due(l, rows[i].due_date);
    }
    assert_int_equal(total_interest, 145716136); /* L.total_interest */
    assert_int_equal(accrual_loan_outstanding(l), 0);
    assert_int_equal(accrual_loan_earned(l, D(2027, 6, 1), &earned), ACCRUAL_OK);
    assert_int_equal(earned, 145716136);
    assert_int_equal(l->versions, 1);
    free(l);
}

static void test_two_drawdowns(void **state)
{
    (void)state;
    schedule_terms t = terms_L();
    struct accrual_loan *l = new_loan(&t, NULL, 0, NULL, 0);
    assert_int_equal(accrual_loan_drawdown(l, D(2026, 1, 15), 600000000), ACCRUAL_OK);
    assert_int_equal(l->rows[1].principal_minor + l->rows[1].interest_minor, 56071506); /* TD.v1.level */
    assert_int_equal(accrual_loan_drawdown(l, D(2026, 1, 25), 600000000), ACCRUAL_OK);
    assert_int_equal(l->versions, 2);
    assert_int_equal(l->rows[1].principal_minor + l->rows[1].interest_minor, 112143011); /* TD.v2.level */
    assert_int_equal(l->rows[0].principal_minor, 90437912);                              /* TD.row1.principal */
    int64_t due[ACCRUAL_BUCKETS];
    int64_t payoff = 0;
    assert_int_equal(accrual_loan_due(l, D(2026, 2, 15), due, &payoff), ACCRUAL_OK);
    assert_int_equal(due[ACCRUAL_BUCKET_CURRENT_INTEREST], 3479589 + 14660897); /* TD.row1.stretch1 + 2 */
    int64_t total_interest = 0;
    for (int i = 0; i < 12; i++) {
        total_interest += pay_due(l, l->rows[i].due);
    }
    assert_int_equal(total_interest, 142151523); /* TD.total_interest */
    assert_int_equal(accrual_loan_outstanding(l), 0);
    assert_int_equal(l->drawn_minor, 1200000000);
    /* A drawdown after the last due date is refused. */
    assert_int_equal(accrual_loan_drawdown(l, D(2027, 3, 1), 100), ACCRUAL_ERR_INVALID);
    free(l);
}

/* L, rows 1-3 paid on their due dates, 5,000,000.00 on 2026-05-05. */
static struct accrual_loan *prepaid(accrual_choice choice)
{
    schedule_terms t = terms_L();
    struct accrual_loan *l = new_loan(&t, NULL, 0, NULL, 0);
    assert_int_equal(accrual_loan_drawdown(l, D(2026, 1, 15), 1200000000), ACCRUAL_OK);
    for (int i = 0; i < 3; i++) {
        pay_due(l, l->rows[i].due);
    }
    assert_int_equal(l->not_due, 923749267); /* PP.B3 */
    int64_t applied[ACCRUAL_BUCKETS];
    int64_t payoff = 0;
    assert_int_equal(accrual_loan_pay(l, D(2026, 5, 5), 500000000, choice, applied, &payoff), ACCRUAL_OK);
    assert_int_equal(applied[ACCRUAL_BUCKET_CURRENT_INTEREST], 11105615);  /* PP.row4.interest_to_payment */
    assert_int_equal(applied[ACCRUAL_BUCKET_CURRENT_PRINCIPAL], 95434620); /* PP.row4.principal */
    assert_int_equal(applied[ACCRUAL_BUCKET_PREPAYMENT], 393459765);       /* PP.prepayment */
    assert_int_equal(l->not_due, 434854882);                               /* PP.balance_after */
    int64_t due[ACCRUAL_BUCKETS];
    assert_int_equal(accrual_loan_due(l, D(2026, 5, 15), due, &payoff), ACCRUAL_OK);
    assert_int_equal(due[ACCRUAL_BUCKET_CURRENT_INTEREST], 2606174); /* PP.row4.interest_after */
    assert_int_equal(due[ACCRUAL_BUCKET_CURRENT_PRINCIPAL], 0);
    assert_int_equal(pay_due(l, D(2026, 5, 15)), 2606174);
    return l;
}

static void test_prepayment_reduce_instalment(void **state)
{
    (void)state;
    struct accrual_loan *l = prepaid(ACCRUAL_REDUCE_INSTALMENT);
    assert_int_equal(l->n_rows, 12);
    assert_int_equal(l->rows[4].principal_minor + l->rows[4].interest_minor, 58873686);   /* level */
    assert_int_equal(l->rows[11].principal_minor + l->rows[11].interest_minor, 58873682); /* last_total */
    int64_t interest = 0;
    for (int i = 4; i < 12; i++) {
        interest += pay_due(l, l->rows[i].due);
    }
    assert_int_equal(interest, 36134602); /* PP.reduce_instalment.interest_rows5_12 */
    assert_int_equal(accrual_loan_outstanding(l), 0);
    free(l);
}

static void test_prepayment_reduce_term(void **state)
{
    (void)state;
    struct accrual_loan *l = prepaid(ACCRUAL_REDUCE_TERM);
    assert_int_equal(l->n_rows, 9); /* rows 5..9: PP.reduce_term.rows = 5 */
    assert_int_equal(l->rows[4].principal_minor + l->rows[4].interest_minor, 112143011);
    assert_int_equal(l->rows[8].principal_minor, 6290882); /* PP.reduce_term.last_principal */
    assert_int_equal(l->rows[8].interest_minor, 113787);   /* PP.reduce_term.last_interest */
    int64_t interest = 0;
    for (int i = 4; i < 9; i++) {
        interest += pay_due(l, l->rows[i].due);
    }
    assert_int_equal(interest, 20121831); /* PP.reduce_term.interest_rows5_end */
    assert_int_equal(accrual_loan_outstanding(l), 0);
    int64_t due[ACCRUAL_BUCKETS];
    int64_t payoff = 1;
    assert_int_equal(accrual_loan_due(l, D(2026, 12, 31), due, &payoff), ACCRUAL_OK);
    assert_int_equal(payoff, 0);
    free(l);
}

static const struct accrual_rate_from default_rates[] = {{{2026, 1, 1}, 30000000}};
static const struct accrual_rate_from caps[] = {{{2026, 3, 1}, 28000000}, {{2026, 4, 1}, 26500000}};

static void test_default_interest_across_cap_change(void **state)
{
    (void)state;
    int64_t i = 0;
    assert_int_equal(accrual_default_interest(92073715, RATE_DC_ACT_365, D(2026, 3, 15), D(2026, 4, 20), default_rates,
                                              1, caps, 2, &i),
                     ACCRUAL_OK);
    assert_int_equal(i, 1064735 + 1133594); /* DI.stretch1 + DI.stretch2 = DI.total */
    /* Uncapped (a cap above the rate): 30 % for 36 days. */
    const struct accrual_rate_from high[] = {{{2026, 1, 1}, 50000000}};
    assert_int_equal(accrual_default_interest(92073715, RATE_DC_ACT_365, D(2026, 3, 15), D(2026, 4, 20), default_rates,
                                              1, high, 1, &i),
                     ACCRUAL_OK);
    assert_int_equal(i, 2413689); /* DI.uncapped */
    /* A day with no certified cap is an error; no default rate is no interest. */
    const struct accrual_rate_from late_cap[] = {{{2026, 3, 20}, 28000000}};
    assert_int_equal(accrual_default_interest(92073715, RATE_DC_ACT_365, D(2026, 3, 15), D(2026, 4, 20), default_rates,
                                              1, late_cap, 1, &i),
                     ACCRUAL_ERR_NO_CAP);
    assert_int_equal(
        accrual_default_interest(92073715, RATE_DC_ACT_365, D(2026, 3, 15), D(2026, 4, 20), NULL, 0, NULL, 0, &i),
        ACCRUAL_OK);
    assert_int_equal(i, 0);
    const struct accrual_rate_from unsorted[] = {{{2026, 4, 1}, 1}, {{2026, 3, 1}, 1}};
    assert_int_equal(
        accrual_default_interest(1, RATE_DC_ACT_365, D(2026, 3, 15), D(2026, 4, 20), default_rates, 1, unsorted, 2, &i),
        ACCRUAL_ERR_INVALID);

    /* The late payment in the loan: row 1 paid on time, rows 2 and 3 unpaid on 2026-04-20. */
    schedule_terms t = terms_L();
    struct accrual_loan *l = new_loan(&t, default_rates, 1, caps, 2);
    assert_int_equal(accrual_loan_drawdown(l, D(2026, 1, 15), 1200000000), ACCRUAL_OK);
    pay_due(l, D(2026, 2, 15));
    int64_t due[ACCRUAL_BUCKETS];
    int64_t payoff = 0;
    assert_int_equal(accrual_loan_due(l, D(2026, 4, 20), due, &payoff), ACCRUAL_OK);
    assert_int_equal(due[ACCRUAL_BUCKET_DEFAULT_INTEREST], 2500671);    /* DI.due.default */
    assert_int_equal(due[ACCRUAL_BUCKET_OVERDUE_INTEREST], 38473201);   /* DI.due.overdue_interest */
    assert_int_equal(due[ACCRUAL_BUCKET_OVERDUE_PRINCIPAL], 185812821); /* DI.due.overdue_principal */
    assert_int_equal(due[ACCRUAL_BUCKET_CURRENT_INTEREST], 2763974);    /* DI.due.current_interest */
    /* A payment of 1,000,000.00 pays default interest first, then overdue interest. */
    int64_t applied[ACCRUAL_BUCKETS];
    assert_int_equal(accrual_loan_pay(l, D(2026, 4, 20), 100000000, ACCRUAL_REDUCE_TERM, applied, &payoff), ACCRUAL_OK);
    assert_int_equal(applied[ACCRUAL_BUCKET_DEFAULT_INTEREST], 2500671);
    assert_int_equal(applied[ACCRUAL_BUCKET_OVERDUE_INTEREST], 38473201);
    assert_int_equal(applied[ACCRUAL_BUCKET_OVERDUE_PRINCIPAL], 100000000 - 2500671 - 38473201);
    /* Row 2 is now paid; row 3's overdue principal keeps earning, and row 2's does not. */
    assert_int_equal(accrual_loan_due(l, D(2026, 4, 20), due, &payoff), ACCRUAL_OK);
    assert_int_equal(due[ACCRUAL_BUCKET_DEFAULT_INTEREST], 0);
    assert_int_equal(due[ACCRUAL_BUCKET_OVERDUE_PRINCIPAL], 185812821 - (100000000 - 2500671 - 38473201));
    free(l);
}

static void test_grace_payoff_mid_period(void **state)
{
    (void)state;
    schedule_terms t = terms_G();
    struct accrual_loan *l = new_loan(&t, NULL, 0, NULL, 0);
    assert_int_equal(accrual_loan_drawdown(l, D(2026, 1, 30), 17680000000), ACCRUAL_OK);
    for (int i = 0; i < 6; i++) {
        pay_due(l, l->rows[i].due);
    }
    assert_int_equal(l->capitalised_minor, 2067064187); /* G.capitalised */
    assert_int_equal(l->principal_repaid_minor, 7538698699);
    assert_int_equal(l->not_due, 12208365488);                             /* G.balance_after_row6 */
    assert_int_equal(l->not_due + l->rows[6].interest_minor, 12902315607); /* the figure */
    assert_int_equal(accrual_loan_outstanding(l), 12208365488);
    int64_t due[ACCRUAL_BUCKETS];
    int64_t payoff = 0;
    assert_int_equal(accrual_loan_due(l, D(2027, 9, 15), due, &payoff), ACCRUAL_OK);
    assert_int_equal(due[ACCRUAL_BUCKET_CURRENT_INTEREST], 349723944); /* G.payoff.accrued */
    assert_int_equal(payoff, 12558089432);                             /* G.payoff */
    int64_t applied[ACCRUAL_BUCKETS];
    int64_t p2 = 0;
    assert_int_equal(accrual_loan_pay(l, D(2027, 9, 15), payoff + 1, ACCRUAL_REDUCE_TERM, applied, &p2),
                     ACCRUAL_ERR_OVERPAID);
    assert_int_equal(p2, payoff);
    assert_int_equal(accrual_loan_pay(l, D(2027, 9, 15), payoff, ACCRUAL_REDUCE_TERM, applied, &p2), ACCRUAL_OK);
    for (int b = 0; b < ACCRUAL_BUCKETS; b++) {
        assert_int_equal(applied[b], due[b]);
    }
    assert_int_equal(accrual_loan_outstanding(l), 0);
    assert_int_equal(accrual_loan_due(l, D(2028, 1, 1), due, &payoff), ACCRUAL_OK);
    assert_int_equal(payoff, 0);
    free(l);
}

static void test_fee_first_and_cost_cap(void **state)
{
    (void)state;
    schedule_terms t = terms_L();
    schedule_row rows[12];
    size_t n = 0;
    assert_int_equal(schedule_generate(&t, rows, 12, &n), SCHEDULE_OK);
    struct accrual_flow flows[12];
    for (size_t i = 0; i < n; i++) {
        flows[i].amount_minor = rows[i].total_minor;
        flows[i].t_num = (int64_t)i + 1;
        flows[i].t_den = 12;
    }
    bool within = false;
    /* 11,760,000.00 received: cost 28.89 % EA (FEE.cost_ea_4dp = 0.2889, floor). */
    assert_int_equal(accrual_cost_within_cap(1176000000, flows, n, 55000000, &within), ACCRUAL_OK);
    assert_true(within);
    assert_int_equal(accrual_cost_within_cap(1176000000, flows, n, 28000000, &within), ACCRUAL_OK);
    assert_false(within);
    assert_int_equal(accrual_cost_within_cap(1176000000, flows, n, 28890000, &within), ACCRUAL_OK);
    assert_false(within);
    assert_int_equal(accrual_cost_within_cap(1176000000, flows, n, 28900000, &within), ACCRUAL_OK);
    assert_true(within);
    /* Without the fee the cost is the contract's 24 %. */
    assert_int_equal(accrual_cost_within_cap(1200000000, flows, n, 24000000, &within), ACCRUAL_OK);
    assert_true(within);
    assert_int_equal(accrual_cost_within_cap(1200000000, flows, n, 23990000, &within), ACCRUAL_OK);
    assert_false(within);

    /* The fee is collected first. */
    struct accrual_loan *l = new_loan(&t, NULL, 0, NULL, 0);
    assert_int_equal(accrual_loan_drawdown(l, D(2026, 1, 15), 1200000000), ACCRUAL_OK);
    assert_int_equal(accrual_loan_charge(l, D(2026, 1, 15), 24000000), ACCRUAL_OK);
    int64_t applied[ACCRUAL_BUCKETS];
    int64_t payoff = 0;
    assert_int_equal(accrual_loan_pay(l, D(2026, 2, 15), 112143011, ACCRUAL_REDUCE_TERM, applied, &payoff), ACCRUAL_OK);
    assert_int_equal(applied[ACCRUAL_BUCKET_FEES], 24000000);
    assert_int_equal(applied[ACCRUAL_BUCKET_CURRENT_INTEREST], 21705099);
    assert_int_equal(applied[ACCRUAL_BUCKET_CURRENT_PRINCIPAL], 112143011 - 24000000 - 21705099);
    assert_int_equal(l->fees_paid_minor, 24000000);
    assert_int_equal(accrual_loan_charge(l, D(2026, 2, 15), 0), ACCRUAL_ERR_INVALID);
    free(l);
}

static void test_cumulative_split(void **state)
{
    (void)state;
    const int64_t w[3] = {1, 1, 1};
    int64_t held[3] = {0, 0, 0};
    int64_t parts[3];
    /* drawn 100.00 */
    assert_true(accrual_split_cumulative(10000, w, 3, held, parts));
    assert_int_equal(parts[0], 3334);
    assert_int_equal(parts[1], 3333);
    assert_int_equal(parts[2], 3333);
    for (int i = 0; i < 3; i++) {
        held[i] += parts[i];
    }
    /* repaid 50.00: outstanding 50.00 (SPLIT.cumulative_part1: 1667 1666 1667 repaid) */
    assert_true(accrual_split_cumulative(5000, w, 3, held, parts));
    assert_int_equal(parts[0], -1667);
    assert_int_equal(parts[1], -1666);
    assert_int_equal(parts[2], -1667);
    for (int i = 0; i < 3; i++) {
        held[i] += parts[i];
    }
    assert_true(accrual_split_cumulative(0, w, 3, held, parts));
    assert_int_equal(parts[0], -1667);
    assert_int_equal(parts[1], -1667);
    assert_int_equal(parts[2], -1666);
    for (int i = 0; i < 3; i++) {
        held[i] += parts[i];
        assert_int_equal(held[i], 0);
    }
    /* Split one by one instead, the residue the issue saw (SPLIT.per_amount_residue). */
    int64_t a[3], b[3];
    assert_true(money_split(10000, w, 3, a));
    assert_true(money_split(5000, w, 3, b));
    assert_int_equal(a[1] - 2 * b[1], -1);
    assert_int_equal(a[2] - 2 * b[2], 1);
    assert_false(accrual_split_cumulative(1, w, 0, held, parts));
}

/* A closed loan leaves exactly zero on every tranche: the G loan's principal movements split by
 * cumulative outstanding over three tranches of unequal weight. */
static void test_closed_loan_tranches_zero(void **state)
{
    (void)state;
    const int64_t w[3] = {5000000000, 7000000000, 5680000000};
    int64_t held[3] = {0, 0, 0};
    int64_t parts[3];
    schedule_terms t = terms_G();
    struct accrual_loan *l = new_loan(&t, NULL, 0, NULL, 0);
    assert_int_equal(accrual_loan_drawdown(l, D(2026, 1, 30), 17680000000), ACCRUAL_OK);
    assert_true(accrual_split_cumulative(accrual_loan_outstanding(l), w, 3, held, parts));
    int64_t sum = 0;
    for (int i = 0; i < 3; i++) {
        held[i] += parts[i];
        sum += held[i];
    }
    assert_int_equal(sum, 17680000000);
    for (int k = 0; k < 10; k++) {
        int64_t before = accrual_loan_outstanding(l);
        pay_due(l, l->rows[k].due);
        int64_t after = accrual_loan_outstanding(l);
        assert_true(accrual_split_cumulative(after, w, 3, held, parts));
        assert_int_equal(parts[0] + parts[1] + parts[2], after - before);
        for (int i = 0; i < 3; i++) {
            held[i] += parts[i];
        }
    }
    assert_int_equal(accrual_loan_outstanding(l), 0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(held[i], 0);
    }
    free(l);
}

static void test_recut_direct_and_invalid(void **state)
{
    (void)state;
    schedule_terms t = terms_L();
    schedule_row rows[12];
    schedule_row out[12];
    size_t n = 0;
    size_t len = 0;
    assert_int_equal(schedule_generate(&t, rows, 12, &n), SCHEDULE_OK);
    /* Nothing left: only the kept rows. */
    assert_int_equal(accrual_recut(&t, rows, n, 4, 0, ACCRUAL_REDUCE_TERM, out, 12, &len), ACCRUAL_OK);
    assert_int_equal(len, 4);
    assert_int_equal(out[3].principal_minor, rows[3].principal_minor);
    /* The same balance over the same rows: rows 1-4 kept, rows 5-12 repay the balance with a
     * level annuity over 8 rows rounded afresh: annuity(balance after row 4, 8) = 1,121,430.12
     * (tests/accrual_reference.py), not the 1,121,430.11 fixed on the whole principal. */
    assert_int_equal(
        accrual_recut(&t, rows, n, 4, rows[3].balance_after_minor, ACCRUAL_REDUCE_INSTALMENT, out, 12, &len),
        ACCRUAL_OK);
    assert_int_equal(len, 12);
    int64_t repaid = 0;
    for (size_t i = 0; i < 12; i++) {
        assert_int_equal(out[i].no, (int)i + 1);
        assert_int_equal(out[i].due_date.m, rows[i].due_date.m);
        if (i < 4) {
            assert_int_equal(out[i].principal_minor, rows[i].principal_minor);
        } else {
            repaid += out[i].principal_minor;
        }
    }
    assert_int_equal(repaid, rows[3].balance_after_minor);
    assert_int_equal(out[4].total_minor, 112143012);
    assert_int_equal(out[4].interest_minor, rows[4].interest_minor); /* same balance, same interest */
    /* reduce_term keeps 1,121,430.11: exactly the stored rows. */
    assert_int_equal(accrual_recut(&t, rows, n, 4, rows[3].balance_after_minor, ACCRUAL_REDUCE_TERM, out, 12, &len),
                     ACCRUAL_OK);
    assert_int_equal(len, 12);
    for (size_t i = 0; i < 12; i++) {
        assert_int_equal(out[i].principal_minor, rows[i].principal_minor);
        assert_int_equal(out[i].interest_minor, rows[i].interest_minor);
    }
    assert_int_equal(accrual_recut(&t, rows, n, 4, -1, ACCRUAL_REDUCE_TERM, out, 12, &len), ACCRUAL_ERR_INVALID);
    assert_int_equal(accrual_recut(&t, rows, n, 12, 5, ACCRUAL_REDUCE_TERM, out, 12, &len), ACCRUAL_ERR_INVALID);
    assert_int_equal(accrual_recut(&t, rows, n, 4, 5, (accrual_choice)9, out, 12, &len), ACCRUAL_ERR_INVALID);
    accrual_choice c = ACCRUAL_REDUCE_TERM;
    assert_true(accrual_choice_parse("reduce_instalment", &c));
    assert_int_equal(c, ACCRUAL_REDUCE_INSTALMENT);
    assert_false(accrual_choice_parse("reduce_payment", &c));
    assert_string_equal(accrual_choice_name(ACCRUAL_REDUCE_TERM), "reduce_term");
    assert_string_equal(accrual_bucket_name(ACCRUAL_BUCKET_DEFAULT_INTEREST), "default_interest");

    /* Engine refusals: dates backwards, payments before anything is owed, zero amounts. */
    struct accrual_loan *l = new_loan(&t, NULL, 0, NULL, 0);
    int64_t applied[ACCRUAL_BUCKETS];
    int64_t payoff = 7;
    assert_int_equal(accrual_loan_pay(l, D(2026, 1, 10), 100, ACCRUAL_REDUCE_TERM, applied, &payoff),
                     ACCRUAL_ERR_OVERPAID);
    assert_int_equal(payoff, 0);
    assert_int_equal(accrual_loan_drawdown(l, D(2026, 1, 15), 0), ACCRUAL_ERR_INVALID);
    assert_int_equal(accrual_loan_drawdown(l, D(2026, 1, 15), 1200000000), ACCRUAL_OK);
    assert_int_equal(accrual_loan_drawdown(l, D(2026, 1, 14), 1), ACCRUAL_ERR_DATE);
    assert_int_equal(accrual_loan_pay(l, D(2026, 1, 20), 100, (accrual_choice)0, applied, &payoff),
                     ACCRUAL_ERR_INVALID);
    free(l);
    assert_string_equal(accrual_status_text(ACCRUAL_ERR_NO_CAP), "no usury cap in force for a day of default interest");
}

/* Drawn before period 1 starts: the stub accrues at days/365 and is due with row 1. Under 30/360
 * a drawdown on 2026-01-25 earns 20 of the period's 30 days. */
static void test_stub_and_30_360(void **state)
{
    (void)state;
    schedule_terms t = terms_L();
    struct accrual_loan *l = new_loan(&t, NULL, 0, NULL, 0);
    assert_int_equal(accrual_loan_drawdown(l, D(2026, 1, 5), 1200000000), ACCRUAL_OK);
    int64_t due[ACCRUAL_BUCKETS];
    int64_t payoff = 0;
    assert_int_equal(accrual_loan_due(l, D(2026, 2, 15), due, &payoff), ACCRUAL_OK);
    assert_int_equal(due[ACCRUAL_BUCKET_CURRENT_INTEREST], 28798135); /* STUB.row1.interest */
    int64_t earned = 0;
    assert_int_equal(accrual_loan_earned(l, D(2026, 1, 15), &earned), ACCRUAL_OK);
    assert_int_equal(earned, 7093036); /* STUB.stub */
    free(l);

    struct accrual_loan *m = malloc(sizeof *m);
    assert_non_null(m);
    assert_int_equal(accrual_loan_init(m, &t, RATE_DC_30_360, NULL, 0, NULL, 0), ACCRUAL_OK);
    assert_int_equal(accrual_loan_drawdown(m, D(2026, 1, 25), 1200000000), ACCRUAL_OK);
    assert_int_equal(accrual_loan_due(m, D(2026, 2, 15), due, &payoff), ACCRUAL_OK);
    assert_int_equal(due[ACCRUAL_BUCKET_CURRENT_INTEREST], 14426792); /* D360.row1.interest */
    assert_int_equal(accrual_loan_init(m, &t, (rate_daycount)7, NULL, 0, NULL, 0), ACCRUAL_ERR_INVALID);
    free(m);
}

/* A second drawdown inside an interest-grace period: the capitalisation differs from what the
 * version foresaw, so the rows after it are re-cut; everything is still repaid to the unit. */
static void test_drawdown_in_grace(void **state)
{
    (void)state;
    schedule_terms t = terms_G();
    struct accrual_loan *l = new_loan(&t, NULL, 0, NULL, 0);
    assert_int_equal(accrual_loan_drawdown(l, D(2026, 1, 30), 8840000000), ACCRUAL_OK);
    assert_int_equal(accrual_loan_drawdown(l, D(2026, 3, 15), 8840000000), ACCRUAL_OK);
    int versions = l->versions;
    for (int k = 0; k < 10; k++) {
        pay_due(l, l->rows[k].due);
    }
    assert_true(l->versions > versions); /* re-cut at the first capitalisation */
    assert_int_equal(accrual_loan_outstanding(l), 0);
    assert_int_equal(l->principal_repaid_minor, 17680000000 + l->capitalised_minor);
    assert_int_equal(l->capitalised_minor, l->rows[0].capitalised_minor + l->rows[1].capitalised_minor);
    assert_true(l->rows[0].capitalised_minor < 1004969757); /* less than the full-period figure */
    free(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_day_counts),
        cmocka_unit_test(test_d_days),
        cmocka_unit_test(test_no_event_is_the_schedule),
        cmocka_unit_test(test_two_drawdowns),
        cmocka_unit_test(test_prepayment_reduce_instalment),
        cmocka_unit_test(test_prepayment_reduce_term),
        cmocka_unit_test(test_default_interest_across_cap_change),
        cmocka_unit_test(test_grace_payoff_mid_period),
        cmocka_unit_test(test_fee_first_and_cost_cap),
        cmocka_unit_test(test_cumulative_split),
        cmocka_unit_test(test_closed_loan_tranches_zero),
        cmocka_unit_test(test_recut_direct_and_invalid),
        cmocka_unit_test(test_stub_and_30_360),
        cmocka_unit_test(test_drawdown_in_grace),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
