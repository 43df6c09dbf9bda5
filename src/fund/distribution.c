/* distribution: waterfall runs of a fund (inputs from the journal, steps posted and stored,
 * replay) and the fund's waterfall settings (four eyes). */
#include "fundledger/distribution.h"
#include "fundledger/jsonv.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fundledger/audit.h"
#include "fundledger/coupon.h"
#include "fundledger/fund.h"
#include "fundledger/ledger.h"
#include "fundledger/money.h"
#include "fundledger/rate.h"
#include "fundledger/tranche.h"
#include "fundledger/waterfall.h"

static const char *kind_text(waterfall_step_kind k)
{
    switch (k) {
    case WATERFALL_STEP_FEES:
        return "fees";
    case WATERFALL_STEP_INTEREST:
        return "interest";
    case WATERFALL_STEP_PRINCIPAL:
        return "principal";
    case WATERFALL_STEP_RESERVE:
        return "reserve";
    case WATERFALL_STEP_RESIDUAL:
        return "residual";
    }
    return "?";
}

/* Everything a run computes from: read from the journal with a cut-off. */
struct inputs {
    int64_t fund_id;
    char run_date[DATE_TEXT_BYTES];
    char currency[CURRENCY_CODE_BYTES];
    waterfall_mode mode;
    int64_t cutoff;         /* last journal entry id read */
    int64_t reserve_target; /* the fund's setting when the run was made */
    bool net_principal;     /* capitalised interest collected counts as interest (runs recorded
                             * with principal_rule "capitalised_interest_first"); false: every
                             * repayment credit to T.LOANS is principal (the former rule) */
    bool dated_coupon;      /* coupon on the dated capital timeline (runs recorded with
                             * coupon_rule "capital_dates"); false: the former rule, capital at the
                             * run date over the whole period, kept so older runs replay exactly */
    int64_t prev_run_id;    /* 0 for the first run */
    char prev_date[DATE_TEXT_BYTES];
    int64_t cash, principal_collected, principal_before;
    waterfall_cash split;
    int64_t fees_due, reserve_current;
    size_t n;
    int64_t tranche_id[WATERFALL_TRANCHES_MAX];
    int64_t capital[WATERFALL_TRANCHES_MAX], coupon[WATERFALL_TRANCHES_MAX], carried[WATERFALL_TRANCHES_MAX];
    char coupon_from[WATERFALL_TRANCHES_MAX][DATE_TEXT_BYTES];
    waterfall_tranche tr[WATERFALL_TRANCHES_MAX];
};

static enum fl_err balance_of(struct db *db, const struct inputs *in, const char *code, int64_t *out,
                              struct fl_error *err)
{
    char fb[21], cb[21];
    const char *p[4] = {db_i64_text(in->fund_id, fb), code, in->run_date, db_i64_text(in->cutoff, cb)};
    PGresult *r = db_exec(db, "distribution_balance", 4, p, err);
    if (r == NULL) {
        return err->code;
    }
    *out = db_i64(r, 0, 0);
    PQclear(r);
    return FLE_OK;
}

/* The coupon of tranche i from `from` to the run date on its dated capital timeline
 * (docs/fund-operations.md, "Coupon"): the capital on `from` and each net change of
 * CONTRIB + RETURNED + LOSS after it, read with the run's cut-off. */
static enum fl_err dated_coupon(struct db *db, const struct inputs *in, size_t i, int64_t rate, const char *from,
                                rate_date fd, rate_date to, int64_t *coupon, struct fl_error *err)
{
    char fb[21], tb[21], cb[21];
    const char *p[4] = {db_i64_text(in->fund_id, fb), db_i64_text(in->tranche_id[i], tb), in->run_date,
                        db_i64_text(in->cutoff, cb)};
    PGresult *r = db_exec(db, "distribution_capital_dates", 4, p, err);
    if (r == NULL) {
        return err->code;
    }
    int rows = PQntuples(r);
    coupon_change *ch = rows > 0 ? malloc((size_t)rows * sizeof *ch) : NULL;
    if (rows > 0 && ch == NULL) {
        PQclear(r);
        return fl_error_set(err, FLE_INTERNAL, NULL, "out of memory");
    }
    int64_t opening = 0;
    size_t n = 0;
    rate_status st = RATE_OK;
    for (int k = 0; k < rows && st == RATE_OK; k++) {
        const char *d = db_str(r, k, 0);
        int64_t delta = db_i64(r, k, 1);
        if (strcmp(d, from) <= 0) {
            st = money_add(opening, delta, &opening) ? RATE_OK : RATE_ERR_OVERFLOW;
        } else if (!ledger_date_parse(d, &ch[n].date)) {
            st = RATE_ERR_DATE;
        } else {
            ch[n++].delta_minor = delta;
        }
    }
    PQclear(r);
    enum fl_err e = FLE_OK;
    if (st == RATE_OK && n > COUPON_CHANGES_MAX) {
        e = fl_error_set(err, FLE_RULE, "run_date",
                         "tranche %" PRId64 "'s capital changed on %zu dates since %s; a run reads at most %d",
                         in->tranche_id[i], n, from, COUPON_CHANGES_MAX);
    } else if (st == RATE_OK) {
        st = coupon_accrue(rate, fd, to, opening, ch, n, coupon);
    }
    if (e == FLE_OK && st != RATE_OK) {
        e = fl_error_set(err, FLE_RULE, "run_date", "coupon of tranche %" PRId64 " from %s: %s", in->tranche_id[i],
                         from, rate_status_text(st));
    }
    free(ch);
    return e;
}

/* Fills everything but fund_id, run_date, currency, mode, cutoff and reserve_target (set by the
 * caller). this_run_id: the run being replayed, or 0 for a new one (every earlier run counts). */
static enum fl_err read_inputs(struct db *db, int64_t this_run_id, struct inputs *in, struct fl_error *err)
{
    char fb[21], rb[21], cb[21];
    const char *p[2] = {db_i64_text(in->fund_id, fb), db_i64_text(this_run_id ? this_run_id : INT64_MAX, rb)};
    PGresult *r = db_exec(db, "distribution_previous", 2, p, err);
    if (r == NULL) {
        return err->code;
    }
    in->prev_run_id = PQntuples(r) == 1 ? db_i64(r, 0, 0) : 0;
    snprintf(in->prev_date, sizeof in->prev_date, "%s", PQntuples(r) == 1 ? db_str(r, 0, 1) : "");
    PQclear(r);
    if ((r = db_exec(db, "distribution_previous_principal", 2, p, err)) == NULL) {
        return err->code;
    }
    in->principal_before = db_i64(r, 0, 0);
    PQclear(r);

    enum fl_err e;
    int64_t b2300 = 0, b1060 = 0;
    if ((e = balance_of(db, in, "1050", &in->cash, err)) != FLE_OK ||
        (e = balance_of(db, in, "1060", &b1060, err)) != FLE_OK ||
        (e = balance_of(db, in, "2300", &b2300, err)) != FLE_OK) {
        return e;
    }
    if (in->cash < 0) {
        return fl_error_set(err, FLE_RULE, "run_date", "collections (1050) are negative on %s", in->run_date);
    }
    in->fees_due = b2300 < 0 ? -b2300 : 0;
    in->reserve_current = b1060 > 0 ? b1060 : 0;
    const char *pc[3] = {fb, in->run_date, db_i64_text(in->cutoff, cb)};
    if ((r = db_exec(db, in->net_principal ? "distribution_principal_net" : "distribution_principal_collected", 3, pc,
                     err)) == NULL) {
        return err->code;
    }
    in->principal_collected = db_i64(r, 0, 0);
    PQclear(r);
    int64_t principal = in->principal_collected - in->principal_before;
    principal = principal < 0 ? 0 : principal > in->cash ? in->cash : principal;
    in->split = (waterfall_cash){.interest_minor = in->cash - principal, .fee_minor = 0, .principal_minor = principal};

    const char *pt[4] = {fb, in->run_date, cb, in->currency};
    if ((r = db_exec(db, "distribution_tranches", 4, pt, err)) == NULL) {
        return err->code;
    }
    int rows = PQntuples(r);
    if (rows == 0 || rows > WATERFALL_TRANCHES_MAX) {
        PQclear(r);
        return fl_error_set(err, FLE_RULE, "fund_id", "the waterfall needs 1 to %d tranches in %s; the fund has %d",
                            WATERFALL_TRANCHES_MAX, in->currency, rows);
    }
    in->n = (size_t)rows;
    rate_date to;
    bool to_ok = ledger_date_parse(in->run_date, &to);
    assert(to_ok);
    (void)to_ok;
    enum fl_err out = FLE_OK;
    for (int i = 0; i < rows && out == FLE_OK; i++) {
        in->tranche_id[i] = db_i64(r, i, 0);
        in->tr[i].rank = (int)db_i64(r, i, 1);
        if (i > 0 && in->tr[i].rank == in->tr[i - 1].rank) {
            out = fl_error_set(err, FLE_RULE, "rank",
                               "tranches %" PRId64 " and %" PRId64 " share rank %d: the waterfall needs distinct ranks",
                               in->tranche_id[i - 1], in->tranche_id[i], in->tr[i].rank);
            break;
        }
        int64_t rate = db_i64(r, i, 2);
        int64_t capital = db_i64(r, i, 4);
        in->capital[i] = capital > 0 ? capital : 0;
        in->coupon[i] = 0;
        in->coupon_from[i][0] = '\0';
        if (!db_null(r, i, 3) && (in->capital[i] > 0 || in->dated_coupon) && rate > 0) {
            const char *first = db_str(r, i, 3);
            const char *from = in->prev_date[0] && strcmp(in->prev_date, first) > 0 ? in->prev_date : first;
            snprintf(in->coupon_from[i], DATE_TEXT_BYTES, "%s", from);
            rate_date fd;
            if (!ledger_date_parse(from, &fd)) {
                out = fl_error_set(err, FLE_INTERNAL, NULL, "bad date %s", from);
            } else if (strcmp(from, in->run_date) < 0 && in->dated_coupon) {
                out = dated_coupon(db, in, (size_t)i, rate, from, fd, to, &in->coupon[i], err);
            } else if (strcmp(from, in->run_date) < 0) {
                rate_status rs = rate_daycount_interest(in->capital[i], rate, RATE_DC_ACT_365, fd, to, &in->coupon[i]);
                if (rs != RATE_OK) {
                    out = fl_error_set(err, FLE_RULE, "run_date", "coupon of tranche %" PRId64 ": %s",
                                       in->tranche_id[i], rate_status_text(rs));
                }
            }
        }
    }
    PQclear(r);
    if (out != FLE_OK) {
        return out;
    }
    memset(in->carried, 0, sizeof in->carried);
    if (in->prev_run_id != 0) {
        char pb[21];
        const char *pp[1] = {db_i64_text(in->prev_run_id, pb)};
        if ((r = db_exec(db, "distribution_previous_unpaid", 1, pp, err)) == NULL) {
            return err->code;
        }
        for (int k = 0; k < PQntuples(r); k++) {
            for (size_t i = 0; i < in->n; i++) {
                if (in->tranche_id[i] == db_i64(r, k, 0)) {
                    in->carried[i] += db_i64(r, k, 1);
                }
            }
        }
        PQclear(r);
    }
    for (size_t i = 0; i < in->n; i++) {
        if (!money_add(in->coupon[i], in->carried[i], &in->tr[i].interest_due_minor)) {
            return fl_error_set(err, FLE_RULE, "run_date", "interest due overflows");
        }
        in->tr[i].principal_outstanding_minor = in->capital[i];
    }
    return FLE_OK;
}

static enum fl_err compute(const struct inputs *in, waterfall_step *steps, size_t *n_steps, struct fl_error *err)
{
    waterfall_fund wf = {.mode = in->mode,
                         .fees_expenses_due_minor = in->fees_due,
                         .reserve_target_minor = in->reserve_target,
                         .reserve_current_minor = in->reserve_current,
                         .tranches = in->tr,
                         .tranche_count = in->n};
    waterfall_status st = waterfall_run(&wf, &in->split, steps, WATERFALL_STEPS_MAX, n_steps);
    if (st != WATERFALL_OK) {
        return fl_error_set(err, FLE_RULE, "fund_id", "waterfall: %s", waterfall_status_text(st));
    }
    return FLE_OK;
}

static json_t *inputs_json(const struct inputs *in)
{
    json_t *tr = json_array();
    for (size_t i = 0; i < in->n; i++) {
        json_array_append_new(tr, json_pack("{s:I, s:i, s:o, s:o, s:o, s:o, s:o}", "tranche_id",
                                            (json_int_t)in->tranche_id[i], "rank", in->tr[i].rank, "capital",
                                            jv_amount(in->capital[i], in->currency), "coupon",
                                            jv_amount(in->coupon[i], in->currency), "coupon_from",
                                            in->coupon_from[i][0] ? json_string(in->coupon_from[i]) : json_null(),
                                            "interest_unpaid_before", jv_amount(in->carried[i], in->currency),
                                            "interest_due", jv_amount(in->tr[i].interest_due_minor, in->currency)));
    }
    return json_pack("{s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "journal_cutoff_entry_id", (json_int_t)in->cutoff,
                     "previous_run_date", in->prev_date[0] ? json_string(in->prev_date) : json_null(),
                     "principal_collected_to_date", jv_amount(in->principal_collected, in->currency),
                     "principal_distributed_before", jv_amount(in->principal_before, in->currency), "fees_due",
                     jv_amount(in->fees_due, in->currency), "reserve_target",
                     jv_amount(in->reserve_target, in->currency), "reserve_current",
                     jv_amount(in->reserve_current, in->currency), "tranches", tr);
}

static waterfall_mode mode_of(const char *text)
{
    return strcmp(text, "pro_rata") == 0 ? WATERFALL_PRO_RATA : WATERFALL_SEQUENTIAL;
}

/* The accounts a step debits (its credit is always 1050). */
static enum fl_err step_account(struct db *db, const struct inputs *in, const waterfall_step *s, int64_t *acc,
                                struct fl_error *err)
{
    switch (s->kind) {
    case WATERFALL_STEP_FEES:
        return fund_account_by_code(db, in->fund_id, "2300", acc, err);
    case WATERFALL_STEP_RESERVE:
        return fund_account_by_code(db, in->fund_id, "1060", acc, err);
    case WATERFALL_STEP_PRINCIPAL:
        return tranche_account(db, in->fund_id, in->tranche_id[s->tranche], "RETURNED", acc, err);
    case WATERFALL_STEP_INTEREST:
    case WATERFALL_STEP_RESIDUAL:
        return tranche_account(db, in->fund_id, in->tranche_id[s->tranche], "DIST_INCOME", acc, err);
    }
    return fl_error_set(err, FLE_INTERNAL, NULL, "unknown step");
}

json_t *distribution_run(struct db *db, const struct principal *actor, int64_t fund_id, const char *run_date,
                         struct fl_error *err)
{
    assert(db_in_tx(db) && actor != NULL);
    static _Thread_local struct inputs in;
    static _Thread_local struct ledger_entry entries[WATERFALL_STEPS_MAX];
    memset(&in, 0, sizeof in);
    in.fund_id = fund_id;
    struct fund_settings fs;
    if (fund_lock(db, fund_id, &fs, err) != FLE_OK) {
        return NULL;
    }
    in.mode = mode_of(fs.waterfall_mode);
    in.reserve_target = fs.reserve_target_minor;
    snprintf(in.currency, sizeof in.currency, "%s", fs.base_currency);
    char fb[21];
    db_i64_text(fund_id, fb);
    PGresult *r;
    char today[DATE_TEXT_BYTES];
    tranche_today(today);
    if (run_date == NULL) {
        fl_error_set(err, FLE_MISSING_FIELD, "run_date", "required");
        return NULL;
    }
    if (!ledger_date_valid(run_date) || strcmp(run_date, today) > 0) {
        fl_error_set(err, FLE_BAD_FIELD, "run_date", "a date YYYY-MM-DD, not in the future");
        return NULL;
    }
    snprintf(in.run_date, sizeof in.run_date, "%s", run_date);
    in.dated_coupon = true;
    in.net_principal = true;
    if ((r = db_exec(db, "distribution_cutoff", 0, NULL, err)) == NULL) {
        return NULL;
    }
    in.cutoff = db_i64(r, 0, 0);
    PQclear(r);
    if (read_inputs(db, 0, &in, err) != FLE_OK) {
        return NULL;
    }
    if (in.prev_date[0] && strcmp(run_date, in.prev_date) <= 0) {
        fl_error_set(err, FLE_BAD_FIELD, "run_date", "after the previous run's date %s", in.prev_date);
        return NULL;
    }
    waterfall_step steps[WATERFALL_STEPS_MAX];
    size_t n_steps = 0;
    if (compute(&in, steps, &n_steps, err) != FLE_OK) {
        return NULL;
    }
    char ib[21], pb[21], ub[21], feeb[21];
    const char *pr[7] = {fb,
                         run_date,
                         in.mode == WATERFALL_PRO_RATA ? "pro_rata" : "sequential",
                         db_i64_text(in.split.interest_minor, ib),
                         db_i64_text(in.split.fee_minor, feeb),
                         db_i64_text(in.split.principal_minor, pb),
                         db_i64_text(actor->user_id, ub)};
    if ((r = db_exec(db, "distribution_insert_run", 7, pr, err)) == NULL) {
        return NULL;
    }
    int64_t run_id = db_i64(r, 0, 0);
    PQclear(r);
    /* One entry per step that moves money. */
    int64_t collections = 0;
    if (fund_account_by_code(db, fund_id, "1050", &collections, err) != FLE_OK) {
        return NULL;
    }
    const struct ledger_entry *ptrs[WATERFALL_STEPS_MAX];
    unsigned n_entries = 0;
    for (size_t i = 0; i < n_steps; i++) {
        if (steps[i].amount_minor == 0) {
            continue;
        }
        struct ledger_entry *e = &entries[n_entries];
        memset(e, 0, sizeof *e);
        int64_t acc = 0;
        if (step_account(db, &in, &steps[i], &acc, err) != FLE_OK) {
            return NULL;
        }
        e->fund_id = fund_id;
        e->posted_by = actor->user_id;
        snprintf(e->effective_date, sizeof e->effective_date, "%s", run_date);
        snprintf(e->event_type, sizeof e->event_type, "waterfall");
        snprintf(e->event_ref, sizeof e->event_ref, "waterfall_run:%" PRId64, run_id);
        if (steps[i].tranche >= 0) {
            snprintf(e->memo, sizeof e->memo, "waterfall step %zu: %s to tranche %" PRId64, i + 1,
                     kind_text(steps[i].kind), in.tranche_id[steps[i].tranche]);
        } else {
            snprintf(e->memo, sizeof e->memo, "waterfall step %zu: %s", i + 1, kind_text(steps[i].kind));
        }
        e->n_lines = 2;
        e->lines[0] = (struct ledger_line){acc, "", steps[i].amount_minor};
        e->lines[1] = (struct ledger_line){collections, "", -steps[i].amount_minor};
        memcpy(e->lines[0].currency, in.currency, CURRENCY_CODE_BYTES);
        memcpy(e->lines[1].currency, in.currency, CURRENCY_CODE_BYTES);
        ptrs[n_entries++] = e;
    }
    int64_t ids[WATERFALL_STEPS_MAX] = {0};
    if (n_entries > 0 && ledger_post(db, ptrs, n_entries, ids, err) != FLE_OK) {
        return NULL;
    }
    struct db_array a[6];
    for (int k = 0; k < 6; k++) {
        db_array_init(&a[k]);
    }
    unsigned posted = 0;
    for (size_t i = 0; i < n_steps; i++) {
        db_array_i64(&a[0], (int64_t)i + 1);
        db_array_text(&a[1], kind_text(steps[i].kind));
        if (steps[i].tranche >= 0) {
            db_array_i64(&a[2], in.tranche_id[steps[i].tranche]);
        } else {
            db_array_null(&a[2]);
        }
        db_array_i64(&a[3], steps[i].due_minor);
        db_array_i64(&a[4], steps[i].amount_minor);
        if (steps[i].amount_minor > 0) {
            db_array_i64(&a[5], ids[posted++]);
        } else {
            db_array_null(&a[5]);
        }
    }
    char rb[21];
    r = db_exec_arrays(db, "distribution_insert_steps", db_i64_text(run_id, rb), a, 6, err);
    if (r == NULL) {
        return NULL;
    }
    PQclear(r);
    json_t *detail = json_pack("{s:s, s:s, s:I, s:o, s:s, s:s}", "run_date", run_date, "mode",
                               in.mode == WATERFALL_PRO_RATA ? "pro_rata" : "sequential", "journal_cutoff_entry_id",
                               (json_int_t)in.cutoff, "reserve_target", jv_amount(in.reserve_target, in.currency),
                               "coupon_rule", "capital_dates", "principal_rule", "capitalised_interest_first");
    if (audit_record(db, actor, "waterfall.run", "waterfall_run", rb, fund_id, detail, err) != FLE_OK) {
        return NULL;
    }
    json_t *o = distribution_get(db, run_id, err);
    if (o != NULL) {
        json_object_set_new(o, "inputs", inputs_json(&in));
    }
    return o;
}

json_t *distribution_get(struct db *db, int64_t run_id, struct fl_error *err)
{
    char rb[21];
    const char *p[1] = {db_i64_text(run_id, rb)};
    PGresult *r = db_exec(db, "distribution_get", 1, p, err);
    if (r == NULL) {
        return NULL;
    }
    if (PQntuples(r) != 1) {
        PQclear(r);
        fl_error_set(err, FLE_NOT_FOUND, "run_id", "no waterfall run %" PRId64, run_id);
        return NULL;
    }
    char cur[CURRENCY_CODE_BYTES];
    snprintf(cur, sizeof cur, "%s", db_str(r, 0, 9));
    int64_t in = db_i64(r, 0, 4), fee = db_i64(r, 0, 5), pr = db_i64(r, 0, 6);
    json_t *o = json_pack(
        "{s:I, s:I, s:s, s:s, s:s, s:{s:o, s:o, s:o, s:o}, s:I, s:s}", "id", (json_int_t)db_i64(r, 0, 0), "fund_id",
        (json_int_t)db_i64(r, 0, 1), "run_date", db_str(r, 0, 2), "mode", db_str(r, 0, 3), "currency", cur, "cash",
        "interest", jv_amount(in, cur), "fees", jv_amount(fee, cur), "principal", jv_amount(pr, cur), "total",
        jv_amount(in + fee + pr, cur), "created_by", (json_int_t)db_i64(r, 0, 7), "created_at", db_str(r, 0, 8));
    PQclear(r);
    if (o == NULL) {
        fl_error_set(err, FLE_INTERNAL, NULL, "out of memory");
        return NULL;
    }
    if ((r = db_exec(db, "distribution_get_steps", 1, p, err)) == NULL) {
        json_decref(o);
        return NULL;
    }
    json_t *steps = json_array();
    for (int i = 0; i < PQntuples(r); i++) {
        json_array_append_new(steps,
                              json_pack("{s:I, s:s, s:o, s:o, s:o, s:o, s:o}", "step_no", (json_int_t)db_i64(r, i, 0),
                                        "kind", db_str(r, i, 1), "tranche_id",
                                        db_null(r, i, 2) ? json_null() : json_integer(db_i64(r, i, 2)), "tranche",
                                        db_null(r, i, 3) ? json_null() : json_string(db_str(r, i, 3)), "due",
                                        jv_amount(db_i64(r, i, 4), cur), "amount", jv_amount(db_i64(r, i, 5), cur),
                                        "entry_id", db_null(r, i, 6) ? json_null() : json_integer(db_i64(r, i, 6))));
    }
    PQclear(r);
    json_object_set_new(o, "steps", steps);
    return o;
}

json_t *distribution_list(struct db *db, int64_t fund_id, int64_t after_id, unsigned limit, struct fl_error *err)
{
    assert(limit >= 1 && limit <= PAGE_SIZE_MAX);
    if (fund_exists(db, fund_id, NULL, err) != FLE_OK) {
        return NULL;
    }
    char fb[21], ab[21], lb[21];
    const char *p[3] = {db_i64_text(fund_id, fb), db_i64_text(after_id, ab), db_i64_text(limit + 1, lb)};
    PGresult *r = db_exec(db, "distribution_list", 3, p, err);
    if (r == NULL) {
        return NULL;
    }
    int rows = PQntuples(r);
    bool more = rows > (int)limit;
    if (more) {
        rows = (int)limit;
    }
    json_t *a = json_array();
    for (int i = 0; i < rows; i++) {
        json_array_append_new(a, json_pack("{s:I, s:s, s:s, s:o}", "id", (json_int_t)db_i64(r, i, 0), "run_date",
                                           db_str(r, i, 1), "mode", db_str(r, i, 2), "cash",
                                           jv_amount(db_i64(r, i, 3), db_str(r, i, 4))));
    }
    int64_t last = rows ? db_i64(r, rows - 1, 0) : 0;
    PQclear(r);
    return json_pack("{s:o, s:o}", "runs", a, "next_after", more ? json_integer(last) : json_null());
}

static json_t *difference(int64_t run_id, int64_t cutoff, size_t n_steps, int step_no, const char *field,
                          json_t *stored, json_t *replayed)
{
    return json_pack("{s:I, s:b, s:I, s:I, s:{s:i, s:s, s:o, s:o}}", "run_id", (json_int_t)run_id, "ok", 0, "steps",
                     (json_int_t)n_steps, "journal_cutoff_entry_id", (json_int_t)cutoff, "difference", "step_no",
                     step_no, "field", field, "stored", stored, "replayed", replayed);
}

json_t *distribution_replay(struct db *db, int64_t run_id, struct fl_error *err)
{
    static _Thread_local struct inputs in;
    memset(&in, 0, sizeof in);
    char rb[21];
    const char *p[1] = {db_i64_text(run_id, rb)};
    PGresult *r = db_exec(db, "distribution_get", 1, p, err);
    if (r == NULL) {
        return NULL;
    }
    if (PQntuples(r) != 1) {
        PQclear(r);
        fl_error_set(err, FLE_NOT_FOUND, "run_id", "no waterfall run %" PRId64, run_id);
        return NULL;
    }
    in.fund_id = db_i64(r, 0, 1);
    snprintf(in.run_date, sizeof in.run_date, "%s", db_str(r, 0, 2));
    in.mode = mode_of(db_str(r, 0, 3));
    int64_t st_interest = db_i64(r, 0, 4), st_fee = db_i64(r, 0, 5), st_principal = db_i64(r, 0, 6);
    snprintf(in.currency, sizeof in.currency, "%s", db_str(r, 0, 9));
    PQclear(r);
    if ((r = db_exec(db, "distribution_replay_detail", 1, p, err)) == NULL) {
        return NULL;
    }
    if (PQntuples(r) != 1 || db_null(r, 0, 0)) {
        PQclear(r);
        fl_error_set(err, FLE_CONFLICT, "run_id", "run %" PRId64 " has no audit record with its journal cut-off",
                     run_id);
        return NULL;
    }
    in.cutoff = db_i64(r, 0, 0);
    /* reserve_target (decimal string); reserve_target_minor in a record written before amounts were strings. */
    if (db_null(r, 0, 3)) {
        in.reserve_target = db_i64(r, 0, 1);
    } else if (money_parse(db_str(r, 0, 3), money_currency_exponent(in.currency), false, &in.reserve_target) !=
               MONEY_OK) {
        PQclear(r);
        fl_error_set(err, FLE_INTERNAL, NULL, "run %" PRId64 "'s reserve target does not read", run_id);
        return NULL;
    }
    in.dated_coupon = !db_null(r, 0, 2) && strcmp(db_str(r, 0, 2), "capital_dates") == 0;
    in.net_principal = !db_null(r, 0, 4) && strcmp(db_str(r, 0, 4), "capitalised_interest_first") == 0;
    PQclear(r);
    if (read_inputs(db, run_id, &in, err) != FLE_OK) {
        return NULL;
    }
    waterfall_step steps[WATERFALL_STEPS_MAX];
    size_t n_steps = 0;
    if (compute(&in, steps, &n_steps, err) != FLE_OK) {
        return NULL;
    }
    const char *cur = in.currency;
    if (in.split.principal_minor != st_principal) {
        return difference(run_id, in.cutoff, n_steps, 0, "cash.principal", jv_amount(st_principal, cur),
                          jv_amount(in.split.principal_minor, cur));
    }
    if (in.split.interest_minor != st_interest) {
        return difference(run_id, in.cutoff, n_steps, 0, "cash.interest", jv_amount(st_interest, cur),
                          jv_amount(in.split.interest_minor, cur));
    }
    if (in.split.fee_minor != st_fee) {
        return difference(run_id, in.cutoff, n_steps, 0, "cash.fees", jv_amount(st_fee, cur),
                          jv_amount(in.split.fee_minor, cur));
    }
    if ((r = db_exec(db, "distribution_get_steps", 1, p, err)) == NULL) {
        return NULL;
    }
    int rows = PQntuples(r);
    json_t *out = NULL;
    for (size_t i = 0; i < n_steps && out == NULL; i++) {
        int no = (int)i + 1;
        if ((int)i >= rows) {
            out =
                difference(run_id, in.cutoff, n_steps, no, "step", json_null(), json_string(kind_text(steps[i].kind)));
            break;
        }
        int64_t tid = steps[i].tranche >= 0 ? in.tranche_id[steps[i].tranche] : 0;
        if (db_i64(r, (int)i, 0) != no || strcmp(db_str(r, (int)i, 1), kind_text(steps[i].kind)) != 0) {
            out = difference(run_id, in.cutoff, n_steps, no, "kind", json_string(db_str(r, (int)i, 1)),
                             json_string(kind_text(steps[i].kind)));
        } else if (db_i64(r, (int)i, 2) != tid) {
            out = difference(run_id, in.cutoff, n_steps, no, "tranche_id", json_integer(db_i64(r, (int)i, 2)),
                             json_integer(tid));
        } else if (db_i64(r, (int)i, 4) != steps[i].due_minor) {
            out = difference(run_id, in.cutoff, n_steps, no, "due", jv_amount(db_i64(r, (int)i, 4), cur),
                             jv_amount(steps[i].due_minor, cur));
        } else if (db_i64(r, (int)i, 5) != steps[i].amount_minor) {
            out = difference(run_id, in.cutoff, n_steps, no, "amount", jv_amount(db_i64(r, (int)i, 5), cur),
                             jv_amount(steps[i].amount_minor, cur));
        }
    }
    if (out == NULL && rows > (int)n_steps) {
        out = difference(run_id, in.cutoff, n_steps, (int)n_steps + 1, "step", json_string(db_str(r, (int)n_steps, 1)),
                         json_null());
    }
    PQclear(r);
    if (out == NULL) {
        out = json_pack("{s:I, s:b, s:I, s:I, s:n}", "run_id", (json_int_t)run_id, "ok", 1, "steps",
                        (json_int_t)n_steps, "journal_cutoff_entry_id", (json_int_t)in.cutoff, "difference");
    }
    if (out == NULL) {
        fl_error_set(err, FLE_INTERNAL, NULL, "out of memory");
    }
    return out;
}

/* ------------------------------------------------------------------------------------------ */
/* Settings                                                                                   */

json_t *fund_settings_propose(struct db *db, const struct principal *maker, int64_t fund_id, const char *mode_text,
                              const char *reserve_target, struct fl_error *err)
{
    assert(db_in_tx(db) && maker != NULL);
    char cur[CURRENCY_CODE_BYTES];
    if (fund_exists(db, fund_id, cur, err) != FLE_OK) {
        return NULL;
    }
    if (mode_text == NULL && reserve_target == NULL) {
        fl_error_set(err, FLE_MISSING_FIELD, "waterfall_mode", "give waterfall_mode and/or reserve_target");
        return NULL;
    }
    if (mode_text != NULL && strcmp(mode_text, "sequential") != 0 && strcmp(mode_text, "pro_rata") != 0) {
        fl_error_set(err, FLE_BAD_FIELD, "waterfall_mode", "sequential or pro_rata");
        return NULL;
    }
    int64_t target = 0;
    if (reserve_target != NULL) {
        money_status ms = money_parse_amount(reserve_target, money_currency_exponent(cur), &target);
        if (ms != MONEY_OK) {
            fl_error_set(err, FLE_BAD_FIELD, "reserve_target", "a decimal >= 0 in %s: %s", cur, money_status_text(ms));
            return NULL;
        }
    }
    json_t *payload = json_pack("{s:o, s:o}", "waterfall_mode", mode_text ? json_string(mode_text) : json_null(),
                                "reserve_target", reserve_target ? jv_amount(target, cur) : json_null());
    if (payload == NULL) {
        fl_error_set(err, FLE_INTERNAL, NULL, "out of memory");
        return NULL;
    }
    return approval_propose(db, maker, fund_id, "fund_settings", payload, target, cur, err);
}

enum fl_err fund_settings_execute(struct db *db, const struct proposal *p, const struct principal *approver,
                                  int64_t *entry_id, struct fl_error *err)
{
    *entry_id = 0;
    const json_t *mode = json_object_get(p->payload, "waterfall_mode");
    /* reserve_target; reserve_target_minor (integer) in a payload stored before amounts were strings. */
    int64_t target = 0;
    bool has_target =
        jv_stored_amount(p->payload, "reserve_target", "reserve_target_minor", p->currency, false, &target);
    char fb[21], tb[21];
    const char *params[3] = {db_i64_text(p->fund_id, fb), json_is_string(mode) ? json_string_value(mode) : NULL,
                             has_target ? db_i64_text(target, tb) : NULL};
    PGresult *r = db_exec_rows(db, "fund_settings_update", 3, params, 1, err);
    if (r == NULL) {
        return err->code;
    }
    json_t *detail = json_pack("{s:s, s:o, s:I}", "waterfall_mode", db_str(r, 0, 0), "reserve_target",
                               jv_amount(db_i64(r, 0, 1), p->currency), "proposal_id", (json_int_t)p->id);
    PQclear(r);
    return audit_record(db, approver, "fund.settings", "fund", fb, p->fund_id, detail, err);
}
