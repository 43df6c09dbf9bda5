/* allowance: the loss allowance posted for a date (docs/fund-operations.md, "Loss allowance"). */
#include "fundledger/allowance.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fundledger/audit.h"
#include "fundledger/fund.h"
#include "fundledger/jsonv.h"
#include "fundledger/ledger.h"
#include "fundledger/limits.h"
#include "fundledger/money.h"
#include "fundledger/provision.h"
#include "fundledger/tranche.h"
#include "fundledger/waterfall.h"

/* Loans read per page of the fund's arrears. */
#define ALLOWANCE_PAGE 10000

struct loan_row {
    int64_t loan_id, principal, allowance, rate;
    int dpd;
    char category[PROVISION_CATEGORY_BYTES];
};

static enum fl_err read_buckets(struct db *db, int64_t fund_id, const char *date, provision_bucket **rows, size_t *n,
                                struct fl_error *err)
{
    char fb[21];
    const char *p[2] = {db_i64_text(fund_id, fb), date};
    PGresult *r = db_exec(db, "provision_buckets", 2, p, err);
    if (r == NULL) {
        return err->code;
    }
    int k = PQntuples(r);
    *rows = calloc(k > 0 ? (size_t)k : 1, sizeof **rows);
    if (*rows == NULL) {
        PQclear(r);
        return fl_error_set(err, FLE_INTERNAL, NULL, "out of memory");
    }
    for (int i = 0; i < k; i++) {
        provision_bucket *b = &(*rows)[i];
        bool ok = ledger_date_parse(db_str(r, i, 0), &b->effective);
        assert(ok);
        (void)ok;
        b->dpd_from = (int)db_i64(r, i, 1);
        snprintf(b->category, sizeof b->category, "%s", db_str(r, i, 2));
        b->rate = db_i64(r, i, 3);
    }
    *n = (size_t)k;
    PQclear(r);
    return FLE_OK;
}

/* Every loan with principal outstanding on `date`, its bucket and allowance; *total the sum. */
static enum fl_err read_loans(struct db *db, int64_t fund_id, const char *date, const char *cur,
                              const provision_bucket *buckets, size_t nb, struct loan_row **out, size_t *n,
                              int64_t *total, struct fl_error *err)
{
    rate_date d;
    bool ok = ledger_date_parse(date, &d);
    assert(ok);
    (void)ok;
    size_t cap = 0;
    *out = NULL;
    *n = 0;
    *total = 0;
    int64_t after = 0;
    char fb[21], ab[21], lb[21];
    for (;;) {
        const char *p[4] = {db_i64_text(fund_id, fb), date, db_i64_text(after, ab), db_i64_text(ALLOWANCE_PAGE, lb)};
        PGresult *r = db_exec(db, "portfolio_arrears_list", 4, p, err);
        if (r == NULL) {
            return err->code;
        }
        int rows = PQntuples(r);
        for (int i = 0; i < rows; i++) {
            after = db_i64(r, i, 0);
            int64_t principal = db_i64(r, i, 2);
            if (principal <= 0) {
                continue;
            }
            if (strcmp(db_str(r, i, 1), cur) != 0) {
                enum fl_err e = fl_error_set(err, FLE_RULE, "fund_id",
                                             "loan %" PRId64 " is in %s, the fund's allowance is kept in %s", after,
                                             db_str(r, i, 1), cur);
                PQclear(r);
                return e;
            }
            if (*n == cap) {
                size_t nc = cap ? cap * 2 : 256;
                struct loan_row *g = realloc(*out, nc * sizeof *g);
                if (g == NULL) {
                    PQclear(r);
                    return fl_error_set(err, FLE_INTERNAL, NULL, "out of memory");
                }
                *out = g;
                cap = nc;
            }
            struct loan_row *l = &(*out)[*n];
            l->loan_id = after;
            l->principal = principal;
            int64_t dpd = db_i64(r, i, 3);
            l->dpd = dpd < 0 ? 0 : dpd > 1000000 ? 1000000 : (int)dpd;
            size_t b = 0;
            provision_status ps = provision_bucket_find(buckets, nb, d, l->dpd, &b);
            if (ps == PROVISION_OK) {
                l->rate = buckets[b].rate;
                snprintf(l->category, sizeof l->category, "%s", buckets[b].category);
                ps = provision_allowance(principal, l->rate, &l->allowance);
            }
            if (ps != PROVISION_OK) {
                PQclear(r);
                return fl_error_set(err, FLE_RULE, "date",
                                    ps == PROVISION_ERR_NO_TABLE
                                        ? "no loss allowance table (days-past-due buckets from 0) in force on %s"
                                        : "loan allowance out of range on %s",
                                    date);
            }
            if (!money_add(*total, l->allowance, total)) {
                PQclear(r);
                return fl_error_set(err, FLE_RULE, "date", "allowance total overflows");
            }
            (*n)++;
        }
        PQclear(r);
        if (rows < ALLOWANCE_PAGE) {
            return FLE_OK;
        }
    }
}

json_t *provision_run(struct db *db, const struct principal *actor, int64_t fund_id, const char *date,
                      struct fl_error *err)
{
    assert(db_in_tx(db) && actor != NULL);
    struct fund_settings fs;
    if (fund_lock(db, fund_id, &fs, err) != FLE_OK) {
        return NULL;
    }
    char fb[21];
    db_i64_text(fund_id, fb);
    char cur[CURRENCY_CODE_BYTES];
    snprintf(cur, sizeof cur, "%s", fs.base_currency);
    PGresult *r;
    char today[DATE_TEXT_BYTES];
    tranche_today(today);
    if (date == NULL) {
        fl_error_set(err, FLE_MISSING_FIELD, "date", "required");
        return NULL;
    }
    if (!ledger_date_valid(date) || strcmp(date, today) > 0) {
        fl_error_set(err, FLE_BAD_FIELD, "date", "a date YYYY-MM-DD, not in the future");
        return NULL;
    }
    const char *pd[2] = {fb, date};
    if ((r = db_exec(db, "provision_last", 2, pd, err)) == NULL) {
        return NULL;
    }
    bool same = !db_null(r, 0, 0) && strcmp(db_str(r, 0, 0), date) == 0;
    bool later = !db_null(r, 0, 1);
    char last[DATE_TEXT_BYTES] = "";
    if (later) {
        snprintf(last, sizeof last, "%s", db_str(r, 0, 1));
    }
    PQclear(r);
    if (same) {
        json_t *o = provision_get(db, fund_id, date, 0, PAGE_SIZE_MAX, err);
        if (o != NULL) {
            json_object_set_new(o, "replayed", json_true());
        }
        return o;
    }
    if (later) {
        fl_error_set(err, FLE_BAD_FIELD, "date", "on or after the last provision run's date %s", last);
        return NULL;
    }

    provision_bucket *buckets = NULL;
    size_t nb = 0;
    struct loan_row *loans = NULL;
    size_t nl = 0;
    int64_t total = 0;
    json_t *out = NULL;
    if (read_buckets(db, fund_id, date, &buckets, &nb, err) != FLE_OK ||
        read_loans(db, fund_id, date, cur, buckets, nb, &loans, &nl, &total, err) != FLE_OK) {
        goto done;
    }
    /* Tranches most senior first, capital on the date, allowance posted so far. */
    if ((r = db_exec(db, "provision_tranches", 2, pd, err)) == NULL) {
        goto done;
    }
    size_t nt = (size_t)PQntuples(r);
    if (nt == 0 || nt > WATERFALL_TRANCHES_MAX || nt + 1 > LEDGER_LINES_MAX) {
        PQclear(r);
        fl_error_set(err, FLE_RULE, "fund_id",
                     "the allowance is allocated over 1 to %d tranches in %s; the fund has %zu", WATERFALL_TRANCHES_MAX,
                     cur, nt);
        goto done;
    }
    int64_t tid[WATERFALL_TRANCHES_MAX], capital[WATERFALL_TRANCHES_MAX], posted[WATERFALL_TRANCHES_MAX];
    int64_t alloc[WATERFALL_TRANCHES_MAX], acc[WATERFALL_TRANCHES_MAX];
    for (size_t i = 0; i < nt; i++) {
        tid[i] = db_i64(r, (int)i, 0);
        int64_t c = db_i64(r, (int)i, 1);
        capital[i] = c > 0 ? c : 0;
        posted[i] = db_i64(r, (int)i, 2);
    }
    PQclear(r);
    int64_t unabsorbed = 0;
    waterfall_status ws = provision_allocate(total, capital, nt, alloc, &unabsorbed);
    if (ws != WATERFALL_OK) {
        fl_error_set(err, FLE_RULE, "date", "allowance allocation: %s", waterfall_status_text(ws));
        goto done;
    }
    /* An allowance above the whole stack's capital stays with the most junior tranche: the
     * capital cannot absorb it, but it is never dropped. */
    alloc[nt - 1] += unabsorbed;
    int64_t b1190 = 0, change_total = 0;
    if (fund_account_ensure(db, actor, fund_id, "1190", "Loan loss allowance", "asset", cur, &b1190, err) != FLE_OK) {
        goto done;
    }
    static _Thread_local struct ledger_entry entry;
    memset(&entry, 0, sizeof entry);
    for (size_t i = 0; i < nt; i++) {
        char code[48], name[96];
        snprintf(code, sizeof code, "T%" PRId64 ".ALLOWANCE", tid[i]);
        snprintf(name, sizeof name, "Tranche %" PRId64 ": loss allowance allocated", tid[i]);
        if (fund_account_ensure(db, actor, fund_id, code, name, "equity", cur, &acc[i], err) != FLE_OK) {
            goto done;
        }
        int64_t ch = alloc[i] - posted[i];
        change_total += ch;
        if (ch != 0) {
            struct ledger_line *l = &entry.lines[entry.n_lines++];
            l->account_id = acc[i];
            l->amount_minor = ch;
            memcpy(l->currency, cur, CURRENCY_CODE_BYTES);
        }
    }
    if (change_total != 0) {
        struct ledger_line *l = &entry.lines[entry.n_lines++];
        l->account_id = b1190;
        l->amount_minor = -change_total;
        memcpy(l->currency, cur, CURRENCY_CODE_BYTES);
    }
    /* The run's id first: the entry names it, and the run row (append-only) names the entry. */
    if ((r = db_exec(db, "provision_next_id", 0, NULL, err)) == NULL) {
        goto done;
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
        snprintf(entry.event_type, sizeof entry.event_type, "provision");
        snprintf(entry.event_ref, sizeof entry.event_ref, "provision_run:%" PRId64, run_id);
        snprintf(entry.memo, sizeof entry.memo, "loss allowance as of %s", date);
        const struct ledger_entry *ptr = &entry;
        if (ledger_post(db, &ptr, 1, &entry_id, err) != FLE_OK) {
            goto done;
        }
    }
    char ab[21], cb[21], eb[21], ub[21];
    const char *pr[7] = {rb,
                         fb,
                         date,
                         db_i64_text(total, ab),
                         db_i64_text(change_total, cb),
                         entry_id ? db_i64_text(entry_id, eb) : NULL,
                         db_i64_text(actor->user_id, ub)};
    if ((r = db_exec(db, "provision_insert_run", 7, pr, err)) == NULL) {
        goto done;
    }
    PQclear(r);
    /* The loans and tranches of the run, as arrays. */
    struct db_array a[6];
    for (int k = 0; k < 6; k++) {
        db_array_init(&a[k]);
    }
    for (size_t i = 0; i < nl; i++) {
        db_array_i64(&a[0], loans[i].loan_id);
        db_array_i64(&a[1], loans[i].dpd);
        db_array_text(&a[2], loans[i].category);
        db_array_i64(&a[3], loans[i].rate);
        db_array_i64(&a[4], loans[i].principal);
        db_array_i64(&a[5], loans[i].allowance);
    }
    r = db_exec_arrays(db, "provision_insert_loans", rb, a, 6, err);
    if (r == NULL) {
        goto done;
    }
    PQclear(r);
    for (int k = 0; k < 3; k++) {
        db_array_init(&a[k]);
    }
    for (size_t i = 0; i < nt; i++) {
        db_array_i64(&a[0], tid[i]);
        db_array_i64(&a[1], capital[i]);
        db_array_i64(&a[2], alloc[i]);
    }
    r = db_exec_arrays(db, "provision_insert_tranches", rb, a, 3, err);
    if (r == NULL) {
        goto done;
    }
    PQclear(r);
    /* Amounts as decimal strings, in the stored audit detail too. */
    json_t *detail = json_pack("{s:s, s:s, s:o, s:o, s:I}", "date", date, "currency", cur, "allowance",
                               jv_amount(total, cur), "change", jv_amount(change_total, cur), "loans", (json_int_t)nl);
    if (audit_record(db, actor, "provision.run", "provision_run", rb, fund_id, detail, err) != FLE_OK) {
        goto done;
    }
    out = provision_get(db, fund_id, date, 0, PAGE_SIZE_MAX, err);
    if (out != NULL) {
        json_object_set_new(out, "replayed", json_false());
    }
done:
    free(buckets);
    free(loans);
    return out;
}

json_t *provision_get(struct db *db, int64_t fund_id, const char *as_of, int64_t after_id, unsigned limit,
                      struct fl_error *err)
{
    assert(limit >= 1 && limit <= PAGE_SIZE_MAX);
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
    PGresult *r = db_exec(db, "provision_get", 2, p, err);
    if (r == NULL) {
        return NULL;
    }
    if (PQntuples(r) != 1) {
        PQclear(r);
        fl_error_set(err, FLE_NOT_FOUND, "as_of", "no provision run of fund %" PRId64 " on or before %s", fund_id, d);
        return NULL;
    }
    char rb[21];
    int64_t run_id = db_i64(r, 0, 0);
    db_i64_text(run_id, rb);
    json_t *o = json_pack("{s:I, s:I, s:s, s:s, s:o, s:o, s:o}", "run_id", (json_int_t)run_id, "fund_id",
                          (json_int_t)fund_id, "as_of", db_str(r, 0, 1), "currency", cur, "allowance",
                          jv_amount(db_i64(r, 0, 2), cur), "change", jv_amount(db_i64(r, 0, 3), cur), "entry_id",
                          db_null(r, 0, 4) ? json_null() : json_integer(db_i64(r, 0, 4)));
    PQclear(r);
    if (o == NULL) {
        fl_error_set(err, FLE_INTERNAL, NULL, "out of memory");
        return NULL;
    }
    const char *pr[1] = {rb};
    if ((r = db_exec(db, "provision_get_buckets", 1, pr, err)) == NULL) {
        json_decref(o);
        return NULL;
    }
    json_t *b = json_array();
    for (int i = 0; i < PQntuples(r); i++) {
        json_array_append_new(b, json_pack("{s:s, s:I, s:o, s:o}", "category", db_str(r, i, 0), "loans",
                                           (json_int_t)db_i64(r, i, 1), "principal", jv_amount(db_i64(r, i, 2), cur),
                                           "allowance", jv_amount(db_i64(r, i, 3), cur)));
    }
    PQclear(r);
    json_object_set_new(o, "buckets", b);
    if ((r = db_exec(db, "provision_get_tranches", 1, pr, err)) == NULL) {
        json_decref(o);
        return NULL;
    }
    json_t *t = json_array();
    for (int i = 0; i < PQntuples(r); i++) {
        json_array_append_new(t,
                              json_pack("{s:I, s:o, s:o}", "tranche_id", (json_int_t)db_i64(r, i, 0), "capital",
                                        jv_amount(db_i64(r, i, 1), cur), "allowance", jv_amount(db_i64(r, i, 2), cur)));
    }
    PQclear(r);
    json_object_set_new(o, "tranches", t);
    char ab[21], lb[21];
    const char *pl[3] = {rb, db_i64_text(after_id, ab), db_i64_text((int64_t)limit + 1, lb)};
    if ((r = db_exec(db, "provision_get_loans", 3, pl, err)) == NULL) {
        json_decref(o);
        return NULL;
    }
    int rows = PQntuples(r);
    bool more = rows > (int)limit;
    if (more) {
        rows = (int)limit;
    }
    json_t *l = json_array();
    for (int i = 0; i < rows; i++) {
        char rate[RATE_TEXT_MAX];
        rate_format(db_i64(r, i, 3), rate, sizeof rate);
        json_array_append_new(l, json_pack("{s:I, s:I, s:s, s:s, s:o, s:o}", "loan_id", (json_int_t)db_i64(r, i, 0),
                                           "days_past_due", (json_int_t)db_i64(r, i, 1), "category", db_str(r, i, 2),
                                           "rate", rate, "principal", jv_amount(db_i64(r, i, 4), cur), "allowance",
                                           jv_amount(db_i64(r, i, 5), cur)));
    }
    int64_t last = rows ? db_i64(r, rows - 1, 0) : 0;
    PQclear(r);
    json_object_set_new(o, "loans", l);
    json_object_set_new(o, "next_after", more ? json_integer(last) : json_null());
    return o;
}
