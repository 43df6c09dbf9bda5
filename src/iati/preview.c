/* preview: what the next IATI publication of a fund would be, without publishing it. The whole
 * publishing path (export, every check, the new version, the changes since the last one) runs in
 * one transaction that is then rolled back, so the preview is exactly what publishing now would
 * do and nothing of it is kept (no version, no audit record). */
#include "fundledger/iati_export.h"

#include <assert.h>
#include <string.h>

#include "fundledger/db.h"
#include "fundledger/money.h"

struct preview_args {
    const struct principal *who;
    const struct iati_export_options *o;
    struct iati_problems problems;
    json_t *reply; /* built inside the transaction */
    bool built;    /* the transaction is rolled back on purpose once this is true */
};

static json_t *decimal_or_null(int64_t minor, int exponent)
{
    char buf[MONEY_TEXT_MAX];
    if (money_format(minor, exponent, buf, sizeof buf) == 0) {
        return json_null();
    }
    return json_string(buf);
}

static enum fl_err preview_op(struct db *db, void *arg, struct fl_error *err)
{
    struct preview_args *a = arg;
    iati_problems_free(&a->problems); /* a retry starts over */
    iati_problems_init(&a->problems);
    json_decref(a->reply);
    a->reply = NULL;
    a->built = false;
    if (iati_export_snapshot(db, err) != FLE_OK) {
        return err->code;
    }
    /* The ledger's own figures first (a refused publication leaves nothing more to read). */
    struct iati_totals ledger;
    memset(&ledger, 0, sizeof ledger);
    if (iati_export_totals(db, a->o->fund_id, &ledger, err) != FLE_OK) {
        return err->code;
    }
    json_t *ledger_json = json_object();
    for (int t = 0; t < IATI_TX_COUNT_; t++) {
        if (ledger.total_minor[t] != 0) {
            json_object_set_new(ledger_json, iati_tx_code((enum iati_tx)t),
                                decimal_or_null(ledger.total_minor[t], ledger.exponent));
        }
    }
    struct fl_error cerr;
    fl_error_clear(&cerr);
    json_t *created = iati_publication_create(db, a->who, a->o, &a->problems, &cerr);
    json_t *changes = json_null();
    if (created != NULL) {
        changes = iati_publication_changes(db, a->o->fund_id, 0, err);
        if (changes == NULL) {
            json_decref(created);
            json_decref(ledger_json);
            return err->code;
        }
    } else if (cerr.code != FLE_RULE) {
        json_decref(ledger_json);
        *err = cerr;
        return err->code; /* a database fault, a conflict: no preview */
    }
    json_t *problems = iati_problems_json(&a->problems, 0);
    a->reply = json_pack("{s:I, s:b, s:s?, s:o, s:o*, s:o, s:o}", "fund_id", (json_int_t)a->o->fund_id,
                         "would_publish", created != NULL, "refusal", created != NULL ? NULL : cerr.message,
                         "ledger_totals", ledger_json, "problems", problems, "changes", changes, "publication",
                         created != NULL ? created : json_null());
    if (a->reply == NULL) {
        return fl_error_set(err, FLE_INTERNAL, NULL, "out of memory");
    }
    a->built = true;
    /* Any error rolls the transaction back: nothing of the trial publication stays. */
    return fl_error_set(err, FLE_INTERNAL, NULL, "preview: rolled back on purpose");
}

json_t *iati_publication_preview(struct db *db, const struct principal *who, const struct iati_export_options *o,
                                 struct fl_error *err)
{
    assert(db != NULL && who != NULL && o != NULL);
    struct preview_args a = {.who = who, .o = o};
    iati_problems_init(&a.problems);
    enum fl_err e = db_tx(db, preview_op, &a, err);
    iati_problems_free(&a.problems);
    if (a.built && e == FLE_INTERNAL) {
        fl_error_clear(err);
        return a.reply;
    }
    json_decref(a.reply);
    if (e == FLE_OK) { /* cannot happen: preview_op never commits */
        fl_error_set(err, FLE_INTERNAL, NULL, "preview committed");
    }
    return NULL;
}
