/* navalloc: the fund's income, fees, expenses and credit losses allocated to its tranches
 * (docs/fund-operations.md, "NAV: everything allocated to the tranches"). */
#include "fundledger/navalloc.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fundledger/allowance.h"
#include "fundledger/audit.h"
#include "fundledger/coupon.h"
#include "fundledger/fund.h"
#include "fundledger/jsonv.h"
#include "fundledger/ledger.h"
#include "fundledger/limits.h"
#include "fundledger/money.h"
#include "fundledger/tranche.h"
#include "fundledger/waterfall.h"

struct tr {
    int64_t id, return_rate, fee_rate, commitment;
    rate_date from, ip_end, coupon_from;
    bool has_ip_end, has_coupon_from;
    int64_t allocated;   /* income allocated before: -T.INCOME */
    int64_t run_paid;    /* coupon paid by the waterfall up to its last run before the date */
    int64_t run_unpaid;  /* coupon due and not paid at that run */
    int64_t capital, coupon, earned, fee, income, short_, expense;
};

/* The capital timeline of tranche t up to `date`: every dated net change of CONTRIB + RETURNED +
 * LOSS (ascending). *all owned by the caller. */
static enum fl_err capital_dates(struct db *db, int64_t fund_id, int64_t tranche_id, const char *date,
                                 coupon_change **all, size_t *n, struct fl_error *err)
{
    char fb[21], tb[21];
    const char *p[4] = {db_i64_text(fund_id, fb), db_i64_text(tranche_id, tb), date, "9223372036854775807"};
    PGresult *r = db_exec(db, "distribution_capital_dates", 4, p, err);
    if (r == NULL) {
        return err->code;
    }
    int rows = PQntuples(r);
    *all = malloc((rows > 0 ? (size_t)rows : 1) * sizeof **all);
    if (*all == NULL) {
        PQclear(r);
        return fl_error_set(err, FLE_INTERNAL, NULL, "out of memory");
    }
    for (int k = 0; k < rows; k++) {
        bool ok = ledger_date_parse(db_str(r, k, 0), &(*all)[k].date);
        assert(ok);
        (void)ok;
        (*all)[k].delta_minor = db_i64(r, k, 1);
    }
    *n = (size_t)rows;
    PQclear(r);
    return FLE_OK;
}

/* The timeline from `start`: the capital on it (changes on or before it) and the changes after. */
static bool timeline_from(const coupon_change *all, size_t n, rate_date start, int64_t *opening,
                          const coupon_change **after, size_t *n_after)
{
    int64_t s = rate_date_to_days(start), o = 0;
    size_t k = 0;
    while (k < n && rate_date_to_days(all[k].date) <= s) {
        if (!money_add(o, all[k].delta_minor, &o)) {
            return false;
        }
        k++;
    }
    *opening = o;
    *after = all + k;
    *n_after = n - k;
    return true;
}

/* Coupon and management fee of tranche t for (t->from, to]. */
static enum fl_err accrue(struct db *db, int64_t fund_id, struct tr *t, const char *date, rate_date to,
                          struct fl_error *err)
{
    coupon_change *all = NULL;
    size_t n = 0;
    enum fl_err e = capital_dates(db, fund_id, t->id, date, &all, &n, err);
    if (e != FLE_OK) {
        return e;
    }
    int64_t opening = 0;
    const coupon_change *after = NULL;
    size_t na = 0;
    rate_status st = RATE_OK;
    t->coupon = 0;
    if (!timeline_from(all, n, to, &t->capital, &after, &na)) {
        st = RATE_ERR_OVERFLOW;
    } else if (t->has_coupon_from && rate_date_to_days(t->coupon_from) < rate_date_to_days(to)) {
        if (!timeline_from(all, n, t->coupon_from, &opening, &after, &na)) {
            st = RATE_ERR_OVERFLOW;
        } else if (na > COUPON_CHANGES_MAX) {
            st = RATE_ERR_RANGE;
        } else {
            st = coupon_accrue(t->return_rate, t->coupon_from, to, opening, after, na, &t->coupon);
        }
    }
    if (st == RATE_OK) {
        /* The fee: on the commitment up to the end of the investment period, then on the
         * capital (coupon_management_fee's split of the period). */
        int64_t f = rate_date_to_days(t->from), tt = rate_date_to_days(to);
        rate_date pe = t->has_ip_end ? t->ip_end : t->from;
        int64_t e_days = rate_date_to_days(pe);
        rate_date cap_start = e_days >= tt ? to : (e_days > f ? pe : t->from);
        int64_t cap_open = 0;
        if (!timeline_from(all, n, cap_start, &cap_open, &after, &na)) {
            st = RATE_ERR_OVERFLOW;
        } else {
            st = coupon_management_fee(t->fee_rate, t->from, to, pe, t->commitment < 0 ? 0 : t->commitment, cap_open,
                                       after, na, &t->fee);
        }
    }
    free(all);
    if (st != RATE_OK) {
        return fl_error_set(err, FLE_RULE, "date", "coupon or fee of tranche %" PRId64 ": %s", t->id,
                            rate_status_text(st));
    }
    return FLE_OK;
}

static void line(struct ledger_entry *en, int64_t account, int64_t amount, const char *cur)
{
    if (amount == 0) {
        return;
    }
    assert(en->n_lines < LEDGER_LINES_MAX);
    struct ledger_line *l = &en->lines[en->n_lines++];
    l->account_id = account;
    l->amount_minor = amount;
    memcpy(l->currency, cur, CURRENCY_CODE_BYTES);
}

/* Reads the tranches of the fund signed by `date`, most senior first. */
static enum fl_err read_tranches(struct db *db, int64_t fund_id, const char *date, const char *prev, struct tr *t,
                                 size_t *n, struct fl_error *err)
{
    char fb[21];
    const char *p[2] = {db_i64_text(fund_id, fb), date};
    PGresult *r = db_exec(db, "navalloc_tranches", 2, p, err);
    if (r == NULL) {
        return err->code;
    }
    int rows = PQntuples(r);
    if (rows > WATERFALL_TRANCHES_MAX) {
        PQclear(r);
        return fl_error_set(err, FLE_RULE, "fund_id", "at most %d tranches are allocated", WATERFALL_TRANCHES_MAX);
    }
    for (int i = 0; i < rows; i++) {
        memset(&t[i], 0, sizeof t[i]);
        t[i].id = db_i64(r, i, 0);
        t[i].return_rate = db_i64(r, i, 1);
        t[i].fee_rate = db_i64(r, i, 2);
        rate_date signed_on;
        bool ok = ledger_date_parse(db_str(r, i, 3), &signed_on);
        t[i].has_ip_end = !db_null(r, i, 4) && ledger_date_parse(db_str(r, i, 4), &t[i].ip_end);
        t[i].commitment = db_i64(r, i, 5);
        t[i].allocated = db_i64(r, i, 6);
        /* The coupon runs from the waterfall's last run before the date (or the first
         * contribution), as the next run will compute it. */
        const char *cf = !db_null(r, i, 8) ? db_str(r, i, 8) : db_null(r, i, 7) ? NULL : db_str(r, i, 7);
        t[i].has_coupon_from = cf != NULL && ledger_date_parse(cf, &t[i].coupon_from);
        t[i].run_paid = db_i64(r, i, 9);
        t[i].run_unpaid = db_i64(r, i, 10);
        rate_date pd;
        /* From the previous allocation, or from the signing for a tranche signed after it. */
        if (prev != NULL && ledger_date_parse(prev, &pd) && rate_date_to_days(pd) > rate_date_to_days(signed_on)) {
            t[i].from = pd;
        } else {
            t[i].from = signed_on;
        }
        assert(ok);
        (void)ok;
    }
    *n = (size_t)rows;
    PQclear(r);
    return FLE_OK;
}

/* The capital of tranche t at the end of `date`: its dated changes up to it. */
static enum fl_err capital_on(struct db *db, int64_t fund_id, int64_t tranche_id, const char *date, int64_t *out,
                              struct fl_error *err)
{
    coupon_change *all = NULL;
    size_t n = 0;
    enum fl_err e = capital_dates(db, fund_id, tranche_id, date, &all, &n, err);
    if (e != FLE_OK) {
        return e;
    }
    int64_t c = 0;
    bool ok = true;
    for (size_t k = 0; k < n && ok; k++) {
        ok = money_add(c, all[k].delta_minor, &c);
    }
    free(all);
    if (!ok) {
        return fl_error_set(err, FLE_RULE, "date", "capital of tranche %" PRId64 " overflows", tranche_id);
    }
    *out = c > 0 ? c : 0;
    return FLE_OK;
}

/* Splits `amount` by the capital in cap (most senior first); with no capital at all, the most
 * junior bears it. Adds the parts to out. */
static bool split_add(int64_t amount, const int64_t *cap, size_t nt, int64_t *out)
{
    int64_t parts[WATERFALL_TRANCHES_MAX];
    if (!coupon_expense_split(amount, cap, nt, parts)) {
        memset(parts, 0, sizeof parts);
        parts[nt - 1] = amount;
    }
    for (size_t i = 0; i < nt; i++) {
        if (!money_add(out[i], parts[i], &out[i])) {
            return false;
        }
    }
    return true;
}

/* The fund expenses not yet allocated (total: 5000 + 5990 as of `date`), per tranche in out:
 * each expense dated after the previous allocation (`prev`, NULL: none) by the tranches' capital
 * on its own date (docs/fund-operations.md, "Fund expenses"); the rest by cap_on_date, the
 * capital on the allocation date. */
static enum fl_err expenses_by_date(struct db *db, int64_t fund_id, const struct tr *t, size_t nt, const char *prev,
                                    const char *date, int64_t total, const int64_t *cap_on_date, int64_t *out,
                                    struct fl_error *err)
{
    memset(out, 0, nt * sizeof *out);
    char fb[21];
    const char *p[3] = {db_i64_text(fund_id, fb), prev, date};
    PGresult *r = db_exec(db, "navalloc_expense_dates", 3, p, err);
    if (r == NULL) {
        return err->code;
    }
    int64_t rest = total;
    enum fl_err e = FLE_OK;
    for (int k = 0; k < PQntuples(r) && e == FLE_OK; k++) {
        int64_t amount = db_i64(r, k, 1), cap[WATERFALL_TRANCHES_MAX];
        for (size_t i = 0; i < nt && e == FLE_OK; i++) {
            e = capital_on(db, fund_id, t[i].id, db_str(r, k, 0), &cap[i], err);
        }
        if (e == FLE_OK && (!split_add(amount, cap, nt, out) || !money_sub(rest, amount, &rest))) {
            e = fl_error_set(err, FLE_RULE, "date", "expenses overflow");
        }
    }
    PQclear(r);
    if (e == FLE_OK && rest != 0 && !split_add(rest, cap_on_date, nt, out)) {
        e = fl_error_set(err, FLE_RULE, "date", "expenses overflow");
    }
    return e;
}

json_t *nav_allocate(struct db *db, const struct principal *actor, int64_t fund_id, const char *date,
                     struct fl_error *err)
{
    assert(db_in_tx(db) && actor != NULL);
    struct fund_settings fs;
    if (fund_lock(db, fund_id, &fs, err) != FLE_OK) {
        return NULL;
    }
    const char *cur = fs.base_currency;
    char today[DATE_TEXT_BYTES];
    tranche_today(today);
    if (date == NULL) {
        fl_error_set(err, FLE_MISSING_FIELD, "date", "required");
        return NULL;
    }
    rate_date to;
    if (!ledger_date_parse(date, &to) || strcmp(date, today) > 0) {
        fl_error_set(err, FLE_BAD_FIELD, "date", "a date YYYY-MM-DD, not in the future");
        return NULL;
    }
    char fb[21];
    db_i64_text(fund_id, fb);
    const char *pd[2] = {fb, date};
    PGresult *r = db_exec(db, "navalloc_last", 2, pd, err);
    if (r == NULL) {
        return NULL;
    }
    bool same = !db_null(r, 0, 0), later = !db_null(r, 0, 1);
    char last[DATE_TEXT_BYTES] = "", prev[DATE_TEXT_BYTES] = "";
    if (later) {
        snprintf(last, sizeof last, "%s", db_str(r, 0, 1));
    }
    if (!db_null(r, 0, 2)) {
        snprintf(prev, sizeof prev, "%s", db_str(r, 0, 2));
    }
    PQclear(r);
    if (same) {
        json_t *o = nav_allocation_get(db, fund_id, date, err);
        if (o != NULL) {
            json_object_set_new(o, "replayed", json_true());
        }
        return o;
    }
    if (later) {
        fl_error_set(err, FLE_BAD_FIELD, "date", "on or after the fund's last allocation date %s", last);
        return NULL;
    }
    struct tr t[WATERFALL_TRANCHES_MAX];
    size_t nt = 0;
    if (read_tranches(db, fund_id, date, prev[0] ? prev : NULL, t, &nt, err) != FLE_OK) {
        return NULL;
    }
    /* Fund-level balances as of the date: what is not allocated yet. */
    if ((r = db_exec(db, "navalloc_fund_balances", 2, pd, err)) == NULL) {
        return NULL;
    }
    /* Gross accounts and their contras: what is left on both is not allocated yet. */
    static const char *const codes[7] = {"4000", "4100", "4990", "5000", "5100", "5990", "5991"};
    int64_t bal[7] = {0};
    for (int i = 0; i < PQntuples(r); i++) {
        for (int k = 0; k < 7; k++) {
            if (strcmp(db_str(r, i, 0), codes[k]) == 0) {
                bal[k] = db_i64(r, i, 1);
            }
        }
    }
    int64_t b4000 = 0, b4100 = bal[1], b5000 = 0, b5100 = 0;
    if (!money_add(bal[0], bal[2], &b4000) || !money_add(bal[3], bal[5], &b5000) ||
        !money_add(bal[4], bal[6], &b5100)) {
        PQclear(r);
        fl_error_set(err, FLE_RULE, "date", "fund-level balances overflow");
        return NULL;
    }
    PQclear(r);
    int64_t income = 0;
    if (!money_add(b4000, b4100, &income) || income == INT64_MIN) {
        fl_error_set(err, FLE_RULE, "date", "income overflows");
        return NULL;
    }
    income = -income;
    if (nt == 0) {
        if (income != 0 || b5000 != 0 || b5100 != 0) {
            fl_error_set(err, FLE_RULE, "fund_id",
                         "the fund has income or expenses in %s and no tranche to allocate them to", cur);
            return NULL;
        }
    }
    int64_t fees_total = 0;
    int64_t entitled[WATERFALL_TRANCHES_MAX], parts[WATERFALL_TRANCHES_MAX], shorts[WATERFALL_TRANCHES_MAX];
    int64_t cap[WATERFALL_TRANCHES_MAX], exp5000[WATERFALL_TRANCHES_MAX];
    for (size_t i = 0; i < nt; i++) {
        if (accrue(db, fund_id, &t[i], date, to, err) != FLE_OK) {
            return NULL;
        }
        /* Coupon earned from inception = paid by the runs + unpaid at the last run + accrued
         * since it; what is not allocated yet is the entitlement. */
        if (!money_add(t[i].run_paid, t[i].run_unpaid, &t[i].earned) ||
            !money_add(t[i].earned, t[i].coupon, &t[i].earned) || !money_add(fees_total, t[i].fee, &fees_total)) {
            fl_error_set(err, FLE_RULE, "date", "coupon or fees overflow");
            return NULL;
        }
        entitled[i] = t[i].earned > t[i].allocated ? t[i].earned - t[i].allocated : 0;
        cap[i] = t[i].capital > 0 ? t[i].capital : 0;
    }
    if (nt > 0) {
        if (!coupon_income_allocate(income, entitled, nt, parts, shorts)) {
            fl_error_set(err, FLE_RULE, "date", "income allocation failed");
            return NULL;
        }
        /* Each fund expense by the tranches' capital on its own date; what is left (an expense
         * dated on or before the previous allocation and posted after it) by the capital on the
         * allocation date; with no capital at all, the most junior bears it. */
        if (expenses_by_date(db, fund_id, t, nt, prev[0] ? prev : NULL, date, b5000, cap, exp5000, err) != FLE_OK) {
            return NULL;
        }
        for (size_t i = 0; i < nt; i++) {
            t[i].income = parts[i];
            t[i].short_ = shorts[i];
            t[i].expense = exp5000[i];
        }
        if (!money_add(t[nt - 1].expense, b5100, &t[nt - 1].expense)) {
            fl_error_set(err, FLE_RULE, "date", "expenses overflow");
            return NULL;
        }
    }
    /* The entry. */
    static _Thread_local struct ledger_entry entry;
    memset(&entry, 0, sizeof entry);
    /* The gross accounts keep their balances (what the fund earned and spent, as IATI and the
     * reports read them); the contras 4990, 5990 and 5991 carry what was allocated. */
    int64_t a4990 = 0, a5990 = 0, a5991 = 0, a2300 = 0;
    int64_t inc_total = 0;
    if (!money_add(b4000, b4100, &inc_total)) {
        fl_error_set(err, FLE_RULE, "date", "income overflows");
        return NULL;
    }
    if ((inc_total != 0 && fund_account_ensure(db, actor, fund_id, "4990", "Income allocated to the tranches", "income",
                                          cur, &a4990, err) != FLE_OK) ||
        (b5000 != 0 && fund_account_ensure(db, actor, fund_id, "5990", "Fund expenses allocated to the tranches",
                                      "expense", cur, &a5990, err) != FLE_OK) ||
        (b5100 != 0 && fund_account_ensure(db, actor, fund_id, "5991", "Credit losses allocated to the tranches",
                                      "expense", cur, &a5991, err) != FLE_OK) ||
        (fees_total != 0 && fund_account_by_code(db, fund_id, "2300", &a2300, err) != FLE_OK)) {
        return NULL;
    }
    line(&entry, a4990, -inc_total, cur);
    line(&entry, a5990, -b5000, cur);
    line(&entry, a5991, -b5100, cur);
    line(&entry, a2300, -fees_total, cur);
    for (size_t i = 0; i < nt; i++) {
        static const struct {
            const char *suffix, *name, *type;
        } kinds[3] = {{"INCOME", "income allocated", "income"},
                      {"FEES", "management fees", "expense"},
                      {"EXPENSES", "fund expenses and credit losses allocated", "expense"}};
        int64_t amounts[3] = {-t[i].income, t[i].fee, t[i].expense};
        for (int k = 0; k < 3; k++) {
            if (amounts[k] == 0) {
                continue;
            }
            char code[48], name[128];
            int64_t acc = 0;
            snprintf(code, sizeof code, "T%" PRId64 ".%s", t[i].id, kinds[k].suffix);
            snprintf(name, sizeof name, "Tranche %" PRId64 ": %s", t[i].id, kinds[k].name);
            if (fund_account_ensure(db, actor, fund_id, code, name, kinds[k].type, cur, &acc, err) != FLE_OK) {
                return NULL;
            }
            line(&entry, acc, amounts[k], cur);
        }
    }
    if ((r = db_exec(db, "navalloc_next_id", 0, NULL, err)) == NULL) {
        return NULL;
    }
    int64_t run_id = db_i64(r, 0, 0);
    PQclear(r);
    char rb[21];
    db_i64_text(run_id, rb);
    int64_t entry_id = 0;
    if (entry.n_lines >= 2) {
        entry.fund_id = fund_id;
        entry.posted_by = actor->user_id;
        snprintf(entry.effective_date, sizeof entry.effective_date, "%s", date);
        snprintf(entry.event_type, sizeof entry.event_type, "nav_allocation");
        snprintf(entry.event_ref, sizeof entry.event_ref, "nav_allocation:%" PRId64, run_id);
        snprintf(entry.memo, sizeof entry.memo, "income, fees and expenses allocated to the tranches as of %s", date);
        const struct ledger_entry *ptr = &entry;
        if (ledger_post(db, &ptr, 1, &entry_id, err) != FLE_OK) {
            return NULL;
        }
    }
    int64_t expenses_total = b5000;
    char ib[21], xb[21], lb[21], feb[21], eb[21], ub[21];
    const char *pr[10] = {rb,
                          fb,
                          date,
                          prev[0] ? prev : NULL,
                          db_i64_text(income, ib),
                          db_i64_text(expenses_total, xb),
                          db_i64_text(b5100, lb),
                          db_i64_text(fees_total, feb),
                          entry_id ? db_i64_text(entry_id, eb) : NULL,
                          db_i64_text(actor->user_id, ub)};
    if ((r = db_exec(db, "navalloc_insert_run", 10, pr, err)) == NULL) {
        return NULL;
    }
    PQclear(r);
    if (nt > 0) {
        struct db_array a[8];
        for (int k = 0; k < 8; k++) {
            db_array_init(&a[k]);
        }
        for (size_t i = 0; i < nt; i++) {
            db_array_i64(&a[0], t[i].id);
            db_array_i64(&a[1], t[i].capital);
            db_array_i64(&a[2], t[i].earned);
            db_array_i64(&a[3], t[i].allocated);
            db_array_i64(&a[4], t[i].income);
            db_array_i64(&a[5], t[i].short_);
            db_array_i64(&a[6], t[i].fee);
            db_array_i64(&a[7], t[i].expense);
        }
        if ((r = db_exec_arrays(db, "navalloc_insert_tranches", rb, a, 8, err)) == NULL) {
            return NULL;
        }
        PQclear(r);
    }
    json_t *detail = json_pack("{s:s, s:s, s:o, s:o, s:o, s:o}", "date", date, "currency", cur, "income",
                               jv_amount(income, cur), "expenses", jv_amount(expenses_total, cur), "losses",
                               jv_amount(b5100, cur), "fees", jv_amount(fees_total, cur));
    if (audit_record(db, actor, "nav.allocate", "nav_allocation", rb, fund_id, detail, err) != FLE_OK) {
        return NULL;
    }
    json_t *out = nav_allocation_get(db, fund_id, date, err);
    if (out != NULL) {
        json_object_set_new(out, "replayed", json_false());
    }
    return out;
}

/* One nav_allocation_tranche row read from columns c.. (tranche_id, capital, earned, allocated
 * before, income, short, fee, expense). */
static json_t *tranche_row(const PGresult *r, int i, int c, const char *cur)
{
    return json_pack("{s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "tranche_id", (json_int_t)db_i64(r, i, c), "capital",
                     jv_amount(db_i64(r, i, c + 1), cur), "coupon_earned", jv_amount(db_i64(r, i, c + 2), cur),
                     "allocated_before", jv_amount(db_i64(r, i, c + 3), cur), "income",
                     jv_amount(db_i64(r, i, c + 4), cur), "coupon_unallocated", jv_amount(db_i64(r, i, c + 5), cur),
                     "management_fee", jv_amount(db_i64(r, i, c + 6), cur), "expenses",
                     jv_amount(db_i64(r, i, c + 7), cur));
}

json_t *nav_allocation_get(struct db *db, int64_t fund_id, const char *as_of, struct fl_error *err)
{
    char cur[CURRENCY_CODE_BYTES];
    if (fund_exists(db, fund_id, cur, err) != FLE_OK) {
        return NULL;
    }
    char today[DATE_TEXT_BYTES];
    const char *d = tranche_as_of(as_of, today, err);
    if (d == NULL) {
        return NULL;
    }
    char fb[21];
    const char *p[2] = {db_i64_text(fund_id, fb), d};
    PGresult *r = db_exec(db, "navalloc_get", 2, p, err);
    if (r == NULL) {
        return NULL;
    }
    if (PQntuples(r) != 1) {
        PQclear(r);
        fl_error_set(err, FLE_NOT_FOUND, "as_of", "no allocation of fund %" PRId64 " on or before %s", fund_id, d);
        return NULL;
    }
    char rb[21];
    int64_t id = db_i64(r, 0, 0);
    db_i64_text(id, rb);
    json_t *o = json_pack("{s:I, s:I, s:s, s:o, s:s, s:o, s:o, s:o, s:o, s:o}", "allocation_id", (json_int_t)id,
                          "fund_id", (json_int_t)fund_id, "as_of", db_str(r, 0, 1), "period_from",
                          db_null(r, 0, 2) ? json_null() : json_string(db_str(r, 0, 2)), "currency", cur, "income",
                          jv_amount(db_i64(r, 0, 3), cur), "expenses", jv_amount(db_i64(r, 0, 4), cur), "losses",
                          jv_amount(db_i64(r, 0, 5), cur), "fees", jv_amount(db_i64(r, 0, 6), cur), "entry_id",
                          db_null(r, 0, 7) ? json_null() : json_integer(db_i64(r, 0, 7)));
    PQclear(r);
    if (o == NULL) {
        fl_error_set(err, FLE_INTERNAL, NULL, "out of memory");
        return NULL;
    }
    const char *pr[1] = {rb};
    if ((r = db_exec(db, "navalloc_get_tranches", 1, pr, err)) == NULL) {
        json_decref(o);
        return NULL;
    }
    json_t *ts = json_array();
    for (int i = 0; i < PQntuples(r); i++) {
        json_array_append_new(ts, tranche_row(r, i, 0, cur));
    }
    PQclear(r);
    json_object_set_new(o, "tranches", ts);
    return o;
}

json_t *nav_allocation_list(struct db *db, int64_t fund_id, int64_t investor_id, int64_t after_id, unsigned limit,
                            struct fl_error *err)
{
    assert(limit >= 1 && limit <= PAGE_SIZE_MAX);
    char cur[CURRENCY_CODE_BYTES];
    if (fund_exists(db, fund_id, cur, err) != FLE_OK) {
        return NULL;
    }
    char fb[21], ab[21], lb[21];
    const char *p[3] = {db_i64_text(fund_id, fb), db_i64_text(after_id, ab), db_i64_text((int64_t)limit + 1, lb)};
    PGresult *r = db_exec(db, "navalloc_list", 3, p, err);
    if (r == NULL) {
        return NULL;
    }
    int rows = PQntuples(r);
    bool more = rows > (int)limit;
    if (more) {
        rows = (int)limit;
    }
    json_t *runs = json_array();
    struct db_array ids;
    db_array_init(&ids);
    bool ok = runs != NULL;
    for (int i = 0; i < rows && ok; i++) {
        json_t *o = json_pack("{s:I, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:[]}", "allocation_id",
                              (json_int_t)db_i64(r, i, 0), "as_of", db_str(r, i, 1), "period_from",
                              db_null(r, i, 2) ? json_null() : json_string(db_str(r, i, 2)), "income",
                              jv_amount(db_i64(r, i, 3), cur), "expenses", jv_amount(db_i64(r, i, 4), cur), "losses",
                              jv_amount(db_i64(r, i, 5), cur), "fees", jv_amount(db_i64(r, i, 6), cur), "entry_id",
                              db_null(r, i, 7) ? json_null() : json_integer(db_i64(r, i, 7)), "tranches");
        ok = o != NULL && json_array_append_new(runs, o) == 0 && db_array_i64(&ids, db_i64(r, i, 0));
    }
    int64_t last = rows ? db_i64(r, rows - 1, 0) : 0;
    PQclear(r);
    const char *idlist = ok ? db_array_str(&ids) : NULL;
    char ib[21];
    const char *q[2] = {idlist, db_i64_text(investor_id, ib)};
    r = idlist != NULL ? db_exec(db, "navalloc_list_tranches", 2, q, err) : NULL;
    db_array_free(&ids);
    if (r == NULL) {
        json_decref(runs);
        if (!ok || idlist == NULL) {
            fl_error_set(err, FLE_INTERNAL, NULL, "out of memory");
        }
        return NULL;
    }
    /* The rows come in allocation order, as the runs do. */
    size_t k = 0;
    for (int i = 0; i < PQntuples(r); i++) {
        int64_t id = db_i64(r, i, 0);
        while (k < json_array_size(runs) &&
               json_integer_value(json_object_get(json_array_get(runs, k), "allocation_id")) != id) {
            k++;
        }
        assert(k < json_array_size(runs));
        json_array_append_new(json_object_get(json_array_get(runs, k), "tranches"), tranche_row(r, i, 1, cur));
    }
    PQclear(r);
    return json_pack("{s:I, s:s, s:o, s:o}", "fund_id", (json_int_t)fund_id, "currency", cur, "allocations", runs,
                     "next_after", more ? json_integer(last) : json_null());
}

json_t *fund_close_steps(struct db *db, const struct principal *actor, int64_t fund_id, const char *date,
                         struct fl_error *err)
{
    assert(db_in_tx(db) && actor != NULL);
    struct fund_settings fs;
    if (fund_lock(db, fund_id, &fs, err) != FLE_OK) {
        return NULL;
    }
    struct tr t[WATERFALL_TRANCHES_MAX];
    size_t nt = 0;
    if (date == NULL || !ledger_date_valid(date)) {
        fl_error_set(err, FLE_BAD_FIELD, "date", "a date YYYY-MM-DD");
        return NULL;
    }
    if (read_tranches(db, fund_id, date, NULL, t, &nt, err) != FLE_OK) {
        return NULL;
    }
    /* A fund without a tranche in its currency yet has no allowance to allocate. */
    json_t *prov = nt > 0 ? provision_run(db, actor, fund_id, date, err) : json_null();
    if (prov == NULL) {
        return NULL;
    }
    json_t *alloc = nav_allocate(db, actor, fund_id, date, err);
    if (alloc == NULL) {
        json_decref(prov);
        return NULL;
    }
    return json_pack("{s:o, s:o}", "provision", prov, "allocation", alloc);
}
