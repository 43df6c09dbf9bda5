/* org: organisations: investors, the fund manager, entrepreneurs' organisations, partners. */
#ifndef FUNDLEDGER_ORG_H
#define FUNDLEDGER_ORG_H

#include <jansson.h>
#include <stdint.h>

#include "fundledger/auth.h"
#include "fundledger/db.h"

/* Creates an organisation inside the caller's transaction (audited). kind: investor,
 * fund_manager, entrepreneur, partner. iati_ref (may be NULL) is an IATI organisation
 * identifier such as "XM-DAC-41114" or "CO-RUE-900123456"; iati_type (may be NULL) a
 * two-digit IATI OrganisationType code. Returns the organisation (caller owns). */
json_t *org_create(struct db *db, const struct principal *actor, const char *name, const char *kind,
                   const char *iati_ref, const char *iati_type, struct fl_error *err);
json_t *org_list(struct db *db, const char *kind, struct fl_error *err);
json_t *org_get(struct db *db, int64_t id, struct fl_error *err);
/* The organisation when it exists and is of the given kind; else FLE_BAD_FIELD naming field, or
 * org_get's database error (FLE_DB_UNAVAILABLE, FLE_INTERNAL) as it is. */
json_t *org_get_kind(struct db *db, int64_t id, const char *kind, const char *field, struct fl_error *err);

#endif
