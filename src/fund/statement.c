/* statement: investor statements built from ledger balances and stored business rows, hashed. */
#include "fundledger/statement.h"

#include <assert.h>
#include <stddef.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fundledger/coupon.h"
#include "fundledger/fund.h"
#include "fundledger/ledger.h"
#include "fundledger/limits.h"
#include "fundledger/log.h"
#include "fundledger/money.h"
#include "fundledger/pipeline.h"
#include "fundledger/portfolio.h"
#include "fundledger/rate.h"
#include "fundledger/tranche.h"
#include "fundledger/xirr.h"

/* Ratios (subordination, PAR) carry 4 decimals. */
#define RATIO_SCALE 10000
/* Steps of one tranche in one waterfall run: interest, principal and the residual. */
#define STEPS_PER_RUN_MAX 4

/* A tranche's accounts that make its NAV beside CASH and LOANS (docs/fund-operations.md, "NAV:
 * everything allocated to the tranches"): signed balances, debit > 0. */
struct navb {
    int64_t contrib, returned, dist_income, loss, allowance, income, fees, expenses;
    int64_t other_result; /* any other equity, income or expense account of the tranche */
    int64_t other_assets; /* any other asset or liability account (e.g. interest receivable) */
    int64_t recovered;    /* what recoveries credited to LOSS (< 0); part of `loss`, not added again */
};

/* Dates a tranche's accounts are read at: the period end, the days before the quarter and the year. */
enum { AT_END = 0, AT_QTD_OPEN, AT_YTD_OPEN, AT_DATES };

/* One tranche of the fund as of the period end: its row and its ledger balances. */
struct trow {
    int64_t id, investor_id, rank, return_rate, fee_rate;
    char name[NAME_BYTES_MAX + 1];
    char kind[16];
    char signed_date[DATE_TEXT_BYTES];
    char status[16];
    int64_t bal[TRANCHE_ACCOUNTS];              /* as of the period end */
    int64_t open[AT_DATES][TRANCHE_ACCOUNTS];   /* as of each date (AT_END: = bal) */
    struct navb nb[AT_DATES];                   /* the NAV accounts as of each date */
    int64_t nav;                                /* the accrual NAV as of the period end (navb_nav) */
};

/* The three periods, each ending at the period end. The inception period opens at zero. */
enum { P_QTD = 0, P_YTD, P_ITD, PERIODS };
static const char *const period_keys[PERIODS] = {"qtd", "ytd", "itd"};

struct bctx {
    /* inputs */
    int64_t fund_id, investor_id, tranche_id;
    char period_end[DATE_TEXT_BYTES];
    /* derived */
    rate_date end;
    char from[PERIODS][DATE_TEXT_BYTES];       /* first day of each period ("" for inception) */
    char open_as_of[PERIODS][DATE_TEXT_BYTES]; /* the day before it */
    char currency[CURRENCY_CODE_BYTES];
    int exp;
    struct trow *stack; /* every tranche of the fund signed by the period end, most senior first */
    unsigned n_stack;
    json_t *out;
};

/* ---- small helpers --------------------------------------------------------------------- */

/* YYYY-MM-DD of a date with a four-digit year (the day before 1900-01-01 included). */
static void date_text(rate_date d, char out[DATE_TEXT_BYTES])
{
    assert(d.y >= 1000 && d.y <= 9999 && d.m >= 1 && d.m <= 12 && d.d >= 1 && d.d <= 31);
    unsigned y = (unsigned)d.y, m = (unsigned)d.m, dd = (unsigned)d.d;
    const char t[DATE_TEXT_BYTES] = {(char)('0' + y / 1000),
                                     (char)('0' + y / 100 % 10),
                                     (char)('0' + y / 10 % 10),
                                     (char)('0' + y % 10),
                                     '-',
                                     (char)('0' + m / 10),
                                     (char)('0' + m % 10),
                                     '-',
                                     (char)('0' + dd / 10),
                                     (char)('0' + dd % 10),
                                     '\0'};
    memcpy(out, t, DATE_TEXT_BYTES);
}

/* Parses a date already checked by ledger_date_valid. */
static rate_date parse_date(const char *s)
{
    rate_date d = {0, 0, 0};
    bool ok = ledger_date_parse(s, &d);
    assert(ok);
    (void)ok;
    return d;
}

static rate_date day_before(rate_date d)
{
    if (d.d > 1) {
        d.d--;
    } else if (d.m > 1) {
        d.m--;
        d.d = rate_days_in_month(d.y, d.m);
    } else {
        d.y--;
        d.m = 12;
        d.d = 31;
    }
    return d;
}

static json_t *amt(const struct bctx *b, int64_t minor)
{
    char buf[MONEY_TEXT_MAX];
    size_t n = money_format(minor, b->exp, buf, sizeof buf);
    assert(n > 0);
    return json_string(buf);
}

/* num / den rounded half-even to 4 decimals as "0.1234"; null when den <= 0. */
static json_t *ratio4(int64_t num, int64_t den)
{
    int64_t q;
    if (den <= 0 || !money_div_half_even((money_i128)num * RATIO_SCALE, den, &q)) {
        return json_null();
    }
    char buf[RATE_TEXT_MAX];
    size_t n = rate_format_units(q, 4, buf, sizeof buf);
    assert(n > 0);
    return json_string(buf);
}

static enum fl_err oom(struct fl_error *err)
{
    return fl_error_set(err, FLE_INTERNAL, NULL, "out of memory");
}

static enum fl_err overflow(struct fl_error *err)
{
    return fl_error_set(err, FLE_INTERNAL, NULL, "a statement figure does not fit 64 bits");
}

/* a - b, false on overflow. */
static bool sub(int64_t a, int64_t b, int64_t *out)
{
    return money_sub(a, b, out);
}

/* ---- periods ----------------------------------------------------------------------------- */

static void periods_init(struct bctx *b)
{
    b->end = parse_date(b->period_end);
    rate_date q = {b->end.y, ((b->end.m - 1) / 3) * 3 + 1, 1};
    rate_date y = {b->end.y, 1, 1};
    date_text(q, b->from[P_QTD]);
    date_text(day_before(q), b->open_as_of[P_QTD]);
    date_text(y, b->from[P_YTD]);
    date_text(day_before(y), b->open_as_of[P_YTD]);
    b->from[P_ITD][0] = '\0';
    b->open_as_of[P_ITD][0] = '\0';
}

static json_t *periods_json(const struct bctx *b)
{
    json_t *o = json_object();
    for (int p = 0; p < PERIODS && o != NULL; p++) {
        json_t *v =
            json_pack("{s:o, s:s}", "from", b->from[p][0] ? json_string(b->from[p]) : json_null(), "to", b->period_end);
        if (v == NULL || json_object_set_new(o, period_keys[p], v) != 0) {
            json_decref(o);
            return NULL;
        }
    }
    return o;
}

/* ---- the accrual NAV ------------------------------------------------------------------------ */

/* Every account of tranche t as of the period end and, for a tranche the statement reports
 * (`all_dates`), as of the days before its quarter and year, in one query
 * (statement_tranche_accounts): t->bal, t->open and t->nb. */
static enum fl_err tranche_accounts(struct db *db, const struct bctx *b, struct trow *t, bool all_dates,
                                    struct fl_error *err)
{
    static const char *const suffixes[TRANCHE_ACCOUNTS] = {"CASH",        "LOANS", "CONTRIB",  "RETURNED",
                                                           "DIST_INCOME", "LOSS",  "UNFUNDED", "COMMITMENT"};
    static const struct {
        const char *suffix;
        size_t off;
    } known[] = {{"CONTRIB", offsetof(struct navb, contrib)},         {"RETURNED", offsetof(struct navb, returned)},
                 {"DIST_INCOME", offsetof(struct navb, dist_income)}, {"LOSS", offsetof(struct navb, loss)},
                 {"ALLOWANCE", offsetof(struct navb, allowance)},     {"INCOME", offsetof(struct navb, income)},
                 {"FEES", offsetof(struct navb, fees)},               {"EXPENSES", offsetof(struct navb, expenses)}};
    memset(t->open, 0, sizeof t->open);
    memset(t->nb, 0, sizeof t->nb);
    char fb[21], tb[21];
    const char *end = b->period_end;
    const char *p[5] = {db_i64_text(b->fund_id, fb), db_i64_text(t->id, tb), end,
                        all_dates ? b->open_as_of[P_QTD] : end, all_dates ? b->open_as_of[P_YTD] : end};
    PGresult *r = db_exec(db, "statement_tranche_accounts", 5, p, err);
    if (r == NULL) {
        return err->code;
    }
    bool ok = true;
    for (int i = 0; i < PQntuples(r) && ok; i++) {
        const char *suffix = db_str(r, i, 0), *type = db_str(r, i, 1);
        bool memo = strcmp(type, "memo") == 0;
        bool asset = strcmp(type, "asset") == 0 || strcmp(type, "liability") == 0;
        bool own = false; /* CASH, LOANS and the memo pair: not a NAV account */
        for (int k = 0; k < TRANCHE_ACCOUNTS; k++) {
            if (strcmp(suffix, suffixes[k]) == 0) {
                for (int d = 0; d < AT_DATES; d++) {
                    t->open[d][k] = db_i64(r, i, 2 + d);
                }
                own = k == TRANCHE_CASH || k == TRANCHE_LOANS;
            }
        }
        if (memo || own) {
            continue;
        }
        size_t off = asset ? offsetof(struct navb, other_assets) : offsetof(struct navb, other_result);
        for (size_t k = 0; !asset && k < sizeof known / sizeof known[0]; k++) {
            if (strcmp(suffix, known[k].suffix) == 0) {
                off = known[k].off;
            }
        }
        for (int d = 0; d < AT_DATES && ok; d++) {
            int64_t *slot = (int64_t *)((char *)&t->nb[d] + off);
            ok = money_add(*slot, db_i64(r, i, 2 + d), slot);
        }
    }
    PQclear(r);
    memcpy(t->bal, t->open[AT_END], sizeof t->bal);
    if (!ok) {
        return overflow(err);
    }
    if (!all_dates) {
        return FLE_OK; /* only the reported tranches' capital accounts show recoveries */
    }
    if ((r = db_exec(db, "statement_tranche_recoveries", 5, p, err)) == NULL) {
        return err->code;
    }
    for (int d = 0; d < AT_DATES; d++) {
        t->nb[d].recovered = db_i64(r, 0, d);
    }
    PQclear(r);
    return FLE_OK;
}

/* NAV = -(every equity, income and expense account of the tranche). */
static bool navb_nav(const struct navb *n, int64_t *nav)
{
    money_i128 s = (money_i128)n->contrib + n->returned + n->dist_income + n->loss + n->allowance + n->income +
                   n->fees + n->expenses + n->other_result;
    if (s > INT64_MAX || s < -INT64_MAX) {
        return false;
    }
    *nav = (int64_t)-s;
    return true;
}

/* The capital account on the accrual NAV for one period (ILPA's capital account statement):
 * every line a movement of the tranche's own accounts, signed as the investor reads it. */
struct navroll {
    int64_t opening, contributions, income, fees, expenses, unrealised, realised, recoveries, dist_income,
        dist_capital, other, closing;
};

static bool navroll_compute(const struct navb *o, const struct navb *c, struct navroll *r)
{
    memset(r, 0, sizeof *r);
    if (!navb_nav(o, &r->opening) || !navb_nav(c, &r->closing)) {
        return false;
    }
    /* Realised losses are the LOSS account's movement without the recoveries' credits, which
     * are their own line (restored to the tranche). */
    money_i128 recovered = (money_i128)c->recovered - o->recovered;
    money_i128 v[10] = {-((money_i128)c->contrib - o->contrib),
                        -((money_i128)c->income - o->income),
                        (money_i128)c->fees - o->fees,
                        (money_i128)c->expenses - o->expenses,
                        (money_i128)c->allowance - o->allowance,
                        (money_i128)c->loss - o->loss - recovered,
                        -recovered,
                        (money_i128)c->dist_income - o->dist_income,
                        (money_i128)c->returned - o->returned,
                        -((money_i128)c->other_result - o->other_result)};
    int64_t *dst[10] = {&r->contributions, &r->income,      &r->fees,         &r->expenses,
                        &r->unrealised,    &r->realised,    &r->recoveries,   &r->dist_income,
                        &r->dist_capital,  &r->other};
    for (int k = 0; k < 10; k++) {
        if (v[k] > INT64_MAX || v[k] < -INT64_MAX) {
            return false;
        }
        *dst[k] = (int64_t)v[k];
    }
    /* Opening + movements = closing, exactly: the same accounts at two dates. */
    money_i128 check = (money_i128)r->opening + r->contributions + r->income - r->fees - r->expenses - r->unrealised -
                       r->realised + r->recoveries - r->dist_income - r->dist_capital + r->other;
    assert(check == (money_i128)r->closing);
    return true;
}

static json_t *navroll_json(const struct bctx *b, const struct navroll *r, int p)
{
    return json_pack("{s:o, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "from",
                     b->from[p][0] ? json_string(b->from[p]) : json_null(), "to", b->period_end, "opening",
                     amt(b, r->opening), "contributions", amt(b, r->contributions), "income_allocated",
                     amt(b, r->income), "management_fees", amt(b, r->fees), "fund_expenses", amt(b, r->expenses),
                     "unrealised_losses", amt(b, r->unrealised), "realised_losses", amt(b, r->realised),
                     "recoveries", amt(b, r->recoveries),
                     "distributions_income", amt(b, r->dist_income), "distributions_capital",
                     amt(b, r->dist_capital), "other", amt(b, r->other), "closing", amt(b, r->closing));
}

/* ---- the capital stack ------------------------------------------------------------------- */

static enum fl_err load_stack(struct db *db, struct bctx *b, struct fl_error *err)
{
    char fb[21], lb[21];
    const char *p[3] = {db_i64_text(b->fund_id, fb), b->period_end, db_i64_text(STATEMENT_TRANCHES_MAX + 1, lb)};
    PGresult *r = db_exec(db, "statement_tranches", 3, p, err);
    if (r == NULL) {
        return err->code;
    }
    int n = PQntuples(r);
    if (n > STATEMENT_TRANCHES_MAX) {
        PQclear(r);
        return fl_error_set(err, FLE_INTERNAL, "fund_id", "the fund has more than %d tranches", STATEMENT_TRANCHES_MAX);
    }
    b->stack = calloc(n > 0 ? (size_t)n : 1u, sizeof *b->stack);
    if (b->stack == NULL) {
        PQclear(r);
        return oom(err);
    }
    b->n_stack = 0;
    enum fl_err e = FLE_OK;
    for (int i = 0; i < n && e == FLE_OK; i++) {
        struct trow *t = &b->stack[i];
        t->id = db_i64(r, i, 0);
        t->investor_id = db_i64(r, i, 1);
        snprintf(t->name, sizeof t->name, "%s", db_str(r, i, 2));
        snprintf(t->kind, sizeof t->kind, "%s", db_str(r, i, 3));
        t->rank = db_i64(r, i, 4);
        if (strcmp(db_str(r, i, 5), b->currency) != 0) {
            e = fl_error_set(err, FLE_INTERNAL, "tranche_id", "tranche %" PRId64 " is not in the fund currency", t->id);
            break;
        }
        t->return_rate = db_i64(r, i, 6);
        t->fee_rate = db_i64(r, i, 7);
        snprintf(t->signed_date, sizeof t->signed_date, "%s", db_str(r, i, 8));
        snprintf(t->status, sizeof t->status, "%s", db_str(r, i, 9));
        bool mine = t->investor_id == b->investor_id && (b->tranche_id == 0 || t->id == b->tranche_id);
        if ((e = tranche_accounts(db, b, t, mine, err)) == FLE_OK && !navb_nav(&t->nb[AT_END], &t->nav)) {
            e = overflow(err);
        }
        b->n_stack++;
    }
    PQclear(r);
    return e;
}

/* ---- one tranche ------------------------------------------------------------------------- */

/* The capital account of one period; every line in minor units. */
struct rollforward {
    int64_t opening, contributions, income_allocated, dist_income, dist_principal, losses, fees, closing;
};

static enum fl_err rollforward(struct db *db, const struct bctx *b, const struct trow *t, int p, struct rollforward *rf,
                               struct fl_error *err)
{
    static const int64_t zero[TRANCHE_ACCOUNTS] = {0};
    (void)db;
    (void)b;
    const int64_t *open = p == P_QTD ? t->open[AT_QTD_OPEN] : p == P_YTD ? t->open[AT_YTD_OPEN] : zero;
    const int64_t *close = t->bal;
    memset(rf, 0, sizeof *rf);
    int64_t contrib_delta;
    if (!sub(close[TRANCHE_CONTRIB], open[TRANCHE_CONTRIB], &contrib_delta) || contrib_delta == INT64_MIN ||
        !sub(close[TRANCHE_DIST_INCOME], open[TRANCHE_DIST_INCOME], &rf->dist_income) ||
        !sub(close[TRANCHE_RETURNED], open[TRANCHE_RETURNED], &rf->dist_principal) ||
        !sub(close[TRANCHE_LOSS], open[TRANCHE_LOSS], &rf->losses)) {
        return overflow(err);
    }
    rf->opening = tranche_capital(open);
    rf->closing = tranche_capital(close);
    rf->contributions = -contrib_delta;     /* credits to CONTRIB are capital paid in */
    rf->income_allocated = rf->dist_income; /* income is allocated as it is distributed */
    rf->fees = 0;                           /* no tranche fees are charged yet: the line is kept */
    /* Opening + movements = closing, exactly: both ends and every movement are the same ledger
     * balances at two dates. */
    money_i128 check = (money_i128)rf->opening + rf->contributions + rf->income_allocated - rf->dist_income -
                       rf->dist_principal - rf->losses - rf->fees;
    assert(check == (money_i128)rf->closing);
    return FLE_OK;
}

static json_t *rollforward_json(const struct bctx *b, const struct rollforward *rf, int p)
{
    return json_pack("{s:o, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "from",
                     b->from[p][0] ? json_string(b->from[p]) : json_null(), "to", b->period_end, "opening",
                     amt(b, rf->opening), "contributions", amt(b, rf->contributions), "income_allocated",
                     amt(b, rf->income_allocated), "distributions_income", amt(b, rf->dist_income),
                     "distributions_principal", amt(b, rf->dist_principal), "losses_absorbed", amt(b, rf->losses),
                     "fees", amt(b, rf->fees), "closing", amt(b, rf->closing));
}

/* The last waterfall interest step of the tranche on or before the period end: what was due and
 * not paid then (the shortfall carried to the next run). */
static json_t *interest_unpaid(struct db *db, const struct bctx *b, const struct trow *t, struct fl_error *err)
{
    char tb[21];
    const char *p[2] = {db_i64_text(t->id, tb), b->period_end};
    PGresult *r = db_exec(db, "statement_interest_unpaid", 2, p, err);
    if (r == NULL) {
        return NULL;
    }
    json_t *o = PQntuples(r) == 0
                    ? json_null()
                    : json_pack("{s:s, s:o}", "run_date", db_str(r, 0, 0), "amount", amt(b, db_i64(r, 0, 1)));
    PQclear(r);
    if (o == NULL) {
        oom(err);
    }
    return o;
}

/* Capital of the more junior tranches over the capital of the whole stack. */
static json_t *subordination(const struct bctx *b, const struct trow *t)
{
    money_i128 junior = 0, total = 0;
    for (unsigned i = 0; i < b->n_stack; i++) {
        int64_t c = tranche_capital(b->stack[i].bal);
        total += c;
        if (b->stack[i].rank > t->rank) {
            junior += c;
        }
    }
    if (junior > INT64_MAX || junior < INT64_MIN || total > INT64_MAX || total < INT64_MIN) {
        return NULL;
    }
    return json_pack("{s:o, s:o, s:o}", "junior_capital", amt(b, (int64_t)junior), "stack_capital",
                     amt(b, (int64_t)total), "ratio", ratio4((int64_t)junior, (int64_t)total));
}

/* DPI, RVPI, TVPI and the IRR over the tranche's dated flows with the NAV as last inflow. */
static json_t *performance(struct db *db, const struct bctx *b, const struct trow *t, int64_t nav,
                           struct fl_error *err)
{
    const int64_t *bal = t->bal;
    int64_t paid_in = -bal[TRANCHE_CONTRIB];
    int64_t distributions;
    if (!money_add(bal[TRANCHE_RETURNED], bal[TRANCHE_DIST_INCOME], &distributions)) {
        overflow(err);
        return NULL;
    }
    xirr_multiples m;
    xirr_status ms = xirr_multiples_compute(distributions, nav, paid_in, &m);
    char dpi[RATE_TEXT_MAX], rvpi[RATE_TEXT_MAX], tvpi[RATE_TEXT_MAX], irr_text[RATE_TEXT_MAX];
    if (ms == XIRR_OK) {
        xirr_format_multiple(m.dpi_e4, dpi, sizeof dpi);
        xirr_format_multiple(m.rvpi_e4, rvpi, sizeof rvpi);
        xirr_format_multiple(m.tvpi_e4, tvpi, sizeof tvpi);
    }

    /* Flows: each date's net of the CONTRIB (negative: paid in), RETURNED and DIST_INCOME
     * (positive: received) lines, then the NAV on the period end. */
    xirr_flow *flows = calloc(XIRR_FLOWS_MAX, sizeof *flows);
    if (flows == NULL) {
        oom(err);
        return NULL;
    }
    char fb[21], tb[21], lb[21];
    const char *p[4] = {db_i64_text(b->fund_id, fb), db_i64_text(t->id, tb), b->period_end,
                        db_i64_text(XIRR_FLOWS_MAX, lb)};
    PGresult *r = db_exec(db, "statement_cash_flows", 4, p, err);
    if (r == NULL) {
        free(flows);
        return NULL;
    }
    size_t n = (size_t)PQntuples(r);
    money_i128 sum = 0;
    for (size_t i = 0; i < n; i++) {
        flows[i].date = parse_date(db_str(r, (int)i, 0));
        flows[i].amount_minor = db_i64(r, (int)i, 1);
        sum += flows[i].amount_minor;
    }
    PQclear(r);
    xirr_status st;
    int64_t irr = 0;
    if (n >= XIRR_FLOWS_MAX) {
        st = XIRR_ERR_COUNT;
    } else {
        /* The flows are the same lines as the balances: they must sum to them. */
        assert(sum == (money_i128)bal[TRANCHE_CONTRIB] + bal[TRANCHE_RETURNED] + bal[TRANCHE_DIST_INCOME]);
        if (nav != 0) {
            flows[n].date = b->end;
            flows[n].amount_minor = nav;
            n++;
        }
        st = xirr_compute(flows, n, &irr);
    }
    free(flows);
    if (st == XIRR_OK) {
        xirr_format_rate(irr, irr_text, sizeof irr_text);
    }
    json_t *o =
        json_pack("{s:s, s:o, s:o, s:o, s:s?, s:s?, s:s?, s:s, s:s?, s:s, s:I}", "as_of", b->period_end, "paid_in",
                  amt(b, paid_in), "distributions", amt(b, distributions), "nav", amt(b, nav), "dpi",
                  ms == XIRR_OK ? dpi : NULL, "rvpi", ms == XIRR_OK ? rvpi : NULL, "tvpi", ms == XIRR_OK ? tvpi : NULL,
                  "multiples_status", ms == XIRR_OK ? "ok" : xirr_status_text(ms), "irr",
                  st == XIRR_OK ? irr_text : NULL, "irr_status", xirr_status_text(st), "cash_flows", (json_int_t)n);
    if (o == NULL) {
        oom(err);
    }
    return o;
}

/* The waterfall runs of the quarter with the steps that paid (or were due to) this tranche. */
static json_t *waterfall(struct db *db, const struct bctx *b, const struct trow *t, struct fl_error *err)
{
    char fb[21], lb[21], tb[21];
    const char *p[4] = {db_i64_text(b->fund_id, fb), b->from[P_QTD], b->period_end,
                        db_i64_text(STATEMENT_WATERFALL_RUNS_MAX + 1, lb)};
    PGresult *r = db_exec(db, "statement_waterfall_runs", 4, p, err);
    if (r == NULL) {
        return NULL;
    }
    int n = PQntuples(r);
    bool truncated = n > STATEMENT_WATERFALL_RUNS_MAX;
    if (truncated) {
        n = STATEMENT_WATERFALL_RUNS_MAX;
    }
    json_t *runs = json_array();
    struct db_array ids;
    db_array_init(&ids);
    for (int i = 0; i < n && runs != NULL; i++) {
        json_t *run =
            json_pack("{s:I, s:s, s:s, s:{s:o, s:o, s:o}, s:[]}", "id", (json_int_t)db_i64(r, i, 0), "run_date",
                      db_str(r, i, 1), "mode", db_str(r, i, 2), "collected", "interest", amt(b, db_i64(r, i, 3)),
                      "fees", amt(b, db_i64(r, i, 4)), "principal", amt(b, db_i64(r, i, 5)), "steps");
        if (run == NULL || json_array_append_new(runs, run) != 0 || !db_array_i64(&ids, db_i64(r, i, 0))) {
            json_decref(runs);
            runs = NULL;
        }
    }
    PQclear(r);
    const char *idlist = db_array_str(&ids);
    if (runs == NULL || idlist == NULL) {
        json_decref(runs);
        db_array_free(&ids);
        oom(err);
        return NULL;
    }
    char sb[21];
    const char *q[3] = {idlist, db_i64_text(t->id, tb), db_i64_text((int64_t)n * STEPS_PER_RUN_MAX, sb)};
    r = db_exec(db, "statement_waterfall_steps", 3, q, err);
    db_array_free(&ids);
    if (r == NULL) {
        json_decref(runs);
        return NULL;
    }
    for (int i = 0; i < PQntuples(r); i++) {
        int64_t run_id = db_i64(r, i, 0);
        json_t *run = NULL;
        for (size_t k = 0; k < json_array_size(runs); k++) {
            if (json_integer_value(json_object_get(json_array_get(runs, k), "id")) == run_id) {
                run = json_array_get(runs, k);
                break;
            }
        }
        assert(run != NULL); /* the steps were selected by these runs' ids */
        int64_t due = db_i64(r, i, 3), paid = db_i64(r, i, 4);
        bool residual = strcmp(db_str(r, i, 2), "residual") == 0;
        json_t *step = json_pack("{s:I, s:s, s:o, s:o, s:o}", "step_no", (json_int_t)db_i64(r, i, 1), "kind",
                                 db_str(r, i, 2), "due", amt(b, due), "paid", amt(b, paid), "shortfall",
                                 residual || paid >= due ? amt(b, 0) : amt(b, due - paid));
        if (step == NULL || json_array_append_new(json_object_get(run, "steps"), step) != 0) {
            PQclear(r);
            json_decref(runs);
            oom(err);
            return NULL;
        }
    }
    PQclear(r);
    json_t *o = json_pack("{s:s, s:s, s:o, s:b}", "from", b->from[P_QTD], "to", b->period_end, "runs", runs,
                          "truncated", truncated);
    if (o == NULL) {
        oom(err);
    }
    return o;
}

/* Closing capital at each month end from the tranche's inception (at most the last
 * STATEMENT_CHART_POINTS_MAX months), the last point being the period end itself. Capital is
 * -(CONTRIB + RETURNED + LOSS) balances as of each date: one query reads those three accounts'
 * lines for every date (statement_capital_history) rather than all eight balances per month. */
static json_t *capital_history(struct db *db, const struct bctx *b, const struct trow *t, struct fl_error *err)
{
    rate_date s = parse_date(t->signed_date);
    int64_t first = (int64_t)s.y * 12 + (s.m - 1), last = (int64_t)b->end.y * 12 + (b->end.m - 1);
    assert(first <= last); /* the stack holds tranches signed by the period end */
    if (last - first + 1 > STATEMENT_CHART_POINTS_MAX) {
        first = last - (STATEMENT_CHART_POINTS_MAX - 1);
    }
    struct db_array dates;
    db_array_init(&dates);
    for (int64_t k = first; k <= last; k++) {
        rate_date d = {(int)(k / 12), (int)(k % 12) + 1, 1};
        d.d = k == last ? b->end.d : rate_days_in_month(d.y, d.m);
        char ds[DATE_TEXT_BYTES];
        date_text(d, ds);
        db_array_text(&dates, ds);
    }
    const char *list = db_array_str(&dates);
    if (list == NULL) {
        db_array_free(&dates);
        oom(err);
        return NULL;
    }
    char fb[21], tb[21];
    const char *p[3] = {db_i64_text(b->fund_id, fb), db_i64_text(t->id, tb), list};
    PGresult *r = db_exec(db, "statement_capital_history", 3, p, err);
    db_array_free(&dates);
    if (r == NULL) {
        return NULL;
    }
    int n = PQntuples(r);
    assert(n == (int)(last - first + 1)); /* one row per date, in order */
    json_t *a = json_array();
    for (int i = 0; i < n && a != NULL; i++) {
        int64_t sum = db_i64(r, i, 1);
        if (sum == INT64_MIN) {
            json_decref(a);
            PQclear(r);
            overflow(err);
            return NULL;
        }
        int64_t capital = -sum;
        if (i == n - 1) {
            assert(capital == tranche_capital(t->bal)); /* the same lines, the same day */
        }
        json_t *pt = json_pack("{s:s, s:o}", "date", db_str(r, i, 0), "capital", amt(b, capital));
        if (pt == NULL || json_array_append_new(a, pt) != 0) {
            json_decref(a);
            a = NULL;
        }
    }
    PQclear(r);
    if (a == NULL) {
        oom(err);
    }
    return a;
}

static json_t *ledger_balances_json(const struct bctx *b, const struct trow *t)
{
    static const char *const names[TRANCHE_ACCOUNTS] = {"CASH",        "LOANS", "CONTRIB",  "RETURNED",
                                                        "DIST_INCOME", "LOSS",  "UNFUNDED", "COMMITMENT"};
    json_t *o = json_object();
    for (int i = 0; i < TRANCHE_ACCOUNTS && o != NULL; i++) {
        char code[CODE_BYTES_MAX + 1];
        snprintf(code, sizeof code, "T%" PRId64 ".%s", t->id, names[i]);
        if (json_object_set_new(o, code, amt(b, t->bal[i])) != 0) {
            json_decref(o);
            o = NULL;
        }
    }
    return o;
}

/* The coupon the tranche has earned and not been paid as of the period end (docs/fund-operations.md,
 * "Coupon"): what was due and not paid at the fund's last waterfall run on or before the period
 * end, plus the coupon accrued from that run (or the tranche's first contribution) to the period
 * end on the capital actually outstanding each day: what a run on the period end would find due. */
static json_t *coupon_due(struct db *db, const struct bctx *b, const struct trow *t, struct fl_error *err)
{
    char fb[21], tb[21];
    const char *p[3] = {db_i64_text(b->fund_id, fb), db_i64_text(t->id, tb), b->period_end};
    PGresult *r = db_exec(db, "statement_coupon_start", 3, p, err);
    if (r == NULL) {
        return NULL;
    }
    bool has_run = !db_null(r, 0, 0), has_contrib = !db_null(r, 0, 2);
    char since[DATE_TEXT_BYTES] = "";
    snprintf(since, sizeof since, "%s", has_run ? db_str(r, 0, 0) : has_contrib ? db_str(r, 0, 2) : "");
    int64_t unpaid = has_run ? db_i64(r, 0, 1) : 0, accrued = 0;
    PQclear(r);
    if (since[0] != '\0' && strcmp(since, b->period_end) < 0 && t->return_rate > 0) {
        const char *q[4] = {fb, tb, b->period_end, "9223372036854775807"};
        if ((r = db_exec(db, "distribution_capital_dates", 4, q, err)) == NULL) {
            return NULL;
        }
        int n = PQntuples(r);
        coupon_change *ch = calloc(n > 0 ? (size_t)n : 1u, sizeof *ch);
        if (ch == NULL) {
            PQclear(r);
            oom(err);
            return NULL;
        }
        rate_date from = parse_date(since);
        int64_t from_days = rate_date_to_days(from), opening = 0;
        size_t m = 0;
        bool ok = true;
        for (int i = 0; i < n && ok; i++) {
            rate_date d = parse_date(db_str(r, i, 0));
            int64_t v = db_i64(r, i, 1);
            if (rate_date_to_days(d) <= from_days) {
                ok = money_add(opening, v, &opening);
            } else {
                ch[m++] = (coupon_change){d, v};
            }
        }
        PQclear(r);
        rate_status st = !ok ? RATE_ERR_OVERFLOW
                         : m > COUPON_CHANGES_MAX
                             ? RATE_ERR_RANGE
                             : coupon_accrue(t->return_rate, from, b->end, opening, ch, m, &accrued);
        free(ch);
        if (st != RATE_OK) {
            fl_error_set(err, FLE_INTERNAL, "tranche_id", "coupon of tranche %" PRId64 ": %s", t->id,
                         rate_status_text(st));
            return NULL;
        }
    }
    int64_t due;
    if (!money_add(unpaid, accrued, &due)) {
        overflow(err);
        return NULL;
    }
    json_t *o = json_pack("{s:o, s:o, s:o, s:o, s:o}", "as_of", json_string(b->period_end), "since",
                          since[0] ? json_string(since) : json_null(), "unpaid_at_last_run", amt(b, unpaid),
                          "accrued_since", amt(b, accrued), "due", amt(b, due));
    if (o == NULL) {
        oom(err);
    }
    return o;
}

/* The accrual NAV's sections of a tranche: its capital account per period ("nav_account"), the
 * position that adds up to the NAV ("nav_position": its own assets and its share of the fund's
 * pooled accounts, the difference) and the performance on the NAV ("performance_nav"). */
static enum fl_err nav_sections(struct db *db, const struct bctx *b, const struct trow *t, json_t *o,
                                struct fl_error *err)
{
    const struct navb close = t->nb[AT_END], zero = {0};
    json_t *acc = json_object();
    if (acc == NULL) {
        return oom(err);
    }
    for (int p = 0; p < PERIODS; p++) {
        struct navroll r;
        const struct navb open = p == P_QTD ? t->nb[AT_QTD_OPEN] : p == P_YTD ? t->nb[AT_YTD_OPEN] : zero;
        if (!navroll_compute(&open, &close, &r)) {
            json_decref(acc);
            return overflow(err);
        }
        json_object_set_new(acc, period_keys[p], navroll_json(b, &r, p));
    }
    money_i128 pooled = (money_i128)t->nav - t->bal[TRANCHE_CASH] - t->bal[TRANCHE_LOANS] - close.other_assets;
    if (pooled > INT64_MAX || pooled < -INT64_MAX) {
        json_decref(acc);
        return overflow(err);
    }
    json_t *pos = json_pack("{s:o, s:o, s:o, s:o, s:o, s:o}", "cash_available", amt(b, t->bal[TRANCHE_CASH]),
                            "loans_outstanding", amt(b, t->bal[TRANCHE_LOANS]), "other_assets",
                            amt(b, close.other_assets), "loss_allowance", amt(b, close.allowance),
                            "share_of_pooled_accounts", amt(b, (int64_t)pooled), "nav", amt(b, t->nav));
    json_t *perf = pos ? performance(db, b, t, t->nav, err) : NULL;
    json_t *coupon = perf ? coupon_due(db, b, t, err) : NULL;
    if (pos == NULL || perf == NULL || coupon == NULL) {
        json_decref(acc);
        json_decref(pos);
        json_decref(perf);
        return err->code != FLE_OK ? err->code : oom(err);
    }
    json_object_set_new(pos, "coupon_due", coupon);
    json_object_set_new(o, "nav_account", acc);
    json_object_set_new(o, "nav_position", pos);
    json_object_set_new(o, "performance_nav", perf);
    return FLE_OK;
}

static json_t *tranche_section(struct db *db, const struct bctx *b, const struct trow *t, struct fl_error *err)
{
    struct rollforward rf[PERIODS];
    for (int p = 0; p < PERIODS; p++) {
        if (rollforward(db, b, t, p, &rf[p], err) != FLE_OK) {
            return NULL;
        }
    }
    const int64_t *bal = t->bal;
    int64_t paid_in = -bal[TRANCHE_CONTRIB], unfunded = bal[TRANCHE_UNFUNDED], commitment;
    if (!money_add(paid_in, unfunded, &commitment)) {
        overflow(err);
        return NULL;
    }
    char rr[RATE_TEXT_MAX], fr[RATE_TEXT_MAX];
    rate_format(t->return_rate, rr, sizeof rr);
    rate_format(t->fee_rate, fr, sizeof fr);

    json_t *accounts =
        json_pack("{s:o, s:o, s:o}", period_keys[P_QTD], rollforward_json(b, &rf[P_QTD], P_QTD), period_keys[P_YTD],
                  rollforward_json(b, &rf[P_YTD], P_YTD), period_keys[P_ITD], rollforward_json(b, &rf[P_ITD], P_ITD));
    json_t *received =
        json_pack("{s:o, s:o, s:o}", period_keys[P_QTD], amt(b, rf[P_QTD].dist_income), period_keys[P_YTD],
                  amt(b, rf[P_YTD].dist_income), period_keys[P_ITD], amt(b, rf[P_ITD].dist_income));
    if (accounts == NULL || received == NULL) {
        json_decref(accounts);
        json_decref(received);
        oom(err);
        return NULL;
    }
    json_t *unpaid = interest_unpaid(db, b, t, err);
    json_t *perf = unpaid ? performance(db, b, t, tranche_capital(bal), err) : NULL;
    json_t *wf = perf ? waterfall(db, b, t, err) : NULL;
    json_t *history = wf ? capital_history(db, b, t, err) : NULL;
    if (history == NULL) {
        json_decref(accounts);
        json_decref(received);
        json_decref(unpaid);
        json_decref(perf);
        json_decref(wf);
        return NULL;
    }
    json_t *o = json_pack(
        "{s:I, s:s, s:s, s:I, s:s, s:s, s:s, s:s, s:{s:o, s:o, s:o}, s:o, s:{s:o, s:o, s:o, s:o, s:o, s:o}, s:o, s:o, "
        "s:o, s:o}",
        "id", (json_int_t)t->id, "name", t->name, "kind", t->kind, "rank", (json_int_t)t->rank, "return_rate", rr,
        "fee_rate", fr, "signed_date", t->signed_date, "status", t->status, "commitment", "commitment",
        amt(b, commitment), "paid_in", amt(b, paid_in), "unfunded", amt(b, unfunded), "capital_account", accounts,
        "position", "capital", amt(b, tranche_capital(bal)), "loans_outstanding", amt(b, bal[TRANCHE_LOANS]),
        "cash_available", amt(b, bal[TRANCHE_CASH]), "interest_received", received, "interest_unpaid_at_last_run",
        unpaid, "subordination", subordination(b, t), "performance", perf, "waterfall", wf, "capital_history", history,
        "ledger_balances", ledger_balances_json(b, t));
    if (o == NULL) {
        oom(err);
        return NULL;
    }
    if (nav_sections(db, b, t, o, err) != FLE_OK) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* The fund column: its net assets (every asset less every liability) as of the period end,
 * the pooled accounts held at fund level, the tranches' NAVs and their sum, what is not yet
 * allocated (fund-level income and expenses since the last NAV allocation: net assets - the
 * tranches' NAVs, 0 on an allocation date) and the investor's share of the tranches' NAV. */
static json_t *fund_nav(struct db *db, const struct bctx *b, struct fl_error *err)
{
    char fb[21];
    const char *p[2] = {db_i64_text(b->fund_id, fb), b->period_end};
    PGresult *r = db_exec(db, "statement_fund_accounts", 2, p, err);
    if (r == NULL) {
        return NULL;
    }
    json_t *pooled = json_array();
    money_i128 pooled_total = 0, result_total = 0, tranches = 0, investor = 0, own_assets = 0;
    for (int i = 0; i < PQntuples(r) && pooled != NULL; i++) {
        const char *type = db_str(r, i, 1);
        int64_t v = db_i64(r, i, 2);
        if (strcmp(type, "asset") == 0 || strcmp(type, "liability") == 0) {
            pooled_total += v;
            if (v != 0) {
                json_array_append_new(pooled, json_pack("{s:s, s:o}", "code", db_str(r, i, 0), "balance", amt(b, v)));
            }
        } else {
            result_total += v;
        }
    }
    PQclear(r);
    if (pooled == NULL) {
        oom(err);
        return NULL;
    }
    for (unsigned i = 0; i < b->n_stack; i++) {
        const struct trow *t = &b->stack[i];
        tranches += t->nav;
        if (t->investor_id == b->investor_id) {
            investor += t->nav;
        }
        own_assets += (money_i128)t->bal[TRANCHE_CASH] + t->bal[TRANCHE_LOANS] + t->nb[AT_END].other_assets;
    }
    money_i128 net = pooled_total + own_assets, unallocated = -result_total;
    if (net > INT64_MAX || net < -INT64_MAX || tranches > INT64_MAX || tranches < -INT64_MAX ||
        unallocated > INT64_MAX || unallocated < -INT64_MAX || pooled_total > INT64_MAX ||
        pooled_total < -INT64_MAX) {
        json_decref(pooled);
        overflow(err);
        return NULL;
    }
    /* The books balance, so net assets = the tranches' NAVs + what is not allocated yet; said
     * on the page rather than assumed. */
    bool reconciles = net == tranches + unallocated;
    json_t *o = json_pack("{s:b, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "reconciles", reconciles, "net_assets",
                          amt(b, (int64_t)net), "pooled_accounts", pooled, "pooled_total",
                          amt(b, (int64_t)pooled_total), "tranches_nav", amt(b, (int64_t)tranches), "not_yet_allocated",
                          amt(b, (int64_t)unallocated), "investor_nav", amt(b, (int64_t)investor), "investor_share",
                          ratio4((int64_t)investor, (int64_t)tranches));
    if (o == NULL) {
        oom(err);
    }
    return o;
}

/* ---- the fund's portfolio ---------------------------------------------------------------- */
/* Portfolio quality is portfolio_quality's (portfolio.h): the same definitions as the
 * portfolio screen. Its figures are as of the period end whatever the period, so it is computed
 * once (with the quarter's write-offs and recoveries); the year's and inception's write-offs and
 * recoveries are portfolio_quality's own losses query (portfolio_losses) over those periods. */

static const char *const inception_from = "1900-01-01"; /* the earliest date the ledger accepts */

/* An amount member of a portfolio_quality object back in minor units. */
static bool member_minor(const struct bctx *b, const json_t *o, const char *key, int64_t *out)
{
    const char *t = json_string_value(json_object_get(o, key));
    return t != NULL && money_parse(t, b->exp, true, out) == MONEY_OK;
}

/* A concentration table from portfolio_quality's groups: rows with something outstanding, the
 * largest first (ties by code), at most STATEMENT_CONCENTRATION_ROWS_MAX and the rest as
 * "other", so the rows sum to the gross portfolio. Value chains get their English name. */
static json_t *concentration(const struct bctx *b, const json_t *groups, const json_t *vc_names, bool municipality,
                             int64_t gross, struct fl_error *err)
{
    size_t n = json_array_size(groups);
    size_t *order = calloc(n ? n : 1, sizeof *order);
    int64_t *amount = calloc(n ? n : 1, sizeof *amount);
    json_t *a = order && amount ? json_array() : NULL;
    size_t m = 0;
    for (size_t i = 0; i < n && a != NULL; i++) {
        int64_t v;
        if (!member_minor(b, json_array_get(groups, i), "outstanding", &v)) {
            json_decref(a);
            a = NULL;
            break;
        }
        if (v > 0) {
            amount[i] = v;
            order[m++] = i;
        }
    }
    /* Insertion sort: n is the number of value chains or municipalities, a few dozen. */
    const char *code_key = municipality ? "municipality_code" : "value_chain";
    for (size_t i = 1; i < m && a != NULL; i++) {
        for (size_t k = i; k > 0; k--) {
            size_t x = order[k - 1], y = order[k];
            int c = amount[x] < amount[y] ? 1 : amount[x] > amount[y] ? -1 : 0;
            if (c == 0) {
                const char *cx = json_string_value(json_object_get(json_array_get(groups, x), code_key));
                const char *cy = json_string_value(json_object_get(json_array_get(groups, y), code_key));
                c = strcmp(cx ? cx : "", cy ? cy : "");
            }
            if (c <= 0) {
                break;
            }
            order[k - 1] = y;
            order[k] = x;
        }
    }
    int64_t shown = 0;
    for (size_t k = 0; k < m && k < STATEMENT_CONCENTRATION_ROWS_MAX && a != NULL; k++) {
        const json_t *g = json_array_get(groups, order[k]);
        const char *code = json_string_value(json_object_get(g, code_key));
        const char *name = code;
        if (municipality) {
            name = json_string_value(json_object_get(g, "municipality"));
        } else {
            size_t i;
            const json_t *vc;
            json_array_foreach(vc_names, i, vc)
            {
                if (code && strcmp(code, json_string_value(json_object_get(vc, "code"))) == 0) {
                    name = json_string_value(json_object_get(vc, "name_en"));
                }
            }
        }
        shown += amount[order[k]];
        json_t *row = json_pack("{s:s?, s:s?, s:O, s:o, s:o, s:O}", "code", code, "name", name, "loans",
                                json_object_get(g, "loans"), "amount", amt(b, amount[order[k]]), "share",
                                ratio4(amount[order[k]], gross), "par30", json_object_get(g, "par30"));
        if (row != NULL && municipality && json_object_set(row, "department", json_object_get(g, "department")) != 0) {
            json_decref(row);
            row = NULL;
        }
        if (row == NULL || json_array_append_new(a, row) != 0) {
            json_decref(a);
            a = NULL;
        }
    }
    if (a != NULL && m > STATEMENT_CONCENTRATION_ROWS_MAX) {
        json_t *row = json_pack("{s:s, s:s, s:n, s:o, s:o, s:n}", "code", "other", "name", "Other", "loans", "amount",
                                amt(b, gross - shown), "share", ratio4(gross - shown, gross), "par30");
        if (row == NULL || json_array_append_new(a, row) != 0) {
            json_decref(a);
            a = NULL;
        }
    }
    free(order);
    free(amount);
    if (a == NULL) {
        fl_error_set(err, FLE_INTERNAL, NULL, "portfolio concentration: out of memory or a malformed amount");
    }
    return a;
}

static json_t *flow_json(const json_t *pq)
{
    return json_pack("{s:O, s:O}", "count", json_object_get(pq, "count"), "amount", json_object_get(pq, "amount"));
}

/* The write-offs and recoveries of the year and since inception ({"write_offs": {"count",
 * "amount"}, "recoveries": {...}}), from the statement portfolio_quality uses for the quarter's
 * (portfolio_losses) over [from, period end]. The quarter's come with portfolio_quality. */
static enum fl_err period_losses(struct db *db, const struct bctx *b, json_t *losses[PERIODS], struct fl_error *err)
{
    for (int p = 0; p < PERIODS; p++) {
        if (p == P_QTD) {
            continue;
        }
        char fb[21];
        const char *pl[3] = {db_i64_text(b->fund_id, fb), p == P_ITD ? inception_from : b->from[p], b->period_end};
        PGresult *r = db_exec(db, "portfolio_losses", 3, pl, err);
        if (r == NULL) {
            return err->code;
        }
        losses[p] = json_pack("{s:{s:I, s:o}, s:{s:I, s:o}}", "write_offs", "count", (json_int_t)db_i64(r, 0, 0),
                              "amount", amt(b, db_i64(r, 0, 1)), "recoveries", "count", (json_int_t)db_i64(r, 0, 2),
                              "amount", amt(b, db_i64(r, 0, 3)));
        PQclear(r);
        if (losses[p] == NULL) {
            return oom(err);
        }
    }
    return FLE_OK;
}

/* ---- the portfolio pass, beside the rest ----------------------------------------------------
 * portfolio_quality reads every loan of the fund (most of a statement's time on a large fund)
 * and depends on nothing else the statement computes. So it runs in a second thread on a second
 * connection (db_sibling) in a transaction that reads this transaction's snapshot
 * (db_snapshot_export, db_tx_snapshot): it sees exactly the data this transaction sees, while
 * this connection reads the tranches, the losses and the ledger's borrower counts. Without a
 * sibling (none can be opened, or db_sibling_allow turned it off) or a thread, or when the pass
 * fails on the sibling, the same function runs here, after the rest: the same figures either
 * way (tests/db/test_statements.c compares the two). */

struct pass {
    const struct bctx *b;
    struct db *db; /* the sibling, while the thread runs */
    pthread_t thread;
    bool running;
    char snapshot[DB_SNAPSHOT_ID_BYTES];
    json_t *q; /* portfolio_quality's object, owned */
    enum fl_err rc;
    struct fl_error err;
};

static enum fl_err pass_tx(struct db *db, void *arg, struct fl_error *err)
{
    struct pass *ps = arg;
    json_decref(ps->q);
    const struct bctx *b = ps->b;
    ps->q = portfolio_quality(db, b->fund_id, b->period_end, b->from[P_QTD], err);
    return ps->q ? FLE_OK : err->code;
}

static void *pass_run(void *arg)
{
    struct pass *ps = arg;
    fl_error_clear(&ps->err);
    ps->rc = db_tx_snapshot(ps->db, ps->snapshot, pass_tx, ps, &ps->err);
    if (ps->rc != FLE_OK) {
        json_decref(ps->q);
        ps->q = NULL;
    }
    return NULL;
}

/* Starts the portfolio pass on the sibling when there is one; otherwise ps stays idle and
 * pass_finish runs it here. Errors only from this connection (the snapshot export). */
static enum fl_err pass_start(struct db *db, const struct bctx *b, struct pass *ps, struct fl_error *err)
{
    memset(ps, 0, sizeof *ps);
    ps->b = b;
    struct fl_error ignored;
    fl_error_clear(&ignored);
    struct db *sibling = NULL;
    if (db_sibling(db, &sibling, &ignored) != FLE_OK) {
        log_debug("statement: no second connection (%s); the portfolio pass runs after the rest", ignored.message);
        return FLE_OK;
    }
    enum fl_err e = db_snapshot_export(db, ps->snapshot, err);
    if (e != FLE_OK) {
        return e;
    }
    ps->db = sibling;
    if (pthread_create(&ps->thread, NULL, pass_run, ps) != 0) {
        log_warn("statement: cannot start a thread; the portfolio pass runs after the rest");
        ps->db = NULL;
        return FLE_OK;
    }
    ps->running = true;
    return FLE_OK;
}

/* Waits for the pass if it runs and releases what it holds (error paths). */
static void pass_abandon(struct pass *ps)
{
    if (ps->running) {
        int rc = pthread_join(ps->thread, NULL);
        assert(rc == 0);
        (void)rc;
        ps->running = false;
    }
    json_decref(ps->q);
    ps->q = NULL;
}

/* portfolio_quality's object of the statement (caller owns): the sibling's, or computed here. */
static json_t *pass_finish(struct db *db, struct pass *ps, struct fl_error *err)
{
    if (ps->running) {
        int rc = pthread_join(ps->thread, NULL);
        assert(rc == 0);
        (void)rc;
        ps->running = false;
        if (ps->rc == FLE_OK) {
            json_t *q = ps->q;
            ps->q = NULL;
            return q;
        }
        /* The sibling failed: its connection was lost (a restarted server), or it reached
         * another server that does not have this snapshot (a multi-host connection string).
         * This connection still holds the snapshot: drop the sibling (the next statement opens
         * a new one) and run the pass here. An error of the pass itself comes again, from here. */
        log_warn("statement: the portfolio pass failed on the second connection (%s: %s); it runs on the first",
                 fl_err_code(ps->rc), ps->err.message);
        db_sibling_drop(db);
    }
    const struct bctx *b = ps->b;
    return portfolio_quality(db, b->fund_id, b->period_end, b->from[P_QTD], err);
}

/* The portfolio and impact sections. What this connection reads (the year's and inception's
 * losses, the value chains' names, the ledger's borrower counts) is read while the portfolio
 * pass runs beside it; then the pass's figures are awaited (pass_finish). */
static json_t *portfolio(struct db *db, const struct bctx *b, struct pass *ps, json_t **impact_out,
                         struct fl_error *err)
{
    *impact_out = NULL;
    json_t *pq[PERIODS] = {NULL}; /* each period's {"write_offs", "recoveries"} */
    json_t *q = NULL, *vc_names = NULL, *o = NULL, *ind = NULL, *impact = NULL;
    PGresult *r = NULL;
    /* Impact: only what the data measures. Enterprises are counted from the loans outstanding
     * in the ledger at the period end; members are what enterprises declared. */
    char fb[21];
    const char *p2[2] = {db_i64_text(b->fund_id, fb), b->period_end};
    if (period_losses(db, b, pq, err) != FLE_OK || (vc_names = pipeline_value_chains_list(db, err)) == NULL ||
        (r = db_exec(db, "statement_loans_outstanding", 2, p2, err)) == NULL) {
        pass_abandon(ps);
        goto done;
    }
    if ((q = pass_finish(db, ps, err)) == NULL) {
        goto done;
    }
    pq[P_QTD] = json_pack("{s:o, s:o}", "write_offs", flow_json(json_object_get(q, "write_offs")), "recoveries",
                          flow_json(json_object_get(q, "recoveries")));
    if (pq[P_QTD] == NULL) {
        oom(err);
        goto done;
    }
    money_i128 ledger128 = 0;
    for (unsigned i = 0; i < b->n_stack; i++) {
        ledger128 += b->stack[i].bal[TRANCHE_LOANS];
    }
    int64_t gross = 0, par30 = 0, par90 = 0, wo_q = 0;
    if (ledger128 > INT64_MAX || ledger128 < INT64_MIN || !member_minor(b, q, "gross_portfolio", &gross) ||
        !member_minor(b, json_object_get(q, "par30"), "amount", &par30) ||
        !member_minor(b, json_object_get(q, "par90"), "amount", &par90) ||
        !member_minor(b, json_object_get(q, "write_offs"), "amount", &wo_q)) {
        fl_error_set(err, FLE_INTERNAL, NULL, "portfolio figures out of range");
        goto done;
    }
    json_t *by_vc = concentration(b, json_object_get(q, "by_value_chain"), json_object_get(vc_names, "value_chains"),
                                  false, gross, err);
    json_t *by_m = by_vc ? concentration(b, json_object_get(q, "by_municipality"), NULL, true, gross, err) : NULL;
    if (by_m == NULL) {
        json_decref(by_vc);
        goto done;
    }
    json_t *wo = json_pack("{s:o, s:o, s:o}", period_keys[P_QTD], flow_json(json_object_get(pq[P_QTD], "write_offs")),
                           period_keys[P_YTD], flow_json(json_object_get(pq[P_YTD], "write_offs")), period_keys[P_ITD],
                           flow_json(json_object_get(pq[P_ITD], "write_offs")));
    json_t *rec = json_pack("{s:o, s:o, s:o}", period_keys[P_QTD], flow_json(json_object_get(pq[P_QTD], "recoveries")),
                            period_keys[P_YTD], flow_json(json_object_get(pq[P_YTD], "recoveries")), period_keys[P_ITD],
                            flow_json(json_object_get(pq[P_ITD], "recoveries")));
    int64_t ledger = (int64_t)ledger128;
    o = json_pack("{s:s, s:o, s:O, s:O, s:O, s:O, s:O, s:o, s:o, s:{s:o, s:o}, s:{s:o, s:o, s:o}}", "as_of",
                  b->period_end, "gross_portfolio", amt(b, gross), "loans_outstanding",
                  json_object_get(q, "loans_outstanding"), "par30", json_object_get(q, "par30"), "par90",
                  json_object_get(q, "par90"), "principal_in_arrears", json_object_get(q, "principal_in_arrears"),
                  "interest_in_arrears", json_object_get(q, "interest_in_arrears"), "write_offs", wo, "recoveries", rec,
                  "concentration", "value_chain", by_vc, "municipality", by_m, "reconciliation",
                  "ledger_loans_accounts", amt(b, ledger), "portfolio", amt(b, gross), "difference",
                  amt(b, ledger - gross));
    if (o == NULL) {
        oom(err);
        goto done;
    }
    /* The borrower counts read above (statement_loans_outstanding). */
    int64_t n_borrowers = db_i64(r, 0, 0), n_women = db_i64(r, 0, 1), members = db_i64(r, 0, 2),
            n_persons = db_i64(r, 0, 3);
    ind = json_pack(
        "[{s:s, s:s, s:n, s:s, s:n, s:s}, {s:s, s:s, s:I, s:s, s:n, s:s}, {s:s, s:s, s:I, s:s, s:n, s:s},"
        " {s:s, s:s, s:o, s:s, s:n, s:s}, {s:s, s:s, s:O, s:s, s:n, s:s}, {s:s, s:s, s:o, s:s, s:n, s:s},"
        " {s:s, s:s, s:o, s:s, s:n, s:s}, {s:s, s:s, s:o, s:s, s:n, s:s}]",
        "code", "PI4874", "name", "Jobs in directly supported/financed enterprises", "value", "unit", "FTE jobs",
        "target", "note", "not measured: the fund records no employment figures",
        /* */
        "code", "PI4060", "name", "Members of financed enterprises (proxy for client individuals)", "value",
        (json_int_t)members, "unit", "people", "target", "note",
        "sum of the member counts enterprises declared, over enterprises with a loan outstanding at period end; "
        "not FTE jobs and not de-duplicated across enterprises",
        /* */
        "code", "PI5576", "name", "Client organisations led by women", "value", (json_int_t)n_women, "unit",
        "enterprises", "target", "note",
        "borrowers flagged women-led with a loan outstanding at period end (persons counted, never named)",
        /* */
        "code", "PI7569", "name", "Value of loans outstanding", "value", amt(b, gross), "unit", b->currency, "target",
        "note", "principal outstanding at period end, excluding interest and written-off amounts",
        /* */
        "code", "PI1478", "name", "Number of loans outstanding", "value", json_object_get(q, "loans_outstanding"),
        "unit", "loans", "target", "note", "loans with principal outstanding at period end",
        /* */
        "code", "FP2635", "name", "Portfolio at risk > 30 days", "value", amt(b, par30), "unit", b->currency, "target",
        "note", "whole principal outstanding of loans with an instalment more than 30 days late",
        /* */
        "code", "FP6373", "name", "Portfolio at risk > 90 days", "value", amt(b, par90), "unit", b->currency, "target",
        "note", "whole principal outstanding of loans with an instalment more than 90 days late",
        /* */
        "code", "FP9717", "name", "Loan write-offs", "value", amt(b, wo_q), "unit", b->currency, "target", "note",
        "principal written off in the quarter");
    impact = ind ? json_pack("{s:s, s:I, s:I, s:I, s:o, s:s}", "as_of", b->period_end, "borrowers",
                             (json_int_t)n_borrowers, "enterprises_financed", (json_int_t)(n_borrowers - n_persons),
                             "persons_financed", (json_int_t)n_persons, "indicators", ind, "targets",
                             "No targets have been set for these indicators yet.")
                 : NULL;
    if (impact == NULL) {
        json_decref(o);
        o = NULL;
        oom(err);
    }
done:
    PQclear(r);
    json_decref(vc_names);
    for (int p = 0; p < PERIODS; p++) {
        json_decref(pq[p]);
    }
    json_decref(q);
    *impact_out = impact;
    return o;
}

/* ---- the statement ----------------------------------------------------------------------- */

static const char *const notes[] = {
    "Every figure is read from the fund's books (the journal entries dated up to the period end) or from its "
    "recorded loans, contributions and distributions, all as they stood at the data cut-off.",
    "Capital is what the tranche's investors have paid in, less the capital returned to them and the losses the "
    "tranche has borne, with what recoveries later restored added back.",
    "The net asset value is the tranche's capital plus the income earned and allocated to it, less the income "
    "already paid out, its management fees, its share of the fund's expenses and its share of the provision for "
    "loans that may not be repaid. The net asset values of all tranches add up to the fund's net assets.",
    "Income is allocated to the tranches at each month-end close: each tranche receives the coupon it has earned, "
    "the most senior first, and the most junior tranche receives what remains. Coupon earned and not yet paid is "
    "shown beside the net asset value.",
    "DPI is the distributions received for each unit paid in, RVPI the net asset value for each unit paid in, and "
    "TVPI the two together; the IRR is the annual return of the dated payments in and out, counting the net asset "
    "value as received on the period end.",
    "Portfolio at risk counts the whole outstanding amount of every loan with a payment more than 30 (or 90) days "
    "late, as a share of all loans outstanding. No borrower is named; places are given by municipality only.",
};

static enum fl_err build_tx(struct db *db, void *arg, struct fl_error *err)
{
    struct bctx *b = arg;
    json_decref(b->out);
    b->out = NULL;
    free(b->stack);
    b->stack = NULL;
    b->n_stack = 0;

    /* One snapshot for every figure. */
    PGresult *r = db_exec_sql(db, "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY", err);
    if (r == NULL) {
        return err->code;
    }
    PQclear(r);
    /* The portfolio and impact queries read every loan once; compiling them (JIT, on by default
     * above a cost these queries exceed) takes longer than it saves. For this transaction only. */
    if ((r = db_exec_sql(db, "SET LOCAL jit = off", err)) == NULL) {
        return err->code;
    }
    PQclear(r);
    r = db_exec(db, "statement_cutoff", 0, NULL, err);
    if (r == NULL) {
        return err->code;
    }
    char built_at[40];
    snprintf(built_at, sizeof built_at, "%s", db_str(r, 0, 0));
    PQclear(r);
    /* The signed head of the hash chain in this snapshot (docs/architecture.md, Tamper evidence). */
    json_t *chain_head = ledger_chain_head(db, err);
    if (chain_head == NULL) {
        return err->code;
    }

    json_t *fund = fund_get(db, b->fund_id, err);
    if (fund == NULL) {
        json_decref(chain_head);
        return err->code;
    }
    snprintf(b->currency, sizeof b->currency, "%s", json_string_value(json_object_get(fund, "base_currency")));
    b->exp = money_currency_exponent(b->currency);
    assert(b->exp >= 0);
    char ib[21];
    const char *p[1] = {db_i64_text(b->investor_id, ib)};
    r = db_exec(db, "statement_investor", 1, p, err);
    if (r == NULL) {
        json_decref(fund);
        json_decref(chain_head);
        return err->code;
    }
    if (PQntuples(r) != 1) {
        PQclear(r);
        json_decref(fund);
        json_decref(chain_head);
        return fl_error_set(err, FLE_NOT_FOUND, "investor_id", "no investor organisation %" PRId64, b->investor_id);
    }
    json_t *investor = json_pack("{s:I, s:s}", "id", (json_int_t)b->investor_id, "name", db_str(r, 0, 1));
    PQclear(r);

    enum fl_err e = investor ? load_stack(db, b, err) : oom(err);
    if (e == FLE_OK && b->tranche_id != 0) {
        const char *q[1] = {db_i64_text(b->tranche_id, ib)};
        r = db_exec(db, "statement_tranche_owner", 1, q, err);
        if (r == NULL) {
            e = err->code;
        } else {
            if (PQntuples(r) != 1) {
                e = fl_error_set(err, FLE_NOT_FOUND, "tranche_id", "no tranche %" PRId64, b->tranche_id);
            } else if (db_i64(r, 0, 0) != b->fund_id || db_i64(r, 0, 1) != b->investor_id) {
                e = fl_error_set(err, FLE_BAD_PARAM, "tranche_id",
                                 "not a tranche of investor %" PRId64 " in fund %" PRId64, b->investor_id, b->fund_id);
            } else if (strcmp(db_str(r, 0, 2), b->period_end) > 0) {
                e = fl_error_set(err, FLE_NOT_FOUND, "tranche_id", "the tranche was signed after period_end");
            }
            PQclear(r);
        }
    }
    unsigned mine = 0; /* the tranches this statement reports */
    for (unsigned i = 0; e == FLE_OK && i < b->n_stack; i++) {
        const struct trow *t = &b->stack[i];
        mine += t->investor_id == b->investor_id && (b->tranche_id == 0 || t->id == b->tranche_id);
    }
    if (e == FLE_OK && mine == 0) {
        e = fl_error_set(err, FLE_NOT_FOUND, "investor_id",
                         "investor %" PRId64 " has no tranche in fund %" PRId64 " signed by %s", b->investor_id,
                         b->fund_id, b->period_end);
    }
    /* The portfolio pass runs beside the tranche sections (pass_start). */
    struct pass ps;
    memset(&ps, 0, sizeof ps);
    if (e == FLE_OK) {
        e = pass_start(db, b, &ps, err);
    }
    json_t *tranches = e == FLE_OK ? json_array() : NULL;
    if (e == FLE_OK && tranches == NULL) {
        e = oom(err);
    }
    for (unsigned i = 0; e == FLE_OK && i < b->n_stack; i++) {
        const struct trow *t = &b->stack[i];
        if (t->investor_id != b->investor_id || (b->tranche_id != 0 && t->id != b->tranche_id)) {
            continue;
        }
        json_t *s = tranche_section(db, b, t, err);
        if (s == NULL) {
            e = err->code;
        } else if (json_array_append_new(tranches, s) != 0) {
            e = oom(err);
        }
    }
    assert(e != FLE_OK || json_array_size(tranches) == mine);
    json_t *impact = NULL;
    json_t *port = e == FLE_OK ? portfolio(db, b, &ps, &impact, err) : NULL;
    if (e == FLE_OK && port == NULL) {
        e = err->code;
    }
    pass_abandon(&ps); /* the pass is over on every path before this transaction ends */
    json_t *note_list = json_array();
    for (size_t i = 0; i < sizeof notes / sizeof notes[0] && note_list != NULL; i++) {
        if (json_array_append_new(note_list, json_string(notes[i])) != 0) {
            json_decref(note_list);
            note_list = NULL;
        }
    }
    json_t *periods = periods_json(b);
    if (e == FLE_OK && (note_list == NULL || periods == NULL)) {
        e = oom(err);
    }
    if (e != FLE_OK) {
        json_decref(fund);
        json_decref(investor);
        json_decref(tranches);
        json_decref(port);
        json_decref(impact);
        json_decref(note_list);
        json_decref(periods);
        json_decref(chain_head);
        return e;
    }
    json_t *st =
        json_pack("{s:i, s:s, s:{s:I, s:s, s:s, s:s}, s:o, s:s, s:o, s:{s:s, s:s, s:o}, s:o, s:o, s:o, s:o}",
                  "version", STATEMENT_VERSION, "basis", "unaudited", "fund", "id", (json_int_t)b->fund_id, "code",
                  json_string_value(json_object_get(fund, "code")), "name",
                  json_string_value(json_object_get(fund, "name")), "currency", b->currency, "investor", investor,
                  "period_end", b->period_end, "periods", periods, "cutoff", "built_at", built_at, "period_end",
                  b->period_end, "chain_head", chain_head, "tranches", tranches, "portfolio", port, "impact", impact,
                  "notes", note_list);
    json_decref(fund);
    json_t *fn = st != NULL ? fund_nav(db, b, err) : NULL;
    if (st != NULL && fn == NULL) {
        json_decref(st);
        return err->code;
    }
    if (st != NULL && json_object_set_new(st, "fund_nav", fn) != 0) {
        json_decref(st);
        return oom(err);
    }
    char hex[HASH_HEX_BYTES];
    if (st == NULL || !statement_hash(st, hex) || json_object_set_new(st, "hash", json_string(hex)) != 0) {
        json_decref(st);
        return oom(err);
    }
    b->out = st;
    return FLE_OK;
}

enum fl_err statement_build(struct db *db, int64_t fund_id, int64_t investor_id, int64_t tranche_id,
                            const char *period_end, json_t **out, struct fl_error *err)
{
    assert(db != NULL && out != NULL);
    assert(!db_in_tx(db)); /* the statement takes its own snapshot */
    *out = NULL;
    char today[DATE_TEXT_BYTES];
    tranche_today(today);
    if (period_end == NULL || !ledger_date_valid(period_end)) {
        return fl_error_set(err, FLE_BAD_PARAM, "period_end", "a date YYYY-MM-DD is expected");
    }
    if (strcmp(period_end, today) > 0) {
        return fl_error_set(err, FLE_BAD_PARAM, "period_end", "not in the future (today is %s)", today);
    }
    if (fund_id <= 0) {
        return fl_error_set(err, FLE_NOT_FOUND, "fund_id", "no fund %" PRId64, fund_id);
    }
    if (investor_id <= 0) {
        return fl_error_set(err, FLE_BAD_PARAM, "investor_id", "an investor organisation id is expected");
    }
    if (tranche_id < 0) {
        return fl_error_set(err, FLE_BAD_PARAM, "tranche_id", "a tranche id or 0 for all");
    }
    struct bctx b = {.fund_id = fund_id, .investor_id = investor_id, .tranche_id = tranche_id};
    snprintf(b.period_end, sizeof b.period_end, "%s", period_end);
    periods_init(&b);
    enum fl_err e = db_tx(db, build_tx, &b, err);
    free(b.stack);
    if (e != FLE_OK) {
        json_decref(b.out);
        return e;
    }
    assert(b.out != NULL);
    *out = b.out;
    return FLE_OK;
}

bool statement_hash(const json_t *statement, char hex[HASH_HEX_BYTES])
{
    assert(statement != NULL && hex != NULL);
    json_t *copy = json_copy((json_t *)statement); /* shallow: only the top level changes */
    if (copy == NULL) {
        return false;
    }
    json_object_del(copy, "hash");
    char *text = json_dumps(copy, JSON_SORT_KEYS | JSON_COMPACT);
    json_decref(copy);
    if (text == NULL) {
        return false;
    }
    uint8_t digest[HASH_BYTES];
    bool ok = hash_sha256(text, strlen(text), digest);
    free(text);
    if (ok) {
        hash_hex(digest, HASH_BYTES, hex);
    }
    return ok;
}
