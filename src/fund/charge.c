/* charge: ad-hoc loan charges, four eyes, under the usury cap (docs/loan-servicing.md §8). */
#include "fundledger/charge.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fundledger/fund.h"
#include "fundledger/jsonv.h"
#include "fundledger/ledger.h"
#include "fundledger/loan.h"
#include "fundledger/money.h"
#include "fundledger/rate.h"
#include "fundledger/servicing.h"
#include "fundledger/tranche.h"

accrual_status charge_cost_within_cap(const schedule_terms *terms, int64_t origination_fee_minor,
                                      const struct charge_flow *charges, size_t n, int64_t cap, bool *within)
{
    assert(terms != NULL && within != NULL);
    *within = false;
    if (n > SCHEDULE_INSTALMENTS_MAX || (n > 0 && charges == NULL) || origination_fee_minor < 0 ||
        origination_fee_minor >= terms->principal_minor) {
        return ACCRUAL_ERR_INVALID;
    }
    rate_date t0;
    if (!rate_date_add_months(terms->first_due, -terms->period_months, &t0)) {
        return ACCRUAL_ERR_DATE;
    }
    schedule_row *rows = malloc(SCHEDULE_INSTALMENTS_MAX * sizeof *rows);
    struct accrual_flow *flows = malloc((SCHEDULE_INSTALMENTS_MAX + n) * sizeof *flows);
    accrual_status st = ACCRUAL_OK;
    size_t n_rows = 0, k = 0;
    if (rows == NULL || flows == NULL) {
        st = ACCRUAL_ERR_CAPACITY;
    } else if (schedule_generate(terms, rows, SCHEDULE_INSTALMENTS_MAX, &n_rows) != SCHEDULE_OK) {
        st = ACCRUAL_ERR_INVALID;
    }
    for (size_t i = 0; st == ACCRUAL_OK && i < n_rows; i++) {
        flows[k++] = (struct accrual_flow){rows[i].total_minor, (int64_t)i + 1, terms->payments_per_year};
    }
    for (size_t i = 0; st == ACCRUAL_OK && i < n; i++) {
        int64_t days = rate_date_to_days(charges[i].value_date) - rate_date_to_days(t0);
        if (charges[i].amount_minor <= 0 || days > RATE_DAYS_MAX) {
            st = ACCRUAL_ERR_INVALID;
            break;
        }
        flows[k++] = (struct accrual_flow){charges[i].amount_minor, days > 0 ? days : 0, 365};
    }
    if (st == ACCRUAL_OK) {
        st = accrual_cost_within_cap(terms->principal_minor - origination_fee_minor, flows, k, cap, within);
    }
    free(rows);
    free(flows);
    return st;
}

/* What the checks of a charge read of its loan. */
struct charge_loan {
    int64_t id, fund_id;
    char currency[CURRENCY_CODE_BYTES];
    char status[16];
    char modality[32];
    char first_disbursement[DATE_TEXT_BYTES]; /* "" when none */
    char last_repayment[DATE_TEXT_BYTES];     /* "" when none */
};

static enum fl_err load_loan(struct db *db, int64_t loan_id, bool lock, struct charge_loan *l, struct fl_error *err)
{
    char lb[21];
    const char *p[1] = {db_i64_text(loan_id, lb)};
    PGresult *r = db_exec(db, lock ? "loan_charge_loan_for_update" : "loan_charge_loan", 1, p, err);
    if (r == NULL) {
        return err->code;
    }
    if (PQntuples(r) != 1) {
        PQclear(r);
        return fl_error_set(err, FLE_NOT_FOUND, "loan_id", "no loan %" PRId64, loan_id);
    }
    l->id = loan_id;
    l->fund_id = db_i64(r, 0, 0);
    snprintf(l->currency, sizeof l->currency, "%s", db_str(r, 0, 1));
    snprintf(l->status, sizeof l->status, "%s", db_str(r, 0, 2));
    snprintf(l->modality, sizeof l->modality, "%s", db_str(r, 0, 3));
    snprintf(l->first_disbursement, sizeof l->first_disbursement, "%s", db_str(r, 0, 4));
    snprintf(l->last_repayment, sizeof l->last_repayment, "%s", db_str(r, 0, 5));
    PQclear(r);
    return FLE_OK;
}

/* The total cost of credit with the loan's charges and this one, at the cap of value_date. */
static enum fl_err cost_check(struct db *db, const struct charge_loan *l, int64_t amount, const char *value_date,
                              struct fl_error *err)
{
    int64_t cap = 0;
    if (loan_usury_cap(db, l->modality, value_date, &cap, err) != FLE_OK) {
        if (err->code == FLE_RULE) {
            snprintf(err->field, sizeof err->field, "value_date");
        }
        return err->code;
    }
    struct servicing_set s;
    enum fl_err e = servicing_load(db, &l->id, 1, &s, err);
    const struct servicing_loan *sl = e == FLE_OK ? servicing_find(&s, l->id) : NULL;
    if (e == FLE_OK && sl == NULL) {
        e = fl_error_set(err, FLE_NOT_FOUND, "loan_id", "no loan %" PRId64, l->id);
    }
    char lb[21];
    const char *p[1] = {db_i64_text(l->id, lb)};
    PGresult *r = e == FLE_OK ? db_exec(db, "loan_charge_list", 1, p, err) : NULL;
    if (e == FLE_OK && r == NULL) {
        e = err->code;
    }
    size_t n = r ? (size_t)PQntuples(r) : 0;
    struct charge_flow *fl = NULL;
    if (e == FLE_OK && n + 1 > SCHEDULE_INSTALMENTS_MAX) {
        e = fl_error_set(err, FLE_RULE, "loan_id", "a loan carries at most %d charges", SCHEDULE_INSTALMENTS_MAX);
    }
    if (e == FLE_OK && (fl = malloc((n + 1) * sizeof *fl)) == NULL) {
        e = fl_error_set(err, FLE_INTERNAL, NULL, "out of memory");
    }
    for (size_t i = 0; e == FLE_OK && i < n; i++) {
        fl[i].amount_minor = db_i64(r, (int)i, 1);
        if (!ledger_date_parse(db_str(r, (int)i, 2), &fl[i].value_date)) {
            e = fl_error_set(err, FLE_INTERNAL, NULL, "loan_charge: bad value_date");
        }
    }
    if (r != NULL) {
        PQclear(r);
    }
    if (e == FLE_OK) {
        fl[n].amount_minor = amount;
        bool within = false;
        accrual_status st = ledger_date_parse(value_date, &fl[n].value_date)
                                ? charge_cost_within_cap(&sl->terms, sl->fee_minor, fl, n + 1, cap, &within)
                                : ACCRUAL_ERR_DATE;
        if (st != ACCRUAL_OK) {
            e = fl_error_set(err, FLE_INTERNAL, NULL, "the cost of credit of loan %" PRId64 " cannot be computed: %s",
                             l->id, accrual_status_text(st));
        } else if (!within) {
            char cb[32];
            rate_format(cap, cb, sizeof cb);
            e = fl_error_set(err, FLE_RULE, "amount",
                             "with this charge the total cost of credit (interest, origination fee and charges) is "
                             "above the usury cap %s EA in force for %s on %s",
                             cb, l->modality, value_date);
        }
    }
    free(fl);
    servicing_free(&s);
    return e;
}

/* Every check of a charge (docs/loan-servicing.md §8); *minor gets the amount. */
static enum fl_err check(struct db *db, int64_t loan_id, const char *amount, const char *value_date, const char *reason,
                         bool lock, struct charge_loan *l, int64_t *minor, struct fl_error *err)
{
    enum fl_err e = load_loan(db, loan_id, lock, l, err);
    if (e != FLE_OK) {
        return e;
    }
    if (strcmp(l->status, "active") != 0) {
        return fl_error_set(err, FLE_CONFLICT, "loan_id",
                            "charges are made on an active (disbursed) loan; loan %" PRId64 " is %s", loan_id,
                            l->status);
    }
    if (amount == NULL || amount[0] == '\0') {
        return fl_error_set(err, FLE_MISSING_FIELD, "amount", "required");
    }
    money_status ms = money_parse_amount(amount, money_currency_exponent(l->currency), minor);
    if (ms != MONEY_OK || *minor == 0) {
        return fl_error_set(err, FLE_BAD_FIELD, "amount", "a positive decimal in %s: %s", l->currency,
                            ms != MONEY_OK ? money_status_text(ms) : "must be more than zero");
    }
    if (value_date == NULL || value_date[0] == '\0') {
        return fl_error_set(err, FLE_MISSING_FIELD, "value_date", "required");
    }
    char today[DATE_TEXT_BYTES];
    tranche_today(today);
    if (!ledger_date_valid(value_date) || strcmp(value_date, today) > 0 ||
        strcmp(value_date, l->first_disbursement) < 0) {
        return fl_error_set(err, FLE_BAD_FIELD, "value_date",
                            "a date YYYY-MM-DD from the loan's first disbursement (%s) to today",
                            l->first_disbursement);
    }
    if (l->last_repayment[0] != '\0' && strcmp(value_date, l->last_repayment) <= 0) {
        return fl_error_set(err, FLE_RULE, "value_date",
                            "the loan has a repayment on %s allocated without this charge: a charge is dated after "
                            "the loan's latest repayment",
                            l->last_repayment);
    }
    if (reason == NULL || reason[0] == '\0') {
        return fl_error_set(err, FLE_MISSING_FIELD, "reason", "required");
    }
    if (strlen(reason) > REASON_BYTES_MAX) {
        return fl_error_set(err, FLE_BAD_FIELD, "reason", "at most %d characters", REASON_BYTES_MAX);
    }
    return cost_check(db, l, *minor, value_date, err);
}

json_t *loan_charge_propose(struct db *db, const struct principal *maker, int64_t loan_id, const char *amount,
                            const char *value_date, const char *reason, struct fl_error *err)
{
    assert(db_in_tx(db) && maker != NULL);
    struct charge_loan l;
    int64_t minor = 0;
    if (check(db, loan_id, amount, value_date, reason, false, &l, &minor, err) != FLE_OK) {
        return NULL;
    }
    json_t *payload = json_pack("{s:I, s:o, s:s, s:s}", "loan_id", (json_int_t)loan_id, "amount",
                                jv_amount(minor, l.currency), "value_date", value_date, "reason", reason);
    if (payload == NULL) {
        fl_error_set(err, FLE_INTERNAL, NULL, "out of memory");
        return NULL;
    }
    return approval_propose(db, maker, l.fund_id, "loan_charge", payload, minor, l.currency, err);
}

enum fl_err loan_charge_execute(struct db *db, const struct proposal *p, const struct principal *approver,
                                int64_t *entry_id, struct fl_error *err)
{
    assert(db_in_tx(db) && p != NULL && approver != NULL);
    json_t *lid = json_object_get(p->payload, "loan_id");
    const char *amount = json_string_value(json_object_get(p->payload, "amount"));
    const char *value_date = json_string_value(json_object_get(p->payload, "value_date"));
    const char *reason = json_string_value(json_object_get(p->payload, "reason"));
    if (!json_is_integer(lid) || amount == NULL || value_date == NULL || reason == NULL) {
        return fl_error_set(err, FLE_INTERNAL, NULL, "loan_charge proposal %" PRId64 " is unreadable", p->id);
    }
    int64_t loan_id = json_integer_value(lid);
    struct charge_loan l;
    int64_t minor = 0;
    enum fl_err e = check(db, loan_id, amount, value_date, reason, true, &l, &minor, err);
    if (e != FLE_OK) {
        return e;
    }
    if (minor != p->amount_minor || strcmp(l.currency, p->currency) != 0) {
        return fl_error_set(err, FLE_INTERNAL, NULL, "loan_charge proposal %" PRId64 " disagrees with its amount",
                            p->id);
    }
    int64_t receivable = 0, income = 0;
    if ((e = fund_account_ensure(db, approver, l.fund_id, "1160", "Fees receivable", "asset", l.currency, &receivable,
                                 err)) != FLE_OK ||
        (e = fund_account_by_code(db, l.fund_id, "4100", &income, err)) != FLE_OK) {
        return e;
    }
    static _Thread_local struct ledger_entry entry;
    memset(&entry, 0, sizeof entry);
    entry.fund_id = l.fund_id;
    entry.posted_by = approver->user_id;
    snprintf(entry.effective_date, sizeof entry.effective_date, "%s", value_date);
    snprintf(entry.memo, sizeof entry.memo, "loan charge");
    snprintf(entry.event_type, sizeof entry.event_type, "loan_charge");
    snprintf(entry.event_ref, sizeof entry.event_ref, "loan:%" PRId64, loan_id);
    entry.lines[0] = (struct ledger_line){receivable, "", minor};
    entry.lines[1] = (struct ledger_line){income, "", -minor};
    memcpy(entry.lines[0].currency, l.currency, CURRENCY_CODE_BYTES);
    memcpy(entry.lines[1].currency, l.currency, CURRENCY_CODE_BYTES);
    entry.n_lines = 2;
    const struct ledger_entry *one = &entry;
    if ((e = ledger_post(db, &one, 1, entry_id, err)) != FLE_OK) {
        return e;
    }
    char lb[21], ab[21], pb[21], eb[21], ub[21];
    const char *pi[7] = {db_i64_text(loan_id, lb),
                         db_i64_text(minor, ab),
                         value_date,
                         reason,
                         db_i64_text(p->id, pb),
                         db_i64_text(*entry_id, eb),
                         db_i64_text(approver->user_id, ub)};
    PGresult *r = db_exec_rows(db, "loan_charge_insert", 7, pi, 1, err);
    if (r == NULL) {
        return err->code;
    }
    PQclear(r);
    return FLE_OK;
}

json_t *loan_charge_list(struct db *db, int64_t loan_id, struct fl_error *err)
{
    char lb[21];
    const char *p[1] = {db_i64_text(loan_id, lb)};
    PGresult *r = db_exec(db, "loan_charge_totals", 1, p, err);
    if (r == NULL) {
        return NULL;
    }
    if (PQntuples(r) != 1) {
        PQclear(r);
        fl_error_set(err, FLE_NOT_FOUND, "loan_id", "no loan %" PRId64, loan_id);
        return NULL;
    }
    char cur[CURRENCY_CODE_BYTES];
    snprintf(cur, sizeof cur, "%s", db_str(r, 0, 0));
    int64_t fee = db_i64(r, 0, 1), fees_paid = db_i64(r, 0, 2);
    PQclear(r);
    if ((r = db_exec(db, "loan_charge_list", 1, p, err)) == NULL) {
        return NULL;
    }
    json_t *list = json_array();
    int64_t total = 0;
    bool ok = list != NULL;
    for (int i = 0; ok && i < PQntuples(r); i++) {
        int64_t a = db_i64(r, i, 1);
        ok = money_add(total, a, &total) &&
             json_array_append_new(
                 list, json_pack("{s:I, s:s, s:o, s:s, s:I, s:I, s:I, s:s}", "id", (json_int_t)db_i64(r, i, 0),
                                 "value_date", db_str(r, i, 2), "amount", jv_amount(a, cur), "reason", db_str(r, i, 3),
                                 "proposal_id", (json_int_t)db_i64(r, i, 4), "entry_id", (json_int_t)db_i64(r, i, 5),
                                 "approved_by", (json_int_t)db_i64(r, i, 6), "created_at", db_str(r, i, 7))) == 0;
    }
    PQclear(r);
    if (!ok) {
        json_decref(list);
        fl_error_set(err, FLE_INTERNAL, NULL, "out of memory");
        return NULL;
    }
    /* The origination fee is collected first (docs/loan-servicing.md §8). */
    int64_t collected = fees_paid > fee ? fees_paid - fee : 0;
    if (collected > total) {
        collected = total;
    }
    return json_pack("{s:I, s:s, s:o, s:o, s:o, s:o}", "loan_id", (json_int_t)loan_id, "currency", cur, "charges", list,
                     "total", jv_amount(total, cur), "collected", jv_amount(collected, cur), "due",
                     jv_amount(total - collected, cur));
}
