/* writeoff_view: a write-off's effect before it is approved (read only; the inbox shows it). The
 * loss allocation is waterfall_allocate_loss over the active tranches' capital, and the allowance
 * used is provision_write_off over the loan's allowance held, the same functions and statements
 * writeoff_execute posts with (docs/fund-operations.md, write-offs). */
#include "fundledger/writeoff_view.h"

#include <assert.h>
#include <inttypes.h>
#include <string.h>

#include "fundledger/jsonv.h"
#include "fundledger/money.h"
#include "fundledger/provision.h"
#include "fundledger/repayment.h"
#include "fundledger/waterfall.h"

/* The loan's allowance that a write-off would use now: held (last run less what write-offs since
 * used), at most what the tranches' ALLOWANCE accounts carry. */
static enum fl_err allowance_available(struct db *db, int64_t fund_id, int64_t loan_id, const char *currency,
                                       int64_t *held, int64_t *available, struct fl_error *err)
{
    char fb[21], lb[21];
    const char *ph[2] = {db_i64_text(fund_id, fb), db_i64_text(loan_id, lb)};
    PGresult *r = db_exec(db, "writeoff_allowance_held", 2, ph, err);
    if (r == NULL) {
        return err->code;
    }
    *held = db_i64(r, 0, 0);
    bool has_1190 = !db_null(r, 0, 1);
    PQclear(r);
    *available = 0;
    if (*held <= 0 || !has_1190) {
        *held = *held > 0 ? *held : 0;
        return FLE_OK;
    }
    const char *pt[2] = {fb, currency};
    if ((r = db_exec(db, "writeoff_allowance_tranches", 2, pt, err)) == NULL) {
        return err->code;
    }
    int64_t on_books = 0;
    for (int i = 0; i < PQntuples(r); i++) {
        int64_t b = db_i64(r, i, 1);
        on_books += b > 0 ? b : 0;
    }
    PQclear(r);
    *available = *held < on_books ? *held : on_books;
    return FLE_OK;
}

json_t *writeoff_preview(struct db *db, int64_t loan_id, const char *amount, struct fl_error *err)
{
    assert(db != NULL && loan_id > 0);
    char lb[21];
    const char *p[1] = {db_i64_text(loan_id, lb)};
    PGresult *r = db_exec(db, "writeoff_preview_loan", 1, p, err);
    if (r == NULL) {
        return NULL;
    }
    if (PQntuples(r) == 0) {
        PQclear(r);
        fl_error_set(err, FLE_NOT_FOUND, "loan_id", "no loan %" PRId64, loan_id);
        return NULL;
    }
    int64_t fund_id = db_i64(r, 0, 0), entrepreneur_id = db_i64(r, 0, 3);
    char currency[4], status[24];
    snprintf(currency, sizeof currency, "%s", db_str(r, 0, 1));
    snprintf(status, sizeof status, "%s", db_str(r, 0, 2));
    PQclear(r);
    int exponent = money_currency_exponent(currency);
    json_t *arrears = loan_arrears(db, loan_id, NULL, err);
    if (arrears == NULL) {
        return NULL;
    }
    int64_t outstanding = 0;
    const char *os = json_string_value(json_object_get(arrears, "principal_outstanding"));
    bool read = os != NULL && exponent >= 0 && money_parse(os, exponent, false, &outstanding) == MONEY_OK;
    json_decref(arrears);
    if (!read) {
        fl_error_set(err, FLE_INTERNAL, NULL, "loan %" PRId64 ": no principal outstanding", loan_id);
        return NULL;
    }
    int64_t loss = outstanding;
    if (amount != NULL) {
        money_status ms = money_parse_amount(amount, exponent, &loss);
        if (ms != MONEY_OK || loss <= 0) {
            fl_error_set(err, FLE_BAD_FIELD, "amount", "%s",
                         ms != MONEY_OK ? money_status_text(ms) : "must be more than zero");
            return NULL;
        }
    }
    if (loss > outstanding) {
        char ob[MONEY_TEXT_MAX];
        money_format(outstanding, exponent, ob, sizeof ob);
        fl_error_set(err, FLE_BAD_FIELD, "amount", "above the principal outstanding (%s %s)", ob, currency);
        return NULL;
    }
    int64_t held = 0, available = 0, used = 0, extra = 0;
    if (allowance_available(db, fund_id, loan_id, currency, &held, &available, err) != FLE_OK) {
        return NULL;
    }
    if (provision_write_off(loss, available, &used, &extra) != PROVISION_OK) {
        fl_error_set(err, FLE_INTERNAL, NULL, "cannot use the allowance of loan %" PRId64, loan_id);
        return NULL;
    }
    /* The active tranches in the currency, most senior first (as writeoff_execute's stack). */
    char fb[21];
    const char *pt[2] = {db_i64_text(fund_id, fb), currency};
    if ((r = db_exec(db, "repayment_tranches", 2, pt, err)) == NULL) {
        return NULL;
    }
    int64_t ids[WATERFALL_TRANCHES_MAX], capital[WATERFALL_TRANCHES_MAX], absorbed[WATERFALL_TRANCHES_MAX];
    size_t n = 0;
    for (int i = 0; i < PQntuples(r); i++) {
        if (strcmp(db_str(r, i, 2), "active") != 0) {
            continue;
        }
        if (n == WATERFALL_TRANCHES_MAX) {
            PQclear(r);
            fl_error_set(err, FLE_RULE, "loan_id", "more than %d tranches", WATERFALL_TRANCHES_MAX);
            return NULL;
        }
        int64_t cap = -db_i64(r, i, 3);
        ids[n] = db_i64(r, i, 0);
        capital[n++] = cap > 0 ? cap : 0;
    }
    PQclear(r);
    if (n == 0) {
        fl_error_set(err, FLE_RULE, "loan_id", "the fund has no active tranche in %s", currency);
        return NULL;
    }
    int64_t unabsorbed = 0;
    if (waterfall_allocate_loss(loss, capital, n, absorbed, &unabsorbed) != WATERFALL_OK) {
        fl_error_set(err, FLE_INTERNAL, NULL, "cannot allocate the loss");
        return NULL;
    }
    json_t *tranches = json_array();
    for (size_t i = 0; tranches != NULL && i < n; i++) {
        char tb[21];
        const char *q[1] = {db_i64_text(ids[i], tb)};
        if ((r = db_exec(db, "writeoff_preview_tranche", 1, q, err)) == NULL) {
            json_decref(tranches);
            return NULL;
        }
        json_array_append_new(tranches,
                              json_pack("{s:I, s:s, s:I, s:o, s:o, s:o}", "tranche_id", (json_int_t)ids[i], "name",
                                        db_str(r, 0, 0), "rank", (json_int_t)db_i64(r, 0, 1), "capital",
                                        jv_amount(capital[i], currency), "absorbed", jv_amount(absorbed[i], currency),
                                        "capital_after", jv_amount(capital[i] - absorbed[i], currency)));
        PQclear(r);
    }
    json_t *out =
        json_pack("{s:I, s:I, s:I, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "loan_id", (json_int_t)loan_id,
                  "fund_id", (json_int_t)fund_id, "entrepreneur_id", (json_int_t)entrepreneur_id, "currency", currency,
                  "loan_status", status, "principal_outstanding", jv_amount(outstanding, currency), "amount",
                  jv_amount(loss, currency), "allowance_held", jv_amount(held, currency), "allowance_used",
                  jv_amount(used, currency), "loss_beyond_allowance", jv_amount(extra, currency), "tranches",
                  tranches ? tranches : json_array(), "unabsorbed", jv_amount(unabsorbed, currency));
    if (out == NULL) {
        fl_error_set(err, FLE_INTERNAL, NULL, "out of memory");
    }
    return out;
}
