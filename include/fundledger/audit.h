/* audit: the append-only log of every action (who, what, when, from which token). */
#ifndef FUNDLEDGER_AUDIT_H
#define FUNDLEDGER_AUDIT_H

#include <jansson.h>

#include "fundledger/auth.h"
#include "fundledger/db.h"

/* Records an action inside the caller's transaction. actor may be NULL for the system.
 * detail (may be NULL) is stolen: the function releases it. Never put tokens or personal data
 * in detail. fund_id 0 for none. */
enum fl_err audit_record(struct db *db, const struct principal *actor, const char *action, const char *object_type,
                         const char *object_id, int64_t fund_id, json_t *detail, struct fl_error *err);

/* Audit rows, newest last, keyset-paged by id: {"events": [...], "next_after": id|null}.
 * fund_id 0 means every fund. */
json_t *audit_list(struct db *db, int64_t fund_id, int64_t after_id, unsigned limit, struct fl_error *err);

#endif
