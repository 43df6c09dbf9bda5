/* audit: append-only audit log writes and reads. */
#include "fundledger/audit.h"
#include "fundledger/jsonv.h"

#include <assert.h>
#include <stdlib.h>

#include "fundledger/limits.h"

enum fl_err audit_record(struct db *db, const struct principal *actor, const char *action, const char *object_type,
                         const char *object_id, int64_t fund_id, json_t *detail, struct fl_error *err)
{
    assert(db != NULL && action != NULL);
    if (detail == NULL) {
        detail = json_object();
    }
    char *text = detail ? json_dumps(detail, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(detail);
    if (text == NULL) {
        return fl_error_set(err, FLE_INTERNAL, NULL, "out of memory");
    }
    char ub[21], tb[21], fb[21];
    const char *p[7] = {actor ? db_i64_text(actor->user_id, ub) : NULL,
                        actor && actor->token_id ? db_i64_text(actor->token_id, tb) : NULL,
                        action,
                        object_type ? object_type : "",
                        object_id ? object_id : "",
                        fund_id ? db_i64_text(fund_id, fb) : NULL,
                        text};
    PGresult *r = db_exec(db, "audit_record", 7, p, err);
    free(text);
    if (r == NULL) {
        return err->code;
    }
    PQclear(r);
    return FLE_OK;
}

json_t *audit_list(struct db *db, int64_t fund_id, int64_t after_id, unsigned limit, struct fl_error *err)
{
    assert(limit >= 1 && limit <= PAGE_SIZE_MAX);
    char fb[21], ab[21], lb[21];
    const char *p[3] = {fund_id ? db_i64_text(fund_id, fb) : NULL, db_i64_text(after_id, ab),
                        db_i64_text(limit + 1, lb)};
    PGresult *r = db_exec(db, "audit_list", 3, p, err);
    if (r == NULL) {
        return NULL;
    }
    struct db_page pg = db_page(r, limit);
    int rows = pg.rows;
    json_t *events = json_array();
    for (int i = 0; i < rows; i++) {
        json_error_t je;
        json_t *detail = json_loads(db_str(r, i, 8), 0, &je);
        json_array_append_new(
            events, json_pack("{s:I, s:s, s:o, s:o, s:o, s:s, s:s, s:s, s:o, s:o}", "id", (json_int_t)db_i64(r, i, 0),
                              "at", db_str(r, i, 1), "user_id",
                              db_null(r, i, 2) ? json_null() : json_integer(db_i64(r, i, 2)), "user",
                              db_null(r, i, 3) ? json_null() : json_string(db_str(r, i, 3)), "token_id",
                              db_null(r, i, 4) ? json_null() : json_integer(db_i64(r, i, 4)), "action",
                              db_str(r, i, 5), "object_type", db_str(r, i, 6), "object_id", db_str(r, i, 7),
                              "detail", detail ? detail : json_object(), "fund_id",
                              db_null(r, i, 9) ? json_null() : json_integer(db_i64(r, i, 9))));
    }
    PQclear(r);
    return json_pack("{s:o, s:o}", "events", events, "next_after", jv_next_after(pg.more, pg.last));
}
