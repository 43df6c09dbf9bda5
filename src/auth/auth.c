/* auth: users, roles, tokens and the authentication of a request. */
#include "fundledger/auth.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "fundledger/hash.h"
#include "fundledger/money.h"

static const char *const role_names[ROLE_COUNT_] = {
    [ROLE_ADMIN] = "admin",       [ROLE_FUND_MANAGER] = "fund_manager",
    [ROLE_APPROVER] = "approver", [ROLE_INVESTOR] = "investor",
    [ROLE_TRANSPARENCY_OFFICER] = "transparency_officer",
    [ROLE_AUDITOR] = "auditor",   [ROLE_SYSTEM] = "system",
};

const char *auth_role_name(enum role r)
{
    assert(r < ROLE_COUNT_);
    return role_names[r];
}

bool auth_role_parse(const char *name, enum role *out)
{
    for (int i = 0; i < ROLE_COUNT_; i++) {
        if (name != NULL && strcmp(name, role_names[i]) == 0) {
            *out = (enum role)i;
            return true;
        }
    }
    return false;
}

static bool valid_user_name(const char *n)
{
    size_t len = strlen(n);
    if (len == 0 || len > USER_NAME_BYTES_MAX) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        char c = n[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (i > 0 && (c == '_' || c == '.' || c == '-'));
        if (!ok) {
            return false;
        }
    }
    return true;
}

enum fl_err auth_user_add(struct db *db, const char *name, enum role role, int64_t organisation_id, int64_t *id,
                          struct fl_error *err)
{
    if (!valid_user_name(name)) {
        return fl_error_set(err, FLE_BAD_FIELD, "name", "1-64 characters: a-z, 0-9, '.', '_', '-'");
    }
    if (role >= ROLE_COUNT_ || role == ROLE_SYSTEM) {
        return fl_error_set(err, FLE_BAD_FIELD, "role", "not a role");
    }
    if ((role == ROLE_INVESTOR) != (organisation_id > 0)) {
        return fl_error_set(err, FLE_BAD_FIELD, "organisation_id",
                            "an investor is bound to one investor organisation; other roles to none");
    }
    char ob[21];
    const char *p[3] = {name, role_names[role], organisation_id > 0 ? db_i64_text(organisation_id, ob) : NULL};
    PGresult *r = db_exec(db, "auth_user_add", 3, p, err);
    if (r == NULL) {
        if (err->code == FLE_DUPLICATE) {
            fl_error_set(err, FLE_DUPLICATE, "name", "a user called %s exists", name);
        }
        return err->code;
    }
    if (PQntuples(r) != 1) {
        PQclear(r);
        return fl_error_set(err, FLE_BAD_FIELD, "organisation_id", "no investor organisation with that id");
    }
    *id = db_i64(r, 0, 0);
    PQclear(r);
    return FLE_OK;
}

enum fl_err auth_user_find(struct db *db, const char *name, int64_t *id, struct fl_error *err)
{
    const char *p[1] = {name};
    PGresult *r = db_exec(db, "auth_user_find", 1, p, err);
    if (r == NULL) {
        return err->code;
    }
    if (PQntuples(r) != 1) {
        PQclear(r);
        return fl_error_set(err, FLE_NOT_FOUND, "user", "no user %s", name);
    }
    *id = db_i64(r, 0, 0);
    PQclear(r);
    return FLE_OK;
}

enum fl_err auth_token_create(struct db *db, int64_t user_id, const char *label, unsigned expires_days,
                              char token[TOKEN_TEXT_BYTES], int64_t *token_id, struct fl_error *err)
{
    assert(token != NULL);
    uint8_t raw[TOKEN_RANDOM_BYTES];
    if (!hash_random(raw, sizeof raw)) {
        return fl_error_set(err, FLE_INTERNAL, NULL, "no random bytes");
    }
    memcpy(token, "fl_", 3);
    hash_hex(raw, sizeof raw, token + 3);
    uint8_t h[HASH_BYTES];
    char hex[HASH_HEX_BYTES];
    if (!hash_sha256(token, strlen(token), h)) {
        return fl_error_set(err, FLE_INTERNAL, NULL, "hashing failed");
    }
    hash_hex(h, HASH_BYTES, hex);
    if (label != NULL && strlen(label) > 100) {
        return fl_error_set(err, FLE_BAD_FIELD, "label", "at most 100 characters");
    }
    if (expires_days > TOKEN_LIFETIME_DAYS_MAX) {
        return fl_error_set(err, FLE_BAD_FIELD, "expires_days", "1 to %d days", TOKEN_LIFETIME_DAYS_MAX);
    }
    char ub[21], db_[21];
    const char *p[4] = {db_i64_text(user_id, ub), hex, label ? label : "",
                        expires_days ? db_i64_text(expires_days, db_) : NULL};
    PGresult *r = db_exec(db, "auth_token_create", 4, p, err);
    if (r == NULL) {
        return err->code;
    }
    if (PQntuples(r) != 1) {
        PQclear(r);
        return fl_error_set(err, FLE_NOT_FOUND, "user_id", "no active user %" PRId64, user_id);
    }
    if (token_id) {
        *token_id = db_i64(r, 0, 0);
    }
    PQclear(r);
    return FLE_OK;
}

enum fl_err auth_token_revoke(struct db *db, int64_t token_id, struct fl_error *err)
{
    char tb[21];
    const char *p[1] = {db_i64_text(token_id, tb)};
    PGresult *r = db_exec_rows(db, "auth_token_revoke", 1, p, 1, err);
    if (r == NULL) {
        if (err->code == FLE_NOT_FOUND) {
            fl_error_set(err, FLE_NOT_FOUND, "token_id", "no active token %" PRId64, token_id);
        }
        return err->code;
    }
    PQclear(r);
    return FLE_OK;
}

enum fl_err auth_token_renew(struct db *db, int64_t token_id, unsigned expires_days, char expires_at[32],
                             struct fl_error *err)
{
    assert(expires_at != NULL);
    if (expires_days < 1 || expires_days > TOKEN_LIFETIME_DAYS_MAX) {
        return fl_error_set(err, FLE_BAD_FIELD, "expires_days", "1 to %d days", TOKEN_LIFETIME_DAYS_MAX);
    }
    char tb[21], db_[21];
    const char *p[2] = {db_i64_text(token_id, tb), db_i64_text(expires_days, db_)};
    PGresult *r = db_exec_rows(db, "auth_token_renew", 2, p, 1, err);
    if (r == NULL) {
        if (err->code == FLE_NOT_FOUND) {
            fl_error_set(err, FLE_NOT_FOUND, "token_id", "no live token %" PRId64 " (revoked, expired or absent)",
                         token_id);
        }
        return err->code;
    }
    snprintf(expires_at, 32, "%s", db_str(r, 0, 0));
    PQclear(r);
    return FLE_OK;
}

enum fl_err auth_authenticate(struct db *db, const char *authorization, struct principal *out, struct fl_error *err)
{
    memset(out, 0, sizeof *out);
    static const char prefix[] = "Bearer ";
    if (authorization == NULL) {
        return fl_error_set(err, FLE_UNAUTHENTICATED, "Authorization", "no bearer token");
    }
    if (strncmp(authorization, prefix, sizeof prefix - 1) != 0 ||
        strlen(authorization + sizeof prefix - 1) != TOKEN_TEXT_BYTES - 1 ||
        strncmp(authorization + sizeof prefix - 1, "fl_", 3) != 0) {
        return fl_error_set(err, FLE_UNAUTHENTICATED, "Authorization", "malformed bearer token");
    }
    const char *token = authorization + sizeof prefix - 1;
    uint8_t h[HASH_BYTES];
    char hex[HASH_HEX_BYTES];
    if (!hash_sha256(token, strlen(token), h)) {
        return fl_error_set(err, FLE_INTERNAL, NULL, "hashing failed");
    }
    hash_hex(h, HASH_BYTES, hex);
    const char *p[1] = {hex};
    PGresult *r = db_exec(db, "auth_authenticate", 1, p, err);
    if (r == NULL) {
        return err->code;
    }
    if (PQntuples(r) != 1) {
        PQclear(r);
        return fl_error_set(err, FLE_UNAUTHENTICATED, "Authorization", "unknown, revoked or expired token");
    }
    out->token_id = db_i64(r, 0, 0);
    out->user_id = db_i64(r, 0, 1);
    snprintf(out->name, sizeof out->name, "%s", db_str(r, 0, 2));
    bool ok = auth_role_parse(db_str(r, 0, 3), &out->role);
    out->organisation_id = db_i64(r, 0, 4);
    PQclear(r);
    if (!ok) {
        return fl_error_set(err, FLE_INTERNAL, NULL, "unknown role in database");
    }
    return FLE_OK;
}

enum fl_err auth_limit_set(struct db *db, int64_t user_id, const char *currency, int64_t limit_minor,
                           struct fl_error *err)
{
    if (!money_currency_valid(currency)) {
        return fl_error_set(err, FLE_BAD_FIELD, "currency", "not an ISO 4217 currency");
    }
    if (limit_minor < 0) {
        return fl_error_set(err, FLE_BAD_FIELD, "limit", "a limit is not negative");
    }
    char ub[21], lb[21];
    const char *p[3] = {db_i64_text(user_id, ub), currency, db_i64_text(limit_minor, lb)};
    PGresult *r = db_exec(db, "auth_limit_set", 3, p, err);
    if (r == NULL) {
        return err->code;
    }
    int n = PQntuples(r);
    PQclear(r);
    if (n != 1) {
        return fl_error_set(err, FLE_BAD_FIELD, "user_id", "only approvers have approval limits");
    }
    return FLE_OK;
}

json_t *auth_principal_json(struct db *db, const struct principal *p, struct fl_error *err)
{
    char ub[21];
    const char *params[1] = {db_i64_text(p->user_id, ub)};
    PGresult *r = db_exec(db, "auth_principal_limits", 1, params, err);
    if (r == NULL) {
        return NULL;
    }
    json_t *limits = json_object();
    for (int i = 0; i < PQntuples(r); i++) {
        char buf[MONEY_TEXT_MAX];
        const char *cur = db_str(r, i, 0);
        int exp = money_currency_exponent(cur);
        money_format(db_i64(r, i, 1), exp < 0 ? 2 : exp, buf, sizeof buf);
        json_object_set_new(limits, cur, json_string(buf));
    }
    PQclear(r);
    return json_pack("{s:I, s:s, s:s, s:o, s:o}", "user_id", (json_int_t)p->user_id, "name", p->name, "role",
                     auth_role_name(p->role), "organisation_id",
                     p->organisation_id ? json_integer(p->organisation_id) : json_null(), "approval_limits", limits);
}

json_t *auth_users_list(struct db *db, struct fl_error *err)
{
    PGresult *r = db_exec(db, "auth_users_list", 0, NULL, err);
    if (r == NULL) {
        return NULL;
    }
    json_t *a = json_array();
    for (int i = 0; i < PQntuples(r); i++) {
        json_array_append_new(a, json_pack("{s:I, s:s, s:s, s:o, s:b}", "id", (json_int_t)db_i64(r, i, 0), "name",
                                            db_str(r, i, 1), "role", db_str(r, i, 2), "organisation_id",
                                            db_null(r, i, 3) ? json_null() : json_integer(db_i64(r, i, 3)),
                                            "disabled", db_bool(r, i, 4)));
    }
    PQclear(r);
    return a;
}
