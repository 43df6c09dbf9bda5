/* test_session_http: browser sessions against the real server and database: sign-in with
 * password and TOTP, the cookie's attributes, session fixation, CSRF refused without the token
 * (403 JSON), logout, expiry, idle timeout, revocation by an admin, rate limits per account and
 * per address, the audit trail, bearer tokens still working, and the console's static files. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include <curl/curl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../support/testdb.h"
#include "fundledger/auth.h"
#include "fundledger/config.h"
#include "fundledger/hash.h"
#include "fundledger/http.h"
#include "fundledger/log.h"
#include "fundledger/session.h"

static struct config cfg;
static struct http_server *server;
static char base[64];
static const char *conninfo;
static char manager_token[TOKEN_TEXT_BYTES], admin_token[TOKEN_TEXT_BYTES];
static uint8_t approver_secret[TOTP_SECRET_BYTES];
static int64_t manager_id, approver_id;
static const char *const PASSWORD = "a long test password";

/* One exchange: status, JSON body, raw body and the headers we look at. */
struct resp {
    long status;
    json_t *json;
    char body[65536];
    size_t len;
    char set_cookie[512];
    char csp[512];
    char cache[128];
    char content_type[128];
};

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    struct resp *r = arg;
    size_t k = size * n;
    size_t room = sizeof r->body - 1 - r->len;
    memcpy(r->body + r->len, p, k < room ? k : room);
    r->len += k < room ? k : room;
    r->body[r->len] = '\0';
    return k;
}

static void header_value(const char *line, size_t len, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    if (len > nl && strncasecmp(line, name, nl) == 0) {
        const char *v = line + nl;
        size_t vl = len - nl;
        while (vl > 0 && (*v == ' ')) {
            v++, vl--;
        }
        while (vl > 0 && (v[vl - 1] == '\r' || v[vl - 1] == '\n')) {
            vl--;
        }
        snprintf(out, cap, "%.*s", (int)vl, v);
    }
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
    struct resp *r = arg;
    size_t k = size * n;
    header_value(p, k, "Set-Cookie:", r->set_cookie, sizeof r->set_cookie);
    header_value(p, k, "Content-Security-Policy:", r->csp, sizeof r->csp);
    header_value(p, k, "Cache-Control:", r->cache, sizeof r->cache);
    header_value(p, k, "Content-Type:", r->content_type, sizeof r->content_type);
    return k;
}

/* method path with optional cookie value, CSRF token, bearer token, Idempotency-Key, JSON body. */
static struct resp *req(const char *method, const char *path, const char *cookie, const char *csrf,
                        const char *bearer, const char *idem, const char *body)
{
    struct resp *r = calloc(1, sizeof *r);
    assert_non_null(r);
    CURL *c = curl_easy_init();
    assert_non_null(c);
    char url[512], h[4][300];
    snprintf(url, sizeof url, "%s%s", base, path);
    struct curl_slist *hs = NULL;
    if (cookie) {
        snprintf(h[0], sizeof h[0], "Cookie: %s=%s", SESSION_COOKIE_NAME, cookie);
        hs = curl_slist_append(hs, h[0]);
    }
    if (csrf) {
        snprintf(h[1], sizeof h[1], "X-CSRF-Token: %s", csrf);
        hs = curl_slist_append(hs, h[1]);
    }
    if (bearer) {
        snprintf(h[2], sizeof h[2], "Authorization: Bearer %s", bearer);
        hs = curl_slist_append(hs, h[2]);
    }
    if (idem) {
        snprintf(h[3], sizeof h[3], "Idempotency-Key: %s", idem);
        hs = curl_slist_append(hs, h[3]);
    }
    if (body) {
        hs = curl_slist_append(hs, "Content-Type: application/json");
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hs);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    }
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_slist_free_all(hs);
    curl_easy_cleanup(c);
    json_error_t je;
    r->json = json_loads(r->body, 0, &je);
    return r;
}

static void resp_free(struct resp *r)
{
    json_decref(r->json);
    free(r);
}

static const char *err_code(const struct resp *r)
{
    return json_string_value(json_object_get(json_object_get(r->json, "error"), "code"));
}

static const char *err_field(const struct resp *r)
{
    return json_string_value(json_object_get(json_object_get(r->json, "error"), "field"));
}

static int64_t scalar(const char *sql)
{
    char *v = testdb_scalar(conninfo, sql);
    assert_non_null(v);
    int64_t n = strtoll(v, NULL, 10);
    free(v);
    return n;
}

/* Signs in; returns the cookie value (static per slot) and the CSRF token. */
static void login(const char *name, const char *totp, char cookie[SESSION_TOKEN_BYTES],
                  char csrf[SESSION_CSRF_BYTES])
{
    char body[256];
    if (totp) {
        snprintf(body, sizeof body, "{\"name\":\"%s\",\"password\":\"%s\",\"totp\":\"%s\"}", name, PASSWORD, totp);
    } else {
        snprintf(body, sizeof body, "{\"name\":\"%s\",\"password\":\"%s\"}", name, PASSWORD);
    }
    struct resp *r = req("POST", "/v1/session", NULL, NULL, NULL, NULL, body);
    if (r->status != 200) {
        fprintf(stderr, "login %s: %ld %s\n", name, r->status, r->body);
    }
    assert_int_equal(r->status, 200);
    assert_memory_equal(r->set_cookie, SESSION_COOKIE_NAME "=fs_", strlen(SESSION_COOKIE_NAME) + 4);
    snprintf(cookie, SESSION_TOKEN_BYTES, "%.*s", SESSION_TOKEN_BYTES - 1, r->set_cookie + strlen(SESSION_COOKIE_NAME) + 1);
    snprintf(csrf, SESSION_CSRF_BYTES, "%s", json_string_value(json_object_get(r->json, "csrf_token")));
    resp_free(r);
}

static int setup(void **state)
{
    (void)state;
    log_set_level_name("error");
    curl_global_init(CURL_GLOBAL_ALL);
    conninfo = testdb_create("session_http");
    struct db *db = testdb_open(conninfo);
    struct fl_error err;
    fl_error_clear(&err);
    struct password_params cheap = {.t_cost = 1, .m_cost_kib = 64, .parallelism = 1};
    int64_t admin_id = 0, other_id = 0;
    char uri[TOTP_URI_BYTES];
    if (auth_user_add(db, "s.admin", ROLE_ADMIN, 0, &admin_id, &err) != FLE_OK ||
        auth_user_add(db, "s.manager", ROLE_FUND_MANAGER, 0, &manager_id, &err) != FLE_OK ||
        auth_user_add(db, "s.approver", ROLE_APPROVER, 0, &approver_id, &err) != FLE_OK ||
        auth_user_add(db, "s.other", ROLE_AUDITOR, 0, &other_id, &err) != FLE_OK ||
        session_password_set(db, &cheap, manager_id, PASSWORD, &err) != FLE_OK ||
        session_password_set(db, &cheap, approver_id, PASSWORD, &err) != FLE_OK ||
        session_password_set(db, &cheap, other_id, PASSWORD, &err) != FLE_OK ||
        session_totp_enroll(db, approver_id, "s.approver", uri, approver_secret, &err) != FLE_OK ||
        auth_token_create(db, manager_id, "t", 0, manager_token, NULL, &err) != FLE_OK ||
        auth_token_create(db, admin_id, "t", 0, admin_token, NULL, &err) != FLE_OK) {
        fprintf(stderr, "test_session_http: setup: %s\n", err.message);
        return -1;
    }
    db_close(db);
    config_defaults(&cfg);
    snprintf(cfg.listen, sizeof cfg.listen, "127.0.0.1:0");
    snprintf(cfg.migrations_dir, sizeof cfg.migrations_dir, "migrations");
    cfg.password_argon2_t_cost = 1;
    cfg.password_argon2_m_cost_kib = 64;
    cfg.login_fail_max_account = 3;
    cfg.login_fail_max_address = 8;
    cfg.session_idle_s = 600;
    cfg.session_ttl_s = 3600;
    if (http_server_start(&cfg, conninfo, &server, &err) != FLE_OK) {
        fprintf(stderr, "test_session_http: %s\n", err.message);
        return -1;
    }
    snprintf(base, sizeof base, "http://127.0.0.1:%u", (unsigned)http_server_port(server));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    http_server_stop(server);
    curl_global_cleanup();
    return 0;
}

static void test_login_cookie_and_whoami(void **state)
{
    (void)state;
    char cookie[SESSION_TOKEN_BYTES], csrf[SESSION_CSRF_BYTES];
    struct resp *r = req("POST", "/v1/session", NULL, NULL, NULL, NULL,
                         "{\"name\":\"s.manager\",\"password\":\"a long test password\"}");
    assert_int_equal(r->status, 200);
    /* The cookie's attributes: HttpOnly, SameSite=Strict, Path=/, the TTL; no Secure over plain HTTP. */
    assert_non_null(strstr(r->set_cookie, "; Path=/; Max-Age=3600; HttpOnly; SameSite=Strict"));
    assert_null(strstr(r->set_cookie, "Secure"));
    assert_string_equal(json_string_value(json_object_get(json_object_get(r->json, "user"), "name")), "s.manager");
    assert_string_equal(json_string_value(json_object_get(r->json, "via")), "session");
    snprintf(cookie, sizeof cookie, "%.*s", SESSION_TOKEN_BYTES - 1, r->set_cookie + strlen(SESSION_COOKIE_NAME) + 1);
    snprintf(csrf, sizeof csrf, "%s", json_string_value(json_object_get(r->json, "csrf_token")));
    resp_free(r);
    /* The database keeps only the hash of the cookie. */
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM web_session WHERE token_hash = encode(sha256('%s'), 'hex')",
             cookie);
    assert_int_equal(scalar(sql), 1);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM web_session WHERE token_hash LIKE '%%%s%%'", cookie + 3);
    assert_int_equal(scalar(sql), 0);
    /* GET /v1/session with the cookie: the same user and CSRF token; GET needs no token. */
    r = req("GET", "/v1/session", cookie, NULL, NULL, NULL, NULL);
    assert_int_equal(r->status, 200);
    assert_string_equal(json_string_value(json_object_get(r->json, "csrf_token")), csrf);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(r->json, "user"), "user_id")), manager_id);
    resp_free(r);
    /* GET of another route with the cookie works as the user. */
    r = req("GET", "/v1/me", cookie, NULL, NULL, NULL, NULL);
    assert_int_equal(r->status, 200);
    assert_string_equal(json_string_value(json_object_get(r->json, "role")), "fund_manager");
    resp_free(r);
    /* Audited. */
    snprintf(sql, sizeof sql, "SELECT count(*) FROM audit_log WHERE action = 'session.login' AND user_id = %" PRId64,
             manager_id);
    assert_true(scalar(sql) >= 1);
    /* Bearer tokens keep working, with no CSRF token; GET /v1/session says so. */
    r = req("GET", "/v1/session", NULL, NULL, manager_token, NULL, NULL);
    assert_int_equal(r->status, 200);
    assert_true(json_is_null(json_object_get(r->json, "csrf_token")));
    assert_string_equal(json_string_value(json_object_get(r->json, "via")), "token");
    resp_free(r);
    r = req("POST", "/v1/funds", NULL, NULL, manager_token, "bearer-fund-1",
            "{\"code\":\"SESS-B\",\"name\":\"Bearer fund\",\"base_currency\":\"COP\"}");
    assert_int_equal(r->status, 201);
    resp_free(r);
}

static void test_csrf_required_on_writes(void **state)
{
    (void)state;
    char cookie[SESSION_TOKEN_BYTES], csrf[SESSION_CSRF_BYTES];
    login("s.manager", NULL, cookie, csrf);
    const char *body = "{\"code\":\"SESS-C\",\"name\":\"Cookie fund\",\"base_currency\":\"COP\"}";
    struct resp *r = req("POST", "/v1/funds", cookie, NULL, NULL, "csrf-1", body);
    assert_int_equal(r->status, 403);
    assert_string_equal(err_code(r), "forbidden");
    assert_string_equal(err_field(r), "X-CSRF-Token");
    assert_non_null(json_object_get(json_object_get(r->json, "error"), "message"));
    resp_free(r);
    /* A wrong token (another session's) is refused the same way. */
    char cookie2[SESSION_TOKEN_BYTES], csrf2[SESSION_CSRF_BYTES];
    login("s.manager", NULL, cookie2, csrf2);
    r = req("POST", "/v1/funds", cookie, csrf2, NULL, "csrf-2", body);
    assert_int_equal(r->status, 403);
    assert_string_equal(err_field(r), "X-CSRF-Token");
    resp_free(r);
    assert_int_equal(scalar("SELECT count(*) FROM fund WHERE code = 'SESS-C'"), 0);
    /* DELETE (logout) without the token is refused too, and the session lives on. */
    r = req("DELETE", "/v1/session", cookie, NULL, NULL, NULL, NULL);
    assert_int_equal(r->status, 403);
    resp_free(r);
    /* With its own token the write goes through. */
    r = req("POST", "/v1/funds", cookie, csrf, NULL, "csrf-3", body);
    assert_int_equal(r->status, 201);
    resp_free(r);
    assert_int_equal(scalar("SELECT count(*) FROM fund WHERE code = 'SESS-C'"), 1);
}

static void test_session_fixation(void **state)
{
    (void)state;
    /* A session id planted before sign-in (an attacker's own live session) is not the one after:
     * the server makes a new id and ends the planted one. */
    char planted[SESSION_TOKEN_BYTES], csrf[SESSION_CSRF_BYTES];
    login("s.other", NULL, planted, csrf);
    struct resp *r = req("POST", "/v1/session", planted, NULL, NULL, NULL,
                         "{\"name\":\"s.manager\",\"password\":\"a long test password\"}");
    assert_int_equal(r->status, 200);
    char fresh[SESSION_TOKEN_BYTES];
    snprintf(fresh, sizeof fresh, "%.*s", SESSION_TOKEN_BYTES - 1, r->set_cookie + strlen(SESSION_COOKIE_NAME) + 1);
    resp_free(r);
    assert_string_not_equal(fresh, planted);
    r = req("GET", "/v1/me", planted, NULL, NULL, NULL, NULL);
    assert_int_equal(r->status, 401);
    resp_free(r);
    r = req("GET", "/v1/me", fresh, NULL, NULL, NULL, NULL);
    assert_int_equal(r->status, 200);
    assert_string_equal(json_string_value(json_object_get(r->json, "name")), "s.manager");
    resp_free(r);
    /* An invented cookie value is simply unknown. */
    r = req("GET", "/v1/me", "fs_0000000000000000000000000000000000000000000000000000000000000000", NULL, NULL, NULL,
            NULL);
    assert_int_equal(r->status, 401);
    assert_string_equal(err_code(r), "unauthenticated");
    resp_free(r);
}

static void test_logout_expiry_idle_revocation(void **state)
{
    (void)state;
    char a[SESSION_TOKEN_BYTES], b[SESSION_TOKEN_BYTES], c[SESSION_TOKEN_BYTES], d[SESSION_TOKEN_BYTES];
    char ca[SESSION_CSRF_BYTES], cb[SESSION_CSRF_BYTES], cc[SESSION_CSRF_BYTES], cd[SESSION_CSRF_BYTES];
    login("s.manager", NULL, a, ca);
    login("s.manager", NULL, b, cb);
    login("s.manager", NULL, c, cc);
    login("s.other", NULL, d, cd);
    /* Logout: the cookie is cleared and the session answers 401 from then on. */
    struct resp *r = req("DELETE", "/v1/session", a, ca, NULL, NULL, NULL);
    assert_int_equal(r->status, 200);
    assert_non_null(strstr(r->set_cookie, SESSION_COOKIE_NAME "=; Path=/; Max-Age=0"));
    resp_free(r);
    r = req("GET", "/v1/session", a, NULL, NULL, NULL, NULL);
    assert_int_equal(r->status, 401);
    resp_free(r);
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM web_session WHERE token_hash = encode(sha256('%s'), 'hex') AND ended_why = 'logout'", a);
    assert_int_equal(scalar(sql), 1);
    /* Expiry: a session past expires_at is refused. */
    snprintf(sql, sizeof sql,
             /* the clock moved on: the owner, past the session guard (an expiry never changes) */
             "SET session_replication_role = replica; "
             "UPDATE web_session SET created_at = now() - interval '2 hours', expires_at = now() - interval '1 second' "
             "WHERE token_hash = encode(sha256('%s'), 'hex')",
             b);
    assert_true(testdb_exec(conninfo, sql));
    r = req("GET", "/v1/me", b, NULL, NULL, NULL, NULL);
    assert_int_equal(r->status, 401);
    resp_free(r);
    /* Idle: unused for longer than session_idle_s (600 s here) is refused; used within it, kept. */
    snprintf(sql, sizeof sql,
             "UPDATE web_session SET last_seen_at = now() - interval '599 seconds' WHERE token_hash = "
             "encode(sha256('%s'), 'hex')",
             c);
    assert_true(testdb_exec(conninfo, sql));
    r = req("GET", "/v1/me", c, NULL, NULL, NULL, NULL);
    assert_int_equal(r->status, 200); /* and last_seen_at is now again */
    resp_free(r);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM web_session WHERE token_hash = encode(sha256('%s'), 'hex') AND last_seen_at > now() "
             "- interval '60 seconds'",
             c);
    assert_int_equal(scalar(sql), 1);
    snprintf(sql, sizeof sql,
             "UPDATE web_session SET last_seen_at = now() - interval '601 seconds' WHERE token_hash = "
             "encode(sha256('%s'), 'hex')",
             c);
    assert_true(testdb_exec(conninfo, sql));
    r = req("GET", "/v1/me", c, NULL, NULL, NULL, NULL);
    assert_int_equal(r->status, 401);
    resp_free(r);
    /* Revocation by an admin: every live session of the user ends; others' do not. */
    char e[SESSION_TOKEN_BYTES], ce[SESSION_CSRF_BYTES];
    login("s.manager", NULL, e, ce);
    char path[96];
    snprintf(path, sizeof path, "/v1/users/%" PRId64 "/sessions", manager_id);
    r = req("DELETE", path, NULL, NULL, manager_token, NULL, NULL);
    assert_int_equal(r->status, 403); /* not an admin */
    resp_free(r);
    r = req("DELETE", path, NULL, NULL, admin_token, NULL, NULL);
    assert_int_equal(r->status, 200);
    assert_true(json_integer_value(json_object_get(r->json, "sessions_ended")) >= 1);
    resp_free(r);
    r = req("GET", "/v1/me", e, NULL, NULL, NULL, NULL);
    assert_int_equal(r->status, 401);
    resp_free(r);
    r = req("GET", "/v1/me", d, NULL, NULL, NULL, NULL);
    assert_int_equal(r->status, 200);
    resp_free(r);
    r = req("DELETE", "/v1/users/999999/sessions", NULL, NULL, admin_token, NULL, NULL);
    assert_int_equal(r->status, 404);
    resp_free(r);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM web_session WHERE user_id = %" PRId64 " AND ended_at IS NULL",
             manager_id);
    assert_int_equal(scalar(sql), 0);
    assert_int_equal(scalar("SELECT count(*) FROM audit_log WHERE action = 'session.revoke'"), 1);
}

static void test_totp_for_approvers(void **state)
{
    (void)state;
    /* Without a code: 401 naming totp. */
    struct resp *r = req("POST", "/v1/session", NULL, NULL, NULL, NULL,
                         "{\"name\":\"s.approver\",\"password\":\"a long test password\"}");
    assert_int_equal(r->status, 401);
    assert_string_equal(err_field(r), "totp");
    assert_string_equal(r->set_cookie, "");
    resp_free(r);
    /* With a wrong code: refused. */
    char code[9];
    assert_true(totp_code(approver_secret, TOTP_SECRET_BYTES, time(NULL) - 300, 6, 1, code));
    char body[200];
    snprintf(body, sizeof body, "{\"name\":\"s.approver\",\"password\":\"%s\",\"totp\":\"%s\"}", PASSWORD, code);
    r = req("POST", "/v1/session", NULL, NULL, NULL, NULL, body);
    assert_int_equal(r->status, 401);
    assert_string_equal(err_field(r), "totp");
    resp_free(r);
    /* With the current code: in. The same code a second time: refused (no replay). */
    assert_true(totp_code(approver_secret, TOTP_SECRET_BYTES, time(NULL), 6, 1, code));
    char cookie[SESSION_TOKEN_BYTES], csrf[SESSION_CSRF_BYTES];
    login("s.approver", code, cookie, csrf);
    snprintf(body, sizeof body, "{\"name\":\"s.approver\",\"password\":\"%s\",\"totp\":\"%s\"}", PASSWORD, code);
    r = req("POST", "/v1/session", NULL, NULL, NULL, NULL, body);
    assert_int_equal(r->status, 401);
    assert_string_equal(err_field(r), "totp");
    resp_free(r);
    char sql[200];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM audit_log WHERE action = 'session.login_failed' AND user_id = %" PRId64
             " AND detail->>'reason' IN ('totp_missing', 'totp_wrong', 'totp_replayed')",
             approver_id);
    assert_int_equal(scalar(sql), 3);
}

/* TOTP secrets at rest (docs/console.md): sealed with AES-256-GCM under totp_key_file, the user id
 * bound in; a clear secret from before migration 0021 is sealed by session_totp_seal_clear (what
 * `fundledger serve` runs at start); a wrong key fails closed. A user of its own, since
 * s.approver is at its failure limit after test_totp_for_approvers. */
static void test_totp_secret_sealed_at_rest(void **state)
{
    (void)state;
    struct db *db = testdb_open(conninfo);
    struct fl_error err;
    fl_error_clear(&err);
    struct password_params cheap = {.t_cost = 1, .m_cost_kib = 64, .parallelism = 1};
    int64_t uid = 0, uid2 = 0;
    uint8_t secret[TOTP_SECRET_BYTES], secret2[TOTP_SECRET_BYTES];
    char uri[TOTP_URI_BYTES];
    assert_int_equal(auth_user_add(db, "s.sealed", ROLE_APPROVER, 0, &uid, &err), FLE_OK);
    assert_int_equal(session_password_set(db, &cheap, uid, PASSWORD, &err), FLE_OK);
    assert_int_equal(session_totp_enroll(db, uid, "s.sealed", uri, secret, &err), FLE_OK);
    assert_int_equal(auth_user_add(db, "s.sealed2", ROLE_APPROVER, 0, &uid2, &err), FLE_OK);
    assert_int_equal(session_password_set(db, &cheap, uid2, PASSWORD, &err), FLE_OK);
    assert_int_equal(session_totp_enroll(db, uid2, "s.sealed2", uri, secret2, &err), FLE_OK);
    /* Stored: 12 + 20 + 16 bytes, marked sealed, and neither the secret nor its base32 appears. */
    char hex[2 * TOTP_SECRET_BYTES + 1], sql[512];
    hash_hex(secret, sizeof secret, hex);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM user_credential WHERE user_id = %" PRId64 " AND totp_sealed AND "
             "length(totp_secret) = 48 AND position(decode('%s', 'hex') IN totp_secret) = 0",
             uid, hex);
    assert_int_equal(scalar(sql), 1);
    const char *b32 = strstr(uri, "secret=") + 7;
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM user_credential WHERE user_id = %" PRId64 " AND position(convert_to('%.32s', "
             "'UTF8') IN totp_secret) = 0 AND encode(totp_secret, 'escape') NOT LIKE '%%%.8s%%'",
             uid2, b32, b32);
    assert_int_equal(scalar(sql), 1);
    /* Sign-in with the sealed secret works. */
    char code[9], cookie[SESSION_TOKEN_BYTES], csrf[SESSION_CSRF_BYTES];
    assert_true(totp_code(secret, TOTP_SECRET_BYTES, time(NULL), 6, 1, code));
    login("s.sealed", code, cookie, csrf);
    /* A sealed secret moved to another user's row does not open (the user id is bound in). */
    snprintf(sql, sizeof sql,
             "UPDATE user_credential SET totp_secret = (SELECT totp_secret FROM user_credential WHERE user_id = "
             "%" PRId64 ") WHERE user_id = %" PRId64,
             uid, uid2);
    assert_true(testdb_exec(conninfo, sql));
    assert_true(totp_code(secret, TOTP_SECRET_BYTES, time(NULL), 6, 1, code));
    char body[200];
    snprintf(body, sizeof body, "{\"name\":\"s.sealed2\",\"password\":\"%s\",\"totp\":\"%s\"}", PASSWORD, code);
    struct resp *r = req("POST", "/v1/session", NULL, NULL, NULL, NULL, body);
    assert_int_equal(r->status, 500);
    assert_string_equal(r->set_cookie, "");
    resp_free(r);
    /* A clear secret (as stored before migration 0021): sealed by session_totp_seal_clear, then
     * its codes sign in. */
    uint8_t clear[TOTP_SECRET_BYTES];
    memset(clear, 0x5a, sizeof clear);
    hash_hex(clear, sizeof clear, hex);
    snprintf(sql, sizeof sql,
             "UPDATE user_credential SET totp_secret = decode('%s', 'hex'), totp_sealed = false WHERE user_id = "
             "%" PRId64,
             hex, uid2);
    assert_true(testdb_exec(conninfo, sql));
    unsigned sealed = 0;
    assert_int_equal(session_totp_seal_clear(db, &sealed, &err), FLE_OK);
    assert_int_equal(sealed, 1);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM user_credential WHERE totp_secret IS NOT NULL AND NOT totp_sealed");
    assert_int_equal(scalar(sql), 0);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM user_credential WHERE user_id = %" PRId64 " AND totp_sealed AND "
             "position(decode('%s', 'hex') IN totp_secret) = 0",
             uid2, hex);
    assert_int_equal(scalar(sql), 1);
    assert_int_equal(session_totp_seal_clear(db, &sealed, &err), FLE_OK);
    assert_int_equal(sealed, 0);
    assert_true(totp_code(clear, TOTP_SECRET_BYTES, time(NULL), 6, 1, code));
    login("s.sealed2", code, cookie, csrf);
    /* Another key: fails closed (500, no cookie, no session); the right key again: in. */
    char dir[] = "/tmp/fl_totpkey_XXXXXX", other[64];
    assert_non_null(mkdtemp(dir));
    snprintf(other, sizeof other, "%s/other.key", dir);
    totp_key_configure(other);
    assert_true(totp_code(secret, TOTP_SECRET_BYTES, time(NULL) + TOTP_STEP_S, 6, 1, code));
    snprintf(body, sizeof body, "{\"name\":\"s.sealed\",\"password\":\"%s\",\"totp\":\"%s\"}", PASSWORD, code);
    r = req("POST", "/v1/session", NULL, NULL, NULL, NULL, body);
    assert_int_equal(r->status, 500);
    assert_string_equal(r->set_cookie, "");
    resp_free(r);
    struct stat st;
    assert_int_equal(stat(other, &st), 0);
    assert_int_equal((int)(st.st_mode & 0777), 0600);
    assert_int_equal((int)st.st_size, TOTP_KEY_BYTES);
    /* A key file of the wrong size is refused. */
    assert_true(truncate(other, 16) == 0);
    totp_key_configure(TOTP_KEY_PATH_DEFAULT);
    totp_key_configure(other);
    assert_int_equal(totp_key_load(&err), FLE_INTERNAL);
    assert_non_null(strstr(err.message, "exactly 32 bytes"));
    (void)remove(other);
    (void)rmdir(dir);
    totp_key_configure(TOTP_KEY_PATH_DEFAULT);
    login("s.sealed", code, cookie, csrf);
    db_close(db);
}

static void test_rate_limits(void **state)
{
    (void)state;
    /* Per account: three failures (login_fail_max_account = 3), then 429 even with the right
     * password; the failures are counted in the database. */
    /* A fresh count (the owner, past the append-only guard): earlier tests' attempts are not these. */
    assert_true(testdb_exec(conninfo, "SET session_replication_role = replica; DELETE FROM login_attempt"));
    for (int i = 0; i < 3; i++) {
        struct resp *r = req("POST", "/v1/session", NULL, NULL, NULL, NULL,
                             "{\"name\":\"s.other\",\"password\":\"wrong password here\"}");
        assert_int_equal(r->status, 401);
        assert_string_equal(err_code(r), "unauthenticated");
        resp_free(r);
    }
    struct resp *r = req("POST", "/v1/session", NULL, NULL, NULL, NULL,
                         "{\"name\":\"s.other\",\"password\":\"a long test password\"}");
    assert_int_equal(r->status, 429);
    assert_string_equal(err_code(r), "rate_limited");
    assert_string_equal(r->set_cookie, "");
    resp_free(r);
    assert_int_equal(scalar("SELECT count(*) FROM login_attempt WHERE user_name = 's.other' AND NOT ok"), 3);
    assert_true(scalar("SELECT count(*) FROM audit_log WHERE action = 'session.login_refused'") >= 1);
    /* When the failures leave the window the account opens again. */
    assert_true(testdb_exec(conninfo, "SET session_replication_role = replica; "
                                      "UPDATE login_attempt SET at = at - interval '16 minutes'"));
    char cookie[SESSION_TOKEN_BYTES], csrf[SESSION_CSRF_BYTES];
    login("s.other", NULL, cookie, csrf);
    /* Per address: eight failures from 127.0.0.1 over several names, then even a good login is 429. */
    /* A fresh count (the owner, past the append-only guard): earlier tests' attempts are not these. */
    assert_true(testdb_exec(conninfo, "SET session_replication_role = replica; DELETE FROM login_attempt"));
    for (int i = 0; i < 8; i++) {
        char body[128];
        snprintf(body, sizeof body, "{\"name\":\"nobody%d\",\"password\":\"wrong password here\"}", i);
        r = req("POST", "/v1/session", NULL, NULL, NULL, NULL, body);
        assert_int_equal(r->status, 401);
        resp_free(r);
    }
    r = req("POST", "/v1/session", NULL, NULL, NULL, NULL, "{\"name\":\"s.manager\",\"password\":\"a long test password\"}");
    assert_int_equal(r->status, 429);
    resp_free(r);
    assert_int_equal(scalar("SELECT count(*) FROM login_attempt WHERE address = '127.0.0.1' AND NOT ok"), 8);
    /* A fresh count (the owner, past the append-only guard): earlier tests' attempts are not these. */
    assert_true(testdb_exec(conninfo, "SET session_replication_role = replica; DELETE FROM login_attempt"));
    /* Bad bodies are 400 and not counted. */
    r = req("POST", "/v1/session", NULL, NULL, NULL, NULL, "{\"name\":\"s.manager\"}");
    assert_int_equal(r->status, 400);
    assert_string_equal(err_field(r), "password");
    resp_free(r);
    assert_int_equal(scalar("SELECT count(*) FROM login_attempt"), 0);
}

static void test_static_files(void **state)
{
    (void)state;
    struct resp *r = req("GET", "/app/", NULL, NULL, NULL, NULL, NULL);
    assert_int_equal(r->status, 200);
    assert_string_equal(r->content_type, "text/html; charset=utf-8");
    assert_string_equal(r->cache, "no-store");
    assert_non_null(strstr(r->csp, "script-src 'self'"));
    assert_non_null(strstr(r->csp, "style-src 'self'"));
    assert_null(strstr(r->csp, "unsafe-inline"));
    assert_non_null(strstr(r->csp, "frame-ancestors 'none'"));
    /* index.html names the hashed asset directory; no inline script or style. */
    const char *js = strstr(r->body, "/app/assets/");
    assert_non_null(js);
    assert_null(strstr(r->body, "<script>"));
    assert_null(strstr(r->body, "style="));
    char path[128];
    size_t n = strcspn(js, "\"");
    snprintf(path, sizeof path, "%.*s", (int)n, js);
    assert_non_null(strstr(path, "/app.css"));
    resp_free(r);
    r = req("GET", path, NULL, NULL, NULL, NULL, NULL);
    assert_int_equal(r->status, 200);
    assert_string_equal(r->content_type, "text/css; charset=utf-8");
    assert_string_equal(r->cache, "public, max-age=31536000, immutable");
    resp_free(r);
    r = req("GET", "/app/assets/0000/app.js", NULL, NULL, NULL, NULL, NULL);
    assert_int_equal(r->status, 404);
    assert_string_equal(err_code(r), "not_found");
    resp_free(r);
    r = req("POST", "/app/", NULL, NULL, NULL, NULL, "{}");
    assert_int_equal(r->status, 405);
    resp_free(r);
    r = req("GET", "/app", NULL, NULL, NULL, NULL, NULL);
    assert_int_equal(r->status, 308);
    resp_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_login_cookie_and_whoami),
        cmocka_unit_test(test_csrf_required_on_writes),
        cmocka_unit_test(test_session_fixation),
        cmocka_unit_test(test_logout_expiry_idle_revocation),
        cmocka_unit_test(test_totp_for_approvers),
        cmocka_unit_test(test_totp_secret_sealed_at_rest),
        cmocka_unit_test(test_rate_limits),
        cmocka_unit_test(test_static_files),
    };
    return cmocka_run_group_tests_name("browser sessions (HTTP)", tests, setup, teardown);
}
