/* servicing: loans read in bulk and replayed by the accrual engine (docs/loan-servicing.md §11);
 * the funds' dated default rates. */
#include "fundledger/servicing.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fundledger/audit.h"
#include "fundledger/fund.h"
#include "fundledger/jsonv.h"
#include "fundledger/ledger.h"
#include "fundledger/money.h"

static const char *const modalities[] = {"consumo_ordinario", "microcredito", "productivo_rural"};
#define MODALITIES (sizeof modalities / sizeof modalities[0])

static int64_t modality_index(const char *m)
{
    for (size_t i = 0; i < MODALITIES; i++) {
        if (strcmp(m, modalities[i]) == 0) {
            return (int64_t)i;
        }
    }
    return -1;
}

void servicing_free(struct servicing_set *s)
{
    free(s->loans);
    free(s->events);
    if (!s->caps_borrowed) {
        free(s->caps);
    }
    free(s->rates);
    free(s->seeds);
    memset(s, 0, sizeof *s);
}

const struct servicing_loan *servicing_find(const struct servicing_set *s, int64_t id)
{
    size_t lo = 0, hi = s->n_loans;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->loans[mid].id == id) {
            return &s->loans[mid];
        }
        if (s->loans[mid].id < id) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return NULL;
}

static enum fl_err bad_row(struct fl_error *err, const char *what)
{
    return fl_error_set(err, FLE_INTERNAL, NULL, "servicing: bad %s row", what);
}

/* The usury caps as the engine reads them: per modality, each row's rate from its valid_from,
 * and "none" (-1) from the day after its valid_to when the next row does not start then. */
static enum fl_err load_caps(struct db *db, struct servicing_set *s, struct fl_error *err)
{
    PGresult *r = db_exec(db, "servicing_load_caps", 0, NULL, err);
    if (r == NULL) {
        return err->code;
    }
    int rows = PQntuples(r);
    s->caps = calloc(2 * (size_t)rows + 1, sizeof *s->caps);
    if (s->caps == NULL) {
        PQclear(r);
        return fl_error_set(err, FLE_INTERNAL, NULL, "out of memory");
    }
    for (int i = 0; i < rows; i++) {
        int64_t m = modality_index(db_str(r, i, 0));
        rate_date from, next = {0, 0, 0};
        bool has_next = !PQgetisnull(r, i, 3);
        if (m < 0 || !ledger_date_parse(db_str(r, i, 1), &from) ||
            (has_next && !ledger_date_parse(db_str(r, i, 3), &next))) {
            PQclear(r);
            return bad_row(err, "usury_rate");
        }
        /* Overlapping rows: the later one takes over from its own valid_from. */
        if (s->n_caps > 0 && s->caps[s->n_caps - 1].owner == m &&
            rate_date_to_days(s->caps[s->n_caps - 1].r.from) >= rate_date_to_days(from)) {
            s->n_caps--;
        }
        s->caps[s->n_caps++] = (struct servicing_rates){m, {from, db_i64(r, i, 2)}};
        if (has_next) {
            bool followed = false;
            if (i + 1 < rows && modality_index(db_str(r, i + 1, 0)) == m) {
                rate_date f2;
                if (!ledger_date_parse(db_str(r, i + 1, 1), &f2)) {
                    PQclear(r);
                    return bad_row(err, "usury_rate");
                }
                followed = rate_date_to_days(f2) <= rate_date_to_days(next);
            }
            if (!followed) {
                s->caps[s->n_caps++] = (struct servicing_rates){m, {next, -1}};
            }
        }
    }
    PQclear(r);
    return FLE_OK;
}

enum fl_err servicing_load_caps(struct db *db, struct servicing_set *caps, struct fl_error *err)
{
    memset(caps, 0, sizeof *caps);
    return load_caps(db, caps, err);
}

/* The loans' approval schedules (version 1 rows), grouped by loan in id order. Loans close
 * together (an import's chunk) are read with one range scan of the primary key; rows of loans in
 * the range but not in the set are skipped. */
static enum fl_err load_seeds(struct db *db, const int64_t *ids, size_t n, const char *const *p,
                              struct servicing_set *s, struct fl_error *err)
{
    int64_t lo = INT64_MAX, hi = 0;
    for (size_t i = 0; i < n; i++) {
        lo = ids[i] < lo ? ids[i] : lo;
        hi = ids[i] > hi ? ids[i] : hi;
    }
    char lb[21], hb[21];
    const char *pr[2] = {db_i64_text(lo, lb), db_i64_text(hi, hb)};
    bool dense = n > 0 && (uint64_t)(hi - lo) <= 2 * (uint64_t)n + 64;
    PGresult *r =
        dense ? db_exec(db, "servicing_load_seeds_range", 2, pr, err) : db_exec(db, "servicing_load_seeds", 1, p, err);
    if (r == NULL) {
        return err->code;
    }
    size_t rows = (size_t)PQntuples(r);
    s->seeds = calloc(rows ? rows : 1, sizeof *s->seeds);
    if (s->seeds == NULL) {
        PQclear(r);
        return fl_error_set(err, FLE_INTERNAL, NULL, "out of memory");
    }
    struct servicing_loan *l = NULL;
    int64_t at_id = 0;
    size_t k = 0;
    for (size_t i = 0; i < rows; i++) {
        int row = (int)i;
        int64_t id = db_i64(r, row, 0);
        if (id != at_id) {
            at_id = id;
            l = (struct servicing_loan *)servicing_find(s, id);
            if (l != NULL) {
                l->seed_at = k;
                l->seed_n = 0;
            }
        }
        if (l == NULL) {
            continue; /* in the range, not in the set */
        }
        schedule_row *x = &s->seeds[k++];
        x->no = (int)db_i64(r, row, 1);
        x->principal_minor = db_i64(r, row, 3);
        x->interest_minor = db_i64(r, row, 4);
        x->capitalised_minor = db_i64(r, row, 5);
        x->total_minor = x->principal_minor + x->interest_minor;
        if (!ledger_date_parse(db_str(r, row, 2), &x->due_date)) {
            PQclear(r);
            return bad_row(err, "schedule version");
        }
        l->seed_n++;
    }
    s->n_seeds = k;
    PQclear(r);
    return FLE_OK;
}

enum fl_err servicing_load(struct db *db, const int64_t *ids, size_t n, struct servicing_set *s, struct fl_error *err)
{
    return servicing_load_with(db, ids, n, NULL, s, err);
}

enum fl_err servicing_load_with(struct db *db, const int64_t *ids, size_t n, const struct servicing_set *caps_from,
                                struct servicing_set *s, struct fl_error *err)
{
    memset(s, 0, sizeof *s);
    struct db_array a;
    db_array_init(&a);
    for (size_t i = 0; i < n; i++) {
        if (!db_array_i64(&a, ids[i])) {
            db_array_free(&a);
            return fl_error_set(err, FLE_INTERNAL, NULL, "out of memory");
        }
    }
    const char *p[1] = {db_array_str(&a)};
    if (p[0] == NULL) {
        db_array_free(&a);
        return fl_error_set(err, FLE_INTERNAL, NULL, "out of memory");
    }
    enum fl_err e = FLE_OK;
    PGresult *r = db_exec(db, "servicing_load_loans", 1, p, err);
    if (r == NULL) {
        e = err->code;
        goto done;
    }
    s->n_loans = (size_t)PQntuples(r);
    s->loans = calloc(s->n_loans ? s->n_loans : 1, sizeof *s->loans);
    if (s->loans == NULL) {
        PQclear(r);
        e = fl_error_set(err, FLE_INTERNAL, NULL, "out of memory");
        goto done;
    }
    /* Caps are per modality: the loan keeps its modality index in ev_n until the tables load. */
    int64_t *modality = calloc(s->n_loans ? s->n_loans : 1, sizeof *modality);
    if (modality == NULL) {
        PQclear(r);
        e = fl_error_set(err, FLE_INTERNAL, NULL, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < s->n_loans && e == FLE_OK; i++) {
        int row = (int)i;
        struct servicing_loan *l = &s->loans[i];
        l->id = db_i64(r, row, 0);
        l->fund_id = db_i64(r, row, 1);
        l->terms = (schedule_terms){.principal_minor = db_i64(r, row, 2),
                                    .exponent = money_currency_exponent(db_str(r, row, 3)),
                                    .ea_rate = db_i64(r, row, 4),
                                    .payments_per_year = (int)db_i64(r, row, 6),
                                    .period_months = 12 / (int)db_i64(r, row, 6),
                                    .instalments = (int)db_i64(r, row, 7),
                                    .grace_principal = (int)db_i64(r, row, 9),
                                    .grace_interest = (int)db_i64(r, row, 10),
                                    .method = schedule_method_of(db_str(r, row, 11))};
        l->dc = strcmp(db_str(r, row, 5), "30_360") == 0 ? RATE_DC_30_360 : RATE_DC_ACT_365;
        modality[i] = modality_index(db_str(r, row, 12));
        l->fee_minor = db_i64(r, row, 13);
        l->accrual = strcmp(db_str(r, row, 15), "accrual") == 0;
        if (!accrual_choice_parse(db_str(r, row, 14), &l->prepayment_default) ||
            !ledger_date_parse(db_str(r, row, 8), &l->terms.first_due) || modality[i] < 0) {
            e = bad_row(err, "loan");
        }
    }
    PQclear(r);
    if (e != FLE_OK) {
        free(modality);
        goto done;
    }

    if ((r = db_exec(db, "servicing_load_events", 1, p, err)) == NULL) {
        free(modality);
        e = err->code;
        goto done;
    }
    s->n_events = (size_t)PQntuples(r);
    s->events = calloc(s->n_events ? s->n_events : 1, sizeof *s->events);
    if (s->events == NULL) {
        PQclear(r);
        free(modality);
        e = fl_error_set(err, FLE_INTERNAL, NULL, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < s->n_events && e == FLE_OK; i++) {
        int row = (int)i;
        struct servicing_loan *l = (struct servicing_loan *)servicing_find(s, db_i64(r, row, 0));
        struct servicing_event *x = &s->events[i];
        x->drawdown = db_i64(r, row, 2) == 0;
        x->charge = db_i64(r, row, 2) == 2;
        x->amount_minor = db_i64(r, row, 3);
        if (l == NULL || !ledger_date_parse(db_str(r, row, 1), &x->date) ||
            !accrual_choice_parse(db_str(r, row, 4), &x->choice)) {
            e = bad_row(err, "event");
            break;
        }
        if (l->ev_n == 0) {
            l->ev_at = i;
        }
        l->ev_n++;
    }
    PQclear(r);
    if (e == FLE_OK && caps_from != NULL) {
        s->caps = caps_from->caps;
        s->n_caps = caps_from->n_caps;
        s->caps_borrowed = true;
    } else if (e == FLE_OK) {
        e = load_caps(db, s, err);
    }
    if (e == FLE_OK) {
        e = load_seeds(db, ids, n, p, s, err);
    }
    if (e == FLE_OK && (r = db_exec(db, "servicing_load_default_rates", 1, p, err)) == NULL) {
        e = err->code;
    }
    if (e == FLE_OK) {
        int rows = PQntuples(r);
        s->rates = calloc((size_t)rows + 1, sizeof *s->rates);
        if (s->rates == NULL) {
            e = fl_error_set(err, FLE_INTERNAL, NULL, "out of memory");
        }
        for (int i = 0; e == FLE_OK && i < rows; i++) {
            struct servicing_rates *x = &s->rates[s->n_rates++];
            x->owner = db_i64(r, i, 0);
            x->r.rate = db_i64(r, i, 2);
            if (!ledger_date_parse(db_str(r, i, 1), &x->r.from)) {
                e = bad_row(err, "fund_default_rate");
            }
        }
        PQclear(r);
    }
    /* Each loan points at its modality's caps and its fund's default rates (rows are grouped). */
    for (size_t i = 0; e == FLE_OK && i < s->n_loans; i++) {
        struct servicing_loan *l = &s->loans[i];
        for (size_t k = 0; k < s->n_caps; k++) {
            if (s->caps[k].owner == modality[i]) {
                if (l->n_caps == 0) {
                    l->caps_at = k;
                }
                l->n_caps++;
            }
        }
        for (size_t k = 0; k < s->n_rates; k++) {
            if (s->rates[k].owner == l->fund_id) {
                if (l->n_rates == 0) {
                    l->rates_at = k;
                }
                l->n_rates++;
            }
        }
    }
    free(modality);
done:
    db_array_free(&a);
    return e;
}

accrual_status servicing_replay(const struct servicing_set *s, const struct servicing_loan *sl, struct accrual_loan *l,
                                long *bad_event)
{
    *bad_event = -1;
    /* The tables are arrays of struct servicing_rates: copy them out contiguously. The engine
     * borrows them, so they live in static thread storage sized for the largest table. */
    static _Thread_local struct accrual_rate_from caps[ACCRUAL_RATES_MAX], rates[ACCRUAL_RATES_MAX];
    if (sl->n_caps > ACCRUAL_RATES_MAX || sl->n_rates > ACCRUAL_RATES_MAX) {
        return ACCRUAL_ERR_CAPACITY;
    }
    for (size_t i = 0; i < sl->n_caps; i++) {
        caps[i] = s->caps[sl->caps_at + i].r;
    }
    for (size_t i = 0; i < sl->n_rates; i++) {
        rates[i] = s->rates[sl->rates_at + i].r;
    }
    accrual_status st = accrual_loan_init(l, &sl->terms, sl->dc, sl->n_rates ? rates : NULL, sl->n_rates,
                                          sl->n_caps ? caps : NULL, sl->n_caps);
    if (st != ACCRUAL_OK) {
        return st;
    }
    if (sl->seed_n > 0) {
        (void)accrual_loan_seed(l, &s->seeds[sl->seed_at], sl->seed_n); /* rows that do not fit: generated */
    }
    bool drawn = false;
    for (size_t i = 0; i < sl->ev_n && st == ACCRUAL_OK; i++) {
        const struct servicing_event *x = &s->events[sl->ev_at + i];
        if (x->drawdown) {
            st = accrual_loan_drawdown(l, x->date, x->amount_minor);
            if (st == ACCRUAL_OK && !drawn && sl->fee_minor > 0) {
                st = accrual_loan_charge(l, x->date, sl->fee_minor);
            }
            drawn = true;
        } else if (x->charge) {
            st = accrual_loan_charge(l, x->date, x->amount_minor);
        } else {
            int64_t applied[ACCRUAL_BUCKETS], payoff = 0;
            st = accrual_loan_pay(l, x->date, x->amount_minor, x->choice, applied, &payoff);
        }
        if (st != ACCRUAL_OK) {
            *bad_event = (long)i;
        }
    }
    return st;
}

/* ------------------------------------------------------------------------------------------ */
/* Default rates                                                                               */

json_t *servicing_default_rate_set(struct db *db, const struct principal *actor, int64_t fund_id, const char *rate,
                                   const char *valid_from, struct fl_error *err)
{
    assert(db_in_tx(db) && actor != NULL);
    char currency[CURRENCY_CODE_BYTES];
    if (fund_exists(db, fund_id, currency, err) != FLE_OK) {
        return NULL;
    }
    int64_t ea = 0;
    if (rate == NULL || rate[0] == '\0') {
        fl_error_set(err, FLE_MISSING_FIELD, "rate", "required");
        return NULL;
    }
    if (rate_parse(rate, &ea) != RATE_OK || ea < 0 || ea > 1000000000) {
        fl_error_set(err, FLE_BAD_FIELD, "rate",
                     "an effective annual rate as a decimal fraction, 0 to 10 (e.g. \"0.30\")");
        return NULL;
    }
    rate_date d;
    if (valid_from == NULL || valid_from[0] == '\0') {
        fl_error_set(err, FLE_MISSING_FIELD, "valid_from", "required");
        return NULL;
    }
    if (!ledger_date_parse(valid_from, &d)) {
        fl_error_set(err, FLE_BAD_FIELD, "valid_from", "a date YYYY-MM-DD");
        return NULL;
    }
    char fb[21];
    const char *p[1] = {db_i64_text(fund_id, fb)};
    PGresult *r = db_exec_rows(db, "servicing_default_rate_bounds", 1, p, 1, err);
    if (r == NULL) {
        return NULL;
    }
    char last_rate[DATE_TEXT_BYTES], last_rep[DATE_TEXT_BYTES];
    snprintf(last_rate, sizeof last_rate, "%s", db_str(r, 0, 0));
    snprintf(last_rep, sizeof last_rep, "%s", db_str(r, 0, 1));
    PQclear(r);
    if (last_rate[0] != '\0' && strcmp(valid_from, last_rate) <= 0) {
        fl_error_set(err, FLE_RULE, "valid_from",
                     "the fund's latest default rate is from %s: a new one starts after it", last_rate);
        return NULL;
    }
    if (last_rep[0] != '\0' && strcmp(valid_from, last_rep) <= 0) {
        fl_error_set(err, FLE_RULE, "valid_from",
                     "the fund has a repayment on %s allocated with the rates then in force: a new default rate "
                     "starts after it",
                     last_rep);
        return NULL;
    }
    char rb[21], ub[21];
    const char *pi[4] = {fb, valid_from, db_i64_text(ea, rb), db_i64_text(actor->user_id, ub)};
    if ((r = db_exec_rows(db, "servicing_default_rate_insert", 4, pi, 1, err)) == NULL) {
        if (err->code == FLE_DUPLICATE) {
            fl_error_set(err, FLE_DUPLICATE, "valid_from", "the fund has a default rate from this date");
        }
        return NULL;
    }
    int64_t id = db_i64(r, 0, 0);
    PQclear(r);
    char text[RATE_TEXT_MAX];
    rate_format(ea, text, sizeof text);
    char ib[21];
    if (audit_record(db, actor, "fund.default_rate", "fund", db_i64_text(fund_id, ib), fund_id,
                     json_pack("{s:s, s:s}", "rate", text, "valid_from", valid_from), err) != FLE_OK) {
        return NULL;
    }
    return json_pack("{s:I, s:I, s:s, s:s}", "id", (json_int_t)id, "fund_id", (json_int_t)fund_id, "valid_from",
                     valid_from, "rate", text);
}

json_t *servicing_default_rates(struct db *db, int64_t fund_id, struct fl_error *err)
{
    char currency[CURRENCY_CODE_BYTES];
    if (fund_exists(db, fund_id, currency, err) != FLE_OK) {
        return NULL;
    }
    char fb[21];
    const char *p[1] = {db_i64_text(fund_id, fb)};
    PGresult *r = db_exec(db, "servicing_default_rate_list", 1, p, err);
    if (r == NULL) {
        return NULL;
    }
    json_t *list = json_array();
    for (int i = 0; list != NULL && i < PQntuples(r); i++) {
        char text[RATE_TEXT_MAX];
        rate_format(db_i64(r, i, 2), text, sizeof text);
        json_array_append_new(list, json_pack("{s:I, s:s, s:s, s:s}", "id", (json_int_t)db_i64(r, i, 0), "valid_from",
                                              db_str(r, i, 1), "rate", text, "created_at", db_str(r, i, 3)));
    }
    PQclear(r);
    if (list == NULL) {
        fl_error_set(err, FLE_INTERNAL, NULL, "out of memory");
        return NULL;
    }
    return json_pack("{s:I, s:o}", "fund_id", (json_int_t)fund_id, "default_rates", list);
}
