/* test_hardening: hostile input over the socket: bytes that are not UTF-8 in a body, a header, a
 * query or a CSV line; NUL bytes (raw and %00) in the path and the headers; conflicting
 * Content-Length; oversized headers; the amount maximum end to end (C and database); and slow
 * clients (per-client connection limit, the whole-request deadline). Each case with its exact
 * status and error body, and nothing written. */
/* cmocka.h needs these before it, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../support/httpc.h"
#include "../support/testdb.h"
#include "demo_fixture.h"
#include "fundledger/auth.h"
#include "fundledger/config.h"
#include "fundledger/demo.h"
#include "fundledger/http.h"
#include "fundledger/limits.h"
#include "fundledger/log.h"

#define KEY_BYTES 64
#define PATH_BYTES 256
#define TOKEN_BYTES 128
#define RAW_REPLY_BYTES 65536
/* Slow-client tests: bounded counts and times. */
#define TRICKLERS 12       /* connections one client opens */
#define PER_IP_LIMIT 4     /* the limit of the slow-client server */
#define DEADLINE_S 2       /* its whole-request deadline */
#define FILL_CONNECTIONS 6 /* connections_max of the server the tricklers fill */
#define TRICKLE_MS 100     /* one byte every TRICKLE_MS */

enum who { ADMIN, MANAGER, APPROVER, UNDP, TRANSPARENCY, AUDITOR, PEOPLE };
static const char *const people[PEOPLE] = {"admin", "manager", "approver", "undp", "transparency", "auditor"};
static const enum role roles[PEOPLE] = {ROLE_ADMIN,    ROLE_FUND_MANAGER,         ROLE_APPROVER,
                                        ROLE_INVESTOR, ROLE_TRANSPARENCY_OFFICER, ROLE_AUDITOR};

static const char *conninfo;
static struct config cfg;
static struct http_server *server;
static char base_url[64];
static unsigned port;
static char tokens[PEOPLE][TOKEN_BYTES];
static int64_t fund_id, cash_id, capital_id, approver_id;
static atomic_uint key_counter;

/* ---- helpers ---------------------------------------------------------------------------- */

static const char *fresh_key(char buf[KEY_BYTES])
{
    snprintf(buf, KEY_BYTES, "hardening-%u", atomic_fetch_add(&key_counter, 1) + 1);
    return buf;
}

static const char *or_null(const char *s)
{
    return s ? s : "(null)";
}

static const char *jstr(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

#define expect_error(r, st, code, field, msg) expect_error_at((r), (st), (code), (field), (msg), __LINE__)

/* The reply is {"error":{"code","message","field"}} with exactly these values (msg NULL: any). */
static void expect_error_at(const struct httpc_resp *r, long st, const char *code, const char *field, const char *msg,
                            int line)
{
    if (r->status != st) {
        print_message("line %d: expected HTTP %ld, got %ld: %s\n", line, st, r->status, or_null(r->body));
    }
    assert_int_equal(r->status, st);
    json_t *e = json_object_get(r->json, "error");
    if (!json_is_object(e)) {
        fail_msg("line %d: not an error body: %s", line, or_null(r->body));
    }
    assert_string_equal(or_null(jstr(e, "code")), code);
    assert_string_equal(or_null(jstr(e, "field")), field);
    if (msg != NULL) {
        assert_string_equal(or_null(jstr(e, "message")), msg);
    }
}

/* A request with raw headers ("Name: value" lines) and body bytes. */
static void send_raw(struct httpc_resp *r, const char *method, const char *path, const char *token, const char *key,
                     const char *content_type, const char *body, size_t body_len)
{
    char auth[TOKEN_BYTES + 32], idem[KEY_BYTES + 32], ct[96];
    const char *headers[4] = {NULL, NULL, NULL, NULL};
    size_t h = 0;
    if (token != NULL) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
        headers[h++] = auth;
    }
    if (key != NULL) {
        snprintf(idem, sizeof idem, "Idempotency-Key: %s", key);
        headers[h++] = idem;
    }
    if (content_type != NULL) {
        snprintf(ct, sizeof ct, "Content-Type: %s", content_type);
        headers[h++] = ct;
    }
    if (!httpc_request_raw(base_url, method, path, headers, body, body_len, r)) {
        fail_msg("%s %s: no HTTP answer", method, path);
    }
}

static int64_t scalar(const char *sql)
{
    char *v = testdb_scalar(conninfo, sql);
    assert_non_null(v);
    int64_t n = strtoll(v, NULL, 10);
    free(v);
    return n;
}

/* Rows that any write leaves: proposals, entries, lines, audit records, stored replies. */
static int64_t written_rows(void)
{
    return scalar("SELECT (SELECT count(*) FROM proposal) + (SELECT count(*) FROM journal_entry) + "
                  "(SELECT count(*) FROM journal_line) + (SELECT count(*) FROM audit_log) + "
                  "(SELECT count(*) FROM idempotency_key) + (SELECT count(*) FROM repayment) + "
                  "(SELECT count(*) FROM entrepreneur) + (SELECT count(*) FROM organisation)");
}

static int64_t id_by(const json_t *arr, const char *key, const char *value)
{
    size_t i;
    json_t *o;
    json_array_foreach(arr, i, o)
    {
        if (strcmp(or_null(jstr(o, key)), value) == 0) {
            return (int64_t)json_integer_value(json_object_get(o, "id"));
        }
    }
    return 0;
}

static json_t *get_json(const char *path, const char *token)
{
    struct httpc_resp r;
    if (!httpc_request(base_url, "GET", path, token, NULL, NULL, NULL, &r) || r.status != 200) {
        fail_msg("GET %s: %ld %s", path, r.status, or_null(r.body));
    }
    json_t *j = json_incref(r.json);
    httpc_resp_free(&r);
    return j;
}

/* ---- raw sockets ------------------------------------------------------------------------- */

static long now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000L + t.tv_nsec / 1000000L;
}

static void sleep_ms(long ms)
{
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

/* A TCP connection to the server under test (port p) from source address src (a loopback
 * address such as 127.0.0.2, so that each test client is its own "client IP"). */
static int raw_connect(unsigned p, const char *src)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    if (src != NULL) {
        assert_int_equal(inet_pton(AF_INET, src, &sa.sin_addr), 1);
        assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    }
    sa.sin_port = htons((uint16_t)p);
    assert_int_equal(inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr), 1);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    return fd;
}

/* Sends len bytes and reads until the server closes (at most 10 s): the reply's status, and its
 * body (after the blank line) in body. */
static long raw_exchange(const char *req, size_t len, char *body, size_t cap)
{
    int fd = raw_connect(port, NULL);
    assert_int_equal(send(fd, req, len, MSG_NOSIGNAL), (ssize_t)len);
    static char buf[RAW_REPLY_BYTES];
    size_t got = 0;
    long t0 = now_ms();
    while (got < sizeof buf - 1 && now_ms() - t0 < 10000) {
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        if (poll(&pf, 1, 500) <= 0) {
            continue;
        }
        ssize_t n = recv(fd, buf + got, sizeof buf - 1 - got, 0);
        if (n <= 0) {
            break;
        }
        got += (size_t)n;
    }
    close(fd);
    buf[got] = '\0';
    long status = 0;
    if (sscanf(buf, "HTTP/1.%*d %ld", &status) != 1) {
        status = 0;
    }
    const char *b = strstr(buf, "\r\n\r\n");
    snprintf(body, cap, "%s", b ? b + 4 : "");
    return status;
}

/* The raw reply body is the error shape with this code and field. */
static void expect_raw_error(const char *reply_body, const char *code, const char *field)
{
    json_error_t je;
    json_t *j = json_loads(reply_body, 0, &je);
    if (j == NULL) {
        fail_msg("not JSON: %s", reply_body);
    }
    json_t *e = json_object_get(j, "error");
    assert_string_equal(or_null(jstr(e, "code")), code);
    assert_string_equal(or_null(jstr(e, "field")), field);
    json_decref(j);
}

/* ---- setup ------------------------------------------------------------------------------- */

static int setup(void **state)
{
    (void)state;
    const char *level = getenv("FUNDLEDGER_LOG_LEVEL");
    log_set_level_name(level ? level : "warn");
    conninfo = testdb_create("http_hardening");
    json_t *doc;
    if (!demo_fixture_load(conninfo, "test_hardening", "hardening", &doc, NULL, 0)) {
        return -1;
    }
    json_t *toks = json_object_get(doc, "tokens");
    for (int i = 0; i < PEOPLE; i++) {
        const char *t = jstr(toks, people[i]);
        if (t == NULL || strlen(t) >= TOKEN_BYTES) {
            json_decref(doc);
            return -1;
        }
        snprintf(tokens[i], TOKEN_BYTES, "%s", t);
    }
    json_decref(doc);
    demo_fixture_config(&cfg);
    if (!demo_fixture_serve(&cfg, conninfo, "test_hardening", &server, base_url, sizeof base_url)) {
        return -1;
    }
    port = http_server_port(server);
    json_t *funds = get_json("/v1/funds", tokens[MANAGER]);
    fund_id = id_by(json_object_get(funds, "funds"), "code", "HSP-ELCHARCO");
    json_decref(funds);
    char path[PATH_BYTES];
    snprintf(path, sizeof path, "/v1/funds/%" PRId64 "/accounts", fund_id);
    json_t *accounts = get_json(path, tokens[MANAGER]);
    cash_id = id_by(json_object_get(accounts, "accounts"), "code", "1000");
    capital_id = id_by(json_object_get(accounts, "accounts"), "code", "3000");
    json_decref(accounts);
    json_t *users = get_json("/v1/users", tokens[ADMIN]);
    approver_id = id_by(json_object_get(users, "users"), "name", "approver");
    json_decref(users);
    return fund_id > 0 && cash_id > 0 && capital_id > 0 && approver_id > 0 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    http_server_stop(server);
    return 0;
}

/* ---- UTF-8 ------------------------------------------------------------------------------- */

/* A route's pattern with every {param} filled: currencies with COP, ids with 1. */
static void fill_pattern(const char *pattern, char *out, size_t cap)
{
    size_t w = 0;
    for (const char *p = pattern; *p && w + 8 < cap;) {
        if (*p == '{') {
            const char *end = strchr(p, '}');
            assert_non_null(end);
            const char *v = strncmp(p, "{currency}", 10) == 0 ? "COP" : "1";
            w += (size_t)snprintf(out + w, cap - w, "%s", v);
            p = end + 1;
        } else {
            out[w++] = *p++;
        }
    }
    out[w] = '\0';
}

/* The first demo person whose role the route allows. */
static const char *token_for(unsigned route_roles)
{
    for (int i = 0; i < PEOPLE; i++) {
        if (route_roles & ROLE_BIT(roles[i])) {
            return tokens[i];
        }
    }
    fail_msg("no demo person has a role of mask %u", route_roles);
    return NULL;
}

/* Every write route: an Idempotency-Key that is not UTF-8 is 400 naming the header; a JSON body
 * that is not UTF-8 is 400 naming the member; the CSV import refuses the line with its reason.
 * Nothing is written by any of the refusals. */
static void test_utf8_on_every_write_route(void **state)
{
    (void)state;
    unsigned n_routes = 0;
    const struct http_route *routes = http_routes(&n_routes);
    unsigned writes = 0;
    int64_t before = written_rows();
    for (unsigned i = 0; i < n_routes; i++) {
        const struct http_route *rt = &routes[i];
        if (!rt->write) {
            continue;
        }
        writes++;
        char path[PATH_BYTES], key[KEY_BYTES];
        fill_pattern(rt->pattern, path, sizeof path);
        const char *token = token_for(rt->roles);
        bool csv = strstr(rt->pattern, "/repayments/import") != NULL;
        const char *ctype = csv ? "text/csv" : "application/json";
        struct httpc_resp r;
        /* The header: refused before anything else. */
        send_raw(&r, rt->method, path, token, "bad-\xff-key", ctype, "{}", 2);
        expect_error(&r, 400, "invalid_parameter", "Idempotency-Key", "a header is not valid UTF-8");
        httpc_resp_free(&r);
        if (strcmp(rt->method, "DELETE") == 0) {
            continue; /* takes no body */
        }
        if (csv) {
            const char *body = "loan_id,amount,value_date,reference\n1,1.00,2026-01-01,BANK-\xc3\x28\n";
            send_raw(&r, rt->method, path, token, fresh_key(key), ctype, body, strlen(body));
            assert_int_equal(r.status, 200);
            json_t *line = json_array_get(json_object_get(r.json, "results"), 0);
            assert_string_equal(or_null(jstr(line, "status")), "refused");
            json_t *e = json_object_get(line, "error");
            assert_string_equal(or_null(jstr(e, "code")), "invalid_field");
            assert_string_equal(or_null(jstr(e, "field")), "line");
            assert_string_equal(or_null(jstr(e, "message")), "not valid UTF-8");
            assert_int_equal(json_integer_value(json_object_get(r.json, "applied")), 0);
            httpc_resp_free(&r);
            continue;
        }
        const char *body = "{\"note\":\"caf\xe9\"}"; /* Latin-1, not UTF-8 */
        send_raw(&r, rt->method, path, token, fresh_key(key), ctype, body, strlen(body));
        expect_error(&r, 400, "malformed_json", "note", "not valid UTF-8 (byte 12 of the body)");
        httpc_resp_free(&r);
    }
    assert_true(writes >= 29); /* the 29 of the finding, and any added since */
    /* The CSV import stored its reply (and an audit row); nothing else was written. */
    assert_int_equal(written_rows(), before + 2);
}

/* Nested members, surrogates, overlong forms and bytes in a member name. */
static void test_utf8_json_cases(void **state)
{
    (void)state;
    char path[PATH_BYTES], key[KEY_BYTES], body[512];
    snprintf(path, sizeof path, "/v1/funds/%" PRId64 "/entries", fund_id);
    int64_t before = written_rows();
    struct {
        const char *memo_or_line; /* a JSON fragment put into the entry */
        const char *field;
    } cases[] = {
        {"\"memo\":\"fee \xff\"", "memo"},
        {"\"memo\":\"\xed\xa0\x80\"", "memo"},     /* a UTF-16 surrogate */
        {"\"memo\":\"\xc0\xaf\"", "memo"},         /* an overlong '/' */
        {"\"memo\":\"\xf4\x90\x80\x80\"", "memo"}, /* above U+10FFFF */
        {"\"m\xffo\":\"x\"", "body"},              /* in a member name */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(body, sizeof body,
                 "{\"effective_date\":\"2026-01-10\",%s,\"lines\":[{\"account_id\":%" PRId64
                 ",\"debit\":\"1.00\"},{\"account_id\":%" PRId64 ",\"credit\":\"1.00\"}]}",
                 cases[i].memo_or_line, cash_id, capital_id);
        struct httpc_resp r;
        send_raw(&r, "POST", path, tokens[MANAGER], fresh_key(key), "application/json", body, strlen(body));
        expect_error(&r, 400, "malformed_json", cases[i].field, NULL);
        httpc_resp_free(&r);
    }
    /* Inside a line: the member is named. */
    snprintf(body, sizeof body,
             "{\"effective_date\":\"2026-01-10\",\"lines\":[{\"account_id\":%" PRId64
             ",\"debit\":\"1.0\xff\"},{\"account_id\":%" PRId64 ",\"credit\":\"1.00\"}]}",
             cash_id, capital_id);
    struct httpc_resp r;
    send_raw(&r, "POST", path, tokens[MANAGER], fresh_key(key), "application/json", body, strlen(body));
    expect_error(&r, 400, "malformed_json", "debit", NULL);
    httpc_resp_free(&r);
    assert_int_equal(written_rows(), before);
}

/* Headers and query parameters that are not UTF-8, or hold NUL. */
static void test_utf8_headers_and_query(void **state)
{
    (void)state;
    struct httpc_resp r;
    const char *auth[] = {"Authorization: Bearer fl_\xff", NULL};
    assert_true(httpc_request_raw(base_url, "GET", "/v1/me", auth, NULL, 0, &r));
    expect_error(&r, 400, "invalid_parameter", "Authorization", "a header is not valid UTF-8");
    httpc_resp_free(&r);
    assert_true(httpc_request(base_url, "GET", "/v1/funds?stage=%ff", tokens[MANAGER], NULL, NULL, NULL, &r));
    expect_error(&r, 400, "invalid_parameter", "stage", "a query parameter is not valid UTF-8");
    httpc_resp_free(&r);
    char path[PATH_BYTES];
    snprintf(path, sizeof path, "/v1/funds/%" PRId64 "/entrepreneurs?municipality=%%c3%%28", fund_id);
    assert_true(httpc_request(base_url, "GET", path, tokens[MANAGER], NULL, NULL, NULL, &r));
    expect_error(&r, 400, "invalid_parameter", "municipality", "a query parameter is not valid UTF-8");
    httpc_resp_free(&r);
    /* Still serving. */
    assert_true(httpc_request(base_url, "GET", "/v1/funds", tokens[MANAGER], NULL, NULL, NULL, &r));
    assert_int_equal(r.status, 200);
    httpc_resp_free(&r);
}

/* ---- NUL, Content-Length, header size ----------------------------------------------------- */

static void test_nul_in_path_and_headers(void **state)
{
    (void)state;
    struct httpc_resp r;
    /* %00 never cuts the path: /v1/audit%00/x is not /v1/audit. */
    assert_true(httpc_request(base_url, "GET", "/v1/audit%00/x", tokens[AUDITOR], NULL, NULL, NULL, &r));
    expect_error(&r, 400, "invalid_parameter", "path", "the request target holds a NUL byte (%00)");
    httpc_resp_free(&r);
    assert_true(httpc_request(base_url, "GET", "/v1/funds?x=a%00b", tokens[MANAGER], NULL, NULL, NULL, &r));
    expect_error(&r, 400, "invalid_parameter", "path", "the request target holds a NUL byte (%00)");
    httpc_resp_free(&r);
    /* Raw NUL bytes, which libmicrohttpd reads as the end of a C string. */
    char body[4096];
    static const char nul_path[] = "GET /v1/audit\0/x HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    assert_int_equal(raw_exchange(nul_path, sizeof nul_path - 1, body, sizeof body), 400);
    expect_raw_error(body, "invalid_parameter", "path");
    static const char nul_version[] = "GET /healthz\0HTTP/1.1 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    assert_int_equal(raw_exchange(nul_version, sizeof nul_version - 1, body, sizeof body), 400);
    expect_raw_error(body, "invalid_parameter", "path");
    static const char nul_header[] = "GET /healthz HTTP/1.1\r\nHost: t\r\nX-Note: a\0b\r\nConnection: close\r\n\r\n";
    assert_int_equal(raw_exchange(nul_header, sizeof nul_header - 1, body, sizeof body), 400);
    expect_raw_error(body, "invalid_parameter", "X-Note");
    static const char nul_last[] = "GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\nX-Last: a\0b\r\n\r\n";
    assert_int_equal(raw_exchange(nul_last, sizeof nul_last - 1, body, sizeof body), 400);
    expect_raw_error(body, "invalid_parameter", "X-Last");
    /* The same requests without the NUL are served. */
    static const char clean[] =
        "GET /healthz HTTP/1.1\r\nHost: t\r\nX-Note: ab\r\nX-Empty:\r\nConnection: close\r\n\r\n";
    assert_int_equal(raw_exchange(clean, sizeof clean - 1, body, sizeof body), 200);
    assert_string_equal(body, "{\"status\":\"ok\"}");
    static const char bare_lf[] = "GET /healthz HTTP/1.1\nHost: t\nX-Note: ab\nConnection: close\n\n";
    assert_int_equal(raw_exchange(bare_lf, sizeof bare_lf - 1, body, sizeof body), 200);
}

static void test_content_length_conflicts(void **state)
{
    (void)state;
    int64_t before = written_rows();
    char req[1024], body[4096];
    const char *payload = "{\"name\":\"Smuggled\",\"kind\":\"10\"}";
    int n = snprintf(req, sizeof req,
                     "POST /v1/organisations HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer %s\r\n"
                     "Idempotency-Key: cl-1\r\nContent-Type: application/json\r\nContent-Length: 2\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                     tokens[ADMIN], strlen(payload), payload);
    assert_int_equal(raw_exchange(req, (size_t)n, body, sizeof body), 400);
    expect_raw_error(body, "invalid_parameter", "Content-Length");
    assert_non_null(strstr(body, "more than one Content-Length header"));
    /* Two equal lengths are refused as well: one message has one length. */
    n = snprintf(req, sizeof req,
                 "POST /v1/organisations HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer %s\r\n"
                 "Idempotency-Key: cl-2\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                 "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                 tokens[ADMIN], strlen(payload), strlen(payload), payload);
    assert_int_equal(raw_exchange(req, (size_t)n, body, sizeof body), 400);
    expect_raw_error(body, "invalid_parameter", "Content-Length");
    /* A length and chunked framing together. */
    n = snprintf(req, sizeof req,
                 "POST /v1/organisations HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer %s\r\n"
                 "Idempotency-Key: cl-3\r\nContent-Type: application/json\r\nContent-Length: 5\r\n"
                 "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\n",
                 tokens[ADMIN]);
    assert_int_equal(raw_exchange(req, (size_t)n, body, sizeof body), 400);
    expect_raw_error(body, "invalid_parameter", "Transfer-Encoding");
    assert_int_equal(written_rows(), before);
}

/* Headers over HTTP_HEADER_BYTES_MAX: 431 in the JSON shape. Headers beyond what the connection's
 * memory (http_connection_memory_bytes) can hold never reach our code: libmicrohttpd 0.9.75
 * answers 431 itself, with its own HTML body (docs/deployment.md says so; the proxy in front
 * refuses such headers first). */
static void test_oversized_headers(void **state)
{
    (void)state;
    static char line[HTTP_HEADER_BYTES_MAX + 64];
    memset(line, 'a', sizeof line - 1);
    memcpy(line, "X-Big: ", 7);
    line[sizeof line - 1] = '\0';
    const char *headers[] = {line, NULL};
    struct httpc_resp r;
    assert_true(httpc_request_raw(base_url, "GET", "/healthz", headers, NULL, 0, &r));
    char msg[64];
    snprintf(msg, sizeof msg, "the headers are over %d bytes", HTTP_HEADER_BYTES_MAX);
    expect_error(&r, 431, "headers_too_large", "", msg);
    httpc_resp_free(&r);
    /* Beyond the connection's memory (65536 by default): libmicrohttpd's own 431. */
    static char huge[70000];
    memset(huge, 'a', sizeof huge - 1);
    memcpy(huge, "X-Huge: ", 8);
    huge[sizeof huge - 1] = '\0';
    const char *huge_headers[] = {huge, NULL};
    assert_true(httpc_request_raw(base_url, "GET", "/healthz", huge_headers, NULL, 0, &r));
    assert_int_equal(r.status, 431);
    assert_null(r.json);
    assert_non_null(strstr(r.body, "Request too big"));
    httpc_resp_free(&r);
    /* Both left the server serving. */
    assert_true(httpc_request(base_url, "GET", "/healthz", NULL, NULL, NULL, NULL, &r));
    assert_int_equal(r.status, 200);
    httpc_resp_free(&r);
}

/* ---- amounts ----------------------------------------------------------------------------- */

static char *entry_body(const char *amount)
{
    json_t *b = json_pack("{s:s, s:s, s:[{s:I, s:s}, {s:I, s:s}]}", "effective_date", "2026-01-12", "memo", "max",
                          "lines", "account_id", (json_int_t)cash_id, "debit", amount, "account_id",
                          (json_int_t)capital_id, "credit", amount);
    char *text = json_dumps(b, JSON_COMPACT);
    json_decref(b);
    assert_non_null(text);
    return text;
}

/* The documented maximum (10^15 minor units = COP 10000000000000.00) end to end: the approval
 * limit and an entry at the maximum are accepted and posted, one unit more is 400 naming the
 * field, the trial balance still answers with exact totals, and the database refuses the same
 * amounts written around the API. */
static void test_amount_maximum_end_to_end(void **state)
{
    (void)state;
    const char *max = "10000000000000.00", *over = "10000000000000.01";
    const char *limit_msg =
        "amount is above the maximum of 1000000000000000 minor units (10000000000000.00 with two decimals)";
    char path[PATH_BYTES], key[KEY_BYTES], body[128];
    struct httpc_resp r;
    int64_t before = written_rows();
    /* Above the maximum: refused, nothing written. */
    snprintf(path, sizeof path, "/v1/users/%" PRId64 "/approval-limits/COP", approver_id);
    snprintf(body, sizeof body, "{\"limit\":\"%s\"}", over);
    send_raw(&r, "PUT", path, tokens[ADMIN], fresh_key(key), "application/json", body, strlen(body));
    expect_error(&r, 400, "invalid_field", "limit", limit_msg);
    httpc_resp_free(&r);
    snprintf(path, sizeof path, "/v1/funds/%" PRId64 "/entries", fund_id);
    char *text = entry_body(over);
    send_raw(&r, "POST", path, tokens[MANAGER], fresh_key(key), "application/json", text, strlen(text));
    free(text);
    expect_error(&r, 400, "invalid_field", "lines[0].debit", limit_msg);
    httpc_resp_free(&r);
    text = entry_body("92233720368547758.07"); /* INT64_MAX minor units: what used to be accepted */
    send_raw(&r, "POST", path, tokens[MANAGER], fresh_key(key), "application/json", text, strlen(text));
    free(text);
    expect_error(&r, 400, "invalid_field", "lines[0].debit", limit_msg);
    httpc_resp_free(&r);
    assert_int_equal(written_rows(), before);

    /* At the maximum: accepted, twice, and posted. */
    snprintf(path, sizeof path, "/v1/users/%" PRId64 "/approval-limits/COP", approver_id);
    snprintf(body, sizeof body, "{\"limit\":\"%s\"}", max);
    send_raw(&r, "PUT", path, tokens[ADMIN], fresh_key(key), "application/json", body, strlen(body));
    assert_int_equal(r.status, 200);
    assert_string_equal(or_null(jstr(r.json, "limit")), max);
    httpc_resp_free(&r);
    char tb_path[PATH_BYTES];
    snprintf(tb_path, sizeof tb_path, "/v1/funds/%" PRId64 "/trial-balance", fund_id);
    json_t *tb0 = get_json(tb_path, tokens[MANAGER]);
    json_t *t0 = json_array_get(json_object_get(tb0, "totals"), 0);
    char debit0[64];
    snprintf(debit0, sizeof debit0, "%s", or_null(jstr(t0, "debit")));
    json_decref(tb0);
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "/v1/funds/%" PRId64 "/entries", fund_id);
        text = entry_body(max);
        send_raw(&r, "POST", path, tokens[MANAGER], fresh_key(key), "application/json", text, strlen(text));
        free(text);
        assert_int_equal(r.status, 201);
        assert_string_equal(or_null(jstr(r.json, "amount")), max);
        int64_t pid = (int64_t)json_integer_value(json_object_get(r.json, "id"));
        httpc_resp_free(&r);
        snprintf(path, sizeof path, "/v1/approvals/%" PRId64 "/approve", pid);
        send_raw(&r, "POST", path, tokens[APPROVER], fresh_key(key), NULL, NULL, 0);
        if (r.status != 200) {
            fail_msg("approve: %ld %s", r.status, or_null(r.body));
        }
        assert_string_equal(or_null(jstr(r.json, "status")), "approved");
        httpc_resp_free(&r);
    }
    /* The trial balance answers; the debit total grew by exactly twice the maximum and still balances. */
    json_t *tb = get_json(tb_path, tokens[MANAGER]);
    json_t *t = json_array_get(json_object_get(tb, "totals"), 0);
    assert_string_equal(or_null(jstr(t, "currency")), "COP");
    assert_string_equal(or_null(jstr(t, "difference")), "0.00");
    char *end = NULL;
    long long d0 = strtoll(debit0, &end, 10); /* whole pesos; the cents are compared below */
    long long d1 = strtoll(or_null(jstr(t, "debit")), NULL, 10);
    assert_int_equal(d1 - d0, 20000000000000LL);
    assert_string_equal(strchr(or_null(jstr(t, "debit")), '.'), strchr(debit0, '.'));
    json_decref(tb);
    char cash_path[PATH_BYTES];
    snprintf(cash_path, sizeof cash_path, "/v1/accounts/%" PRId64, cash_id);
    json_t *acc = get_json(cash_path, tokens[MANAGER]);
    assert_non_null(jstr(acc, "balance"));
    json_decref(acc);

    /* The database refuses one unit more on its own: a journal line and a business amount. */
    char sql[1024];
    char *who = testdb_scalar(conninfo, "SELECT id FROM app_user WHERE name = 'manager'");
    assert_non_null(who);
    snprintf(sql, sizeof sql,
             "WITH e AS (INSERT INTO journal_entry (id, fund_id, effective_date, posted_by, event_type) "
             "VALUES (990001, %" PRId64 ", '2026-01-12', %s, 'test')) "
             "INSERT INTO journal_line (entry_id, line_no, account_id, currency, amount_minor, effective_date) "
             "VALUES (990001, 1, %" PRId64 ", 'COP', 1000000000000001, '2026-01-12'), "
             "(990001, 2, %" PRId64 ", 'COP', -1000000000000001, '2026-01-12')",
             fund_id, who, cash_id, capital_id);
    free(who);
    char *msg = testdb_refusal(conninfo, sql);
    assert_non_null(msg);
    assert_string_equal(msg, "journal lines of entry 990001 must be numbered 1 to 64 and have a non-zero amount of "
                             "at most 1000000000000000 minor units");
    free(msg);
    msg = testdb_refusal(conninfo, "UPDATE approval_limit SET limit_minor = 1000000000000001");
    assert_non_null(msg);
    assert_non_null(strstr(msg, "approval_limit_limit_minor_max"));
    free(msg);
    msg = testdb_refusal(conninfo, "UPDATE entrepreneur SET requested_minor = 1000000000000001");
    assert_non_null(msg);
    assert_non_null(strstr(msg, "entrepreneur_requested_minor_max"));
    free(msg);
}

/* ---- slow clients ------------------------------------------------------------------------ */

/* A second server with small limits: PER_IP_LIMIT per client, DEADLINE_S to send a request. */
static struct http_server *slow_server(struct config *c, unsigned per_ip, unsigned connections_max)
{
    config_defaults(c);
    snprintf(c->listen, sizeof c->listen, "127.0.0.1:0");
    snprintf(c->migrations_dir, sizeof c->migrations_dir, "migrations");
    c->http_threads = 2;
    c->http_connections_per_ip_max = per_ip;
    c->http_connections_max = connections_max;
    c->http_request_deadline_s = DEADLINE_S;
    c->http_timeout_s = 60; /* the idle timeout alone would let a trickle live a minute per byte */
    struct http_server *s = NULL;
    struct fl_error err;
    fl_error_clear(&err);
    assert_int_equal(http_server_start(c, conninfo, &s, &err), FLE_OK);
    return s;
}

/* true when the server has closed fd (end of stream or reset), without waiting. */
static bool closed_by_server(int fd)
{
    char b[64];
    ssize_t n = recv(fd, b, sizeof b, MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

static void healthz_ok(const char *url)
{
    struct httpc_resp r;
    assert_true(httpc_request(url, "GET", "/healthz", NULL, NULL, NULL, NULL, &r));
    assert_int_equal(r.status, 200);
    httpc_resp_free(&r);
}

/* One client address opening TRICKLERS connections keeps PER_IP_LIMIT of them; the others are
 * closed at once, and a client from another address is served meanwhile. */
static void test_per_client_connection_limit(void **state)
{
    (void)state;
    struct config c;
    struct http_server *s = slow_server(&c, PER_IP_LIMIT, 64);
    unsigned p = http_server_port(s);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%u", p);
    int fds[TRICKLERS];
    for (int i = 0; i < TRICKLERS; i++) {
        fds[i] = raw_connect(p, "127.0.0.2");
        assert_int_equal(send(fds[i], "GET /healthz HTTP/1.1\r\n", 23, MSG_NOSIGNAL), 23);
    }
    sleep_ms(500);
    int open = 0;
    for (int i = 0; i < TRICKLERS; i++) {
        open += !closed_by_server(fds[i]);
    }
    assert_int_equal(open, PER_IP_LIMIT);
    healthz_ok(url); /* from 127.0.0.1 */
    for (int i = 0; i < TRICKLERS; i++) {
        close(fds[i]);
    }
    http_server_stop(s);
}

/* A request whose bytes keep trickling (one every TRICKLE_MS, so the idle timeout never fires)
 * is cut at its deadline: the headers of one, the body of another. */
static void test_trickle_cut_at_deadline(void **state)
{
    (void)state;
    struct config c;
    struct http_server *s = slow_server(&c, 0, 64);
    unsigned p = http_server_port(s);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%u", p);
    for (int kind = 0; kind < 2; kind++) {
        int fd = raw_connect(p, "127.0.0.3");
        const char *head = kind == 0 ? "GET /healthz HTTP/1.1\r\nHost: t\r\nX-Slow: "
                                     : "POST /v1/funds HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                                       "Idempotency-Key: slow\r\nContent-Length: 100000\r\n\r\n{\"code\":\"";
        assert_int_equal(send(fd, head, strlen(head), MSG_NOSIGNAL), (ssize_t)strlen(head));
        unsigned before = http_server_cut_count(s);
        long t0 = now_ms(), cut_at = -1;
        while (now_ms() - t0 < (DEADLINE_S + 5) * 1000L) {
            sleep_ms(TRICKLE_MS);
            if (closed_by_server(fd) || send(fd, "a", 1, MSG_NOSIGNAL) != 1) {
                cut_at = now_ms() - t0;
                break;
            }
        }
        close(fd);
        if (cut_at < 0) {
            fail_msg("a trickling request (%s) was never cut", kind == 0 ? "headers" : "body");
        }
        /* Not before its deadline; after it, within the watchdog's period and some slack. */
        assert_true(cut_at >= DEADLINE_S * 1000L - 300);
        assert_true(cut_at <= DEADLINE_S * 1000L + 3000);
        assert_int_equal(http_server_cut_count(s), before + 1);
        healthz_ok(url);
    }
    http_server_stop(s);
}

/* Tricklers from many addresses take every connection the server has: a normal client waits,
 * but is served once the deadline frees the slots (within the deadline and some slack). */
static void test_tricklers_do_not_lock_out(void **state)
{
    (void)state;
    struct config c;
    struct http_server *s = slow_server(&c, 0, FILL_CONNECTIONS);
    unsigned p = http_server_port(s);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%u", p);
    int fds[FILL_CONNECTIONS];
    for (int i = 0; i < FILL_CONNECTIONS; i++) {
        char src[32];
        snprintf(src, sizeof src, "127.0.0.%d", 10 + i);
        fds[i] = raw_connect(p, src);
        assert_int_equal(send(fds[i], "GET /healthz HTTP/1.1\r\n", 23, MSG_NOSIGNAL), 23);
    }
    sleep_ms(200);
    long t0 = now_ms();
    healthz_ok(url);
    long waited = now_ms() - t0;
    assert_true(waited <= DEADLINE_S * 1000L + 3000);
    /* Every trickler is cut by its deadline (and the watchdog's period and some slack), counted
     * from when the tricklers connected: the normal client may have been served as soon as the
     * first slots were freed, before the watchdog reached the others. */
    int cut = 0;
    bool seen[FILL_CONNECTIONS] = {false};
    while (cut < FILL_CONNECTIONS && now_ms() - t0 <= DEADLINE_S * 1000L + 3000) {
        for (int i = 0; i < FILL_CONNECTIONS; i++) {
            if (!seen[i] && closed_by_server(fds[i])) {
                seen[i] = true;
                cut++;
            }
        }
        if (cut < FILL_CONNECTIONS) {
            sleep_ms(50);
        }
    }
    for (int i = 0; i < FILL_CONNECTIONS; i++) {
        close(fds[i]);
    }
    assert_int_equal(cut, FILL_CONNECTIONS);
    http_server_stop(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_utf8_on_every_write_route), cmocka_unit_test(test_utf8_json_cases),
        cmocka_unit_test(test_utf8_headers_and_query),    cmocka_unit_test(test_nul_in_path_and_headers),
        cmocka_unit_test(test_content_length_conflicts),  cmocka_unit_test(test_oversized_headers),
        cmocka_unit_test(test_amount_maximum_end_to_end), cmocka_unit_test(test_per_client_connection_limit),
        cmocka_unit_test(test_trickle_cut_at_deadline),   cmocka_unit_test(test_tricklers_do_not_lock_out),
    };
    return cmocka_run_group_tests_name("HTTP hardening", tests, setup, teardown);
}
