/* schedver: stored schedule versions of loans (docs/loan-servicing.md §4, §11). */
#include "fundledger/schedver.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fundledger/loan.h"
#include "fundledger/jsonv.h"
#include "fundledger/servicing.h"

static const char *const reason_names[] = {"approval", "drawdown", "prepayment", "capitalisation"};

const char *schedver_reason_name(schedver_reason r)
{
    assert((size_t)r < sizeof reason_names / sizeof reason_names[0]);
    return reason_names[r];
}

void schedver_init(struct schedver_batch *b)
{
    for (int i = 0; i < 7; i++) {
        db_array_init(&b->h[i]);
    }
    for (int i = 0; i < 9; i++) {
        db_array_init(&b->r[i]);
    }
    b->n = 0;
}

void schedver_free(struct schedver_batch *b)
{
    for (int i = 0; i < 7; i++) {
        db_array_free(&b->h[i]);
    }
    for (int i = 0; i < 9; i++) {
        db_array_free(&b->r[i]);
    }
    b->n = 0;
}

static bool add_header(struct schedver_batch *b, int64_t loan_id, int version, schedver_reason reason,
                       int64_t disbursement_id, int64_t repayment_id, const char *valid_from, int64_t through)
{
    assert(loan_id > 0 && version >= 1 && valid_from != NULL);
    bool ok = db_array_i64(&b->h[0], loan_id) && db_array_i64(&b->h[1], version) &&
              db_array_text(&b->h[2], schedver_reason_name(reason)) &&
              (disbursement_id > 0 ? db_array_i64(&b->h[3], disbursement_id) : db_array_null(&b->h[3])) &&
              (repayment_id > 0 ? db_array_i64(&b->h[4], repayment_id) : db_array_null(&b->h[4])) &&
              db_array_text(&b->h[5], valid_from) && db_array_i64(&b->h[6], through);
    b->n++;
    return ok;
}

static bool add_row(struct schedver_batch *b, int64_t loan_id, int version, int no, rate_date due, int64_t principal,
                    int64_t interest, int64_t capitalised, int64_t principal_paid, int64_t interest_paid)
{
    char d[16];
    snprintf(d, sizeof d, "%04d-%02d-%02d", due.y, due.m, due.d);
    return db_array_i64(&b->r[0], loan_id) && db_array_i64(&b->r[1], version) && db_array_i64(&b->r[2], no) &&
           db_array_text(&b->r[3], d) && db_array_i64(&b->r[4], principal) && db_array_i64(&b->r[5], interest) &&
           db_array_i64(&b->r[6], capitalised) && db_array_i64(&b->r[7], principal_paid) &&
           db_array_i64(&b->r[8], interest_paid);
}

bool schedver_add(struct schedver_batch *b, int64_t loan_id, int version, schedver_reason reason,
                  int64_t disbursement_id, int64_t repayment_id, const char *valid_from, int64_t repayments_through,
                  const struct accrual_row *rows, size_t n)
{
    assert(b != NULL && (rows != NULL || n == 0));
    bool ok = add_header(b, loan_id, version, reason, disbursement_id, repayment_id, valid_from, repayments_through);
    for (size_t i = 0; ok && i < n; i++) {
        const struct accrual_row *x = &rows[i];
        ok = add_row(b, loan_id, version, (int)i + 1, x->due, x->principal_minor, x->interest_minor,
                     x->capitalised_minor, x->principal_paid_minor, x->interest_paid_minor);
    }
    return ok;
}

bool schedver_add_approval(struct schedver_batch *b, int64_t loan_id, const char *approved_on, const schedule_row *rows,
                           size_t n)
{
    assert(b != NULL && (rows != NULL || n == 0));
    bool ok = add_header(b, loan_id, 1, SCHEDVER_APPROVAL, 0, 0, approved_on, 0);
    for (size_t i = 0; ok && i < n; i++) {
        const schedule_row *x = &rows[i];
        ok = add_row(b, loan_id, 1, x->no, x->due_date, x->principal_minor, x->interest_minor, x->capitalised_minor, 0,
                     0);
    }
    return ok;
}

enum fl_err schedver_flush(struct db *db, struct schedver_batch *b, struct fl_error *err)
{
    assert(db_in_tx(db));
    if (b->n == 0) {
        return FLE_OK;
    }
    const char *ph[7], *pr[9];
    for (int i = 0; i < 7; i++) {
        if ((ph[i] = db_array_str(&b->h[i])) == NULL) {
            return fl_error_set(err, FLE_INTERNAL, NULL, "out of memory");
        }
    }
    for (int i = 0; i < 9; i++) {
        if ((pr[i] = db_array_str(&b->r[i])) == NULL) {
            return fl_error_set(err, FLE_INTERNAL, NULL, "out of memory");
        }
    }
    PGresult *r = db_exec(db, "schedver_flush", 7, ph, err);
    if (r == NULL) {
        return err->code;
    }
    PQclear(r);
    if (b->r[0].n > 0) {
        if ((r = db_exec(db, "schedver_flush_rows", 9, pr, err)) == NULL) {
            return err->code;
        }
        PQclear(r);
    }
    schedver_free(b);
    schedver_init(b);
    return FLE_OK;
}

enum fl_err schedver_latest(struct db *db, const int64_t *ids, size_t n, int *versions, struct fl_error *err)
{
    struct db_array a;
    db_array_init(&a);
    for (size_t i = 0; i < n; i++) {
        versions[i] = 0;
        db_array_i64(&a, ids[i]);
    }
    const char *p[1] = {db_array_str(&a)};
    if (p[0] == NULL) {
        db_array_free(&a);
        return fl_error_set(err, FLE_INTERNAL, NULL, "out of memory");
    }
    PGresult *r = db_exec(db, "schedver_latest", 1, p, err);
    db_array_free(&a);
    if (r == NULL) {
        return err->code;
    }
    /* Rows in loan id order, ids ascending: one merge. */
    size_t i = 0;
    for (int row = 0; row < PQntuples(r); row++) {
        int64_t id = db_i64(r, row, 0);
        while (i < n && ids[i] < id) {
            i++;
        }
        if (i < n && ids[i] == id) {
            versions[i] = (int)db_i64(r, row, 1);
        }
    }
    PQclear(r);
    return FLE_OK;
}

enum fl_err schedver_after_disbursement(struct db *db, int64_t loan_id, int64_t disbursement_id, const char *value_date,
                                        struct fl_error *err)
{
    assert(db_in_tx(db) && loan_id > 0 && disbursement_id > 0);
    struct servicing_set s;
    struct accrual_loan *acc = NULL;
    struct accrual_row *rows = NULL;
    struct schedver_batch b;
    schedver_init(&b);
    enum fl_err e = servicing_load(db, &loan_id, 1, &s, err);
    const struct servicing_loan *sl = e == FLE_OK ? servicing_find(&s, loan_id) : NULL;
    if (sl == NULL || !sl->accrual) {
        goto done; /* e as it is: a 'schedule' basis loan keeps its approval schedule */
    }
    acc = malloc(sizeof *acc);
    rows = malloc(SCHEDULE_INSTALMENTS_MAX * sizeof *rows);
    if (acc == NULL || rows == NULL) {
        e = fl_error_set(err, FLE_INTERNAL, NULL, "out of memory");
        goto done;
    }
    long bad = -1;
    size_t n = 0;
    if (servicing_replay(&s, sl, acc, &bad) != ACCRUAL_OK || accrual_loan_version(acc, rows, &n) != ACCRUAL_OK) {
        goto done; /* no state the engine can show: no version */
    }
    char lb[21];
    const char *p[1] = {db_i64_text(loan_id, lb)};
    PGresult *r = db_exec_rows(db, "schedver_after_disbursement", 1, p, 1, err);
    if (r == NULL) {
        e = err->code;
        goto done;
    }
    int version = (int)db_i64(r, 0, 0) + 1;
    int64_t through = db_i64(r, 0, 1);
    PQclear(r);
    if (!schedver_add(&b, loan_id, version, SCHEDVER_DRAWDOWN, disbursement_id, 0, value_date, through, rows, n)) {
        e = fl_error_set(err, FLE_INTERNAL, NULL, "out of memory");
        goto done;
    }
    e = schedver_flush(db, &b, err);
done:
    schedver_free(&b);
    free(rows);
    free(acc);
    servicing_free(&s);
    return e;
}

json_t *schedver_list(struct db *db, int64_t loan_id, struct fl_error *err)
{
    char cur[CURRENCY_CODE_BYTES];
    if (loan_currency(db, loan_id, cur, err) != FLE_OK) {
        return NULL;
    }
    char lb[21];
    const char *p[1] = {db_i64_text(loan_id, lb)};
    PGresult *r = NULL;
    if ((r = db_exec(db, "schedver_list", 1, p, err)) == NULL) {
        return NULL;
    }
    json_t *list = json_array();
    json_t *v = NULL, *rows = NULL;
    int at = -1;
    for (int i = 0; list != NULL && i < PQntuples(r); i++) {
        int version = (int)db_i64(r, i, 0);
        if (version != at) {
            at = version;
            rows = json_array();
            v = json_pack(
                "{s:i, s:s, s:o, s:o, s:s, s:s, s:o}", "version", version, "reason", db_str(r, i, 1), "disbursement_id",
                PQgetisnull(r, i, 2) ? json_null() : json_integer((json_int_t)db_i64(r, i, 2)), "repayment_id",
                PQgetisnull(r, i, 3) ? json_null() : json_integer((json_int_t)db_i64(r, i, 3)), "valid_from",
                db_str(r, i, 4), "created_at", db_str(r, i, 5), "rows", rows);
            if (v == NULL || json_array_append_new(list, v) != 0) {
                json_decref(list);
                list = NULL;
                break;
            }
        }
        if (PQgetisnull(r, i, 6)) {
            continue; /* a version without rows */
        }
        int64_t pr = db_i64(r, i, 8), in = db_i64(r, i, 9);
        json_array_append_new(rows,
                              json_pack("{s:i, s:s, s:o, s:o, s:o, s:o, s:o, s:o}", "no", (int)db_i64(r, i, 6),
                                        "due_date", db_str(r, i, 7), "principal", jv_amount(pr, cur), "interest",
                                        jv_amount(in, cur), "capitalised", jv_amount(db_i64(r, i, 10), cur), "total",
                                        jv_amount(pr + in, cur), "principal_paid", jv_amount(db_i64(r, i, 11), cur),
                                        "interest_paid", jv_amount(db_i64(r, i, 12), cur)));
    }
    PQclear(r);
    if (list == NULL) {
        fl_error_set(err, FLE_INTERNAL, NULL, "out of memory");
        return NULL;
    }
    return json_pack("{s:I, s:s, s:o}", "loan_id", (json_int_t)loan_id, "currency", cur, "versions", list);
}
