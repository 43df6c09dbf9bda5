/* h_admin: users, tokens, approval limits, organisations, and the audit log. */
#include <inttypes.h>
#include <stdio.h>

#include "fundledger/audit.h"
#include "fundledger/http.h"
#include "fundledger/jsonv.h"
#include "fundledger/money.h"
#include "fundledger/org.h"

void h_users_list(struct http_req *r, struct http_reply *out)
{
    struct fl_error err;
    fl_error_clear(&err);
    json_t *users = auth_users_list(r->db, &err);
    http_reply_result(out, 200, users ? json_pack("{s:o}", "users", users) : NULL, &err);
}

struct user_args {
    const struct principal *who;
    const char *name;
    enum role role;
    int64_t org;
};

static enum fl_err user_op(struct db *db, void *arg, unsigned *status, json_t **reply, struct fl_error *err)
{
    struct user_args *a = arg;
    int64_t id = 0;
    *status = 201;
    *reply = NULL;
    enum fl_err e = auth_user_add(db, a->name, a->role, a->org, &id, err);
    char ib[21];
    if (e == FLE_OK) {
        e = audit_record(db, a->who, "user.create", "user", db_i64_text(id, ib), 0,
                         json_pack("{s:s}", "role", auth_role_name(a->role)), err);
    }
    if (e == FLE_OK) {
        *reply = json_pack("{s:I, s:s, s:s, s:o}", "id", (json_int_t)id, "name", a->name, "role",
                           auth_role_name(a->role), "organisation_id", a->org ? json_integer(a->org) : json_null());
    }
    return e;
}

void h_users_create(struct http_req *r, struct http_reply *out)
{
    static const struct jv_field spec[] = {
        {"name", JV_STRING, true, USER_NAME_BYTES_MAX},
        {"role", JV_STRING, true, 32},
        {"organisation_id", JV_ID, false, 0},
    };
    struct fl_error err;
    if (jv_check(r->body, spec, sizeof spec / sizeof spec[0], "", &err) != FLE_OK) {
        http_reply_error(out, &err);
        return;
    }
    struct user_args a = {&r->who, jv_str(r->body, "name"), ROLE_ADMIN, jv_int(r->body, "organisation_id")};
    if (!auth_role_parse(jv_str(r->body, "role"), &a.role) || a.role == ROLE_SYSTEM) {
        http_reply_fail(out, FLE_BAD_FIELD, "role",
                        "one of admin, fund_manager, approver, investor, transparency_officer, auditor");
        return;
    }
    http_write(r, out, user_op, &a);
}

struct token_args {
    const struct principal *who;
    int64_t user_id;
    const char *label;
    unsigned days;
};

static enum fl_err token_op(struct db *db, void *arg, unsigned *status, json_t **reply, struct fl_error *err)
{
    struct token_args *a = arg;
    char token[TOKEN_TEXT_BYTES];
    int64_t id = 0;
    *status = 201;
    *reply = NULL;
    enum fl_err e = auth_token_create(db, a->user_id, a->label, a->days, token, &id, err);
    char ib[21];
    if (e == FLE_OK) {
        e = audit_record(db, a->who, "token.create", "token", db_i64_text(id, ib), 0,
                         json_pack("{s:I}", "user_id", (json_int_t)a->user_id), err);
    }
    if (e == FLE_OK) {
        /* "token" is shown once: idem_run never stores a member of that name. */
        *reply = json_pack("{s:I, s:I, s:I, s:s, s:s}", "id", (json_int_t)id, "user_id", (json_int_t)a->user_id,
                           "expires_days", (json_int_t)a->days, "token", token, "note",
                           "store this token now; it is shown once");
    }
    return e;
}

/* A token's lifetime from the body: expires_days, 1 to TOKEN_LIFETIME_DAYS_MAX, or the configured
 * token_lifetime_days when absent. false after replying 400 naming expires_days. */
static bool token_days(struct http_req *r, unsigned *days, struct http_reply *out)
{
    json_t *given = json_object_get(r->body, "expires_days");
    if (given == NULL || json_is_null(given)) {
        *days = r->cfg->token_lifetime_days;
        return true;
    }
    long long d = jv_int(r->body, "expires_days");
    if (d < 1 || d > TOKEN_LIFETIME_DAYS_MAX) {
        http_reply_fail(out, FLE_BAD_FIELD, "expires_days", "1 to 3650 days (absent: the configured default)");
        return false;
    }
    *days = (unsigned)d;
    return true;
}

void h_tokens_create(struct http_req *r, struct http_reply *out)
{
    static const struct jv_field spec[] = {
        {"label", JV_TEXT, false, 100},
        {"expires_days", JV_UINT, false, TOKEN_LIFETIME_DAYS_MAX},
    };
    struct token_args a = {.who = &r->who};
    struct fl_error err;
    if (!http_param_id(r, 0, &a.user_id, out)) {
        return;
    }
    if (jv_check(r->body, spec, sizeof spec / sizeof spec[0], "", &err) != FLE_OK) {
        http_reply_error(out, &err);
        return;
    }
    a.label = jv_str(r->body, "label");
    if (!token_days(r, &a.days, out)) {
        return;
    }
    http_write(r, out, token_op, &a);
}

struct revoke_args {
    const struct principal *who;
    int64_t id;
};

static enum fl_err revoke_op(struct db *db, void *arg, unsigned *status, json_t **reply, struct fl_error *err)
{
    struct revoke_args *a = arg;
    *status = 200;
    *reply = NULL;
    char ib[21];
    enum fl_err e = auth_token_revoke(db, a->id, err);
    if (e == FLE_OK) {
        e = audit_record(db, a->who, "token.revoke", "token", db_i64_text(a->id, ib), 0, NULL, err);
    }
    if (e == FLE_OK) {
        *reply = json_pack("{s:I, s:b}", "id", (json_int_t)a->id, "revoked", 1);
    }
    return e;
}

void h_tokens_revoke(struct http_req *r, struct http_reply *out)
{
    struct revoke_args a = {.who = &r->who};
    if (!http_param_id(r, 0, &a.id, out)) {
        return;
    }
    http_write(r, out, revoke_op, &a);
}

struct renew_args {
    const struct principal *who;
    int64_t id;
    unsigned days;
};

static enum fl_err renew_op(struct db *db, void *arg, unsigned *status, json_t **reply, struct fl_error *err)
{
    struct renew_args *a = arg;
    *status = 200;
    *reply = NULL;
    char ib[21], until[32];
    enum fl_err e = auth_token_renew(db, a->id, a->days, until, err);
    if (e == FLE_OK) {
        e = audit_record(db, a->who, "token.renew", "token", db_i64_text(a->id, ib), 0,
                         json_pack("{s:I, s:s}", "expires_days", (json_int_t)a->days, "expires_at", until), err);
    }
    if (e == FLE_OK) {
        *reply = json_pack("{s:I, s:I, s:s}", "id", (json_int_t)a->id, "expires_days", (json_int_t)a->days,
                           "expires_at", until);
    }
    return e;
}

void h_tokens_renew(struct http_req *r, struct http_reply *out)
{
    static const struct jv_field spec[] = {{"expires_days", JV_UINT, false, TOKEN_LIFETIME_DAYS_MAX}};
    struct renew_args a = {.who = &r->who};
    struct fl_error err;
    if (!http_param_id(r, 0, &a.id, out)) {
        return;
    }
    if (jv_check(r->body, spec, 1, "", &err) != FLE_OK) {
        http_reply_error(out, &err);
        return;
    }
    if (!token_days(r, &a.days, out)) {
        return;
    }
    http_write(r, out, renew_op, &a);
}

struct limit_args {
    const struct principal *who;
    int64_t user_id;
    char currency[CURRENCY_CODE_BYTES];
    int64_t limit;
};

static enum fl_err limit_op(struct db *db, void *arg, unsigned *status, json_t **reply, struct fl_error *err)
{
    struct limit_args *a = arg;
    *status = 200;
    *reply = NULL;
    char ib[21], text[MONEY_TEXT_MAX];
    money_format(a->limit, money_currency_exponent(a->currency), text, sizeof text);
    enum fl_err e = auth_limit_set(db, a->user_id, a->currency, a->limit, err);
    if (e == FLE_OK) {
        e = audit_record(db, a->who, "approval_limit.set", "user", db_i64_text(a->user_id, ib), 0,
                         json_pack("{s:s, s:s}", "currency", a->currency, "limit", text), err);
    }
    if (e == FLE_OK) {
        *reply = json_pack("{s:I, s:s, s:s}", "user_id", (json_int_t)a->user_id, "currency", a->currency, "limit",
                           text);
    }
    return e;
}

void h_limits_set(struct http_req *r, struct http_reply *out)
{
    static const struct jv_field spec[] = {{"limit", JV_AMOUNT, true, 0}};
    struct limit_args a = {.who = &r->who};
    struct fl_error err;
    if (!http_param_id(r, 0, &a.user_id, out)) {
        return;
    }
    const char *cur = r->params[1];
    if (!money_currency_valid(cur)) {
        http_reply_fail(out, FLE_BAD_PARAM, "currency", "not an ISO 4217 currency");
        return;
    }
    snprintf(a.currency, sizeof a.currency, "%s", cur);
    if (jv_check(r->body, spec, 1, "", &err) != FLE_OK) {
        http_reply_error(out, &err);
        return;
    }
    money_status st = money_parse_amount(jv_str(r->body, "limit"), money_currency_exponent(cur), &a.limit);
    if (st != MONEY_OK) {
        http_reply_fail(out, FLE_BAD_FIELD, "limit", money_status_text(st));
        return;
    }
    http_write(r, out, limit_op, &a);
}

void h_orgs_list(struct http_req *r, struct http_reply *out)
{
    struct fl_error err;
    fl_error_clear(&err);
    http_reply_result(out, 200, org_list(r->db, http_query(r, "kind"), &err), &err);
}

struct org_args {
    const struct principal *who;
    const char *name, *kind, *ref, *type;
};

static enum fl_err org_op(struct db *db, void *arg, unsigned *status, json_t **reply, struct fl_error *err)
{
    struct org_args *a = arg;
    *status = 201;
    *reply = org_create(db, a->who, a->name, a->kind, a->ref, a->type, err);
    return *reply ? FLE_OK : err->code;
}

void h_orgs_create(struct http_req *r, struct http_reply *out)
{
    static const struct jv_field spec[] = {
        {"name", JV_STRING, true, 200},
        {"kind", JV_STRING, true, 32},
        {"iati_ref", JV_STRING, false, 100},
        {"iati_type", JV_STRING, false, 2},
    };
    struct fl_error err;
    if (jv_check(r->body, spec, sizeof spec / sizeof spec[0], "", &err) != FLE_OK) {
        http_reply_error(out, &err);
        return;
    }
    struct org_args a = {&r->who, jv_str(r->body, "name"), jv_str(r->body, "kind"), jv_str(r->body, "iati_ref"),
                         jv_str(r->body, "iati_type")};
    http_write(r, out, org_op, &a);
}

void h_audit_list(struct http_req *r, struct http_reply *out)
{
    int64_t fund_id, after;
    unsigned limit;
    if (!http_query_id(r, "fund_id", &fund_id, out) || !http_query_page(r, &after, &limit, out)) {
        return;
    }
    struct fl_error err;
    fl_error_clear(&err);
    http_reply_result(out, 200, audit_list(r->db, fund_id, after, limit, &err), &err);
}
