/* HTTP tests of investor statements: the real server in-process on 127.0.0.1, a small fund made
 * through the C API, and GET /v1/funds/{fund_id}/statements as investors and staff over the
 * socket: JSON and HTML content types, the investor's own scope (403 otherwise), bad input. */
/* cmocka.h needs these before it, in this order. */
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

#include "../support/testdb.h"
#include "fundledger/approval.h"
#include "fundledger/auth.h"
#include "fundledger/config.h"
#include "fundledger/fund.h"
#include "fundledger/http.h"
#include "fundledger/log.h"
#include "fundledger/org.h"
#include "fundledger/tranche.h"

#define URL_BYTES 512
#define BODY_BYTES_MAX (16 * 1024 * 1024) /* a statement page is far smaller */

enum who { PARTNER, IMPACT, AUDITOR, MANAGER, TRANSPARENCY, PEOPLE };

static const char *conninfo;
static struct config cfg; /* outlives the server, which keeps a pointer */
static struct http_server *server;
static char base_url[64];
static char tokens[PEOPLE][TOKEN_TEXT_BYTES];
static int64_t fund_id, partner, impact, t_partner, t_impact;
static struct principal manager, approver;

/* ---- a tiny client that also reports the Content-Type ------------------------------------- */

struct resp {
    long status;
    char content_type[128];
    char *body;
    size_t len;
    json_t *json;
};

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    struct resp *r = arg;
    size_t k = size * n;
    if (r->len + k + 1 > BODY_BYTES_MAX) {
        return 0;
    }
    char *b = realloc(r->body, r->len + k + 1);
    if (b == NULL) {
        return 0;
    }
    memcpy(b + r->len, p, k);
    r->body = b;
    r->len += k;
    r->body[r->len] = '\0';
    return k;
}

static void get(struct resp *r, const char *path_and_query, enum who w, bool with_token)
{
    memset(r, 0, sizeof *r);
    CURL *c = curl_easy_init();
    assert_non_null(c);
    char url[URL_BYTES], auth[TOKEN_TEXT_BYTES + 32];
    snprintf(url, sizeof url, "%s%s", base_url, path_and_query);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", tokens[w]);
    struct curl_slist *h = with_token ? curl_slist_append(NULL, auth) : NULL;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
    CURLcode rc = curl_easy_perform(c);
    if (rc != CURLE_OK) {
        fail_msg("GET %s: %s", path_and_query, curl_easy_strerror(rc));
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    char *ct = NULL;
    curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
    snprintf(r->content_type, sizeof r->content_type, "%s", ct ? ct : "");
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    if (r->body == NULL) {
        r->body = calloc(1, 1);
        assert_non_null(r->body);
    }
    json_error_t je;
    r->json = json_loads(r->body, 0, &je);
}

static void resp_free(struct resp *r)
{
    free(r->body);
    json_decref(r->json);
    memset(r, 0, sizeof *r);
}

#define expect_error(r, st, code, field) expect_error_at((r), (st), (code), (field), __FILE__, __LINE__)
static void expect_error_at(const struct resp *r, long st, const char *code, const char *field, const char *file,
                            int line)
{
    if (r->status != st) {
        print_message("%s:%d: expected HTTP %ld, got %ld: %s\n", file, line, st, r->status, r->body);
    }
    _assert_int_equal((uintmax_t)r->status, (uintmax_t)st, file, line);
    const json_t *e = json_object_get(r->json, "error");
    const char *c = json_string_value(json_object_get(e, "code")), *f = json_string_value(json_object_get(e, "field"));
    _assert_string_equal(c ? c : "(null)", code, file, line);
    _assert_string_equal(f ? f : "(null)", field, file, line);
}

/* ---- setup: a fund with two investors' tranches -------------------------------------------- */

typedef json_t *(*call_fn)(struct db *d, void *arg, struct fl_error *err);
struct call {
    call_fn fn;
    void *arg;
    json_t *out;
};

static enum fl_err call_tx(struct db *d, void *arg, struct fl_error *err)
{
    struct call *c = arg;
    json_decref(c->out);
    c->out = c->fn(d, c->arg, err);
    return c->out ? FLE_OK : err->code;
}

/* Runs fn in a transaction; NULL (after printing why) when it fails. */
static json_t *run(struct db *db, call_fn fn, void *arg)
{
    struct call c = {fn, arg, NULL};
    struct fl_error err;
    fl_error_clear(&err);
    if (db_tx(db, call_tx, &c, &err) != FLE_OK) {
        fprintf(stderr, "test_statements_http: setup: %s (%s)\n", err.message, err.field);
        json_decref(c.out);
        return NULL;
    }
    return c.out;
}

static json_t *org_fn(struct db *d, void *arg, struct fl_error *err)
{
    return org_create(d, NULL, arg, "investor", NULL, NULL, err);
}

static json_t *fund_fn(struct db *d, void *arg, struct fl_error *err)
{
    (void)arg;
    return fund_create(d, &manager, "STMT-HTTP", "Statement HTTP fund", "COP", err);
}

static json_t *tranche_fn(struct db *d, void *arg, struct fl_error *err)
{
    return tranche_propose(d, &manager, fund_id, arg, err);
}

static json_t *approve_fn(struct db *d, void *arg, struct fl_error *err)
{
    return approval_decide(d, &approver, *(int64_t *)arg, true, "ok", err);
}

struct contribution {
    int64_t tranche;
    const char *amount, *date, *ref;
};

static json_t *contribute_fn(struct db *d, void *arg, struct fl_error *err)
{
    struct contribution *c = arg;
    return tranche_contribute(d, &manager, c->tranche, c->amount, c->date, c->ref, 0, err);
}

static int64_t id_of(json_t *o)
{
    int64_t id = o ? json_integer_value(json_object_get(o, "id")) : 0;
    json_decref(o);
    return id;
}

/* A tranche proposed and approved; its id, or 0. */
static int64_t tranche(struct db *db, int64_t investor, const char *name, const char *kind, int rank)
{
    struct tranche_terms t = {investor, name, kind, rank, "COP", "1000000.00", NULL, NULL, NULL, "2025-01-01", NULL};
    int64_t pid = id_of(run(db, tranche_fn, &t));
    if (pid == 0 || id_of(run(db, approve_fn, &pid)) == 0) {
        return 0;
    }
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT id FROM tranche WHERE name = '%s'", name);
    char *v = testdb_scalar(conninfo, sql);
    int64_t id = v ? strtoll(v, NULL, 10) : 0;
    free(v);
    return id;
}

static bool user_with_token(struct db *db, const char *name, enum role role, int64_t org, enum who w,
                            struct fl_error *err)
{
    int64_t uid = 0, tid = 0;
    return auth_user_add(db, name, role, org, &uid, err) == FLE_OK &&
           auth_token_create(db, uid, "test", 0, tokens[w], &tid, err) == FLE_OK;
}

static int setup(void **state)
{
    (void)state;
    const char *level = getenv("FUNDLEDGER_LOG_LEVEL");
    log_set_level_name(level ? level : "warn");
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        return -1;
    }
    conninfo = testdb_create("statements_http");
    struct db *db = testdb_open(conninfo);
    struct fl_error err;
    fl_error_clear(&err);
    manager = (struct principal){.role = ROLE_FUND_MANAGER};
    approver = (struct principal){.role = ROLE_APPROVER};
    bool ok = auth_user_add(db, "manager", ROLE_FUND_MANAGER, 0, &manager.user_id, &err) == FLE_OK &&
              auth_user_add(db, "approver", ROLE_APPROVER, 0, &approver.user_id, &err) == FLE_OK &&
              auth_limit_set(db, approver.user_id, "COP", 100000000000, &err) == FLE_OK;
    fund_id = ok ? id_of(run(db, fund_fn, NULL)) : 0;
    partner = fund_id ? id_of(run(db, org_fn, (void *)"Corporate Partner")) : 0;
    impact = partner ? id_of(run(db, org_fn, (void *)"Impact Investor")) : 0;
    t_impact = impact ? tranche(db, impact, "Senior", "senior", 1) : 0;
    t_partner = t_impact ? tranche(db, partner, "Mezzanine", "mezzanine", 2) : 0;
    struct contribution c1 = {t_impact, "600000.00", "2025-02-01", "I-1"},
                        c2 = {t_partner, "400000.00", "2025-03-01", "P-1"};
    ok = t_partner != 0 && id_of(run(db, contribute_fn, &c1)) != 0 && id_of(run(db, contribute_fn, &c2)) != 0 &&
         user_with_token(db, "partner", ROLE_INVESTOR, partner, PARTNER, &err) &&
         user_with_token(db, "impact", ROLE_INVESTOR, impact, IMPACT, &err) &&
         user_with_token(db, "auditor", ROLE_AUDITOR, 0, AUDITOR, &err) &&
         user_with_token(db, "manager2", ROLE_FUND_MANAGER, 0, MANAGER, &err) &&
         user_with_token(db, "transparency", ROLE_TRANSPARENCY_OFFICER, 0, TRANSPARENCY, &err);
    db_close(db);
    if (!ok) {
        fprintf(stderr, "test_statements_http: setup failed: %s\n", err.message);
        return -1;
    }
    config_defaults(&cfg);
    snprintf(cfg.listen, sizeof cfg.listen, "127.0.0.1:0");
    snprintf(cfg.migrations_dir, sizeof cfg.migrations_dir, "migrations");
    snprintf(cfg.reports_dir, sizeof cfg.reports_dir, "reports");
    cfg.http_threads = 2;
    if (http_server_start(&cfg, conninfo, &server, &err) != FLE_OK) {
        fprintf(stderr, "test_statements_http: http_server_start: %s\n", err.message);
        return -1;
    }
    snprintf(base_url, sizeof base_url, "http://127.0.0.1:%u", (unsigned)http_server_port(server));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    http_server_stop(server);
    server = NULL;
    return 0; /* curl's global state stays, as in support/httpc.c */
}

static const char *statements_path(char buf[URL_BYTES], const char *query)
{
    snprintf(buf, URL_BYTES, "/v1/funds/%" PRId64 "/statements?%s", fund_id, query);
    return buf;
}

/* ---- tests --------------------------------------------------------------------------------- */

static void test_investor_own_json(void **state)
{
    (void)state;
    char p[URL_BYTES];
    struct resp r;
    get(&r, statements_path(p, "period_end=2026-06-30"), PARTNER, true);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.content_type, "application/json"));
    assert_non_null(r.json);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(r.json, "investor"), "id")), partner);
    const json_t *ts = json_object_get(r.json, "tranches");
    assert_int_equal(json_array_size(ts), 1);
    const json_t *t = json_array_get(ts, 0);
    assert_int_equal(json_integer_value(json_object_get(t, "id")), t_partner);
    assert_string_equal(json_string_value(json_object_get(json_object_get(t, "commitment"), "paid_in")), "400000.00");
    const char *h = json_string_value(json_object_get(r.json, "hash"));
    assert_non_null(h);
    assert_int_equal(strlen(h), 64);
    resp_free(&r);
    /* Its own tranche named, and its own organisation named, are fine too. */
    char q[128];
    snprintf(q, sizeof q, "period_end=2026-06-30&investor_id=%" PRId64 "&tranche_id=%" PRId64, partner, t_partner);
    get(&r, statements_path(p, q), PARTNER, true);
    assert_int_equal(r.status, 200);
    resp_free(&r);
}

static void test_investor_own_html(void **state)
{
    (void)state;
    char p[URL_BYTES];
    struct resp r;
    get(&r, statements_path(p, "period_end=2026-06-30&format=html"), PARTNER, true);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.content_type, "text/html"));
    assert_non_null(strstr(r.body, "<!DOCTYPE html>"));
    assert_non_null(strstr(r.body, "<svg"));
    assert_non_null(strstr(r.body, "400,000.00"));
    assert_null(strstr(r.body, "http://"));
    assert_null(strstr(r.body, "https://"));
    assert_null(strstr(r.body, "<script"));
    resp_free(&r);
    get(&r, statements_path(p, "period_end=2026-06-30&format=json"), PARTNER, true);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.content_type, "application/json"));
    resp_free(&r);
}

static void test_investor_other_forbidden(void **state)
{
    (void)state;
    char p[URL_BYTES], q[128];
    struct resp r;
    snprintf(q, sizeof q, "period_end=2026-06-30&investor_id=%" PRId64, impact);
    get(&r, statements_path(p, q), PARTNER, true);
    expect_error(&r, 403, "forbidden", "investor_id");
    resp_free(&r);
    /* Another investor's tranche, under its own investor id or none. */
    snprintf(q, sizeof q, "period_end=2026-06-30&tranche_id=%" PRId64, t_impact);
    get(&r, statements_path(p, q), PARTNER, true);
    expect_error(&r, 403, "forbidden", "tranche_id");
    resp_free(&r);
    snprintf(q, sizeof q, "period_end=2026-06-30&investor_id=%" PRId64 "&tranche_id=%" PRId64, partner, t_impact);
    get(&r, statements_path(p, q), PARTNER, true);
    expect_error(&r, 403, "forbidden", "tranche_id");
    resp_free(&r);
    /* The same for HTML. */
    snprintf(q, sizeof q, "period_end=2026-06-30&format=html&investor_id=%" PRId64, impact);
    get(&r, statements_path(p, q), PARTNER, true);
    expect_error(&r, 403, "forbidden", "investor_id");
    resp_free(&r);
    /* Roles without statements; no token. */
    snprintf(q, sizeof q, "period_end=2026-06-30&investor_id=%" PRId64, impact);
    get(&r, statements_path(p, q), TRANSPARENCY, true);
    assert_int_equal(r.status, 403);
    resp_free(&r);
    get(&r, statements_path(p, q), PARTNER, false);
    assert_int_equal(r.status, 401);
    resp_free(&r);
}

static void test_staff(void **state)
{
    (void)state;
    char p[URL_BYTES], q[128];
    struct resp r;
    snprintf(q, sizeof q, "period_end=2026-06-30&investor_id=%" PRId64, impact);
    get(&r, statements_path(p, q), AUDITOR, true);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(r.json, "investor"), "id")), impact);
    const json_t *t = json_array_get(json_object_get(r.json, "tranches"), 0);
    assert_string_equal(json_string_value(json_object_get(json_object_get(t, "commitment"), "paid_in")), "600000.00");
    resp_free(&r);
    snprintf(q, sizeof q, "period_end=2026-06-30&format=html&investor_id=%" PRId64, partner);
    get(&r, statements_path(p, q), MANAGER, true);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.content_type, "text/html"));
    resp_free(&r);
    /* Staff must say which investor. */
    get(&r, statements_path(p, "period_end=2026-06-30"), AUDITOR, true);
    expect_error(&r, 400, "invalid_parameter", "investor_id");
    resp_free(&r);
    /* A tranche that is not this investor's, for staff: 400 naming tranche_id. */
    snprintf(q, sizeof q, "period_end=2026-06-30&investor_id=%" PRId64 "&tranche_id=%" PRId64, impact, t_partner);
    get(&r, statements_path(p, q), AUDITOR, true);
    expect_error(&r, 400, "invalid_parameter", "tranche_id");
    resp_free(&r);
}

static void test_bad_input(void **state)
{
    (void)state;
    char p[URL_BYTES];
    struct resp r;
    get(&r, statements_path(p, "period_end=2026-13-01"), PARTNER, true);
    expect_error(&r, 400, "invalid_parameter", "period_end");
    resp_free(&r);
    get(&r, statements_path(p, "period_end=yesterday"), PARTNER, true);
    expect_error(&r, 400, "invalid_parameter", "period_end");
    resp_free(&r);
    /* No period end: the statement as of today (UTC). */
    get(&r, statements_path(p, "format=json"), PARTNER, true);
    assert_int_equal(r.status, 200);
    char today[DATE_TEXT_BYTES];
    tranche_today(today);
    assert_string_equal(json_string_value(json_object_get(r.json, "period_end")), today);
    resp_free(&r);
    get(&r, statements_path(p, "period_end=2999-12-31"), PARTNER, true);
    expect_error(&r, 400, "invalid_parameter", "period_end");
    resp_free(&r);
    get(&r, statements_path(p, "period_end=2026-06-30&format=pdf"), PARTNER, true);
    expect_error(&r, 400, "invalid_parameter", "format");
    resp_free(&r);
    get(&r, statements_path(p, "period_end=2026-06-30&tranche_id=abc"), PARTNER, true);
    expect_error(&r, 400, "invalid_parameter", "tranche_id");
    resp_free(&r);
    /* Before the tranche was signed there is nothing to report. */
    get(&r, statements_path(p, "period_end=2024-12-31"), PARTNER, true);
    expect_error(&r, 404, "not_found", "investor_id");
    resp_free(&r);
    get(&r, "/v1/funds/999999/statements?period_end=2026-06-30", PARTNER, true);
    expect_error(&r, 404, "not_found", "fund_id");
    resp_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_investor_own_json),
        cmocka_unit_test(test_investor_own_html),
        cmocka_unit_test(test_investor_other_forbidden),
        cmocka_unit_test(test_staff),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests_name("statements (HTTP)", tests, setup, teardown);
}
