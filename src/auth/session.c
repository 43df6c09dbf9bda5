/* session: browser sign-in (password, TOTP), server-side sessions, CSRF tokens, login limits. */
#include "fundledger/session.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <pthread.h>

#include "fundledger/audit.h"
#include "fundledger/hash.h"
#include "fundledger/log.h"

/* Verified against when the user is unknown or has no password, so that a wrong name costs the
 * same time as a wrong password: the hash of a random password nobody knows, made once with the
 * configured cost. */
static char dummy_hash[PASSWORD_HASH_BYTES];
static struct password_params dummy_params;
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;

static void dummy_make(void)
{
    uint8_t raw[24];
    char pw[2 * sizeof raw + 1];
    struct fl_error err;
    if (hash_random(raw, sizeof raw)) {
        hash_hex(raw, sizeof raw, pw);
        if (password_hash(&dummy_params, pw, dummy_hash, &err) != FLE_OK) {
            dummy_hash[0] = '\0';
        }
    }
}

void session_params_from_config(const struct config *cfg, struct session_params *out)
{
    password_params_from_config(cfg, &out->password);
    out->ttl_s = cfg->session_ttl_s;
    out->idle_s = cfg->session_idle_s;
    out->fail_window_s = cfg->login_fail_window_s;
    out->fail_max_account = cfg->login_fail_max_account;
    out->fail_max_address = cfg->login_fail_max_address;
}

bool session_role_needs_totp(enum role role)
{
    return role == ROLE_APPROVER || role == ROLE_ADMIN;
}

static bool cookie_hash(const char *cookie, char hex[HASH_HEX_BYTES])
{
    uint8_t h[HASH_BYTES];
    if (cookie == NULL || strlen(cookie) != SESSION_TOKEN_BYTES - 1 || strncmp(cookie, "fs_", 3) != 0 ||
        !hash_sha256(cookie, strlen(cookie), h)) {
        return false;
    }
    hash_hex(h, HASH_BYTES, hex);
    return true;
}

bool session_csrf(const char *cookie, char out[SESSION_CSRF_BYTES])
{
    static const char label[] = "fundledger csrf v1\n";
    uint8_t h[HASH_BYTES];
    struct hash_ctx *c = hash_begin();
    bool ok = c != NULL && cookie != NULL && hash_update(c, label, sizeof label - 1) &&
              hash_update(c, cookie, strlen(cookie));
    if (c == NULL || !hash_end(c, h) || !ok) {
        return false;
    }
    hash_hex(h, HASH_BYTES, out);
    return true;
}

bool session_csrf_ok(const char *cookie, const char *presented)
{
    char want[SESSION_CSRF_BYTES];
    if (presented == NULL || strlen(presented) != SESSION_CSRF_BYTES - 1 || !session_csrf(cookie, want)) {
        return false;
    }
    return CRYPTO_memcmp(want, presented, SESSION_CSRF_BYTES - 1) == 0;
}

/* What a login attempt found, recorded in its own transaction by record_tx. */
struct attempt {
    const struct session_params *sp;
    const char *name, *address, *old_cookie;
    bool ok;
    const char *why; /* failure reason for the audit log */
    struct principal who;
    int64_t totp_step; /* > 0: mark this step used (no replay) */
    char token_hash[HASH_HEX_BYTES];
    int64_t session_id;
};

static enum fl_err record_tx(struct db *db, void *arg, struct fl_error *err)
{
    struct attempt *a = arg;
    a->session_id = 0;
    const char *p[4] = {a->name, a->address, a->ok ? "true" : "false"};
    PGresult *r = db_exec(db, "session_attempt", 3, p, err);
    if (r == NULL) {
        return err->code;
    }
    PQclear(r);
    char ub[21], sb[21], tb[21];
    if (a->ok && a->totp_step > 0) {
        const char *q[2] = {db_i64_text(a->who.user_id, ub), db_i64_text(a->totp_step, sb)};
        r = db_exec(db, "session_totp_used", 2, q, err);
        if (r == NULL) {
            return err->code;
        }
        int n = PQntuples(r);
        PQclear(r);
        if (n != 1) {
            /* The code was already used: this attempt fails (recorded by the caller's retry). */
            return fl_error_set(err, FLE_UNAUTHENTICATED, "totp", "this code was already used; wait for the next one");
        }
    }
    if (!a->ok) {
        json_t *d = json_pack("{s:s, s:s, s:s}", "name", a->name, "address", a->address, "reason", a->why);
        return audit_record(db, a->who.user_id ? &a->who : NULL, "session.login_failed", "user",
                            a->who.user_id ? db_i64_text(a->who.user_id, ub) : "", 0, d, err);
    }
    char old_hex[HASH_HEX_BYTES];
    if (a->old_cookie != NULL && cookie_hash(a->old_cookie, old_hex)) {
        const char *q[1] = {old_hex};
        r = db_exec(db, "session_replace", 1, q, err);
        if (r == NULL) {
            return err->code;
        }
        PQclear(r);
    }
    const char *q[4] = {a->token_hash, db_i64_text(a->who.user_id, ub), db_i64_text(a->sp->ttl_s, tb), a->address};
    r = db_exec(db, "session_create", 4, q, err);
    if (r == NULL) {
        return err->code;
    }
    a->session_id = db_i64(r, 0, 0);
    PQclear(r);
    char idb[21];
    json_t *d = json_pack("{s:s, s:I}", "address", a->address, "session_id", (json_int_t)a->session_id);
    return audit_record(db, &a->who, "session.login", "session", db_i64_text(a->session_id, idb), 0, d, err);
}

/* Records a failed attempt and answers msg (field) as unauthenticated. */
static enum fl_err refuse(struct db *db, struct attempt *a, const char *why, const char *field, const char *msg,
                          struct fl_error *err)
{
    a->ok = false;
    a->why = why;
    struct fl_error e2;
    fl_error_clear(&e2);
    if (db_tx(db, record_tx, a, &e2) != FLE_OK) {
        *err = e2;
        return e2.code;
    }
    return fl_error_set(err, FLE_UNAUTHENTICATED, field, "%s", msg);
}

enum fl_err session_login(struct db *db, const struct session_params *sp, const char *name, const char *password,
                          const char *totp, const char *address, const char *old_cookie,
                          char cookie[SESSION_TOKEN_BYTES], struct principal *who, int64_t *session_id,
                          struct fl_error *err)
{
    assert(db != NULL && sp != NULL && cookie != NULL && who != NULL && session_id != NULL);
    memset(who, 0, sizeof *who);
    cookie[0] = '\0';
    *session_id = 0;
    if (name == NULL || name[0] == '\0' || strlen(name) > USER_NAME_BYTES_MAX) {
        return fl_error_set(err, FLE_BAD_FIELD, "name", "a user name of 1 to %d characters", USER_NAME_BYTES_MAX);
    }
    if (password == NULL || strlen(password) > PASSWORD_BYTES_MAX) {
        return fl_error_set(err, FLE_BAD_FIELD, "password", "at most %d characters", PASSWORD_BYTES_MAX);
    }
    struct attempt a = {.sp = sp, .name = name, .address = address ? address : "", .old_cookie = old_cookie};
    /* Rate limits first: over them nothing else is checked (not even the password). */
    char wb[21];
    const char *p[3] = {name, a.address, db_i64_text(sp->fail_window_s, wb)};
    PGresult *r = db_exec(db, "session_fail_counts", 3, p, err);
    if (r == NULL) {
        return err->code;
    }
    int64_t by_name = db_i64(r, 0, 0), by_address = db_i64(r, 0, 1);
    PQclear(r);
    if (by_name >= sp->fail_max_account || by_address >= sp->fail_max_address) {
        json_t *d = json_pack("{s:s, s:s, s:s}", "name", name, "address", a.address, "reason",
                              by_name >= sp->fail_max_account ? "rate_limited_account" : "rate_limited_address");
        struct fl_error e2;
        fl_error_clear(&e2);
        /* Audited (not counted as an attempt, so a locked account unlocks when the window passes). */
        if (audit_record(db, NULL, "session.login_refused", "user", "", 0, d, &e2) != FLE_OK) {
            *err = e2;
            return e2.code;
        }
        return fl_error_set(err, FLE_RATE_LIMITED, by_name >= sp->fail_max_account ? "name" : "",
                            "too many failed sign-ins; try again in %u minutes", (sp->fail_window_s + 59) / 60);
    }
    r = db_exec(db, "session_credential", 1, p, err);
    if (r == NULL) {
        return err->code;
    }
    bool known = PQntuples(r) == 1 && !db_null(r, 0, 4);
    char hash[PASSWORD_HASH_BYTES] = "", secret_hex[2 * TOTP_SEALED_BYTES_MAX + 1] = "";
    bool sealed = false;
    if (PQntuples(r) == 1) {
        a.who.user_id = db_i64(r, 0, 0);
        snprintf(a.who.name, sizeof a.who.name, "%s", db_str(r, 0, 1));
        if (!auth_role_parse(db_str(r, 0, 2), &a.who.role)) {
            PQclear(r);
            return fl_error_set(err, FLE_INTERNAL, NULL, "unknown role in database");
        }
        a.who.organisation_id = db_null(r, 0, 3) ? 0 : db_i64(r, 0, 3);
        snprintf(hash, sizeof hash, "%s", db_null(r, 0, 4) ? "" : db_str(r, 0, 4));
        snprintf(secret_hex, sizeof secret_hex, "%s", db_null(r, 0, 5) ? "" : db_str(r, 0, 5));
        sealed = db_bool(r, 0, 6);
    }
    PQclear(r);
    if (!known) {
        dummy_params = sp->password;
        pthread_once(&dummy_once, dummy_make);
    }
    bool password_ok = password_verify(known ? hash : dummy_hash, password) && known;
    if (!password_ok) {
        return refuse(db, &a, known ? "wrong_password" : "unknown_user_or_no_password", "",
                      "wrong user name or password", err);
    }
    if (session_role_needs_totp(a.who.role)) {
        uint8_t stored[TOTP_SEALED_BYTES_MAX], secret[TOTP_SECRET_BYTES_MAX];
        size_t n = strlen(secret_hex) / 2;
        if (n == 0 || n > sizeof stored || !hash_unhex(secret_hex, stored, n)) {
            return refuse(db, &a, "totp_not_enrolled", "totp",
                          "this role needs a second factor: ask an administrator to run `fundledger user totp`", err);
        }
        if (!sealed) {
            /* Written before migration 0021 and not sealed yet (the server seals them at start). */
            if (n > sizeof secret) {
                return fl_error_set(err, FLE_INTERNAL, "totp", "a clear TOTP secret over %d bytes",
                                    TOTP_SECRET_BYTES_MAX);
            }
            memcpy(secret, stored, n);
        } else if (totp_open(a.who.user_id, stored, n, secret, &n, err) != FLE_OK) {
            /* Fails closed: no code is checked, no session is made. */
            log_error("session: %s", err->message);
            return err->code;
        }
        if (totp == NULL || totp[0] == '\0') {
            OPENSSL_cleanse(secret, sizeof secret);
            return refuse(db, &a, "totp_missing", "totp", "enter the 6-digit code from your authenticator app", err);
        }
        bool code_ok = totp_check(secret, n, time(NULL), totp, &a.totp_step);
        OPENSSL_cleanse(secret, sizeof secret);
        if (!code_ok) {
            return refuse(db, &a, "totp_wrong", "totp", "the code is wrong or too old", err);
        }
    }
    uint8_t raw[32];
    if (!hash_random(raw, sizeof raw)) {
        return fl_error_set(err, FLE_INTERNAL, NULL, "no random bytes");
    }
    memcpy(cookie, "fs_", 3);
    hash_hex(raw, sizeof raw, cookie + 3);
    if (!cookie_hash(cookie, a.token_hash)) {
        return fl_error_set(err, FLE_INTERNAL, NULL, "hashing failed");
    }
    a.ok = true;
    enum fl_err e = db_tx(db, record_tx, &a, err);
    if (e == FLE_UNAUTHENTICATED) {
        cookie[0] = '\0';
        return refuse(db, &a, "totp_replayed", "totp", "this code was already used; wait for the next one", err);
    }
    if (e != FLE_OK) {
        cookie[0] = '\0';
        return e;
    }
    *who = a.who;
    *session_id = a.session_id;
    return FLE_OK;
}

enum fl_err session_authenticate(struct db *db, const struct session_params *sp, const char *cookie,
                                 struct principal *who, int64_t *session_id, struct fl_error *err)
{
    memset(who, 0, sizeof *who);
    *session_id = 0;
    char hex[HASH_HEX_BYTES], ib[21];
    if (!cookie_hash(cookie, hex)) {
        return fl_error_set(err, FLE_UNAUTHENTICATED, "Cookie", "malformed session cookie; sign in again");
    }
    const char *p[2] = {hex, db_i64_text(sp->idle_s, ib)};
    PGresult *r = db_exec(db, "session_authenticate", 2, p, err);
    if (r == NULL) {
        return err->code;
    }
    if (PQntuples(r) != 1) {
        PQclear(r);
        return fl_error_set(err, FLE_UNAUTHENTICATED, "Cookie", "the session ended, expired or was revoked; sign in again");
    }
    *session_id = db_i64(r, 0, 0);
    who->user_id = db_i64(r, 0, 1);
    snprintf(who->name, sizeof who->name, "%s", db_str(r, 0, 2));
    bool ok = auth_role_parse(db_str(r, 0, 3), &who->role);
    who->organisation_id = db_null(r, 0, 4) ? 0 : db_i64(r, 0, 4);
    PQclear(r);
    if (!ok) {
        return fl_error_set(err, FLE_INTERNAL, NULL, "unknown role in database");
    }
    return FLE_OK;
}

struct end_args {
    const struct principal *actor;
    int64_t id; /* session (logout) or user (revocation) */
    bool logout;
    const char *why;
    int64_t ended;
};

static enum fl_err end_tx(struct db *db, void *arg, struct fl_error *err)
{
    struct end_args *a = arg;
    a->ended = 0;
    char ib[21];
    const char *p[2] = {db_i64_text(a->id, ib), a->why};
    PGresult *r;
    if (a->logout) {
        r = db_exec_rows(db, "session_logout", 1, p, 1, err);
        if (r == NULL) {
            if (err->code == FLE_NOT_FOUND) {
                fl_error_set(err, FLE_NOT_FOUND, "session", "the session already ended");
            }
            return err->code;
        }
        PQclear(r);
        a->ended = 1;
        return audit_record(db, a->actor, "session.logout", "session", ib, 0, NULL, err);
    }
    r = db_exec(db, "session_user_exists", 1, p, err);
    if (r == NULL) {
        return err->code;
    }
    int n = PQntuples(r);
    PQclear(r);
    if (n != 1) {
        return fl_error_set(err, FLE_NOT_FOUND, "user_id", "no user %" PRId64, a->id);
    }
    r = db_exec(db, "session_end_user", 2, p, err);
    if (r == NULL) {
        return err->code;
    }
    a->ended = PQntuples(r);
    PQclear(r);
    json_t *d = json_pack("{s:I, s:s}", "sessions_ended", (json_int_t)a->ended, "why", a->why);
    return audit_record(db, a->actor, strcmp(a->why, "revoked") == 0 ? "session.revoke" : "user.password_set",
                        "user", ib, 0, d, err);
}

enum fl_err session_logout(struct db *db, const struct principal *who, int64_t session_id, struct fl_error *err)
{
    struct end_args a = {.actor = who, .id = session_id, .logout = true};
    return db_tx(db, end_tx, &a, err);
}

enum fl_err session_revoke_user(struct db *db, const struct principal *actor, int64_t user_id, int64_t *ended,
                                struct fl_error *err)
{
    struct end_args a = {.actor = actor, .id = user_id, .why = "revoked"};
    enum fl_err e = db_tx(db, end_tx, &a, err);
    *ended = a.ended;
    return e;
}

enum fl_err session_password_put(struct db *db, const struct password_params *pp, int64_t user_id,
                                 const char *password, struct fl_error *err)
{
    assert(db_in_tx(db));
    char hash[PASSWORD_HASH_BYTES], ub[21];
    if (password_hash(pp, password, hash, err) != FLE_OK) {
        return err->code;
    }
    const char *p[2] = {db_i64_text(user_id, ub), hash};
    PGresult *r = db_exec(db, "session_password_set", 2, p, err);
    if (r == NULL) {
        return err->code;
    }
    int n = PQntuples(r);
    PQclear(r);
    if (n != 1) {
        return fl_error_set(err, FLE_NOT_FOUND, "user_id", "no user %" PRId64, user_id);
    }
    struct end_args e = {.actor = NULL, .id = user_id, .why = "password_changed"};
    return end_tx(db, &e, err);
}

struct password_args {
    const struct password_params *pp;
    int64_t user_id;
    const char *password;
};

static enum fl_err password_tx(struct db *db, void *arg, struct fl_error *err)
{
    struct password_args *a = arg;
    return session_password_put(db, a->pp, a->user_id, a->password, err);
}

enum fl_err session_password_set(struct db *db, const struct password_params *pp, int64_t user_id,
                                 const char *password, struct fl_error *err)
{
    struct password_args a = {.pp = pp, .user_id = user_id, .password = password};
    return db_tx(db, password_tx, &a, err);
}

enum fl_err session_totp_enroll(struct db *db, int64_t user_id, const char *user_name, char uri[TOTP_URI_BYTES],
                                uint8_t secret_out[TOTP_SECRET_BYTES], struct fl_error *err)
{
    uint8_t secret[TOTP_SECRET_BYTES], sealed[TOTP_SEALED_BYTES_MAX];
    char hex[2 * TOTP_SEALED_BYTES_MAX + 1], ub[21];
    size_t sealed_n = 0;
    if (!hash_random(secret, sizeof secret)) {
        return fl_error_set(err, FLE_INTERNAL, NULL, "no random bytes");
    }
    if (!totp_uri(user_name, secret, sizeof secret, uri)) {
        return fl_error_set(err, FLE_INTERNAL, NULL, "the otpauth URI does not fit");
    }
    if (totp_seal(user_id, secret, sizeof secret, sealed, &sealed_n, err) != FLE_OK) {
        return err->code;
    }
    hash_hex(sealed, sealed_n, hex);
    const char *p[2] = {db_i64_text(user_id, ub), hex};
    PGresult *r = db_exec(db, "session_totp_set", 2, p, err);
    if (r == NULL) {
        return err->code;
    }
    int n = PQntuples(r);
    PQclear(r);
    if (n != 1) {
        return fl_error_set(err, FLE_RULE, "user", "set a password first (fundledger user password NAME)");
    }
    if (secret_out != NULL) {
        memcpy(secret_out, secret, sizeof secret);
    }
    return FLE_OK;
}

static enum fl_err seal_clear_tx(struct db *db, void *arg, struct fl_error *err)
{
    unsigned *sealed = arg;
    *sealed = 0;
    PGresult *r = db_exec(db, "session_totp_clear_list", 0, NULL, err);
    if (r == NULL) {
        return err->code;
    }
    enum fl_err e = FLE_OK;
    for (int i = 0; i < PQntuples(r) && e == FLE_OK; i++) {
        int64_t user_id = db_i64(r, i, 0);
        const char *clear_hex = db_str(r, i, 1);
        uint8_t clear[TOTP_SECRET_BYTES_MAX], out[TOTP_SEALED_BYTES_MAX];
        size_t n = strlen(clear_hex) / 2, out_n = 0;
        char hex[2 * TOTP_SEALED_BYTES_MAX + 1], ub[21];
        if (n < 16 || n > sizeof clear || !hash_unhex(clear_hex, clear, n)) {
            e = fl_error_set(err, FLE_INTERNAL, "totp", "the clear TOTP secret of user %" PRId64 " is malformed",
                             user_id);
            break;
        }
        e = totp_seal(user_id, clear, n, out, &out_n, err);
        OPENSSL_cleanse(clear, sizeof clear);
        if (e != FLE_OK) {
            break;
        }
        hash_hex(out, out_n, hex);
        const char *p[2] = {db_i64_text(user_id, ub), hex};
        PGresult *u = db_exec_rows(db, "session_totp_seal", 2, p, 1, err);
        if (u == NULL) {
            e = err->code;
            break;
        }
        PQclear(u);
        (*sealed)++;
    }
    PQclear(r);
    return e;
}

enum fl_err session_totp_seal_clear(struct db *db, unsigned *sealed, struct fl_error *err)
{
    assert(db != NULL && sealed != NULL);
    return db_tx(db, seal_clear_tx, sealed, err);
}
