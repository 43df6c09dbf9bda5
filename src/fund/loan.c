/* loan: loan proposals and approval, conditions precedent and four-eyes disbursements. */
#include "fundledger/loan.h"
#include "fundledger/jsonv.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fundledger/accrual.h"
#include "fundledger/audit.h"
#include "fundledger/fund.h"
#include "fundledger/ledger.h"
#include "fundledger/money.h"
#include "fundledger/pipeline.h"
#include "fundledger/rate.h"
#include "fundledger/schedule.h"
#include "fundledger/schedver.h"
#include "fundledger/tranche.h"
#include "fundledger/usury.h"

static const char *const conditions[] = {"signed_agreement", "kyc", "sanctions_screening", "bank_account_verified"};
#define CONDITIONS (sizeof conditions / sizeof conditions[0])

static bool one_of(const char *v, const char *const *set, size_t n)
{
    for (size_t i = 0; i < n && v; i++) {
        if (strcmp(v, set[i]) == 0) {
            return true;
        }
    }
    return false;
}

enum fl_err loan_usury_cap(struct db *db, const char *modality, const char *date, int64_t *cap,
                             struct fl_error *err)
{
    const char *p[2] = {modality, date};
    PGresult *r = db_exec(db, "loan_usury_check", 2, p, err);
    if (r == NULL) {
        return err->code;
    }
    if (PQntuples(r) != 1) {
        PQclear(r);
        return fl_error_set(err, FLE_RULE, "annual_rate", "no usury cap is certified for %s on %s", modality, date);
    }
    *cap = db_i64(r, 0, 0);
    PQclear(r);
    return FLE_OK;
}

/* The total cost of credit under the cap (docs/loan-servicing.md §8): with an origination fee,
 * the borrower receives principal - fee and pays the schedule's instalments (instalment k at k/n
 * years); refused when their present value at the cap is above what is received. */
static enum fl_err cost_check(struct db *db, const char *modality, const char *date, int64_t principal, int64_t fee,
                              int ppy, const schedule_row *rows, size_t n, struct fl_error *err)
{
    if (fee == 0) {
        return FLE_OK; /* the cost is the rate, checked against the cap already */
    }
    int64_t cap = 0;
    if (loan_usury_cap(db, modality, date, &cap, err) != FLE_OK) {
        return err->code;
    }
    struct accrual_flow *flows = malloc((n ? n : 1) * sizeof *flows);
    if (flows == NULL) {
        return fl_error_set(err, FLE_INTERNAL, NULL, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        flows[i] = (struct accrual_flow){rows[i].total_minor, (int64_t)i + 1, ppy};
    }
    bool within = false;
    accrual_status st = accrual_cost_within_cap(principal - fee, flows, n, cap, &within);
    free(flows);
    if (st != ACCRUAL_OK) {
        return fl_error_set(err, FLE_INTERNAL, NULL, "cost of credit: %s", accrual_status_text(st));
    }
    if (!within) {
        char cb[32];
        rate_format(cap, cb, sizeof cb);
        return fl_error_set(err, FLE_RULE, "origination_fee",
                            "the total cost of credit (interest and the fee) is above the usury cap %s in force for "
                            "%s on %s",
                            cb, modality, date);
    }
    return FLE_OK;
}

enum fl_err loan_usury_check(struct db *db, const char *modality, int64_t rate, const char *date,
                             struct fl_error *err)
{
    int64_t cap = 0;
    if (loan_usury_cap(db, modality, date, &cap, err) != FLE_OK) {
        return err->code;
    }
    if (rate > cap) {
        char rb[32], cb[32];
        rate_format(rate, rb, sizeof rb);
        rate_format(cap, cb, sizeof cb);
        return fl_error_set(err, FLE_RULE, "annual_rate", "%s EA is above the usury cap %s in force for %s on %s", rb,
                            cb, modality, date);
    }
    return FLE_OK;
}

/* The entrepreneur a loan is for: id, fund_id, stage, women_led, municipality_code, value_chain. */
struct borrower {
    int64_t id, fund_id;
    char stage[32];
    bool women_led;
    char municipality[6];
    char value_chain[33];
};

static enum fl_err load_borrower(struct db *db, int64_t id, struct borrower *b, struct fl_error *err)
{
    char ib[21];
    const char *p[1] = {db_i64_text(id, ib)};
    PGresult *r = db_exec(db, "loan_borrower", 1, p, err);
    if (r == NULL) {
        return err->code;
    }
    if (PQntuples(r) != 1) {
        PQclear(r);
        return fl_error_set(err, FLE_BAD_FIELD, "entrepreneur_id", "no entrepreneur %" PRId64, id);
    }
    b->id = id;
    b->fund_id = db_i64(r, 0, 0);
    snprintf(b->stage, sizeof b->stage, "%s", db_str(r, 0, 1));
    b->women_led = db_bool(r, 0, 2);
    snprintf(b->municipality, sizeof b->municipality, "%s", db_str(r, 0, 3));
    snprintf(b->value_chain, sizeof b->value_chain, "%s", db_str(r, 0, 4));
    PQclear(r);
    return FLE_OK;
}

static bool in_list(const json_t *arr, const char *v)
{
    size_t i;
    json_t *x;
    json_array_foreach(arr, i, x)
    {
        if (json_string_value(x) && strcmp(json_string_value(x), v) == 0) {
            return true;
        }
    }
    return false;
}

/* A tranche's eligibility rules against a borrower. */
static bool eligible(const char *rules_text, const struct borrower *b)
{
    json_error_t je;
    json_t *rules = json_loads(rules_text, 0, &je);
    if (rules == NULL) {
        return false;
    }
    bool ok = true;
    if (json_is_true(json_object_get(rules, "women_led_only")) && !b->women_led) {
        ok = false;
    }
    json_t *m = json_object_get(rules, "municipalities");
    if (ok && m && !in_list(m, b->municipality)) {
        ok = false;
    }
    json_t *v = json_object_get(rules, "value_chains");
    if (ok && v && !in_list(v, b->value_chain)) {
        ok = false;
    }
    json_decref(rules);
    return ok;
}

/* Normalised terms, as stored in the proposal payload. */
struct terms {
    int64_t entrepreneur_id, principal, rate;
    int64_t fee; /* origination fee, minor units (0: none) */
    char day_count[8];
    int ppy, term, grace_p, grace_i;
    char first_due[11], approval_date[11];
    char amortisation[16], modality[20];
};

/* Generates the schedule of normalised terms into rows (SCHEDULE_INSTALMENTS_MAX). */
static enum fl_err make_schedule(const struct terms *t, const char *currency, schedule_row *rows, size_t *n,
                                 struct fl_error *err)
{
    schedule_terms st = {.principal_minor = t->principal,
                         .exponent = money_currency_exponent(currency),
                         .ea_rate = t->rate,
                         .payments_per_year = t->ppy,
                         .period_months = 12 / t->ppy,
                         .instalments = t->term,
                         .grace_principal = t->grace_p,
                         .grace_interest = t->grace_i,
                         .method = schedule_method_of(t->amortisation)};
    if (!ledger_date_parse(t->first_due, &st.first_due)) {
        return fl_error_set(err, FLE_BAD_FIELD, "first_due_date", "a date YYYY-MM-DD");
    }
    schedule_status s = schedule_generate(&st, rows, SCHEDULE_INSTALMENTS_MAX, n);
    if (s != SCHEDULE_OK) {
        return fl_error_set(err, FLE_BAD_FIELD, "terms", "%s", schedule_status_text(s));
    }
    return FLE_OK;
}

static enum fl_err normalise(struct db *db, int64_t fund_id, const char *currency, const struct loan_terms *in,
                             struct terms *t, struct fl_error *err)
{
    static const char *const dcs[] = {"act_365", "30_360"};
    static const char *const ams[] = {"annuity", "equal_principal", "bullet"};
    static const char *const mods[] = {"microcredito", "productivo_rural", "consumo_ordinario"};
    memset(t, 0, sizeof *t);
    t->entrepreneur_id = in->entrepreneur_id;
    if (in->principal == NULL) {
        return fl_error_set(err, FLE_MISSING_FIELD, "principal", "required");
    }
    money_status ms = money_parse_amount(in->principal, money_currency_exponent(currency), &t->principal);
    if (ms != MONEY_OK || t->principal == 0) {
        return fl_error_set(err, FLE_BAD_FIELD, "principal", "%s",
                            ms != MONEY_OK ? money_status_text(ms) : "must be more than zero");
    }
    rate_status rs = in->annual_rate ? rate_parse(in->annual_rate, &t->rate) : RATE_ERR_EMPTY;
    if (rs != RATE_OK) {
        return fl_error_set(err, FLE_BAD_FIELD, "annual_rate", "an effective annual rate as a fraction, \"0.2400\"");
    }
    const char *dc = in->day_count ? in->day_count : "act_365";
    if (!one_of(dc, dcs, 2)) {
        return fl_error_set(err, FLE_BAD_FIELD, "day_count", "act_365 or 30_360");
    }
    snprintf(t->day_count, sizeof t->day_count, "%s", dc);
    if (in->payments_per_year < 1 || in->payments_per_year > 12 || 12 % in->payments_per_year != 0) {
        return fl_error_set(err, FLE_BAD_FIELD, "payments_per_year", "1, 2, 3, 4, 6 or 12");
    }
    t->ppy = (int)in->payments_per_year;
    if (in->term_count < 1 || in->term_count > SCHEDULE_INSTALMENTS_MAX) {
        return fl_error_set(err, FLE_BAD_FIELD, "term_count", "1 to %d instalments", SCHEDULE_INSTALMENTS_MAX);
    }
    t->term = (int)in->term_count;
    if (in->grace_principal < 0 || in->grace_principal >= in->term_count) {
        return fl_error_set(err, FLE_BAD_FIELD, "grace_principal", "0 to term_count - 1");
    }
    if (in->grace_interest < 0 || in->grace_interest > in->grace_principal) {
        return fl_error_set(err, FLE_BAD_FIELD, "grace_interest", "0 to grace_principal");
    }
    t->grace_p = (int)in->grace_principal;
    t->grace_i = (int)in->grace_interest;
    if (!one_of(in->amortisation, ams, 3)) {
        return fl_error_set(err, FLE_BAD_FIELD, "amortisation", "annuity, equal_principal or bullet");
    }
    snprintf(t->amortisation, sizeof t->amortisation, "%s", in->amortisation);
    const char *mod = in->modality ? in->modality : "microcredito";
    if (!one_of(mod, mods, 3)) {
        return fl_error_set(err, FLE_BAD_FIELD, "modality", "microcredito, productivo_rural or consumo_ordinario");
    }
    snprintf(t->modality, sizeof t->modality, "%s", mod);
    char today[11];
    tranche_today(today);
    const char *ad = in->approval_date ? in->approval_date : today;
    if (!ledger_date_valid(ad) || strcmp(ad, today) > 0) {
        return fl_error_set(err, FLE_BAD_FIELD, "approval_date", "a date YYYY-MM-DD, not in the future");
    }
    snprintf(t->approval_date, sizeof t->approval_date, "%s", ad);
    if (!ledger_date_valid(in->first_due_date) || strcmp(in->first_due_date, ad) <= 0) {
        return fl_error_set(err, FLE_BAD_FIELD, "first_due_date", "a date YYYY-MM-DD after the approval date");
    }
    snprintf(t->first_due, sizeof t->first_due, "%s", in->first_due_date);
    if (in->purpose && strlen(in->purpose) > 1000) {
        return fl_error_set(err, FLE_BAD_FIELD, "purpose", "at most 1000 characters");
    }
    /* Origination fee (docs/loan-servicing.md §8): fixed, or a fraction of the principal rounded
     * half-even once; less than the principal. */
    if (in->origination_fee != NULL && in->origination_fee_rate != NULL) {
        return fl_error_set(err, FLE_BAD_FIELD, "origination_fee_rate", "give origination_fee or its rate, not both");
    }
    if (in->origination_fee != NULL &&
        money_parse(in->origination_fee, money_currency_exponent(currency), false, &t->fee) != MONEY_OK) {
        return fl_error_set(err, FLE_BAD_FIELD, "origination_fee", "a decimal amount in %s", currency);
    }
    if (in->origination_fee_rate != NULL) {
        int64_t fr = 0;
        if (rate_parse(in->origination_fee_rate, &fr) != RATE_OK || fr >= RATE_SCALE ||
            !money_div_half_even((money_i128)t->principal * fr, RATE_SCALE, &t->fee)) {
            return fl_error_set(err, FLE_BAD_FIELD, "origination_fee_rate", "a fraction of the principal, \"0.02\"");
        }
    }
    if (t->fee >= t->principal) {
        return fl_error_set(err, FLE_BAD_FIELD, "origination_fee", "less than the principal");
    }
    (void)db;
    (void)fund_id;
    return FLE_OK;
}

/* The stored proposal: money and rates as decimal strings, like every reply. */
static json_t *terms_payload(const struct terms *t, const char *currency, const char *purpose, const json_t *shares)
{
    char rb[RATE_TEXT_MAX];
    if (rate_format(t->rate, rb, sizeof rb) == 0) {
        return NULL;
    }
    return json_pack("{s:I, s:o, s:s, s:s, s:i, s:i, s:s, s:i, s:i, s:s, s:s, s:s, s:s, s:o, s:o}",
                     "entrepreneur_id",
                     (json_int_t)t->entrepreneur_id, "principal", jv_amount(t->principal, currency), "annual_rate",
                     rb, "day_count", t->day_count, "payments_per_year", t->ppy, "term_count",
                     t->term, "first_due_date", t->first_due, "grace_principal", t->grace_p, "grace_interest",
                     t->grace_i, "amortisation", t->amortisation, "modality", t->modality, "approval_date",
                     t->approval_date, "purpose", purpose ? purpose : "", "shares",
                     shares ? json_deep_copy(shares) : json_null(), "origination_fee", jv_amount(t->fee, currency));
}

/* Reads terms_payload back; false when the payload is not one (an internal fault). */
static bool terms_from_payload(const json_t *pl, const char *currency, struct terms *t)
{
    memset(t, 0, sizeof *t);
    t->entrepreneur_id = json_integer_value(json_object_get(pl, "entrepreneur_id"));
    const char *principal = json_string_value(json_object_get(pl, "principal"));
    const char *rate = json_string_value(json_object_get(pl, "annual_rate"));
    if (principal == NULL || rate == NULL ||
        money_parse(principal, money_currency_exponent(currency), false, &t->principal) != MONEY_OK ||
        rate_parse(rate, &t->rate) != RATE_OK) {
        return false;
    }
    const char *fee = json_string_value(json_object_get(pl, "origination_fee"));
    if (fee != NULL && money_parse(fee, money_currency_exponent(currency), false, &t->fee) != MONEY_OK) {
        return false;
    }
    snprintf(t->day_count, sizeof t->day_count, "%s", json_string_value(json_object_get(pl, "day_count")));
    t->ppy = (int)json_integer_value(json_object_get(pl, "payments_per_year"));
    t->term = (int)json_integer_value(json_object_get(pl, "term_count"));
    t->grace_p = (int)json_integer_value(json_object_get(pl, "grace_principal"));
    t->grace_i = (int)json_integer_value(json_object_get(pl, "grace_interest"));
    snprintf(t->first_due, sizeof t->first_due, "%s", json_string_value(json_object_get(pl, "first_due_date")));
    snprintf(t->approval_date, sizeof t->approval_date, "%s",
             json_string_value(json_object_get(pl, "approval_date")));
    snprintf(t->amortisation, sizeof t->amortisation, "%s", json_string_value(json_object_get(pl, "amortisation")));
    snprintf(t->modality, sizeof t->modality, "%s", json_string_value(json_object_get(pl, "modality")));
    return true;
}

/* Candidate tranches: active, in the currency, of the fund, most senior first, with their cash
 * and eligibility for the borrower. */
struct candidate {
    int64_t id, cash;
    bool eligible;
};

static int candidates(struct db *db, int64_t fund_id, const char *currency, const struct borrower *b,
                      struct candidate *out, struct fl_error *err)
{
    char fb[21];
    const char *p[2] = {db_i64_text(fund_id, fb), currency};
    PGresult *r = db_exec(db, "loan_candidates", 2, p, err);
    if (r == NULL) {
        return -1;
    }
    int n = PQntuples(r);
    if (n > LOAN_FUNDING_MAX) {
        n = LOAN_FUNDING_MAX;
    }
    for (int i = 0; i < n; i++) {
        out[i] = (struct candidate){db_i64(r, i, 0), db_i64(r, i, 2), eligible(db_str(r, i, 1), b)};
    }
    PQclear(r);
    return n;
}

/* Explicit shares: [{"tranche_id": id, "amount": "..."}], each an eligible candidate, summing to
 * the principal. Writes weights in candidate order (0 for tranches not named). */
static enum fl_err explicit_shares(const json_t *shares, const char *currency, int64_t principal,
                                   const struct candidate *c, int n, int64_t *weights, struct fl_error *err)
{
    if (!json_is_array(shares) || json_array_size(shares) == 0 || json_array_size(shares) > LOAN_FUNDING_MAX) {
        return fl_error_set(err, FLE_BAD_FIELD, "shares", "an array of 1 to %d {tranche_id, amount}", LOAN_FUNDING_MAX);
    }
    memset(weights, 0, sizeof(int64_t) * (size_t)n);
    int64_t sum = 0;
    size_t i;
    json_t *s;
    json_array_foreach(shares, i, s)
    {
        char field[ERROR_FIELD_BYTES];
        json_int_t tid = json_integer_value(json_object_get(s, "tranche_id"));
        const char *amount = json_string_value(json_object_get(s, "amount"));
        int k = 0;
        while (k < n && c[k].id != tid) {
            k++;
        }
        snprintf(field, sizeof field, "shares[%zu].tranche_id", i);
        if (k == n) {
            return fl_error_set(err, FLE_BAD_FIELD, field, "not an active tranche of this fund in %s", currency);
        }
        if (!c[k].eligible) {
            return fl_error_set(err, FLE_RULE, field, "tranche %" PRId64 " is not eligible for this entrepreneur",
                                c[k].id);
        }
        if (weights[k] != 0) {
            return fl_error_set(err, FLE_BAD_FIELD, field, "tranche named twice");
        }
        snprintf(field, sizeof field, "shares[%zu].amount", i);
        int64_t v = 0;
        if (amount == NULL || money_parse_amount(amount, money_currency_exponent(currency), &v) != MONEY_OK || v == 0 ||
            !money_add(sum, v, &sum)) {
            return fl_error_set(err, FLE_BAD_FIELD, field, "a positive decimal amount");
        }
        weights[k] = v;
    }
    if (sum != principal) {
        return fl_error_set(err, FLE_RULE, "shares", "the shares sum to something other than the principal");
    }
    return FLE_OK;
}

json_t *loan_propose(struct db *db, const struct principal *maker, int64_t fund_id, const struct loan_terms *in,
                     struct fl_error *err)
{
    assert(db_in_tx(db) && maker != NULL && in != NULL);
    char cur[CURRENCY_CODE_BYTES];
    struct borrower b;
    struct terms t;
    if (fund_exists(db, fund_id, cur, err) != FLE_OK || normalise(db, fund_id, cur, in, &t, err) != FLE_OK ||
        load_borrower(db, in->entrepreneur_id, &b, err) != FLE_OK) {
        return NULL;
    }
    if (b.fund_id != fund_id) {
        fl_error_set(err, FLE_BAD_FIELD, "entrepreneur_id", "the entrepreneur is in another fund");
        return NULL;
    }
    if (strcmp(b.stage, "committee") != 0) {
        fl_error_set(err, FLE_CONFLICT, "entrepreneur_id",
                     "a loan is proposed for an entrepreneur at the committee stage, not %s", b.stage);
        return NULL;
    }
    static _Thread_local schedule_row rows[SCHEDULE_INSTALMENTS_MAX];
    size_t n_rows = 0;
    if (make_schedule(&t, cur, rows, &n_rows, err) != FLE_OK ||
        loan_usury_check(db, t.modality, t.rate, t.approval_date, err) != FLE_OK ||
        cost_check(db, t.modality, t.approval_date, t.principal, t.fee, t.ppy, rows, n_rows, err) != FLE_OK) {
        return NULL;
    }
    if (in->shares != NULL) {
        struct candidate c[LOAN_FUNDING_MAX];
        int64_t w[LOAN_FUNDING_MAX];
        int n = candidates(db, fund_id, cur, &b, c, err);
        if (n < 0 || explicit_shares(in->shares, cur, t.principal, c, n, w, err) != FLE_OK) {
            return NULL;
        }
    }
    json_t *prop = approval_propose(db, maker, fund_id, "loan", terms_payload(&t, cur, in->purpose, in->shares),
                                    t.principal, cur, err);
    if (prop == NULL) {
        return NULL;
    }
    char fb[21], eb[21], pb[21], rb[21], ppyb[8], tb[8], gpb[8], gib[8], propb[21], ub[21], feeb[21];
    const char *p[17] = {db_i64_text(fund_id, fb),
                         db_i64_text(t.entrepreneur_id, eb),
                         cur,
                         db_i64_text(t.principal, pb),
                         db_i64_text(t.rate, rb),
                         t.day_count,
                         (snprintf(ppyb, sizeof ppyb, "%d", t.ppy), ppyb),
                         (snprintf(tb, sizeof tb, "%d", t.term), tb),
                         t.first_due,
                         (snprintf(gpb, sizeof gpb, "%d", t.grace_p), gpb),
                         (snprintf(gib, sizeof gib, "%d", t.grace_i), gib),
                         t.amortisation,
                         t.modality,
                         in->purpose ? in->purpose : "",
                         db_i64_text(json_integer_value(json_object_get(prop, "id")), propb),
                         db_i64_text(maker->user_id, ub),
                         db_i64_text(t.fee, feeb)};
    PGresult *r = db_exec(db, "loan_insert", 17, p, err);
    if (r == NULL) {
        json_decref(prop);
        return NULL;
    }
    json_object_set_new(prop, "loan_id", json_integer(db_i64(r, 0, 0)));
    PQclear(r);
    return prop;
}

json_t *loan_schedule_preview(struct db *db, int64_t fund_id, const struct loan_terms *in, struct fl_error *err)
{
    assert(db != NULL && in != NULL);
    char cur[CURRENCY_CODE_BYTES];
    struct terms t;
    if (fund_exists(db, fund_id, cur, err) != FLE_OK || normalise(db, fund_id, cur, in, &t, err) != FLE_OK) {
        return NULL;
    }
    static _Thread_local schedule_row rows[SCHEDULE_INSTALMENTS_MAX];
    size_t n = 0;
    if (make_schedule(&t, cur, rows, &n, err) != FLE_OK) {
        return NULL;
    }
    json_t *usury = usury_on(db, t.modality, t.rate, t.approval_date, err);
    if (usury == NULL) {
        return NULL;
    }
    json_t *a = json_array();
    /* Column sums: each at most the principal plus capitalised interest plus the instalments,
     * all int64 in the schedule (schedule_generate refuses an overflow), checked again here. */
    int64_t sp = 0, si = 0, st = 0, sc = 0;
    bool ok = a != NULL;
    for (size_t i = 0; i < n && ok; i++) {
        const schedule_row *w = &rows[i];
        char due[11];
        snprintf(due, sizeof due, "%04d-%02d-%02d", w->due_date.y, w->due_date.m, w->due_date.d);
        ok = money_add(sp, w->principal_minor, &sp) && money_add(si, w->interest_minor, &si) &&
             money_add(st, w->total_minor, &st) && money_add(sc, w->capitalised_minor, &sc) &&
             json_array_append_new(a, json_pack("{s:i, s:s, s:o, s:o, s:o, s:o, s:o}", "no", w->no, "due_date", due,
                                                "principal", jv_amount(w->principal_minor, cur), "interest",
                                                jv_amount(w->interest_minor, cur), "total",
                                                jv_amount(w->total_minor, cur), "capitalised",
                                                jv_amount(w->capitalised_minor, cur), "balance_after",
                                                jv_amount(w->balance_after_minor, cur))) == 0;
    }
    char rb[RATE_TEXT_MAX];
    ok = ok && rate_format(t.rate, rb, sizeof rb) > 0;
    json_t *o = ok  ? json_pack("{s:I, s:s, s:o, s:s, s:i, s:i, s:s, s:i, s:i, s:s, s:s, s:s, s:o, s:o, s:o, s:o}",
                                "fund_id", (json_int_t)fund_id, "currency", cur, "principal",
                                jv_amount(t.principal, cur), "annual_rate", rb, "payments_per_year", t.ppy,
                                "term_count", t.term, "first_due_date", t.first_due, "grace_principal", t.grace_p,
                                "grace_interest", t.grace_i, "amortisation", t.amortisation, "modality", t.modality,
                                "approval_date", t.approval_date, "instalment",
                                n > 0 ? jv_amount(rows[0].total_minor, cur) : json_null(), "totals",
                                json_pack("{s:o, s:o, s:o, s:o}", "principal", jv_amount(sp, cur), "interest",
                                          jv_amount(si, cur), "total", jv_amount(st, cur), "capitalised",
                                          jv_amount(sc, cur)),
                                "rows", a, "usury", usury)
                    : NULL;
    if (o == NULL) {
        if (!ok) {
            json_decref(a);
            json_decref(usury);
        }
        fl_error_set(err, FLE_INTERNAL, NULL, "out of memory or an overflowing sum");
    }
    return o;
}

/* Loan row for a proposal or an id, locked: id, fund_id, entrepreneur_id, currency, principal,
 * rate, status, drawn, modality, approved_on. */
struct loan_row {
    int64_t id, fund_id, entrepreneur_id, principal, rate, drawn;
    char currency[CURRENCY_CODE_BYTES], status[16], modality[20], approved_on[11];
};

static enum fl_err load_loan(struct db *db, const char *stmt, int64_t key, struct loan_row *l, struct fl_error *err)
{
    char kb[21];
    const char *p[1] = {db_i64_text(key, kb)};
    PGresult *r = db_exec(db, stmt, 1, p, err);
    if (r == NULL) {
        return err->code;
    }
    if (PQntuples(r) != 1) {
        PQclear(r);
        return fl_error_set(err, FLE_NOT_FOUND, "loan_id", "no loan %" PRId64, key);
    }
    l->id = db_i64(r, 0, 0);
    l->fund_id = db_i64(r, 0, 1);
    l->entrepreneur_id = db_i64(r, 0, 2);
    snprintf(l->currency, sizeof l->currency, "%s", db_str(r, 0, 3));
    l->principal = db_i64(r, 0, 4);
    l->rate = db_i64(r, 0, 5);
    snprintf(l->status, sizeof l->status, "%s", db_str(r, 0, 6));
    l->drawn = db_i64(r, 0, 7);
    snprintf(l->modality, sizeof l->modality, "%s", db_str(r, 0, 8));
    snprintf(l->approved_on, sizeof l->approved_on, "%s", db_str(r, 0, 9));
    PQclear(r);
    return FLE_OK;
}

/* Posts an entry of n lines in the loan's currency. */
static enum fl_err post(struct db *db, const struct loan_row *l, int64_t posted_by, const char *date,
                        const char *event, const char *memo, const int64_t *accounts, const int64_t *amounts,
                        unsigned n, int64_t *entry_id, struct fl_error *err)
{
    static _Thread_local struct ledger_entry e;
    memset(&e, 0, sizeof e);
    e.fund_id = l->fund_id;
    e.posted_by = posted_by;
    snprintf(e.effective_date, sizeof e.effective_date, "%s", date);
    snprintf(e.event_type, sizeof e.event_type, "%s", event);
    snprintf(e.event_ref, sizeof e.event_ref, "loan:%" PRId64, l->id);
    snprintf(e.memo, sizeof e.memo, "%s", memo);
    assert(n <= LEDGER_LINES_MAX);
    unsigned k = 0;
    for (unsigned i = 0; i < n; i++) {
        if (amounts[i] == 0) {
            continue; /* a tranche whose part rounds to nothing moves nothing */
        }
        e.lines[k].account_id = accounts[i];
        snprintf(e.lines[k].currency, CURRENCY_CODE_BYTES, "%s", l->currency);
        e.lines[k].amount_minor = amounts[i];
        k++;
    }
    e.n_lines = k;
    const struct ledger_entry *one = &e;
    return ledger_post(db, &one, 1, entry_id, err);
}

static enum fl_err store_schedule(struct db *db, int64_t loan_id, const schedule_row *rows, size_t n,
                                  struct fl_error *err)
{
    struct db_array no, due, pr, in;
    db_array_init(&no);
    db_array_init(&due);
    db_array_init(&pr);
    db_array_init(&in);
    for (size_t i = 0; i < n; i++) {
        char d[16];
        snprintf(d, sizeof d, "%04d-%02d-%02d", rows[i].due_date.y, rows[i].due_date.m, rows[i].due_date.d);
        db_array_i64(&no, rows[i].no);
        db_array_text(&due, d);
        db_array_i64(&pr, rows[i].principal_minor);
        db_array_i64(&in, rows[i].interest_minor);
    }
    char lb[21];
    const char *p[5] = {db_i64_text(loan_id, lb), db_array_str(&no), db_array_str(&due), db_array_str(&pr),
                        db_array_str(&in)};
    enum fl_err e = FLE_OK;
    if (!p[1] || !p[2] || !p[3] || !p[4]) {
        e = fl_error_set(err, FLE_INTERNAL, NULL, "out of memory");
    } else {
        PGresult *r = db_exec(db, "loan_store_schedule", 5, p, err);
        e = r ? FLE_OK : err->code;
        PQclear(r);
    }
    db_array_free(&no);
    db_array_free(&due);
    db_array_free(&pr);
    db_array_free(&in);
    return e;
}

/* The capitalisation of the interest-grace rows (docs/loan-servicing.md §3), from the schedule. */
static enum fl_err store_capitalisation(struct db *db, int64_t loan_id, const schedule_row *rows, size_t n,
                                        struct fl_error *err)
{
    struct db_array no, due, amt;
    db_array_init(&no);
    db_array_init(&due);
    db_array_init(&amt);
    for (size_t i = 0; i < n; i++) {
        if (rows[i].capitalised_minor > 0) {
            char d[16];
            snprintf(d, sizeof d, "%04d-%02d-%02d", rows[i].due_date.y, rows[i].due_date.m, rows[i].due_date.d);
            db_array_i64(&no, rows[i].no);
            db_array_text(&due, d);
            db_array_i64(&amt, rows[i].capitalised_minor);
        }
    }
    enum fl_err e = FLE_OK;
    if (no.n > 0) {
        char lb[21];
        const char *p[4] = {db_i64_text(loan_id, lb), db_array_str(&no), db_array_str(&due), db_array_str(&amt)};
        if (!p[1] || !p[2] || !p[3]) {
            e = fl_error_set(err, FLE_INTERNAL, NULL, "out of memory");
        } else {
            PGresult *r = db_exec(db, "loan_store_capitalisation", 4, p, err);
            e = r ? FLE_OK : err->code;
            PQclear(r);
        }
    }
    db_array_free(&no);
    db_array_free(&due);
    db_array_free(&amt);
    return e;
}

enum fl_err loan_execute(struct db *db, const struct proposal *p, const struct principal *approver,
                         int64_t *entry_id, struct fl_error *err)
{
    struct loan_row l;
    struct terms t;
    struct borrower b;
    enum fl_err e = load_loan(db, "loan_by_proposal_for_update", p->id, &l, err);
    if (e != FLE_OK || (e = load_borrower(db, l.entrepreneur_id, &b, err)) != FLE_OK) {
        return e;
    }
    if (!terms_from_payload(p->payload, l.currency, &t)) {
        return fl_error_set(err, FLE_INTERNAL, NULL, "loan proposal %" PRId64 " has no readable terms", p->id);
    }
    if (strcmp(l.status, "proposed") != 0) {
        return fl_error_set(err, FLE_CONFLICT, "loan_id", "the loan is %s", l.status);
    }
    if ((e = loan_usury_check(db, t.modality, t.rate, t.approval_date, err)) != FLE_OK) {
        return e;
    }
    static _Thread_local schedule_row rows[SCHEDULE_INSTALMENTS_MAX];
    size_t n_rows = 0;
    if ((e = make_schedule(&t, l.currency, rows, &n_rows, err)) != FLE_OK ||
        (e = cost_check(db, t.modality, t.approval_date, t.principal, t.fee, t.ppy, rows, n_rows, err)) != FLE_OK ||
        (e = store_schedule(db, l.id, rows, n_rows, err)) != FLE_OK ||
        (e = store_capitalisation(db, l.id, rows, n_rows, err)) != FLE_OK) {
        return e;
    }
    /* Version 1 of the stored schedule (docs/loan-servicing.md §4). */
    struct schedver_batch vb;
    schedver_init(&vb);
    e = schedver_add_approval(&vb, l.id, t.approval_date, rows, n_rows)
            ? schedver_flush(db, &vb, err)
            : fl_error_set(err, FLE_INTERNAL, NULL, "out of memory");
    schedver_free(&vb);
    if (e != FLE_OK) {
        return e;
    }
    /* Funding shares: explicit, or the principal split pro rata to eligible tranches' cash. */
    struct candidate c[LOAN_FUNDING_MAX];
    int64_t w[LOAN_FUNDING_MAX], parts[LOAN_FUNDING_MAX];
    int n = candidates(db, l.fund_id, l.currency, &b, c, err);
    if (n < 0) {
        return err->code;
    }
    const json_t *shares = json_object_get(p->payload, "shares");
    if (json_is_array(shares)) {
        if ((e = explicit_shares(shares, l.currency, l.principal, c, n, parts, err)) != FLE_OK) {
            return e;
        }
    } else {
        int64_t available = 0;
        for (int i = 0; i < n; i++) {
            w[i] = c[i].eligible && c[i].cash > 0 ? c[i].cash : 0;
            available += w[i];
        }
        if (available < l.principal) {
            char a[MONEY_TEXT_MAX];
            money_format(available, money_currency_exponent(l.currency), a, sizeof a);
            return fl_error_set(err, FLE_RULE, "principal", "eligible tranches hold %s %s, less than the principal",
                                a, l.currency);
        }
        if (!money_split(l.principal, w, (size_t)n, parts)) {
            return fl_error_set(err, FLE_INTERNAL, NULL, "cannot split the principal");
        }
    }
    struct db_array tids, pos, weights;
    db_array_init(&tids);
    db_array_init(&pos);
    db_array_init(&weights);
    int position = 0;
    for (int i = 0; i < n; i++) {
        if (parts[i] > 0) {
            db_array_i64(&tids, c[i].id);
            db_array_i64(&pos, ++position);
            db_array_i64(&weights, parts[i]);
        }
    }
    char lb[21];
    const char *pf[4] = {db_i64_text(l.id, lb), db_array_str(&tids), db_array_str(&pos), db_array_str(&weights)};
    PGresult *r = pf[1] && pf[2] && pf[3] ? db_exec(db, "loan_store_funding", 4, pf, err) : NULL;
    db_array_free(&tids);
    db_array_free(&pos);
    db_array_free(&weights);
    if (r == NULL) {
        return err->code ? err->code : fl_error_set(err, FLE_INTERNAL, NULL, "out of memory");
    }
    PQclear(r);
    int64_t acc[2];
    if ((e = fund_account_by_code(db, l.fund_id, "8500", &acc[0], err)) != FLE_OK ||
        (e = fund_account_by_code(db, l.fund_id, "8590", &acc[1], err)) != FLE_OK) {
        return e;
    }
    int64_t amounts[2] = {l.principal, -l.principal};
    if ((e = post(db, &l, approver->user_id, t.approval_date, "loan_commitment", "loan approved: commitment", acc,
                  amounts, 2, entry_id, err)) != FLE_OK) {
        return e;
    }
    const char *pa[2] = {lb, t.approval_date};
    if ((r = db_exec_rows(db, "loan_approve", 2, pa, 1, err)) == NULL) {
        return err->code;
    }
    PQclear(r);
    char reason[64];
    snprintf(reason, sizeof reason, "loan %" PRId64 " approved", l.id);
    return pipeline_move_system(db, approver, l.entrepreneur_id, "approved", reason, err);
}

enum fl_err loan_reject(struct db *db, const struct proposal *p, const struct principal *approver,
                        struct fl_error *err)
{
    (void)approver;
    char pb[21];
    const char *params[1] = {db_i64_text(p->id, pb)};
    PGresult *r = db_exec(db, "loan_reject", 1, params, err);
    if (r == NULL) {
        return err->code;
    }
    PQclear(r);
    return FLE_OK;
}

json_t *loan_condition_tick(struct db *db, const struct principal *actor, int64_t loan_id, const char *item,
                            const char *done_on, const char *note, struct fl_error *err)
{
    assert(db_in_tx(db));
    struct loan_row l;
    if (load_loan(db, "loan_by_id", loan_id, &l, err) != FLE_OK) {
        return NULL;
    }
    if (!one_of(item, conditions, CONDITIONS)) {
        fl_error_set(err, FLE_BAD_FIELD, "item", "signed_agreement, kyc, sanctions_screening or bank_account_verified");
        return NULL;
    }
    char today[11];
    tranche_today(today);
    if (done_on == NULL || !ledger_date_valid(done_on) || strcmp(done_on, today) > 0) {
        fl_error_set(err, FLE_BAD_FIELD, "done_on", "a date YYYY-MM-DD, not in the future");
        return NULL;
    }
    if (note && strlen(note) > 500) {
        fl_error_set(err, FLE_BAD_FIELD, "note", "at most 500 characters");
        return NULL;
    }
    if (strcmp(l.status, "approved") != 0 && strcmp(l.status, "active") != 0) {
        fl_error_set(err, FLE_CONFLICT, "loan_id", "conditions are ticked on an approved loan; this one is %s",
                     l.status);
        return NULL;
    }
    char lb[21], ub[21];
    const char *p[5] = {db_i64_text(loan_id, lb), item, done_on, db_i64_text(actor->user_id, ub), note ? note : ""};
    PGresult *r = db_exec(db, "loan_condition_tick", 5, p, err);
    if (r == NULL) {
        if (err->code == FLE_DUPLICATE) {
            fl_error_set(err, FLE_DUPLICATE, "item", "%s was already ticked", item);
        }
        return NULL;
    }
    PQclear(r);
    if (audit_record(db, actor, "loan.condition", "loan", lb, l.fund_id, json_pack("{s:s, s:s}", "item", item,
                                                                                   "done_on", done_on),
                     err) != FLE_OK) {
        return NULL;
    }
    return json_pack("{s:I, s:s, s:s, s:I}", "loan_id", (json_int_t)loan_id, "item", item, "done_on", done_on,
                     "done_by", (json_int_t)actor->user_id);
}

enum fl_err loan_split(struct db *db, int64_t loan_id, int64_t amount, int64_t *tranche_ids, int64_t *parts,
                       unsigned *n, struct fl_error *err)
{
    char lb[21];
    const char *p[1] = {db_i64_text(loan_id, lb)};
    PGresult *r = db_exec(db, "loan_funding", 1, p, err);
    if (r == NULL) {
        return err->code;
    }
    int rows = PQntuples(r);
    if (rows == 0 || rows > LOAN_FUNDING_MAX) {
        PQclear(r);
        return fl_error_set(err, FLE_CONFLICT, "loan_id", "the loan has no funding shares (not approved)");
    }
    int64_t w[LOAN_FUNDING_MAX];
    for (int i = 0; i < rows; i++) {
        tranche_ids[i] = db_i64(r, i, 0);
        w[i] = db_i64(r, i, 1);
    }
    PQclear(r);
    *n = (unsigned)rows;
    if (!money_split(amount, w, (size_t)rows, parts)) {
        return fl_error_set(err, FLE_INTERNAL, NULL, "cannot split");
    }
    return FLE_OK;
}

enum fl_err loan_split_cumulative(struct db *db, int64_t loan_id, int64_t before, int64_t after, int64_t *tranche_ids,
                                  int64_t *parts, unsigned *n, struct fl_error *err)
{
    int64_t target[LOAN_FUNDING_MAX];
    enum fl_err e = loan_split(db, loan_id, before, tranche_ids, parts, n, err);
    if (e != FLE_OK || (e = loan_split(db, loan_id, after, tranche_ids, target, n, err)) != FLE_OK) {
        return e;
    }
    for (unsigned i = 0; i < *n; i++) {
        parts[i] = target[i] - parts[i];
    }
    return FLE_OK;
}

/* Principal ever lent on a loan so far: drawn plus capitalised interest posted (the running
 * total disbursements and capitalisations split cumulatively). */
static enum fl_err lent_so_far(struct db *db, const struct loan_row *l, int64_t *lent, struct fl_error *err)
{
    char lb[21];
    const char *p[1] = {db_i64_text(l->id, lb)};
    PGresult *r = db_exec_rows(db, "loan_capitalised_posted", 1, p, 1, err);
    if (r == NULL) {
        return err->code;
    }
    *lent = l->drawn + db_i64(r, 0, 0);
    PQclear(r);
    return FLE_OK;
}

/* Every check of a drawdown; with lock the loan row is locked (at approval). */
static enum fl_err drawdown_check(struct db *db, int64_t loan_id, int64_t amount, const char *value_date, bool lock,
                                  struct loan_row *l, int64_t *tids, int64_t *parts, unsigned *n,
                                  struct fl_error *err)
{
    enum fl_err e = load_loan(db, lock ? "loan_by_id_for_update" : "loan_by_id", loan_id, l, err);
    if (e != FLE_OK) {
        return e;
    }
    if (strcmp(l->status, "approved") != 0 && strcmp(l->status, "active") != 0) {
        return fl_error_set(err, FLE_CONFLICT, "loan_id", "only an approved loan is disbursed; this one is %s",
                            l->status);
    }
    char today[11];
    tranche_today(today);
    if (value_date == NULL || !ledger_date_valid(value_date) || strcmp(value_date, today) > 0 ||
        strcmp(value_date, l->approved_on) < 0) {
        return fl_error_set(err, FLE_BAD_FIELD, "value_date", "a date YYYY-MM-DD from the approval date to today");
    }
    if (amount > l->principal - l->drawn) {
        char a[MONEY_TEXT_MAX];
        money_format(l->principal - l->drawn, money_currency_exponent(l->currency), a, sizeof a);
        return fl_error_set(err, FLE_RULE, "amount", "over-drawn: %s %s remain undrawn", a, l->currency);
    }
    char lb[21];
    const char *p[2] = {db_i64_text(loan_id, lb), value_date};
    PGresult *r = db_exec(db, "loan_conditions_met", 2, p, err);
    if (r == NULL) {
        return err->code;
    }
    char missing[200] = "";
    for (size_t i = 0; i < CONDITIONS; i++) {
        bool met = false;
        for (int k = 0; k < PQntuples(r); k++) {
            met = met || strcmp(db_str(r, k, 0), conditions[i]) == 0;
        }
        if (!met) {
            size_t len = strlen(missing);
            snprintf(missing + len, sizeof missing - len, "%s%s", len ? ", " : "", conditions[i]);
        }
    }
    PQclear(r);
    if (missing[0]) {
        return fl_error_set(err, FLE_RULE, "conditions", "conditions precedent not met by %s: %s", value_date,
                            missing);
    }
    if ((e = loan_usury_check(db, l->modality, l->rate, value_date, err)) != FLE_OK) {
        return e;
    }
    struct borrower b;
    int64_t lent = 0;
    if ((e = load_borrower(db, l->entrepreneur_id, &b, err)) != FLE_OK ||
        (e = lent_so_far(db, l, &lent, err)) != FLE_OK ||
        (e = loan_split_cumulative(db, loan_id, lent, lent + amount, tids, parts, n, err)) != FLE_OK) {
        return e;
    }
    for (unsigned i = 0; i < *n; i++) {
        char tb[21];
        const char *pt[2] = {db_i64_text(tids[i], tb), value_date};
        r = db_exec(db, "loan_tranche_cash", 2, pt, err);
        if (r == NULL) {
            return err->code;
        }
        bool active = strcmp(db_str(r, 0, 2), "active") == 0;
        bool ok_elig = eligible(db_str(r, 0, 1), &b);
        int64_t cash = db_i64(r, 0, 0);
        PQclear(r);
        if (!active || !ok_elig) {
            return fl_error_set(err, FLE_RULE, "loan_id", "tranche %" PRId64 " is %s for this entrepreneur", tids[i],
                                active ? "no longer eligible" : "closed");
        }
        if (cash < parts[i]) {
            char a[MONEY_TEXT_MAX], need[MONEY_TEXT_MAX];
            int exp = money_currency_exponent(l->currency);
            money_format(cash, exp, a, sizeof a);
            money_format(parts[i], exp, need, sizeof need);
            return fl_error_set(err, FLE_RULE, "amount", "tranche %" PRId64 " holds %s, its share is %s", tids[i], a,
                                need);
        }
    }
    return FLE_OK;
}

json_t *disbursement_propose(struct db *db, const struct principal *maker, int64_t loan_id, const char *amount,
                             const char *value_date, struct fl_error *err)
{
    assert(db_in_tx(db));
    struct loan_row l;
    if (load_loan(db, "loan_by_id", loan_id, &l, err) != FLE_OK) {
        return NULL;
    }
    int64_t minor = 0;
    money_status st = amount ? money_parse_amount(amount, money_currency_exponent(l.currency), &minor) : MONEY_ERR_EMPTY;
    if (st != MONEY_OK || minor == 0) {
        fl_error_set(err, amount ? FLE_BAD_FIELD : FLE_MISSING_FIELD, "amount", "%s",
                     st != MONEY_OK ? money_status_text(st) : "must be more than zero");
        return NULL;
    }
    int64_t tids[LOAN_FUNDING_MAX], parts[LOAN_FUNDING_MAX];
    unsigned n = 0;
    if (drawdown_check(db, loan_id, minor, value_date, false, &l, tids, parts, &n, err) != FLE_OK) {
        return NULL;
    }
    json_t *payload = json_pack("{s:I, s:o, s:s}", "loan_id", (json_int_t)loan_id, "amount",
                                jv_amount(minor, l.currency), "value_date", value_date);
    return approval_propose(db, maker, l.fund_id, "disbursement", payload, minor, l.currency, err);
}

enum fl_err disbursement_execute(struct db *db, const struct proposal *p, const struct principal *approver,
                                 int64_t *entry_id, struct fl_error *err)
{
    int64_t loan_id = json_integer_value(json_object_get(p->payload, "loan_id"));
    const char *amount_text = json_string_value(json_object_get(p->payload, "amount"));
    const char *value_date = json_string_value(json_object_get(p->payload, "value_date"));
    struct loan_row l;
    int64_t tids[LOAN_FUNDING_MAX], parts[LOAN_FUNDING_MAX];
    unsigned n = 0;
    int64_t amount = 0;
    enum fl_err e = load_loan(db, "loan_by_id", loan_id, &l, err);
    if (e != FLE_OK) {
        return e;
    }
    if (amount_text == NULL ||
        money_parse(amount_text, money_currency_exponent(l.currency), false, &amount) != MONEY_OK) {
        return fl_error_set(err, FLE_INTERNAL, NULL, "disbursement proposal %" PRId64 " has no readable amount",
                            p->id);
    }
    e = drawdown_check(db, loan_id, amount, value_date, true, &l, tids, parts, &n, err);
    if (e != FLE_OK) {
        return e;
    }
    int64_t acc[2 * LOAN_FUNDING_MAX + 2], amounts[2 * LOAN_FUNDING_MAX + 2];
    unsigned k = 0;
    for (unsigned i = 0; i < n; i++) {
        if (parts[i] == 0) {
            continue; /* a cumulative step can give a tranche nothing */
        }
        if ((e = tranche_account(db, l.fund_id, tids[i], "LOANS", &acc[k], err)) != FLE_OK ||
            (e = tranche_account(db, l.fund_id, tids[i], "CASH", &acc[k + 1], err)) != FLE_OK) {
            return e;
        }
        amounts[k++] = parts[i];
        amounts[k++] = -parts[i];
    }
    if ((e = fund_account_by_code(db, l.fund_id, "8590", &acc[k], err)) != FLE_OK ||
        (e = fund_account_by_code(db, l.fund_id, "8500", &acc[k + 1], err)) != FLE_OK) {
        return e;
    }
    amounts[k++] = amount;
    amounts[k++] = -amount;
    if ((e = post(db, &l, approver->user_id, value_date, "disbursement", "loan drawdown", acc, amounts, k, entry_id,
                  err)) != FLE_OK) {
        return e;
    }
    char lb[21], ab[21], pb[21], eb[21];
    const char *pd[5] = {db_i64_text(loan_id, lb), db_i64_text(amount, ab), value_date, db_i64_text(p->id, pb),
                         db_i64_text(*entry_id, eb)};
    PGresult *r = db_exec_rows(db, "loan_disburse", 5, pd, 1, err);
    if (r == NULL) {
        return err->code;
    }
    int64_t disbursement_id = db_i64(r, 0, 0);
    PQclear(r);
    /* The drawdown's re-cut, stored as the loan's next schedule version (§4). */
    if ((e = schedver_after_disbursement(db, loan_id, disbursement_id, value_date, err)) != FLE_OK) {
        return e;
    }
    char reason[64];
    snprintf(reason, sizeof reason, "loan %" PRId64 " disbursed", loan_id);
    return pipeline_move_system(db, approver, l.entrepreneur_id, "active", reason, err);
}

enum fl_err loan_currency(struct db *db, int64_t loan_id, char *cur, struct fl_error *err)
{
    char lb[21];
    const char *p[1] = {db_i64_text(loan_id, lb)};
    PGresult *r = db_exec(db, "loan_get", 1, p, err);
    if (r == NULL) {
        return err->code;
    }
    if (PQntuples(r) != 1) {
        PQclear(r);
        return fl_error_set(err, FLE_NOT_FOUND, "loan_id", "no loan %" PRId64, loan_id);
    }
    snprintf(cur, CURRENCY_CODE_BYTES, "%s", db_str(r, 0, 3));
    PQclear(r);
    return FLE_OK;
}

json_t *loan_get(struct db *db, int64_t loan_id, struct fl_error *err)
{
    char lb[21];
    const char *p[1] = {db_i64_text(loan_id, lb)};
    PGresult *r = db_exec(db, "loan_get", 1, p, err);
    if (r == NULL) {
        return NULL;
    }
    if (PQntuples(r) != 1) {
        PQclear(r);
        fl_error_set(err, FLE_NOT_FOUND, "loan_id", "no loan %" PRId64, loan_id);
        return NULL;
    }
    char cur[CURRENCY_CODE_BYTES]; /* copied: the result is cleared before the parts are read */
    snprintf(cur, sizeof cur, "%s", db_str(r, 0, 3));
    char rate[32];
    rate_format(db_i64(r, 0, 5), rate, sizeof rate);
    json_t *o = json_pack(
        "{s:I, s:I, s:I, s:s, s:o, s:s, s:s, s:I, s:I, s:s, s:I, s:I, s:s, s:s, s:s, s:s, s:o, s:o, s:o}", "id",
        (json_int_t)db_i64(r, 0, 0), "fund_id", (json_int_t)db_i64(r, 0, 1), "entrepreneur_id",
        (json_int_t)db_i64(r, 0, 2), "currency", cur, "principal", jv_amount(db_i64(r, 0, 4), cur), "annual_rate",
        rate, "day_count", db_str(r, 0, 6), "payments_per_year", (json_int_t)db_i64(r, 0, 7), "term_count",
        (json_int_t)db_i64(r, 0, 8), "first_due_date", db_str(r, 0, 9), "grace_principal", (json_int_t)db_i64(r, 0, 10),
        "grace_interest", (json_int_t)db_i64(r, 0, 11), "amortisation", db_str(r, 0, 12), "modality", db_str(r, 0, 13),
        "purpose", db_str(r, 0, 14), "status", db_str(r, 0, 15), "approved_on",
        db_null(r, 0, 16) ? json_null() : json_string(db_str(r, 0, 16)), "drawn", jv_amount(db_i64(r, 0, 17), cur),
        "written_off", jv_amount(db_i64(r, 0, 18), cur));
    json_object_set_new(o, "proposal_id", json_integer(db_i64(r, 0, 19)));
    PQclear(r);
    static const struct {
        const char *stmt, *key;
    } parts[] = {{"loan_get_schedule", "schedule"},
                 {"loan_get_funding", "funding"},
                 {"loan_get_conditions", "conditions"},
                 {"loan_get_disbursements", "disbursements"}};
    for (size_t k = 0; k < sizeof parts / sizeof parts[0]; k++) {
        r = db_exec(db, parts[k].stmt, 1, p, err);
        if (r == NULL) {
            json_decref(o);
            return NULL;
        }
        json_t *a = json_array();
        for (int i = 0; i < PQntuples(r); i++) {
            json_t *row = NULL;
            if (k == 0) {
                int64_t pr = db_i64(r, i, 2), in = db_i64(r, i, 3);
                row = json_pack("{s:I, s:s, s:o, s:o, s:o}", "no", (json_int_t)db_i64(r, i, 0), "due_date",
                                db_str(r, i, 1), "principal", jv_amount(pr, cur), "interest", jv_amount(in, cur),
                                "total", jv_amount(pr + in, cur));
            } else if (k == 1) {
                row = json_pack("{s:I, s:s, s:I, s:o}", "tranche_id", (json_int_t)db_i64(r, i, 0), "tranche",
                                db_str(r, i, 1), "position", (json_int_t)db_i64(r, i, 2), "share",
                                jv_amount(db_i64(r, i, 3), cur));
            } else if (k == 2) {
                row = json_pack("{s:s, s:s, s:I, s:s}", "item", db_str(r, i, 0), "done_on", db_str(r, i, 1),
                                "done_by", (json_int_t)db_i64(r, i, 2), "note", db_str(r, i, 3));
            } else {
                row = json_pack("{s:I, s:o, s:s, s:I, s:I}", "id", (json_int_t)db_i64(r, i, 0), "amount",
                                jv_amount(db_i64(r, i, 1), cur), "value_date", db_str(r, i, 2), "proposal_id",
                                (json_int_t)db_i64(r, i, 3), "entry_id", (json_int_t)db_i64(r, i, 4));
            }
            json_array_append_new(a, row);
        }
        PQclear(r);
        json_object_set_new(o, parts[k].key, a);
    }
    return o;
}

json_t *loan_list(struct db *db, int64_t fund_id, const char *status, int64_t after_id, unsigned limit,
                  struct fl_error *err)
{
    assert(limit >= 1 && limit <= PAGE_SIZE_MAX);
    char fb[21], ab[21], lb[21];
    const char *p[4] = {db_i64_text(fund_id, fb), status, db_i64_text(after_id, ab), db_i64_text(limit + 1, lb)};
    PGresult *r = db_exec(db, "loan_list", 4, p, err);
    if (r == NULL) {
        return NULL;
    }
    struct db_page pg = db_page(r, limit);
    int rows = pg.rows;
    json_t *a = json_array();
    for (int i = 0; i < rows; i++) {
        const char *cur = db_str(r, i, 3);
        json_array_append_new(a, json_pack("{s:I, s:I, s:s, s:o, s:o, s:s, s:o}", "id", (json_int_t)db_i64(r, i, 0),
                                           "entrepreneur_id", (json_int_t)db_i64(r, i, 1), "currency", cur,
                                           "principal", jv_amount(db_i64(r, i, 2), cur), "drawn",
                                           jv_amount(db_i64(r, i, 4), cur), "status", db_str(r, i, 5),
                                           "approved_on",
                                           db_null(r, i, 6) ? json_null() : json_string(db_str(r, i, 6))));
    }
    PQclear(r);
    return json_pack("{s:o, s:o}", "loans", a, "next_after", jv_next_after(pg.more, pg.last));
}
