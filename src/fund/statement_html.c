/* statement_html: an investor statement as one self-contained, printable HTML page with SVG charts. */
#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fundledger/ledger.h"
#include "fundledger/money.h"
#include "fundledger/rate.h"
#include "fundledger/statement.h"
#include "fundledger/xirr.h"

/* Longest placeholder name between the braces. */
#define PLACEHOLDER_BYTES_MAX 32
/* Chart geometry in SVG user units (integers). */
#define CHART_W 760
#define CAP_LEFT 120
#define CAP_RIGHT 24
#define CAP_TOP 20
#define CAP_PLOT_H 220
#define CAP_AXIS_H 40
#define CAP_LEGEND_ROW_H 18
#define CAP_LEGEND_COLS 3
#define CAP_GRID_LINES 4
#define CAP_X_LABELS 8      /* most dates labelled under the capital chart */
#define CAP_X_DATES_MAX 256 /* distinct month ends read for the axis (the history has at most 60) */
#define BAR_LABEL_W 250
#define BAR_MAX_W 330
#define BAR_ROW_H 26
#define BAR_H 16
#define BAR_TOP 10
/* Series colours (cycled), readable in print. */
static const char *const palette[] = {"#1f5f8b", "#b03a2e", "#1e8449", "#7d3c98", "#b9770e", "#566573"};
#define PALETTE_N (sizeof palette / sizeof palette[0])

/* ---- output buffer ----------------------------------------------------------------------- */

struct sbuf {
    char *buf;
    size_t len, cap;
    bool failed; /* out of memory or over STATEMENT_HTML_BYTES_MAX: everything after is dropped */
};

static void sb_mem(struct sbuf *s, const char *p, size_t n)
{
    if (s->failed) {
        return;
    }
    if (n > STATEMENT_HTML_BYTES_MAX || s->len + n + 1 > STATEMENT_HTML_BYTES_MAX) {
        s->failed = true;
        return;
    }
    if (s->len + n + 1 > s->cap) {
        size_t cap = s->cap ? s->cap : 16384;
        while (cap < s->len + n + 1) {
            cap *= 2;
        }
        char *b = realloc(s->buf, cap);
        if (b == NULL) {
            s->failed = true;
            return;
        }
        s->buf = b;
        s->cap = cap;
    }
    memcpy(s->buf + s->len, p, n);
    s->len += n;
    s->buf[s->len] = '\0';
}

static void sb_str(struct sbuf *s, const char *p)
{
    sb_mem(s, p, strlen(p));
}

static void sb_fmt(struct sbuf *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_fmt(struct sbuf *s, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof tmp) {
        s->failed = true; /* formats here are short; a longer one is a programming error */
        return;
    }
    sb_mem(s, tmp, (size_t)n);
}

/* Text into HTML or SVG: the five special characters become entities. */
static void sb_esc(struct sbuf *s, const char *p)
{
    for (; *p != '\0' && !s->failed; p++) {
        switch (*p) {
        case '&':
            sb_str(s, "&amp;");
            break;
        case '<':
            sb_str(s, "&lt;");
            break;
        case '>':
            sb_str(s, "&gt;");
            break;
        case '"':
            sb_str(s, "&quot;");
            break;
        case '\'':
            sb_str(s, "&#39;");
            break;
        default:
            sb_mem(s, p, 1);
        }
    }
}

/* ---- reading the statement --------------------------------------------------------------- */

struct rctx {
    struct sbuf *s;
    const json_t *st;
    int exp; /* the currency's decimals */
    struct fl_error *err;
};

static const json_t *jo(const json_t *o, const char *k)
{
    return json_object_get(o, k);
}

/* A string member or "" (never NULL). */
static const char *js(const json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));
    return v ? v : "";
}

static bool malformed(struct rctx *c, const char *what)
{
    fl_error_set(c->err, FLE_INTERNAL, NULL, "statement has no valid %s", what);
    return false;
}

/* An amount text in minor units; false when it is not a decimal of the currency. */
static bool amount_minor(const struct rctx *c, const char *text, int64_t *out)
{
    return text != NULL && money_parse(text, c->exp, true, out) == MONEY_OK;
}

/* An amount with thousands separators: "-1234567.80" -> "-1,234,567.80". Non-amounts are
 * written escaped as they are. */
static void put_amount(struct rctx *c, const char *text)
{
    int64_t v;
    if (!amount_minor(c, text, &v)) {
        sb_esc(c->s, text ? text : "");
        return;
    }
    const char *p = text;
    if (*p == '-') {
        sb_str(c->s, "-");
        p++;
    }
    size_t int_len = strcspn(p, ".");
    for (size_t i = 0; i < int_len; i++) {
        if (i > 0 && (int_len - i) % 3 == 0) {
            sb_str(c->s, ",");
        }
        sb_mem(c->s, p + i, 1);
    }
    sb_str(c->s, p + int_len);
}

static void put_minor(struct rctx *c, int64_t minor)
{
    char buf[MONEY_TEXT_MAX];
    size_t n = money_format(minor, c->exp, buf, sizeof buf);
    assert(n > 0);
    put_amount(c, buf);
}

/* A 4-decimal ratio as a percentage with 2 decimals ("0.1234" -> "12.34 %"); null -> "n/a". */
static void put_percent(struct rctx *c, const json_t *ratio)
{
    int64_t e4;
    const char *t = json_string_value(ratio);
    if (t == NULL || money_parse(t, 4, true, &e4) != MONEY_OK) {
        sb_str(c->s, "n/a");
        return;
    }
    char buf[RATE_TEXT_MAX];
    rate_format_units(e4, 2, buf, sizeof buf);
    sb_esc(c->s, buf);
    sb_str(c->s, "&#8239;%");
}

/* An IRR with 10 decimals as a percentage rounded half-even to 2 decimals. */
static void put_irr(struct rctx *c, const json_t *irr)
{
    int64_t e10, e4;
    const char *t = json_string_value(irr);
    if (t == NULL || money_parse(t, XIRR_DECIMALS, true, &e10) != MONEY_OK || !money_div_half_even(e10, 1000000, &e4)) {
        sb_str(c->s, "n/a");
        return;
    }
    char buf[RATE_TEXT_MAX];
    rate_format_units(e4, 2, buf, sizeof buf);
    sb_esc(c->s, buf);
    sb_str(c->s, "&#8239;%");
}

static const json_t *tranches(const struct rctx *c)
{
    return jo(c->st, "tranches");
}

static void tranche_title(struct rctx *c, const json_t *t)
{
    sb_esc(c->s, js(t, "name"));
    sb_str(c->s, " <span class=\"muted\">(");
    sb_esc(c->s, js(t, "kind"));
    sb_fmt(c->s, ", rank %" PRId64 ")</span>", (int64_t)json_integer_value(jo(t, "rank")));
}

/* ---- the placeholders -------------------------------------------------------------------- */

static bool p_title(struct rctx *c)
{
    sb_str(c->s, "Investor statement &#8212; ");
    sb_esc(c->s, js(jo(c->st, "fund"), "name"));
    sb_str(c->s, " &#8212; ");
    sb_esc(c->s, js(c->st, "period_end"));
    return true;
}

/* A string member by dotted path ("periods.qtd.from"), or "" when absent. */
static const char *js_path(const json_t *o, const char *path)
{
    char key[PLACEHOLDER_BYTES_MAX];
    for (unsigned depth = 0; o != NULL && *path != '\0' && depth < PLACEHOLDER_BYTES_MAX; depth++) {
        size_t n = strcspn(path, ".");
        if (n >= sizeof key) {
            return "";
        }
        memcpy(key, path, n);
        key[n] = '\0';
        o = json_object_get(o, key);
        path += n + (path[n] == '.');
    }
    const char *v = json_string_value(o);
    return v ? v : "";
}

/* One cell with an amount. */
static void cell_amount(struct rctx *c, const json_t *o, const char *key)
{
    sb_str(c->s, "<td class=\"num\">");
    put_amount(c, js(o, key));
    sb_str(c->s, "</td>");
}

/* "qtd / ytd / itd" amounts of an object keyed by period: the periods' strings, or their
 * member (when not NULL). */
static void put_periods(struct rctx *c, const json_t *o, const char *member)
{
    static const char *const periods[3] = {"qtd", "ytd", "itd"};
    for (int p = 0; p < 3; p++) {
        const json_t *v = jo(o, periods[p]);
        sb_str(c->s, p ? " / " : "");
        put_amount(c, member ? js(v, member) : json_string_value(v));
    }
}

/* A tranche's heading above its tables. */
static void tranche_heading(struct rctx *c, const json_t *t)
{
    sb_str(c->s, "<h3>");
    tranche_title(c, t);
    sb_str(c->s, "</h3>\n");
}

/* The start of a two-column row: a label (a literal, not escaped) and the value cell. */
static void row_label(struct rctx *c, const char *label)
{
    sb_fmt(c->s, "<tr><td>%s</td><td class=\"num\">", label);
}

/* A table row's first cell: the tranche. */
static void row_start(struct rctx *c, const json_t *t)
{
    sb_str(c->s, "<tr><td>");
    tranche_title(c, t);
    sb_str(c->s, "</td>");
}

static bool p_commitment_rows(struct rctx *c)
{
    size_t i;
    const json_t *t;
    json_array_foreach(tranches(c), i, t)
    {
        const json_t *m = jo(t, "commitment");
        row_start(c, t);
        cell_amount(c, m, "commitment");
        cell_amount(c, m, "paid_in");
        cell_amount(c, m, "unfunded");
        sb_str(c->s, "</tr>\n");
    }
    return true;
}

static bool p_capital_account(struct rctx *c)
{
    static const char *const periods[3] = {"qtd", "ytd", "itd"};
    static const struct {
        const char *key, *label, *cls;
    } lines[] = {
        {"opening", "Opening capital", ""},
        {"contributions", "+ Contributions", ""},
        {"income_allocated", "+ Income allocated", ""},
        {"distributions_income", "&#8722; Distributions: income", ""},
        {"distributions_principal", "&#8722; Distributions: principal", ""},
        {"losses_absorbed", "&#8722; Losses absorbed (net of recoveries)", ""},
        {"fees", "&#8722; Fees", ""},
        {"closing", "= Closing capital (NAV)", " class=\"total\""},
    };
    size_t i;
    const json_t *t;
    json_array_foreach(tranches(c), i, t)
    {
        const json_t *ca = jo(t, "capital_account");
        if (!json_is_object(ca)) {
            return malformed(c, "capital_account");
        }
        tranche_heading(c, t);
        sb_str(c->s, "<table class=\"grid\"><thead><tr><th></th>");
        for (int p = 0; p < 3; p++) {
            const json_t *per = jo(ca, periods[p]);
            sb_str(c->s, "<th class=\"num\">");
            sb_str(c->s, p == 0 ? "Quarter to date" : p == 1 ? "Year to date" : "Since inception");
            sb_str(c->s, "<br><span class=\"muted\">");
            sb_esc(c->s, json_is_string(jo(per, "from")) ? js(per, "from") : js(t, "signed_date"));
            sb_str(c->s, " &#8211; ");
            sb_esc(c->s, js(per, "to"));
            sb_str(c->s, "</span></th>");
        }
        sb_str(c->s, "</tr></thead><tbody>\n");
        for (size_t k = 0; k < sizeof lines / sizeof lines[0]; k++) {
            sb_fmt(c->s, "<tr%s><td>%s</td>", lines[k].cls, lines[k].label);
            for (int p = 0; p < 3; p++) {
                cell_amount(c, jo(ca, periods[p]), lines[k].key);
            }
            sb_str(c->s, "</tr>\n");
        }
        sb_str(c->s, "</tbody></table>\n");
        /* The same periods on the net asset value: income as it is earned, fees, expenses and
         * the loss allowance included (docs/fund-operations.md, "NAV"). */
        static const struct {
            const char *key, *label, *cls;
        } nav_lines[] = {
            {"opening", "Opening net asset value", ""},
            {"contributions", "+ Contributions", ""},
            {"income_allocated", "+ Income earned and allocated to the tranche", ""},
            {"management_fees", "&#8722; Management fees", ""},
            {"fund_expenses", "&#8722; Fund expenses", ""},
            {"unrealised_losses", "&#8722; Unrealised losses (provision for loans that may not be repaid)", ""},
            {"realised_losses", "&#8722; Realised losses (loans written off)", ""},
            {"recoveries", "+ Recoveries (amounts collected on loans written off)", ""},
            {"distributions_income", "&#8722; Distributions: income", ""},
            {"distributions_capital", "&#8722; Distributions: capital returned", ""},
            {"other", "+ Other", ""},
            {"closing", "= Closing net asset value", " class=\"total\""},
        };
        const json_t *na = jo(t, "nav_account");
        if (!json_is_object(na)) {
            continue;
        }
        sb_str(c->s, "<table class=\"grid\"><thead><tr><th>Net asset value</th>");
        for (int p = 0; p < 3; p++) {
            sb_str(c->s, "<th class=\"num\">");
            sb_str(c->s, p == 0 ? "Quarter to date" : p == 1 ? "Year to date" : "Since inception");
            sb_str(c->s, "</th>");
        }
        sb_str(c->s, "</tr></thead><tbody>\n");
        for (size_t k = 0; k < sizeof nav_lines / sizeof nav_lines[0]; k++) {
            sb_fmt(c->s, "<tr%s><td>%s</td>", nav_lines[k].cls, nav_lines[k].label);
            for (int p = 0; p < 3; p++) {
                cell_amount(c, jo(na, periods[p]), nav_lines[k].key);
            }
            sb_str(c->s, "</tr>\n");
        }
        sb_str(c->s, "</tbody></table>\n");
    }
    return true;
}

static bool p_position(struct rctx *c)
{
    size_t i;
    const json_t *t;
    json_array_foreach(tranches(c), i, t)
    {
        const json_t *p = jo(t, "position");
        const json_t *rec = jo(p, "interest_received"), *sub = jo(p, "subordination");
        const json_t *unpaid = jo(p, "interest_unpaid_at_last_run");
        tranche_heading(c, t);
        sb_str(c->s, "<table class=\"grid narrow\"><tbody>\n");
        row_label(c, "Capital (principal outstanding)");
        put_amount(c, js(p, "capital"));
        sb_str(c->s, "</td></tr>\n");
        row_label(c, "Loans funded, outstanding");
        put_amount(c, js(p, "loans_outstanding"));
        sb_str(c->s, "</td></tr>\n");
        row_label(c, "Cash available");
        put_amount(c, js(p, "cash_available"));
        sb_str(c->s, "</td></tr>\n");
        row_label(c, "Interest received: quarter / year / since inception");
        put_periods(c, rec, NULL);
        sb_str(c->s, "</td></tr>\n");
        row_label(c, "Interest due and not paid at the last distribution");
        if (json_is_object(unpaid)) {
            put_amount(c, js(unpaid, "amount"));
            sb_str(c->s, " <span class=\"muted\">(");
            sb_esc(c->s, js(unpaid, "run_date"));
            sb_str(c->s, ")</span>");
        } else {
            sb_str(c->s, "no run yet");
        }
        sb_str(c->s, "</td></tr>\n");
        row_label(c, "Capital of the tranches ranking below this one, out of the capital of all tranches");
        put_amount(c, js(sub, "junior_capital"));
        sb_str(c->s, " of ");
        put_amount(c, js(sub, "stack_capital"));
        sb_str(c->s, " (");
        put_percent(c, jo(sub, "ratio"));
        sb_str(c->s, ")");
        sb_str(c->s, "</td></tr>\n</tbody></table>\n");
        const json_t *np = jo(t, "nav_position");
        if (!json_is_object(np)) {
            continue;
        }
        /* What the net asset value is made of: the lines add up to it. */
        sb_str(c->s, "<table class=\"grid narrow\"><tbody>\n");
        static const struct {
            const char *key, *label;
        } pos[] = {{"cash_available", "Cash available"},
                   {"loans_outstanding", "+ Loans funded, outstanding"},
                   {"other_assets", "+ Interest receivable and other assets of the tranche"},
                   {"share_of_pooled_accounts",
                    "+ Share of what the fund holds for all tranches (loan collections not yet distributed and the "
                    "reserve, less the provision for loans that may not be repaid and fees not yet paid)"}};
        for (size_t k = 0; k < sizeof pos / sizeof pos[0]; k++) {
            row_label(c, pos[k].label);
            put_amount(c, js(np, pos[k].key));
            sb_str(c->s, "</td></tr>\n");
        }
        sb_str(c->s, "<tr class=\"total\"><td>= Net asset value</td><td class=\"num\">");
        put_amount(c, js(np, "nav"));
        sb_str(c->s, "</td></tr>\n");
        row_label(c, "of which provision for loans that may not be repaid, borne by the tranche");
        put_amount(c, js(np, "loss_allowance"));
        sb_str(c->s, "</td></tr>\n");
        /* Beside the NAV, not part of the sum: the coupon the tranche has earned and has not
         * been paid yet. */
        const json_t *cd = jo(np, "coupon_due");
        if (json_is_object(cd)) {
            row_label(c, "Coupon earned and not yet paid");
            put_amount(c, js(cd, "due"));
            if (json_is_string(jo(cd, "since"))) {
                sb_str(c->s, " <span class=\"muted\">(unpaid at the last distribution: ");
                put_amount(c, js(cd, "unpaid_at_last_run"));
                sb_str(c->s, "; earned since ");
                sb_esc(c->s, js(cd, "since"));
                sb_str(c->s, ": ");
                put_amount(c, js(cd, "accrued_since"));
                sb_str(c->s, ")</span>");
            }
            sb_str(c->s, "</td></tr>\n");
        }
        sb_str(c->s, "</tbody></table>\n");
    }
    return true;
}

static bool p_performance(struct rctx *c)
{
    size_t i;
    const json_t *t;
    json_array_foreach(tranches(c), i, t)
    {
        const json_t *p = jo(t, "performance");
        row_start(c, t);
        cell_amount(c, p, "paid_in");
        cell_amount(c, p, "distributions");
        cell_amount(c, p, "nav");
        static const char *const mult[3] = {"dpi", "rvpi", "tvpi"};
        for (int k = 0; k < 3; k++) {
            sb_str(c->s, "<td class=\"num\">");
            sb_esc(c->s, json_is_string(jo(p, mult[k])) ? js(p, mult[k]) : "n/a");
            sb_str(c->s, "</td>");
        }
        sb_str(c->s, "<td class=\"num\">");
        put_irr(c, jo(p, "irr"));
        sb_str(c->s, "</td></tr>\n");
    }
    return true;
}

/* Closing capital of each tranche at each month end: one polyline per tranche on a shared
 * date axis. Every coordinate is an integer from integer arithmetic. */
static bool p_chart_capital(struct rctx *c)
{
    const json_t *ts = tranches(c);
    size_t n_series = json_array_size(ts);
    int64_t dmin = INT64_MAX, dmax = INT64_MIN, vmax = 0;
    size_t i;
    const json_t *t;
    json_array_foreach(ts, i, t)
    {
        size_t k;
        const json_t *pt;
        json_array_foreach(jo(t, "capital_history"), k, pt)
        {
            rate_date d;
            int64_t v;
            if (!ledger_date_parse(js(pt, "date"), &d) || !amount_minor(c, js(pt, "capital"), &v)) {
                return malformed(c, "capital_history");
            }
            int64_t day = rate_date_to_days(d);
            dmin = day < dmin ? day : dmin;
            dmax = day > dmax ? day : dmax;
            vmax = v > vmax ? v : vmax;
        }
    }
    if (dmin > dmax) {
        sb_str(c->s, "<p class=\"empty\">No capital history.</p>");
        return true;
    }
    if (vmax <= 0) {
        vmax = 1;
    }
    const int plot_w = CHART_W - CAP_LEFT - CAP_RIGHT;
    const int legend_rows = (int)((n_series + CAP_LEGEND_COLS - 1) / CAP_LEGEND_COLS);
    const int h = CAP_TOP + CAP_PLOT_H + CAP_AXIS_H + legend_rows * CAP_LEGEND_ROW_H;
    const int base = CAP_TOP + CAP_PLOT_H;
    sb_fmt(c->s,
           "<svg class=\"chart\" viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" role=\"img\" "
           "aria-label=\"Closing capital of each tranche at each month end\">\n"
           "<title>Capital account over time</title>\n",
           CHART_W, h, CHART_W, h);
    for (int g = 0; g <= CAP_GRID_LINES; g++) {
        int64_t v = vmax * g / CAP_GRID_LINES;
        int y = base - (int)((money_i128)v * CAP_PLOT_H / vmax);
        sb_fmt(c->s, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" class=\"%s\"/>", CAP_LEFT, y, CAP_LEFT + plot_w, y,
               g == 0 ? "axis" : "gridline");
        sb_fmt(c->s, "<text x=\"%d\" y=\"%d\" class=\"ylabel\">", CAP_LEFT - 6, y + 4);
        put_minor(c, v);
        sb_str(c->s, "</text>\n");
    }
    json_array_foreach(ts, i, t)
    {
        const char *colour = palette[i % PALETTE_N];
        const json_t *hist = jo(t, "capital_history");
        sb_fmt(c->s, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", colour);
        size_t k;
        const json_t *pt;
        json_array_foreach(hist, k, pt)
        {
            rate_date d;
            int64_t v;
            bool ok = ledger_date_parse(js(pt, "date"), &d) && amount_minor(c, js(pt, "capital"), &v);
            assert(ok); /* checked in the first pass */
            int64_t day = rate_date_to_days(d);
            int x = CAP_LEFT + (dmax == dmin ? plot_w / 2 : (int)((day - dmin) * plot_w / (dmax - dmin)));
            int y = base - (v <= 0 ? 0 : (int)((money_i128)v * CAP_PLOT_H / vmax));
            sb_fmt(c->s, "%s%d,%d", k ? " " : "", x, y);
        }
        sb_str(c->s, "\"/>\n");
        json_array_foreach(hist, k, pt)
        {
            rate_date d;
            int64_t v;
            bool ok = ledger_date_parse(js(pt, "date"), &d) && amount_minor(c, js(pt, "capital"), &v);
            assert(ok);
            int64_t day = rate_date_to_days(d);
            int x = CAP_LEFT + (dmax == dmin ? plot_w / 2 : (int)((day - dmin) * plot_w / (dmax - dmin)));
            int y = base - (v <= 0 ? 0 : (int)((money_i128)v * CAP_PLOT_H / vmax));
            sb_fmt(c->s, "<circle cx=\"%d\" cy=\"%d\" r=\"3\" fill=\"%s\"><title>", x, y, colour);
            sb_esc(c->s, js(pt, "date"));
            sb_str(c->s, ": ");
            put_amount(c, js(pt, "capital"));
            sb_str(c->s, "</title></circle>");
        }
        sb_str(c->s, "\n");
        int lx = CAP_LEFT + (int)(i % CAP_LEGEND_COLS) * (plot_w / CAP_LEGEND_COLS);
        int ly = base + CAP_AXIS_H + (int)(i / CAP_LEGEND_COLS) * CAP_LEGEND_ROW_H;
        sb_fmt(c->s, "<rect x=\"%d\" y=\"%d\" width=\"12\" height=\"12\" fill=\"%s\"/>", lx, ly - 10, colour);
        sb_fmt(c->s, "<text x=\"%d\" y=\"%d\" class=\"legend\">", lx + 18, ly);
        sb_esc(c->s, js(t, "name"));
        sb_str(c->s, "</text>\n");
    }
    /* Dates under the axis: the month ends of the history, one label every `step` of them so at
     * most CAP_X_LABELS show (the first and the last always), each with a tick, as "Mar 2026". */
    static const char *const month_abbr[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                               "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    int64_t days[CAP_X_DATES_MAX];
    rate_date dates[CAP_X_DATES_MAX];
    size_t n_days = 0;
    json_array_foreach(ts, i, t)
    {
        size_t k;
        const json_t *pt;
        json_array_foreach(jo(t, "capital_history"), k, pt)
        {
            rate_date d;
            bool ok = ledger_date_parse(js(pt, "date"), &d);
            assert(ok);
            int64_t day = rate_date_to_days(d);
            size_t at = 0;
            while (at < n_days && days[at] < day) {
                at++;
            }
            if ((at < n_days && days[at] == day) || n_days == CAP_X_DATES_MAX) {
                continue;
            }
            memmove(days + at + 1, days + at, (n_days - at) * sizeof days[0]);
            memmove(dates + at + 1, dates + at, (n_days - at) * sizeof dates[0]);
            days[at] = day;
            dates[at] = d;
            n_days++;
        }
    }
    size_t step = (n_days + CAP_X_LABELS - 1) / CAP_X_LABELS;
    step = step == 0 ? 1 : step;
    for (size_t k = 0; k < n_days; k++) {
        bool last = k + 1 == n_days;
        /* Every step-th date and the last; a regular label less than half a step before the last
         * is left out so the two do not overlap. */
        if (!last && (k % step != 0 || (n_days - 1 - k) * 2 < step)) {
            continue;
        }
        int x = CAP_LEFT + (dmax == dmin ? plot_w / 2 : (int)((days[k] - dmin) * plot_w / (dmax - dmin)));
        rate_date d = dates[k];
        sb_fmt(c->s, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" class=\"axis\"/>", x, base, x, base + 4);
        sb_fmt(c->s, "<text x=\"%d\" y=\"%d\" class=\"xlabel%s\">%s %d</text>\n", x, base + 18,
               k == 0 && n_days > 1 ? ""
               : last && n_days > 1 ? " end"
                                    : " mid",
               month_abbr[d.m - 1], d.y);
    }
    sb_str(c->s, "</svg>\n");
    return true;
}

/* Horizontal bars of a concentration table: amount outstanding per row, with its share. */
static bool bars(struct rctx *c, const json_t *rows, const char *label)
{
    size_t n = json_array_size(rows);
    if (!json_is_array(rows)) {
        return malformed(c, "concentration");
    }
    if (n == 0) {
        sb_str(c->s, "<p class=\"empty\">No loans outstanding at period end.</p>\n");
        return true;
    }
    int64_t vmax = 0;
    size_t i;
    const json_t *row;
    json_array_foreach(rows, i, row)
    {
        int64_t v;
        if (!amount_minor(c, js(row, "amount"), &v)) {
            return malformed(c, "concentration amount");
        }
        vmax = v > vmax ? v : vmax;
    }
    if (vmax <= 0) {
        vmax = 1;
    }
    int h = BAR_TOP * 2 + (int)n * BAR_ROW_H;
    sb_fmt(c->s, "<svg class=\"chart\" viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" role=\"img\" aria-label=\"",
           CHART_W, h, CHART_W, h);
    sb_esc(c->s, label);
    sb_str(c->s, "\">\n<title>");
    sb_esc(c->s, label);
    sb_str(c->s, "</title>\n");
    json_array_foreach(rows, i, row)
    {
        int64_t v;
        bool ok = amount_minor(c, js(row, "amount"), &v);
        assert(ok);
        int y = BAR_TOP + (int)i * BAR_ROW_H;
        int w = v <= 0 ? 0 : (int)((money_i128)v * BAR_MAX_W / vmax);
        if (v > 0 && w == 0) {
            w = 1; /* a loan outstanding is never invisible */
        }
        sb_fmt(c->s, "<text x=\"%d\" y=\"%d\" class=\"ylabel\">", BAR_LABEL_W - 8, y + BAR_H - 3);
        sb_esc(c->s, js(row, "name"));
        if (json_is_string(jo(row, "department"))) {
            sb_str(c->s, " (");
            sb_esc(c->s, js(row, "department"));
            sb_str(c->s, ")");
        }
        sb_fmt(c->s, "</text><rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"%s\"/>", BAR_LABEL_W, y, w,
               BAR_H, palette[0]);
        sb_fmt(c->s, "<text x=\"%d\" y=\"%d\" class=\"value\">", BAR_LABEL_W + w + 6, y + BAR_H - 3);
        put_amount(c, js(row, "amount"));
        sb_str(c->s, " (");
        put_percent(c, jo(row, "share"));
        sb_str(c->s, ")</text>\n");
    }
    sb_str(c->s, "</svg>\n");
    return true;
}

static bool p_chart_municipality(struct rctx *c)
{
    return bars(c, jo(jo(jo(c->st, "portfolio"), "concentration"), "municipality"),
                "Loans outstanding by municipality");
}

static bool p_chart_value_chain(struct rctx *c)
{
    return bars(c, jo(jo(jo(c->st, "portfolio"), "concentration"), "value_chain"), "Loans outstanding by value chain");
}

static bool p_portfolio(struct rctx *c)
{
    const json_t *p = jo(c->st, "portfolio");
    if (!json_is_object(p)) {
        return malformed(c, "portfolio");
    }
    sb_str(c->s, "<table class=\"grid narrow\"><tbody>\n");
    row_label(c, "Gross loan portfolio");
    put_amount(c, js(p, "gross_portfolio"));
    sb_str(c->s, "</td></tr>\n");
    row_label(c, "Loans outstanding / borrowers");
    sb_fmt(c->s, "%" PRId64 " / %" PRId64 "</td></tr>\n", (int64_t)json_integer_value(jo(p, "loans_outstanding")),
           (int64_t)json_integer_value(jo(jo(c->st, "impact"), "borrowers")));
    row_label(c, "Portfolio at risk &gt; 30 days");
    put_amount(c, js(jo(p, "par30"), "amount"));
    sb_str(c->s, " (");
    put_percent(c, jo(jo(p, "par30"), "ratio"));
    sb_str(c->s, ")</td></tr>\n");
    row_label(c, "Portfolio at risk &gt; 90 days");
    put_amount(c, js(jo(p, "par90"), "amount"));
    sb_str(c->s, " (");
    put_percent(c, jo(jo(p, "par90"), "ratio"));
    sb_str(c->s, ")</td></tr>\n");
    row_label(c, "Write-offs: quarter / year / since inception");
    put_periods(c, jo(p, "write_offs"), "amount");
    sb_str(c->s, "</td></tr>\n");
    row_label(c, "Recoveries: quarter / year / since inception");
    put_periods(c, jo(p, "recoveries"), "amount");
    sb_str(c->s, "</td></tr>\n</tbody></table>\n");
    return true;
}

/* A waterfall step's kind in words for investors. */
static const char *step_words(const char *kind)
{
    static const struct {
        const char *kind, *words;
    } w[] = {{"fees", "Fees and expenses"},
             {"interest", "Coupon (interest)"},
             {"principal", "Capital repaid"},
             {"reserve", "Reserve top-up"},
             {"residual", "Residual income"}};
    for (size_t i = 0; i < sizeof w / sizeof w[0]; i++) {
        if (strcmp(kind, w[i].kind) == 0) {
            return w[i].words;
        }
    }
    return "Other";
}

static bool p_waterfall(struct rctx *c)
{
    size_t i;
    const json_t *t;
    json_array_foreach(tranches(c), i, t)
    {
        const json_t *w = jo(t, "waterfall");
        const json_t *runs = jo(w, "runs");
        tranche_heading(c, t);
        if (json_array_size(runs) == 0) {
            sb_str(c->s, "<p class=\"empty\">No waterfall run between ");
            sb_esc(c->s, js(w, "from"));
            sb_str(c->s, " and ");
            sb_esc(c->s, js(w, "to"));
            sb_str(c->s, ".</p>\n");
            continue;
        }
        sb_str(c->s, "<table class=\"grid\"><thead><tr><th>Run date</th><th>Step</th><th>Payment</th>"
                     "<th class=\"num\">Owed</th><th class=\"num\">Paid</th><th class=\"num\">Unpaid, carried "
                     "forward</th></tr></thead><tbody>\n");
        size_t k;
        const json_t *run;
        json_array_foreach(runs, k, run)
        {
            size_t m;
            const json_t *step;
            json_array_foreach(jo(run, "steps"), m, step)
            {
                sb_str(c->s, "<tr><td>");
                sb_esc(c->s, js(run, "run_date"));
                sb_fmt(c->s, "</td><td>%" PRId64 "</td><td>", (int64_t)json_integer_value(jo(step, "step_no")));
                /* Capital is repaid as cash allows and is never owed at a run: its row says what
                 * was outstanding, not a "due" with a "shortfall". */
                const char *kind = js(step, "kind");
                bool capital = strcmp(kind, "principal") == 0, residual = strcmp(kind, "residual") == 0;
                sb_str(c->s, step_words(kind));
                if (capital) {
                    sb_str(c->s, " <span class=\"muted\">(of ");
                    put_amount(c, js(step, "due"));
                    sb_str(c->s, " outstanding)</span>");
                }
                sb_str(c->s, "</td><td class=\"num\">");
                if (capital || residual) {
                    sb_str(c->s, "&#8212;");
                } else {
                    put_amount(c, js(step, "due"));
                }
                sb_str(c->s, "</td><td class=\"num\">");
                put_amount(c, js(step, "paid"));
                sb_str(c->s, "</td><td class=\"num\">");
                if (capital || residual) {
                    sb_str(c->s, "&#8212;");
                } else {
                    put_amount(c, js(step, "shortfall"));
                }
                sb_str(c->s, "</td></tr>\n");
            }
        }
        sb_str(c->s, "</tbody></table>\n");
        if (json_is_true(jo(w, "truncated"))) {
            sb_str(c->s, "<p class=\"muted\">More runs than shown in this quarter.</p>\n");
        }
    }
    return true;
}

static bool p_impact_rows(struct rctx *c)
{
    size_t i;
    const json_t *x;
    json_array_foreach(jo(jo(c->st, "impact"), "indicators"), i, x)
    {
        const json_t *v = jo(x, "value");
        sb_str(c->s, "<tr><td>");
        sb_esc(c->s, js(x, "code"));
        sb_str(c->s, "</td><td>");
        sb_esc(c->s, js(x, "name"));
        sb_str(c->s, "</td><td class=\"num\">");
        if (json_is_integer(v)) {
            sb_fmt(c->s, "%" PRId64, (int64_t)json_integer_value(v));
        } else if (json_is_string(v)) {
            put_amount(c, json_string_value(v));
        } else {
            sb_str(c->s, "not measured");
        }
        sb_str(c->s, " <span class=\"muted\">");
        sb_esc(c->s, js(x, "unit"));
        sb_str(c->s, "</span></td><td class=\"num\">");
        sb_str(c->s, json_is_null(jo(x, "target")) ? "&#8212;" : "");
        if (json_is_string(jo(x, "target"))) {
            put_amount(c, js(x, "target"));
        }
        sb_str(c->s, "</td><td class=\"muted\">");
        sb_esc(c->s, js(x, "note"));
        sb_str(c->s, "</td></tr>\n");
    }
    return true;
}

static bool p_notes(struct rctx *c)
{
    size_t i;
    const json_t *n;
    json_array_foreach(jo(c->st, "notes"), i, n)
    {
        sb_str(c->s, "<li>");
        sb_esc(c->s, json_string_value(n) ? json_string_value(n) : "");
        sb_str(c->s, "</li>\n");
    }
    return true;
}

/* The signed head of the ledger's hash chain the statement was built on (or that none is yet). */
static bool p_chain_head(struct rctx *c)
{
    const json_t *h = jo(jo(c->st, "cutoff"), "chain_head");
    if (!json_is_object(h)) {
        sb_str(c->s, "no signed chain head yet (nothing sealed)");
        return true;
    }
    sb_fmt(c->s, "seal %" PRId64 ", entry %" PRId64 ", hash ", (int64_t)json_integer_value(jo(h, "seal_pos")),
           (int64_t)json_integer_value(jo(h, "entry_id")));
    sb_esc(c->s, js(h, "hash"));
    sb_str(c->s, ", key ");
    sb_esc(c->s, js(h, "key_id"));
    sb_str(c->s, ", Ed25519 signature ");
    sb_esc(c->s, js(h, "signature"));
    return true;
}

/* The fixed set of placeholders of reports/statement.html (a name between two pairs of curly
 * braces): a short text taken from the statement at a dotted path, or a generated block:
 *   title, fund_name, fund_code, currency, investor_name, period_end, quarter_from, year_from,
 *   built_at, hash, basis: short texts (escaped); chain_head: the signed chain head (escaped);
 *   commitment_rows, performance_rows, impact_rows: table rows (tr elements);
 *   capital_account, position, waterfall: one heading and table per tranche;
 *   portfolio: a table; notes: list items (li elements);
 *   chart_capital, chart_municipality, chart_value_chain: inline SVG charts;
 *   impact_targets: a sentence on targets.
 * Any other name between braces is an error. The template is what investors receive: it carries
 * no comment (this one is its documentation), inline CSS only, no script, no external resource
 * (fonts, images, style sheets), and print CSS for A4. */
static const struct {
    const char *name;
    const char *path;
    bool (*gen)(struct rctx *c);
} placeholders[] = {
    {"title", NULL, p_title},
    {"fund_name", "fund.name", NULL},
    {"fund_code", "fund.code", NULL},
    {"currency", "fund.currency", NULL},
    {"investor_name", "investor.name", NULL},
    {"period_end", "period_end", NULL},
    {"quarter_from", "periods.qtd.from", NULL},
    {"year_from", "periods.ytd.from", NULL},
    {"built_at", "cutoff.built_at", NULL},
    {"hash", "hash", NULL},
    {"chain_head", NULL, p_chain_head},
    {"basis", "basis", NULL},
    {"impact_targets", "impact.targets", NULL},
    {"commitment_rows", NULL, p_commitment_rows},
    {"capital_account", NULL, p_capital_account},
    {"position", NULL, p_position},
    {"performance_rows", NULL, p_performance},
    {"chart_capital", NULL, p_chart_capital},
    {"portfolio", NULL, p_portfolio},
    {"chart_municipality", NULL, p_chart_municipality},
    {"chart_value_chain", NULL, p_chart_value_chain},
    {"waterfall", NULL, p_waterfall},
    {"impact_rows", NULL, p_impact_rows},
    {"notes", NULL, p_notes},
};

/* ---- the template ------------------------------------------------------------------------ */

static char *read_template(const char *path, size_t *len, struct fl_error *err)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fl_error_set(err, FLE_INTERNAL, NULL, "cannot open the statement template");
        return NULL;
    }
    char *buf = malloc(STATEMENT_TEMPLATE_BYTES_MAX + 1);
    if (buf == NULL) {
        fclose(f);
        fl_error_set(err, FLE_INTERNAL, NULL, "out of memory");
        return NULL;
    }
    size_t n = fread(buf, 1, STATEMENT_TEMPLATE_BYTES_MAX + 1, f);
    bool bad = ferror(f) != 0;
    fclose(f);
    if (bad || n > STATEMENT_TEMPLATE_BYTES_MAX || memchr(buf, '\0', n) != NULL) {
        free(buf);
        fl_error_set(err, FLE_INTERNAL, NULL, "the statement template is unreadable or over %d bytes",
                     STATEMENT_TEMPLATE_BYTES_MAX);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

enum fl_err statement_render_html(const json_t *statement, const char *template_path, char **html_out,
                                  struct fl_error *err)
{
    assert(statement != NULL && template_path != NULL && html_out != NULL);
    *html_out = NULL;
    const char *cur = js(jo(statement, "fund"), "currency");
    int exp = cur[0] ? money_currency_exponent(cur) : -1;
    if (exp < 0 || !json_is_array(jo(statement, "tranches"))) {
        return fl_error_set(err, FLE_INTERNAL, NULL, "not a statement: no fund currency or tranches");
    }
    size_t len = 0;
    char *tpl = read_template(template_path, &len, err);
    if (tpl == NULL) {
        return err->code;
    }
    struct sbuf s = {0};
    struct rctx c = {&s, statement, exp, err};
    enum fl_err e = FLE_OK;
    size_t i = 0;
    while (i < len && e == FLE_OK && !s.failed) { /* each round consumes at least one byte */
        const char *open = strstr(tpl + i, "{{");
        if (open == NULL) {
            sb_mem(&s, tpl + i, len - i);
            break;
        }
        sb_mem(&s, tpl + i, (size_t)(open - (tpl + i)));
        const char *name = open + 2;
        size_t nl = strspn(name, "abcdefghijklmnopqrstuvwxyz_");
        if (nl == 0 || nl >= PLACEHOLDER_BYTES_MAX || strncmp(name + nl, "}}", 2) != 0) {
            e = fl_error_set(err, FLE_INTERNAL, NULL, "statement template: malformed placeholder at byte %zu",
                             (size_t)(open - tpl));
            break;
        }
        bool found = false;
        for (size_t k = 0; k < sizeof placeholders / sizeof placeholders[0]; k++) {
            if (strlen(placeholders[k].name) == nl && strncmp(placeholders[k].name, name, nl) == 0) {
                found = true;
                if (placeholders[k].gen == NULL) {
                    sb_esc(&s, js_path(statement, placeholders[k].path));
                } else if (!placeholders[k].gen(&c)) {
                    e = err->code;
                }
                break;
            }
        }
        if (!found) {
            e = fl_error_set(err, FLE_INTERNAL, NULL, "statement template: unknown placeholder %.*s", (int)nl, name);
        }
        i = (size_t)(name + nl + 2 - tpl);
    }
    free(tpl);
    if (e == FLE_OK && (s.failed || s.buf == NULL)) {
        e = fl_error_set(err, FLE_INTERNAL, NULL, "the statement page is over %d bytes or memory ran out",
                         STATEMENT_HTML_BYTES_MAX);
    }
    if (e != FLE_OK) {
        free(s.buf);
        return e;
    }
    *html_out = s.buf;
    return FLE_OK;
}
