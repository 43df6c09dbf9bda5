/* auth: users, roles and bearer tokens (256 random bits, stored only as SHA-256). */
#ifndef FUNDLEDGER_AUTH_H
#define FUNDLEDGER_AUTH_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "fundledger/db.h"
#include "fundledger/error.h"
#include "fundledger/limits.h"

enum role {
    ROLE_ADMIN = 0,
    ROLE_FUND_MANAGER,
    ROLE_APPROVER,
    ROLE_INVESTOR,
    ROLE_TRANSPARENCY_OFFICER,
    ROLE_AUDITOR,
    ROLE_SYSTEM,
    ROLE_COUNT_
};
#define ROLE_BIT(r) (1u << (r))
#define ROLES_ALL (ROLE_BIT(ROLE_COUNT_) - 1u)
/* Who reads the fund's books (accounts, journal, trial balance): not investors, not the public. */
#define ROLES_BOOKS                                                                                     \
    (ROLE_BIT(ROLE_ADMIN) | ROLE_BIT(ROLE_FUND_MANAGER) | ROLE_BIT(ROLE_APPROVER) | ROLE_BIT(ROLE_AUDITOR))

/* The caller of a request, as its token says. */
struct principal {
    int64_t user_id;
    int64_t token_id;
    enum role role;
    int64_t organisation_id; /* investors only, else 0 */
    char name[USER_NAME_BYTES_MAX + 1];
};

const char *auth_role_name(enum role r);
bool auth_role_parse(const char *name, enum role *out);

/* Creates a user. Investors need organisation_id of an investor organisation; others 0.
 * Errors: FLE_BAD_FIELD (name, role, organisation_id), FLE_DUPLICATE (name taken). */
enum fl_err auth_user_add(struct db *db, const char *name, enum role role, int64_t organisation_id, int64_t *id,
                          struct fl_error *err);
/* The id of the user called name, FLE_NOT_FOUND if none. */
enum fl_err auth_user_find(struct db *db, const char *name, int64_t *id, struct fl_error *err);

/* Creates a token for a user: writes the token text (shown once, never stored) into token,
 * stores its SHA-256. It expires expires_days (1..TOKEN_LIFETIME_DAYS_MAX) days from now; the
 * command line and the API pass the config key token_lifetime_days when the creator gives no
 * lifetime. 0 means no expiry: no command or route passes it (tests make such tokens).
 * Errors: FLE_BAD_FIELD (label, expires_days), FLE_NOT_FOUND (no active user). */
enum fl_err auth_token_create(struct db *db, int64_t user_id, const char *label, unsigned expires_days,
                              char token[TOKEN_TEXT_BYTES], int64_t *token_id, struct fl_error *err);
/* Revokes a token; FLE_NOT_FOUND if there is none with that id or it is already revoked. */
enum fl_err auth_token_revoke(struct db *db, int64_t token_id, struct fl_error *err);
/* Renews a live token (not revoked, not yet expired): it now expires expires_days
 * (1..TOKEN_LIFETIME_DAYS_MAX) days from now, which may also shorten it. Writes the new expiry,
 * "YYYY-MM-DDTHH:MM:SSZ" (UTC), into expires_at. An expired or revoked token stays dead: create
 * a new one. Errors: FLE_BAD_FIELD (expires_days), FLE_NOT_FOUND naming token_id. */
enum fl_err auth_token_renew(struct db *db, int64_t token_id, unsigned expires_days, char expires_at[32],
                             struct fl_error *err);

/* Resolves "Bearer <token>" (the whole Authorization header value, or NULL) to a principal.
 * FLE_UNAUTHENTICATED for absent, malformed, unknown, revoked or expired tokens and disabled users. */
enum fl_err auth_authenticate(struct db *db, const char *authorization, struct principal *out, struct fl_error *err);

/* Sets an approver's limit for a currency (minor units). */
enum fl_err auth_limit_set(struct db *db, int64_t user_id, const char *currency, int64_t limit_minor,
                           struct fl_error *err);

/* The principal as JSON for GET /v1/me (no token material). Caller owns the result. */
json_t *auth_principal_json(struct db *db, const struct principal *p, struct fl_error *err);

/* Users as a JSON array (admin and auditor views). */
json_t *auth_users_list(struct db *db, struct fl_error *err);

#endif
