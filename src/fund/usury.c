/* usury: the usury cap in force for a loan on a date, and the margin of its rate under it. */
#include "fundledger/usury.h"

#include <assert.h>
#include <libpq-fe.h>

#include "fundledger/loan.h"
#include "fundledger/rate.h"

static json_t *rate_json(int64_t rate)
{
    char buf[RATE_TEXT_MAX];
    return rate_format(rate, buf, sizeof buf) > 0 ? json_string(buf) : json_null();
}

json_t *usury_on(struct db *db, const char *modality, int64_t rate, const char *on, struct fl_error *err)
{
    assert(db != NULL && modality != NULL && on != NULL);
    const char *p[2] = {modality, on};
    PGresult *r = db_exec(db, "usury_cap_on", 2, p, err);
    if (r == NULL) {
        return NULL;
    }
    json_t *out = json_pack("{s:s, s:s, s:o}", "modality", modality, "on", on, "annual_rate", rate_json(rate));
    if (out != NULL && PQntuples(r) == 1) {
        int64_t cap = db_i64(r, 0, 0);
        json_object_set_new(out, "cap", rate_json(cap));
        json_object_set_new(out, "margin", rate_json(cap - rate)); /* both within 0..RATE_MAX */
        json_object_set_new(out, "valid_from", json_string(db_str(r, 0, 1)));
        json_object_set_new(out, "valid_to", json_string(db_str(r, 0, 2)));
        json_object_set_new(out, "source", json_string(db_str(r, 0, 3)));
    } else if (out != NULL) {
        json_object_set_new(out, "cap", json_null());
        json_object_set_new(out, "margin", json_null());
        json_object_set_new(out, "valid_from", json_null());
        json_object_set_new(out, "valid_to", json_null());
        json_object_set_new(out, "source", json_null());
    }
    PQclear(r);
    if (out == NULL) {
        fl_error_set(err, FLE_INTERNAL, NULL, "out of memory");
    }
    return out;
}

json_t *usury_margin(struct db *db, int64_t loan_id, const char *on, struct fl_error *err)
{
    assert(db != NULL && on != NULL);
    json_t *loan = loan_get(db, loan_id, err);
    if (loan == NULL) {
        return NULL;
    }
    const char *modality = json_string_value(json_object_get(loan, "modality"));
    const char *rate_text = json_string_value(json_object_get(loan, "annual_rate"));
    int64_t rate = 0;
    if (modality == NULL || rate_text == NULL || rate_parse(rate_text, &rate) != RATE_OK) {
        json_decref(loan);
        fl_error_set(err, FLE_INTERNAL, NULL, "the loan has no readable modality or rate");
        return NULL;
    }
    json_t *out = usury_on(db, modality, rate, on, err);
    json_decref(loan);
    if (out != NULL) {
        json_object_set_new(out, "loan_id", json_integer(loan_id));
    }
    return out;
}
