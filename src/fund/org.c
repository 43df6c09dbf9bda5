/* org: organisations and their IATI identity. */
#include "fundledger/org.h"

#include <assert.h>
#include <inttypes.h>
#include <string.h>

#include "fundledger/audit.h"
#include "fundledger/limits.h"

static bool kind_valid(const char *k)
{
    static const char *const kinds[] = {"investor", "fund_manager", "entrepreneur", "partner"};
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        if (k && strcmp(k, kinds[i]) == 0) {
            return true;
        }
    }
    return false;
}

/* IATI organisation identifier: registration agency prefix, '-', identifier; no spaces. */
static bool iati_ref_valid(const char *s)
{
    size_t n = strlen(s);
    if (n < 3 || n > 100 || strchr(s, '-') == NULL || s[0] == '-') {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool ok = (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '-' ||
                  c == '_' || c == '.' || c == '/';
        if (!ok) {
            return false;
        }
    }
    return true;
}

static json_t *row_json(const PGresult *r, int i)
{
    return json_pack("{s:I, s:s, s:s, s:o, s:o}", "id", (json_int_t)db_i64(r, i, 0), "name", db_str(r, i, 1), "kind",
                     db_str(r, i, 2), "iati_ref", db_null(r, i, 3) ? json_null() : json_string(db_str(r, i, 3)),
                     "iati_type", db_null(r, i, 4) ? json_null() : json_string(db_str(r, i, 4)));
}

json_t *org_create(struct db *db, const struct principal *actor, const char *name, const char *kind,
                   const char *iati_ref, const char *iati_type, struct fl_error *err)
{
    assert(db_in_tx(db));
    if (name == NULL || name[0] == '\0' || strlen(name) > NAME_BYTES_MAX) {
        fl_error_set(err, FLE_BAD_FIELD, "name", "1-%d characters", NAME_BYTES_MAX);
        return NULL;
    }
    if (!kind_valid(kind)) {
        fl_error_set(err, FLE_BAD_FIELD, "kind", "one of investor, fund_manager, entrepreneur, partner");
        return NULL;
    }
    if (iati_ref && !iati_ref_valid(iati_ref)) {
        fl_error_set(err, FLE_BAD_FIELD, "iati_ref", "an IATI organisation identifier such as XM-DAC-41114");
        return NULL;
    }
    if (iati_type && !(strlen(iati_type) == 2 && strspn(iati_type, "0123456789") == 2)) {
        fl_error_set(err, FLE_BAD_FIELD, "iati_type", "a two-digit IATI OrganisationType code");
        return NULL;
    }
    const char *p[4] = {name, kind, iati_ref, iati_type};
    PGresult *r = db_exec(db, "org_create", 4, p, err);
    if (r == NULL) {
        if (err->code == FLE_DUPLICATE) {
            fl_error_set(err, FLE_DUPLICATE, "iati_ref", "an organisation with this IATI identifier exists");
        }
        return NULL;
    }
    json_t *o = row_json(r, 0);
    char idb[21];
    db_i64_text(db_i64(r, 0, 0), idb);
    PQclear(r);
    if (audit_record(db, actor, "organisation.create", "organisation", idb, 0, json_pack("{s:s}", "kind", kind),
                     err) != FLE_OK) {
        json_decref(o);
        return NULL;
    }
    return o;
}

json_t *org_list(struct db *db, const char *kind, struct fl_error *err)
{
    const char *p[1] = {kind};
    PGresult *r = db_exec(db, "org_list", 1, p, err);
    if (r == NULL) {
        return NULL;
    }
    json_t *a = json_array();
    for (int i = 0; i < PQntuples(r); i++) {
        json_array_append_new(a, row_json(r, i));
    }
    PQclear(r);
    return json_pack("{s:o}", "organisations", a);
}

json_t *org_get(struct db *db, int64_t id, struct fl_error *err)
{
    char ib[21];
    const char *p[1] = {db_i64_text(id, ib)};
    PGresult *r = db_exec(db, "org_get", 1, p, err);
    if (r == NULL) {
        return NULL;
    }
    if (PQntuples(r) != 1) {
        PQclear(r);
        fl_error_set(err, FLE_NOT_FOUND, "organisation_id", "no organisation %" PRId64, id);
        return NULL;
    }
    json_t *o = row_json(r, 0);
    PQclear(r);
    return o;
}

json_t *org_get_kind(struct db *db, int64_t id, const char *kind, const char *field, struct fl_error *err)
{
    json_t *o = id > 0 ? org_get(db, id, err) : NULL;
    if (o == NULL || strcmp(json_string_value(json_object_get(o, "kind")), kind) != 0) {
        /* Only "no such row" or "another kind" is the client's; any other failure is the database's. */
        bool clients = o != NULL || id <= 0 || err == NULL || err->code == FLE_NOT_FOUND;
        json_decref(o);
        if (clients) {
            fl_error_set(err, FLE_BAD_FIELD, field, "no %s organisation %" PRId64, kind, id);
        }
        return NULL;
    }
    return o;
}
