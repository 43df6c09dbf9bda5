/* test_random_fund: a pseudo-random fund, driven through the C API over 18 months, whose investor
 * statements reconcile with the books at every month end (docs/fund-operations.md, "Investor
 * statements"; issue 11, "statement and books agree by construction").
 *
 * Each seed builds a fund of three tranches (senior with a coupon and a management fee,
 * mezzanine with a coupon, first loss) held by three investors, paid in by instalments; loans
 * approved and drawn over the first half year and repaid monthly by borrowers who pay on time,
 * pay late or prepay; one loan stops paying, is written off and partly recovered; fund expenses
 * accrue each quarter; the waterfall runs at each quarter end and the month-end close (loss
 * allowance and NAV allocation) at each month end. After each close, every investor's statement
 * is built and each line is checked against the ledger with SQL of this file's own:
 *  - the NAV capital account (quarter, year, inception): opening and closing NAV and every line
 *    the movement of its account between the two dates, recoveries apart from losses;
 *  - the position: its lines are the tranche's own asset accounts and add up to the NAV;
 *  - the tranches' NAVs sum to the fund's net assets to the centavo (nothing left unallocated on
 *    a closed month end), and the investors' NAVs to the tranches';
 *  - the coupon earned and not paid against the NAV allocation and the waterfall's steps;
 *  - the trial balance is zero; at the end the hash chain and every entry's origin verify.
 *
 * The pseudo-random numbers are glibc's random_r (initstate_r with the seed: the same seed, the
 * same fund on every run). make check runs two seeds (about 10 s each); each is printed; FUNDLEDGER_RANDOM_FUND_SEED=<n> runs that
 * one seed alone (to reproduce a failure). */
/* cmocka.h needs these four headers first, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fundledger/approval.h"
#include "fundledger/distribution.h"
#include "fundledger/fund.h"
#include "fundledger/ledger.h"
#include "fundledger/loan.h"
#include "fundledger/money.h"
#include "fundledger/rate.h"
#include "fundledger/repayment.h"
#include "fundledger/statement.h"
#include "fundledger/tranche.h"
#include "loanfix.h"
#include "testdb.h"

#define TRANCHES 3
#define LOANS 8
#define MONTHS 18
#define EVENTS_MAX 512

static const char *ci;
static struct db *db;
static struct principal manager, approver;
static int64_t investors[TRANCHES];

/* ---- the seeded generator (glibc random_r) ---- */

static struct random_data rng;
static char rng_state[64];

static void rng_seed(unsigned seed)
{
    memset(&rng, 0, sizeof rng);
    assert_int_equal(initstate_r(seed, rng_state, sizeof rng_state, &rng), 0);
}

/* A number in [lo, hi]. */
static int64_t rnd(int64_t lo, int64_t hi)
{
    int32_t v = 0;
    assert_int_equal(random_r(&rng, &v), 0);
    return lo + (int64_t)v % (hi - lo + 1);
}

/* ---- dates ---- */

static void date_text(rate_date d, char out[11])
{
    assert_true(d.y >= 2000 && d.y <= 2099 && d.m >= 1 && d.m <= 12 && d.d >= 1 && d.d <= 31);
    char t[16];
    snprintf(t, sizeof t, "%04d-%02d-%02d", d.y % 10000, d.m % 100, d.d % 100);
    memcpy(out, t, 11);
}

static rate_date month_end(int k) /* k = 0: 2024-01-31 */
{
    rate_date d = {2024 + k / 12, k % 12 + 1, 1};
    d.d = rate_days_in_month(d.y, d.m);
    return d;
}

static rate_date add_days(rate_date d, int days)
{
    for (; days > 0; days--) {
        if (++d.d > rate_days_in_month(d.y, d.m)) {
            d.d = 1;
            if (++d.m > 12) {
                d.m = 1;
                d.y++;
            }
        }
    }
    return d;
}

/* ---- reading the books with SQL of this file ---- */

static int64_t fund_id;

/* The first value of a query on the test's own connection (many per month end: one connection
 * for all of them). */
static int64_t q64(const char *sql)
{
    struct fl_error err;
    fl_error_clear(&err);
    PGresult *r = db_exec_sql(db, sql, &err);
    if (r == NULL || PQntuples(r) != 1 || db_null(r, 0, 0)) {
        fail_msg("%s: %s", sql, err.message);
    }
    int64_t v = db_i64(r, 0, 0);
    PQclear(r);
    return v;
}

static const json_t *jpath(const json_t *o, const char *path)
{
    char key[64];
    while (o != NULL && *path != '\0') {
        size_t n = strcspn(path, ".");
        assert_true(n < sizeof key);
        memcpy(key, path, n);
        key[n] = '\0';
        o = json_object_get(o, key);
        path += n + (path[n] == '.');
    }
    return o;
}

static int64_t cop(const json_t *o, const char *path)
{
    const char *t = json_string_value(jpath(o, path));
    int64_t v = 0;
    if (t == NULL) {
        fail_msg("%s: not a string", path);
    }
    assert_int_equal(money_parse(t, 2, true, &v), MONEY_OK);
    return v;
}

/* The sum of T<tranche>.<suffix>'s lines dated in [from, to] (from NULL: since inception). */
static int64_t moved(int64_t tranche, const char *suffix, const char *from, const char *to)
{
    char sql[600];
    snprintf(sql, sizeof sql,
             "SELECT coalesce(sum(l.amount_minor), 0) FROM journal_line l JOIN account a ON a.id = l.account_id "
             "WHERE a.fund_id = %" PRId64 " AND a.code = 'T%" PRId64 ".%s' AND l.effective_date <= '%s'%s%s%s",
             fund_id, tranche, suffix, to, from ? " AND l.effective_date >= '" : "", from ? from : "", from ? "'" : "");
    return q64(sql);
}

/* What recoveries credited to T<tranche>.LOSS in [from, to], as a positive amount. */
static int64_t recovered(int64_t tranche, const char *from, const char *to)
{
    char sql[800];
    snprintf(sql, sizeof sql,
             "SELECT -coalesce(sum(l.amount_minor), 0) FROM journal_line l JOIN account a ON a.id = l.account_id "
             "JOIN journal_entry e ON e.id = l.entry_id WHERE a.fund_id = %" PRId64 " AND a.code = 'T%" PRId64
             ".LOSS' AND e.event_type = 'recovery' AND l.effective_date <= '%s'%s%s%s",
             fund_id, tranche, to, from ? " AND l.effective_date >= '" : "", from ? from : "", from ? "'" : "");
    return q64(sql);
}

/* A tranche's NAV at the end of date ("" : 0): minus its equity, income and expense lines. */
static int64_t nav_at(int64_t tranche, const char *date)
{
    char sql[600];
    snprintf(sql, sizeof sql,
             "SELECT -coalesce(sum(l.amount_minor), 0) FROM journal_line l JOIN account a ON a.id = l.account_id "
             "WHERE a.fund_id = %" PRId64 " AND a.code LIKE 'T%" PRId64 ".%%' AND a.type IN ('equity', 'income', "
             "'expense') AND l.effective_date <= '%s'",
             fund_id, tranche, date);
    return q64(sql);
}

/* A tranche's own assets other than CASH and LOANS at the end of date. */
static int64_t other_assets_at(int64_t tranche, const char *date)
{
    char sql[600];
    snprintf(sql, sizeof sql,
             "SELECT coalesce(sum(l.amount_minor), 0) FROM journal_line l JOIN account a ON a.id = l.account_id "
             "WHERE a.fund_id = %" PRId64 " AND a.code LIKE 'T%" PRId64 ".%%' AND a.type IN ('asset', 'liability') "
             "AND a.code NOT IN ('T%" PRId64 ".CASH', 'T%" PRId64 ".LOANS') AND l.effective_date <= '%s'",
             fund_id, tranche, tranche, tranche, date);
    return q64(sql);
}

static int64_t net_assets_at(const char *date)
{
    char sql[400];
    snprintf(sql, sizeof sql,
             "SELECT coalesce(sum(l.amount_minor), 0) FROM journal_line l JOIN account a ON a.id = l.account_id "
             "WHERE a.fund_id = %" PRId64 " AND a.type IN ('asset', 'liability') AND l.effective_date <= '%s'",
             fund_id, date);
    return q64(sql);
}

/* The sum of every tranche's NAV of the fund at the end of date. */
static int64_t tranches_nav_at(const char *date)
{
    char sql[500];
    snprintf(sql, sizeof sql,
             "SELECT -coalesce(sum(l.amount_minor), 0) FROM journal_line l JOIN account a ON a.id = l.account_id "
             "WHERE a.fund_id = %" PRId64 " AND a.code ~ '^T[0-9]+[.]' AND a.type IN ('equity', 'income', "
             "'expense') AND l.effective_date <= '%s'",
             fund_id, date);
    return q64(sql);
}

/* ---- the scene through the C API ---- */

struct manual_args {
    const char *date, *amount;
};

static json_t *expense_fn(struct db *d, void *arg, struct fl_error *err)
{
    struct manual_args *a = arg;
    int64_t dr = 0, cr = 0;
    if (fund_account_by_code(d, fund_id, "5000", &dr, err) != FLE_OK ||
        fund_account_by_code(d, fund_id, "2300", &cr, err) != FLE_OK) {
        return NULL;
    }
    struct journal_line_input lines[2] = {{dr, a->amount, NULL}, {cr, NULL, a->amount}};
    return journal_propose(d, &manager, fund_id, a->date, "fund administration fee", lines, 2, err);
}

struct date_args {
    const char *date;
};

static json_t *close_fn(struct db *d, void *arg, struct fl_error *err)
{
    return loan_close_period(d, &manager, fund_id, ((struct date_args *)arg)->date, err);
}

static json_t *run_fn(struct db *d, void *arg, struct fl_error *err)
{
    return distribution_run(d, &manager, fund_id, ((struct date_args *)arg)->date, err);
}

struct wo_args {
    int64_t loan;
    const char *date;
};

static json_t *writeoff_fn(struct db *d, void *arg, struct fl_error *err)
{
    struct wo_args *a = arg;
    return writeoff_propose(d, &manager, a->loan, NULL, a->date, "the borrower's crop failed; no repayment capacity",
                            err);
}

struct rec_args {
    int64_t loan;
    const char *amount, *date;
};

static json_t *recovery_fn(struct db *d, void *arg, struct fl_error *err)
{
    struct rec_args *a = arg;
    return recovery_record(d, &manager, a->loan, a->amount, a->date, "RECOVERY-1", err);
}

static json_t *payoff_fn(struct db *d, void *arg, struct fl_error *err)
{
    struct wo_args *a = arg;
    return loan_payoff(d, a->loan, a->date, err);
}

static json_t *loan_get_fn(struct db *d, void *arg, struct fl_error *err)
{
    return loan_get(d, *(int64_t *)arg, err);
}

static const char *money_text(int64_t minor, char buf[MONEY_TEXT_MAX])
{
    assert_true(money_format(minor, 2, buf, MONEY_TEXT_MAX) > 0);
    return buf;
}

/* Conditions ticked and the drawdown approved, all on value_date. */
static void disburse(int64_t loan, const char *amount, const char *value_date)
{
    static const char *const items[] = {"signed_agreement", "kyc", "sanctions_screening", "bank_account_verified"};
    for (int i = 0; i < 4; i++) {
        struct lf_money_args t = {loan, NULL, value_date, items[i]};
        json_decref(lf_run(lf_tick_fn, &t, FLE_OK, NULL));
    }
    struct lf_money_args d = {loan, amount, value_date, NULL};
    json_t *p = lf_run(lf_disb_fn, &d, FLE_OK, NULL);
    int64_t pid = lf_jid(p, "id");
    json_decref(p);
    lf_approve(pid);
}

/* ---- events ---- */

enum ev_kind { EV_CONTRIB, EV_LOAN, EV_PAY, EV_PAYOFF, EV_EXPENSE, EV_WRITEOFF, EV_RECOVERY };

struct event {
    char date[11];
    enum ev_kind kind;
    int who;        /* tranche or loan index */
    int64_t amount; /* minor units; for EV_PAY the instalment number */
    int order;      /* insertion order, to keep the sort stable */
};

static struct event events[EVENTS_MAX];
static size_t n_events;

static void add_event(rate_date d, enum ev_kind kind, int who, int64_t amount)
{
    if (rate_date_to_days(d) > rate_date_to_days(month_end(MONTHS - 1))) {
        return; /* after the history */
    }
    assert_true(n_events < EVENTS_MAX);
    struct event *e = &events[n_events];
    date_text(d, e->date);
    e->kind = kind;
    e->who = who;
    e->amount = amount;
    e->order = (int)n_events++;
}

static int by_date(const void *a, const void *b)
{
    const struct event *x = a, *y = b;
    int c = strcmp(x->date, y->date);
    return c ? c : (x->order > y->order) - (x->order < y->order);
}

/* ---- the checks of one statement ---- */

static int statements_checked, lines_checked, recoveries_seen, coupons_checked;

static void check_tranche(const json_t *t, const char *end)
{
    int64_t id = json_integer_value(json_object_get(t, "id"));
    int64_t nav = nav_at(id, end);
    /* The position: the tranche's own assets and its share of the pooled accounts add up to it. */
    assert_int_equal(cop(t, "nav_position.nav"), nav);
    assert_int_equal(cop(t, "performance_nav.nav"), nav);
    assert_int_equal(cop(t, "nav_position.cash_available"), moved(id, "CASH", NULL, end));
    assert_int_equal(cop(t, "nav_position.loans_outstanding"), moved(id, "LOANS", NULL, end));
    assert_int_equal(cop(t, "nav_position.other_assets"), other_assets_at(id, end));
    assert_int_equal(cop(t, "nav_position.loss_allowance"), moved(id, "ALLOWANCE", NULL, end));
    assert_int_equal(cop(t, "nav_position.cash_available") + cop(t, "nav_position.loans_outstanding") +
                         cop(t, "nav_position.other_assets") + cop(t, "nav_position.share_of_pooled_accounts"),
                     nav);
    /* The capital account on the NAV, each period, line by line. */
    static const char *const periods[] = {"qtd", "ytd", "itd"};
    for (int p = 0; p < 3; p++) {
        const json_t *na = jpath(jpath(t, "nav_account"), periods[p]);
        const char *from = json_string_value(json_object_get(na, "from"));
        char open[11] = "";
        if (from != NULL) {
            rate_date f;
            assert_true(ledger_date_parse(from, &f));
            /* The day before `from`. */
            if (f.d > 1) {
                f.d--;
            } else if (f.m > 1) {
                f.m--;
                f.d = rate_days_in_month(f.y, f.m);
            } else {
                f = (rate_date){f.y - 1, 12, 31};
            }
            date_text(f, open);
        }
        int64_t rec = recovered(id, from, end);
        assert_int_equal(cop(na, "opening"), from ? nav_at(id, open) : 0);
        assert_int_equal(cop(na, "closing"), nav);
        assert_int_equal(cop(na, "contributions"), -moved(id, "CONTRIB", from, end));
        assert_int_equal(cop(na, "income_allocated"), -moved(id, "INCOME", from, end));
        assert_int_equal(cop(na, "management_fees"), moved(id, "FEES", from, end));
        assert_int_equal(cop(na, "fund_expenses"), moved(id, "EXPENSES", from, end));
        assert_int_equal(cop(na, "unrealised_losses"), moved(id, "ALLOWANCE", from, end));
        assert_int_equal(cop(na, "realised_losses"), moved(id, "LOSS", from, end) + rec);
        assert_int_equal(cop(na, "recoveries"), rec);
        assert_int_equal(cop(na, "distributions_income"), moved(id, "DIST_INCOME", from, end));
        assert_int_equal(cop(na, "distributions_capital"), moved(id, "RETURNED", from, end));
        assert_int_equal(cop(na, "other"), 0);
        recoveries_seen += rec != 0;
        lines_checked += 12;
    }
    /* The coupon earned and not paid: on a date without a run, what the NAV allocation of the
     * date found earned from inception less the interest the runs before it paid; on a run date,
     * what the run left unpaid. */
    const json_t *cd = jpath(t, "nav_position.coupon_due");
    assert_int_equal(cop(cd, "unpaid_at_last_run") + cop(cd, "accrued_since"), cop(cd, "due"));
    char sql[1200];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM waterfall_run WHERE fund_id = %" PRId64 " AND run_date = '%s'",
             fund_id, end);
    if (q64(sql) > 0) {
        snprintf(sql, sizeof sql,
                 "SELECT coalesce((SELECT s.due_minor - s.amount_minor FROM waterfall_step s JOIN waterfall_run w ON "
                 "w.id = s.run_id WHERE w.fund_id = %" PRId64 " AND w.run_date = '%s' AND s.tranche_id = %" PRId64
                 " AND s.kind = 'interest' ORDER BY w.id DESC LIMIT 1), 0)",
                 fund_id, end, id);
        assert_int_equal(cop(cd, "accrued_since"), 0);
        assert_int_equal(cop(cd, "due"), q64(sql));
    } else {
        snprintf(sql, sizeof sql,
                 "SELECT n.earned_minor - coalesce((SELECT sum(s.amount_minor) FROM waterfall_step s JOIN "
                 "waterfall_run w ON w.id = s.run_id WHERE w.fund_id = %" PRId64 " AND w.run_date < '%s' AND "
                 "s.tranche_id = %" PRId64 " AND s.kind = 'interest'), 0) FROM nav_allocation_tranche n JOIN "
                 "nav_allocation a ON a.id = n.allocation_id WHERE a.fund_id = %" PRId64 " AND a.as_of = '%s' AND "
                 "n.tranche_id = %" PRId64,
                 fund_id, end, id, fund_id, end, id);
        assert_int_equal(cop(cd, "due"), q64(sql));
    }
    coupons_checked++;
}

static void check_month_end(const char *end)
{
    lf_assert_books_balance();
    int64_t net = net_assets_at(end), tranches = tranches_nav_at(end), investors_nav = 0;
    /* Nothing is left unallocated on a closed month end: the tranches' NAVs are the net assets. */
    assert_int_equal(tranches, net);
    for (int k = 0; k < TRANCHES; k++) {
        json_t *st = NULL;
        struct fl_error err;
        fl_error_clear(&err);
        if (statement_build(db, fund_id, investors[k], 0, end, &st, &err) != FLE_OK) {
            fail_msg("statement of investor %" PRId64 " on %s: %s %s", investors[k], end, err.field, err.message);
        }
        const json_t *fn = json_object_get(st, "fund_nav");
        assert_true(json_is_true(json_object_get(fn, "reconciles")));
        assert_int_equal(cop(fn, "net_assets"), net);
        assert_int_equal(cop(fn, "tranches_nav"), tranches);
        assert_int_equal(cop(fn, "not_yet_allocated"), 0);
        int64_t mine = 0;
        size_t i;
        const json_t *t;
        json_array_foreach(json_object_get(st, "tranches"), i, t)
        {
            check_tranche(t, end);
            mine += cop(t, "nav_position.nav");
        }
        assert_int_equal(cop(fn, "investor_nav"), mine);
        investors_nav += mine;
        statements_checked++;
        json_decref(st);
    }
    assert_int_equal(investors_nav, tranches);
}

/* ---- one seeded fund ---- */

static void run_seed(unsigned seed)
{
    printf("random fund: seed %u\n", seed);
    fflush(stdout);
    rng_seed(seed);
    n_events = 0;
    char code[32], buf[MONEY_TEXT_MAX], buf2[MONEY_TEXT_MAX];
    snprintf(code, sizeof code, "RND%u", seed);
    fund_id = lf_make_fund(code, "Randomised fund");
    /* The stack: senior (coupon and fee), mezzanine (coupon), first loss; commitments in whole
     * pesos, paid in 60 % on signing and the rest on a date in months 2-7. */
    static const char *const names[TRANCHES] = {"Senior", "Mezzanine", "First loss"};
    static const char *const kinds[TRANCHES] = {"senior", "mezzanine", "first_loss"};
    static const char *const rates[TRANCHES][3] = {{"0.0600", "0.0700", "0.0800"}, {"0.0350", "0.0400", "0.0450"},
                                                   {"0", "0", "0"}};
    int64_t tranche[TRANCHES], commitment[TRANCHES];
    for (int k = 0; k < TRANCHES; k++) {
        commitment[k] = rnd(300, 700) * 100000000; /* 300-700 million pesos */
        const char *fee = k == 0 ? (rnd(0, 1) ? "0.0150" : "0.0200") : NULL;
        struct lf_tranche_args a = {fund_id,
                                    {investors[k], names[k], kinds[k], k + 1, "COP", money_text(commitment[k], buf),
                                     rates[k][rnd(0, 2)], fee, NULL, "2024-01-01", NULL}};
        json_t *p = lf_run(lf_tranche_fn, &a, FLE_OK, NULL);
        int64_t pid = lf_jid(p, "id");
        json_decref(p);
        lf_approve(pid);
        char sql[200];
        snprintf(sql, sizeof sql, "SELECT id FROM tranche WHERE fund_id = %" PRId64 " AND rank = %d", fund_id, k + 1);
        tranche[k] = q64(sql);
        if (k == 0) {
            /* The senior's fee is on the commitment until the investment period ends. */
            snprintf(sql, sizeof sql, "UPDATE tranche SET investment_period_end = '2024-0%d-01' WHERE id = %" PRId64,
                     (int)rnd(3, 9), tranche[0]);
            assert_true(testdb_exec(ci, sql));
        }
        int64_t first = commitment[k] / 10 * 6;
        add_event((rate_date){2024, 1, 2}, EV_CONTRIB, k, first);
        add_event((rate_date){2024, (int)rnd(2, 7), (int)rnd(1, 28)}, EV_CONTRIB, k, commitment[k] - first);
    }
    /* The loans: approved and drawn in months 1-6, twelve monthly instalments; what the first
     * 60 % of capital can fund. One of them stops paying after two instalments. */
    int64_t loan[LOANS];
    int behaviour[LOANS]; /* 0 on time, 1 late, 2 prepays, 3 defaults */
    rate_date drawn[LOANS];
    static char approved[LOANS][11], first_due[LOANS][11];
    static struct lf_loan_args terms[LOANS];
    int defaulter = (int)rnd(0, LOANS / 2 - 1); /* an early loan, so the write-off falls in the history */
    for (int i = 0; i < LOANS; i++) {
        int64_t principal = rnd(10, 45) * 100000000 + rnd(0, 99) * 100000;
        /* The first half are drawn in the first quarter, the rest in the first half year. */
        drawn[i] = (rate_date){2024, (int)rnd(1, i < LOANS / 2 ? 3 : 6), (int)rnd(5, 25)};
        rate_date ap = drawn[i];
        ap.d -= 3;
        date_text(ap, approved[i]);
        rate_date fd;
        assert_true(rate_date_add_months(drawn[i], 1, &fd));
        date_text(fd, first_due[i]);
        char nm[48];
        snprintf(nm, sizeof nm, "Asociación %u-%d", seed, i);
        int64_t e = lf_make_entrepreneur(fund_id, nm, i % 2 ? "52250" : "05088", i % 3 ? "cacao" : "coffee");
        /* Approved (shares pro rata to the tranches' cash then) when it is drawn. */
        terms[i] = (struct lf_loan_args){fund_id,
                                         {.entrepreneur_id = e,
                                          .principal = NULL,
                                          .annual_rate = rnd(0, 1) ? "0.2475" : "0.2200",
                                          .payments_per_year = 12,
                                          .term_count = 12,
                                          .first_due_date = first_due[i],
                                          .amortisation = rnd(0, 1) ? "equal_principal" : "annuity",
                                          .approval_date = approved[i],
                                          .purpose = "working capital"}};
        add_event(drawn[i], EV_LOAN, i, principal);
        behaviour[i] = i == defaulter ? 3 : (int)rnd(0, 2);
        /* Its instalments, by behaviour: on the due date; 5-40 days late; on time until the
         * k-th, then paid off; two, then nothing. */
        int prepay_at = (int)rnd(3, 9);
        for (int n = 1; n <= 12; n++) {
            rate_date due;
            assert_true(rate_date_add_months(drawn[i], n, &due));
            if (behaviour[i] == 3 && n > 2) {
                break;
            }
            if (behaviour[i] == 2 && n == prepay_at) {
                add_event(add_days(due, (int)rnd(0, 10)), EV_PAYOFF, i, 0);
                break;
            }
            add_event(behaviour[i] == 1 ? add_days(due, (int)rnd(5, 40)) : due, EV_PAY, i, n);
        }
        if (behaviour[i] == 3) {
            rate_date wo, back;
            assert_true(rate_date_add_months(drawn[i], 7, &wo)); /* four months after the third instalment */
            back = add_days(wo, (int)rnd(20, 60));
            add_event(wo, EV_WRITEOFF, i, 0);
            add_event(back, EV_RECOVERY, i, rnd(5, 40) * 10000000); /* 0.5-4 million pesos */
        }
    }
    /* Fund expenses, accrued in the middle of each quarter. */
    for (int q = 0; q < MONTHS / 3; q++) {
        add_event((rate_date){2024 + (q * 3 + 1) / 12, (q * 3 + 1) % 12 + 1, (int)rnd(1, 28)}, EV_EXPENSE, 0,
                  rnd(5, 50) * 10000000);
    }
    qsort(events, n_events, sizeof events[0], by_date);

    size_t at = 0;
    for (int m = 0; m < MONTHS; m++) {
        char end[11];
        date_text(month_end(m), end);
        for (; at < n_events && strcmp(events[at].date, end) <= 0; at++) {
            const struct event *ev = &events[at];
            switch (ev->kind) {
            case EV_CONTRIB: {
                char ref[48];
                snprintf(ref, sizeof ref, "CALL-%d-%s", ev->who, ev->date);
                struct lf_money_args c = {tranche[ev->who], money_text(ev->amount, buf), ev->date, ref};
                json_decref(lf_run(lf_contribute_fn, &c, FLE_OK, NULL));
                break;
            }
            case EV_LOAN:
                terms[ev->who].t.principal = money_text(ev->amount, buf);
                loan[ev->who] = lf_approve_loan(&terms[ev->who]);
                disburse(loan[ev->who], buf, ev->date);
                break;
            case EV_PAY: {
                /* The instalment's scheduled total, or what settles the loan when that is less
                 * (a loan that is not active any more is skipped). */
                json_t *l = lf_run(loan_get_fn, &loan[ev->who], FLE_OK, NULL);
                bool active = strcmp(lf_jstr(l, "status"), "active") == 0;
                const json_t *row = json_array_get(json_object_get(l, "schedule"), (size_t)ev->amount - 1);
                int64_t total = 0;
                assert_int_equal(money_parse(lf_jstr(row, "total"), 2, false, &total), MONEY_OK);
                json_decref(l);
                if (!active) {
                    break;
                }
                struct wo_args q = {loan[ev->who], ev->date};
                json_t *po = lf_run(payoff_fn, &q, FLE_OK, NULL);
                int64_t payoff = 0;
                assert_int_equal(money_parse(lf_jstr(po, "payoff"), 2, false, &payoff), MONEY_OK);
                json_decref(po);
                char ref[48];
                snprintf(ref, sizeof ref, "BANK-%d-%" PRId64 "-%s", ev->who, ev->amount, ev->date);
                json_decref(
                    lf_repay(loan[ev->who], money_text(total < payoff ? total : payoff, buf), ev->date, ref, FLE_OK, NULL));
                break;
            }
            case EV_PAYOFF: {
                struct wo_args q = {loan[ev->who], ev->date};
                json_t *po = lf_run(payoff_fn, &q, FLE_OK, NULL);
                char ref[48];
                snprintf(ref, sizeof ref, "PAYOFF-%d", ev->who);
                json_decref(lf_repay(loan[ev->who], lf_jstr(po, "payoff"), ev->date, ref, FLE_OK, NULL));
                json_decref(po);
                break;
            }
            case EV_EXPENSE: {
                struct manual_args x = {ev->date, money_text(ev->amount, buf)};
                json_t *p = lf_run(expense_fn, &x, FLE_OK, NULL);
                int64_t pid = lf_jid(p, "id");
                json_decref(p);
                lf_approve(pid);
                break;
            }
            case EV_WRITEOFF: {
                struct wo_args w = {loan[ev->who], ev->date};
                json_t *p = lf_run(writeoff_fn, &w, FLE_OK, NULL);
                int64_t pid = lf_jid(p, "id");
                json_decref(p);
                lf_approve(pid);
                break;
            }
            case EV_RECOVERY: {
                struct rec_args r = {loan[ev->who], money_text(ev->amount, buf2), ev->date};
                json_decref(lf_run(recovery_fn, &r, FLE_OK, NULL));
                break;
            }
            }
        }
        /* The close (allowance and NAV allocation), then the quarter's waterfall run. */
        struct date_args d = {end};
        json_decref(lf_run(close_fn, &d, FLE_OK, NULL));
        if ((m + 1) % 3 == 0) {
            json_decref(lf_run(run_fn, &d, FLE_OK, NULL));
        }
        check_month_end(end);
    }
    assert_int_equal(at, n_events);
    /* The history did what it says: a write-off, a recovery, runs, closes, allowance, fees. */
    char sql[300];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM write_off w JOIN loan l ON l.id = w.loan_id WHERE l.fund_id = %" PRId64, fund_id);
    assert_int_equal(q64(sql), 1);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM recovery r JOIN loan l ON l.id = r.loan_id WHERE l.fund_id = %" PRId64, fund_id);
    assert_int_equal(q64(sql), 1);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM waterfall_run WHERE fund_id = %" PRId64, fund_id);
    assert_int_equal(q64(sql), MONTHS / 3);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM nav_allocation WHERE fund_id = %" PRId64, fund_id);
    assert_int_equal(q64(sql), MONTHS);
    assert_true(lf_tbal(fund_id, tranche[0], "FEES") > 0);
    assert_true(lf_tbal(fund_id, tranche[0], "EXPENSES") > 0);
}

/* The hash chain and every entry's origin verify (test_navalloc's check). */
static void assert_verify_ok(void)
{
    struct ledger_verify_report rep;
    struct fl_error err;
    unsigned sealed = 0;
    do {
        assert_int_equal(ledger_seal(db, 1000, &sealed, &err), FLE_OK);
    } while (sealed > 0);
    assert_int_equal(ledger_verify(db, &rep, &err), FLE_OK);
    assert_true(rep.ok);
    struct ledger_verify_options o = {.verifier = NULL, .anchor_log = NULL};
    fl_error_clear(&err);
    assert_int_equal(ledger_verify_full(db, &o, &rep, &err), FLE_OK);
    assert_int_equal(rep.origins_checked, q64("SELECT count(*) FROM journal_entry"));
    int origin_problems = 0;
    for (unsigned i = 0; i < rep.problems_n; i++) {
        if (strncmp(rep.problems[i].text, "entry ", 6) == 0 && strstr(rep.problems[i].text, "): ") != NULL) {
            fprintf(stderr, "verify: %s\n", rep.problems[i].text);
            origin_problems++;
        }
    }
    assert_int_equal(origin_problems, 0);
}

static void test_random_funds(void **state)
{
    (void)state;
    static const unsigned seeds[] = {20261207u, 11u};
    const char *one = getenv("FUNDLEDGER_RANDOM_FUND_SEED");
    if (one != NULL && *one != '\0') {
        run_seed((unsigned)strtoul(one, NULL, 10));
    } else {
        for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++) {
            run_seed(seeds[i]);
        }
    }
    assert_verify_ok();
    printf("random fund: %d statements, %d capital account lines, %d coupons checked; recoveries seen %d times\n",
           statements_checked, lines_checked, coupons_checked, recoveries_seen);
    assert_true(recoveries_seen > 0);
}

static int setup(void **state)
{
    (void)state;
    ci = testdb_create("random_fund");
    db = testdb_open(ci);
    lf_setup(ci, db, &manager, &approver, 10000000000000);
    static const char *const names[TRANCHES][2] = {
        {"Impact investor", "XI-IATI-IIF"}, {"Corporate partner", "CO-RUE-900000002"}, {"UNDP", "XM-DAC-41114"}};
    for (int k = 0; k < TRANCHES; k++) {
        investors[k] = lf_make_investor(names[k][0], names[k][1]);
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    db_close(db);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_funds),
    };
    return cmocka_run_group_tests_name("randomised fund (database)", tests, setup, teardown);
}
