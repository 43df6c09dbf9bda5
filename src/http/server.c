/* server: libmicrohttpd in thread-pool mode, the request life cycle, routing and replies. */
#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "fundledger/anchor.h"
#include "fundledger/hash.h"
#include "fundledger/http.h"
#include "fundledger/jsonv.h"
#include "fundledger/ledger.h"
#include "fundledger/log.h"
#include "fundledger/migrate.h"
#include "fundledger/rate.h"
#include "fundledger/session.h"

/* Worker connections are registered here so stop can close them after the workers end. */
#define DB_REGISTRY_MAX 256

int http_expected_migration;

/* Per connection (MHD_OPTION_NOTIFY_CONNECTION), in the server's list so that the watchdog can cut
 * a request that has not arrived by its deadline. Guarded by http_server.conns_mu. */
struct conn {
    struct conn *prev, *next;
    int fd;
    struct timespec since; /* the current request's clock: accept, or the end of the previous reply */
    bool receiving;        /* the current request has not fully arrived */
    bool cut;              /* the watchdog shut the socket down */
};

struct http_server {
    struct MHD_Daemon *daemon;
    const struct config *cfg;
    char conninfo[1200];
    pthread_mutex_t mu;
    struct db *dbs[DB_REGISTRY_MAX];
    unsigned n_dbs;
    pthread_t sealer;
    bool sealer_running;
    pthread_mutex_t stop_mu;
    pthread_cond_t stop_cv;
    bool stopping;
    pthread_mutex_t conns_mu;
    struct conn *conns;
    pthread_t watchdog;
    bool watchdog_running;
    atomic_int inflight;   /* requests from their request line to their completion */
    atomic_bool quiescing; /* http_server_stop has begun: no new connections, replies close */
    atomic_uint cut_count; /* requests cut at their deadline, for the log and tests */
};

/* Per request, from its request line (MHD_OPTION_URI_LOG_CALLBACK) to the completion callback. */
struct ctx {
    char *body;
    size_t len, cap;
    bool too_large;
    bool headers_seen; /* the first access-handler call (headers complete) has run */
    bool nul_in_uri;   /* the raw request target holds %00 (a NUL byte once unescaped) */
    size_t uri_seen;   /* strlen of the raw request target as the request-line callback saw it */
    struct timespec started;
};

static _Thread_local struct db *worker_db;
static _Thread_local struct http_server *worker_server;

/* When a worker thread ends, what it holds per thread goes with it (its database connection is
 * closed by http_server_stop from the registry). */
static pthread_key_t worker_key;
static pthread_once_t worker_key_once = PTHREAD_ONCE_INIT;

static void worker_end(void *unused)
{
    (void)unused;
    rate_thread_end();
}

static void worker_key_make(void)
{
    if (pthread_key_create(&worker_key, worker_end) != 0) {
        log_warn("server: no thread-exit hook; per-thread caches are kept until exit");
    }
}

static struct db *thread_db(struct http_server *s, struct fl_error *err)
{
    if (worker_db != NULL) {
        return worker_db;
    }
    /* Kept even when the database is away (503 now): the worker's next requests retry it under
     * the reconnection backoff, not with a new connection attempt each (db.c). */
    struct db *db = NULL;
    enum fl_err first = db_open_retrying(s->conninfo, true, s->cfg->db_tx_retries_max, &db, err);
    if (db == NULL) {
        return NULL;
    }
    pthread_mutex_lock(&s->mu);
    bool room = s->n_dbs < DB_REGISTRY_MAX;
    if (room) {
        s->dbs[s->n_dbs++] = db;
    }
    pthread_mutex_unlock(&s->mu);
    if (!room) {
        db_close(db);
        fl_error_set(err, FLE_INTERNAL, NULL, "too many worker connections");
        return NULL;
    }
    worker_db = db;
    worker_server = s;
    pthread_once(&worker_key_once, worker_key_make);
    pthread_setspecific(worker_key, (void *)1);
    return first == FLE_OK ? db : NULL;
}

void http_reply_json(struct http_reply *out, unsigned status, json_t *json)
{
    assert(json != NULL);
    out->status = status;
    json_decref(out->json);
    out->json = json;
}

void http_reply_fail(struct http_reply *out, enum fl_err code, const char *field, const char *message)
{
    json_t *e = json_pack("{s:{s:s, s:s, s:s}}", "error", "code", fl_err_code(code), "message",
                          message && message[0] ? message : fl_err_hint(code), "field", field ? field : "");
    if (e == NULL) {
        /* A field or message that is not UTF-8 (a client's bytes cut or quoted): the hint instead. */
        e = json_pack("{s:{s:s, s:s, s:s}}", "error", "code", fl_err_code(code), "message", fl_err_hint(code), "field",
                      jv_utf8_valid(field ? field : "", field ? strlen(field) : 0) ? field : "");
    }
    if (e == NULL) {
        e = json_pack("{s:{s:s, s:s, s:s}}", "error", "code", fl_err_code(code), "message", fl_err_hint(code), "field",
                      "");
    }
    http_reply_json(out, fl_err_status(code), e);
}

void http_reply_error(struct http_reply *out, const struct fl_error *err)
{
    enum fl_err code = err->code == FLE_OK ? FLE_INTERNAL : err->code;
    http_reply_fail(out, code, err->field, err->message);
}

void http_reply_result(struct http_reply *out, unsigned status, json_t *json, const struct fl_error *err)
{
    if (json != NULL) {
        http_reply_json(out, status, json);
    } else {
        http_reply_error(out, err);
    }
}

const char *http_query(struct http_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

static bool parse_id(const char *s, int64_t *out)
{
    if (s == NULL || s[0] == '\0' || strlen(s) > 18 || strspn(s, "0123456789") != strlen(s)) {
        return false;
    }
    *out = strtoll(s, NULL, 10);
    return *out > 0;
}

bool http_param_id(struct http_req *r, unsigned i, int64_t *out, struct http_reply *reply)
{
    assert(i < r->n_params);
    if (!parse_id(r->params[i], out)) {
        /* The pattern names the parameter: find the i-th {name}. */
        char name[ERROR_FIELD_BYTES] = "id";
        const char *p = r->route->pattern;
        for (unsigned k = 0; k <= i && p; k++) {
            p = strchr(p, '{');
            if (p && k < i) {
                p++;
            }
        }
        if (p) {
            const char *end = strchr(p, '}');
            snprintf(name, sizeof name, "%.*s", end ? (int)(end - p - 1) : 0, p + 1);
        }
        http_reply_fail(reply, FLE_BAD_PARAM, name, "a positive integer id is expected");
        return false;
    }
    return true;
}

bool http_query_date(struct http_req *r, const char *name, const char **out, struct http_reply *reply)
{
    *out = http_query(r, name);
    if (*out != NULL && !ledger_date_valid(*out)) {
        http_reply_fail(reply, FLE_BAD_PARAM, name, "a date YYYY-MM-DD is expected");
        return false;
    }
    return true;
}

bool http_query_id(struct http_req *r, const char *name, int64_t *out, struct http_reply *reply)
{
    const char *v = http_query(r, name);
    *out = 0;
    if (v != NULL && !parse_id(v, out)) {
        http_reply_fail(reply, FLE_BAD_PARAM, name, "a positive integer id is expected");
        return false;
    }
    return true;
}

bool http_query_page(struct http_req *r, int64_t *after, unsigned *limit, struct http_reply *reply)
{
    const char *a = http_query(r, "after");
    const char *l = http_query(r, "limit");
    *after = 0;
    *limit = PAGE_SIZE_DEFAULT;
    if (a != NULL && strcmp(a, "0") != 0 && !parse_id(a, after)) {
        http_reply_fail(reply, FLE_BAD_PARAM, "after", "an id from next_after is expected");
        return false;
    }
    if (l != NULL) {
        int64_t v = 0;
        if (!parse_id(l, &v) || v > PAGE_SIZE_MAX) {
            char msg[64];
            snprintf(msg, sizeof msg, "an integer from 1 to %d", PAGE_SIZE_MAX);
            http_reply_fail(reply, FLE_BAD_PARAM, "limit", msg);
            return false;
        }
        *limit = (unsigned)v;
    }
    return true;
}

void http_write(struct http_req *r, struct http_reply *out, idem_fn fn, void *arg)
{
    const char *key = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Idempotency-Key");
    assert(key != NULL); /* the dispatcher refused writes without one */
    /* The request's identity: method, path and body. */
    uint8_t h[HASH_BYTES];
    struct hash_ctx *c = hash_begin();
    bool ok = c && hash_update(c, r->method, strlen(r->method) + 1) && hash_update(c, r->url, strlen(r->url) + 1) &&
              hash_update(c, r->raw_body ? r->raw_body : "", r->raw_len);
    if (c == NULL || !hash_end(c, h) || !ok) {
        http_reply_fail(out, FLE_INTERNAL, NULL, NULL);
        return;
    }
    struct fl_error err;
    fl_error_clear(&err);
    unsigned status = 0;
    char *text = NULL;
    bool replayed = false;
    enum fl_err e = idem_run(r->db, r->who.user_id, key, h, fn, arg, &status, &text, &replayed, &err);
    if (e != FLE_OK) {
        http_reply_error(out, &err);
        return;
    }
    out->status = status;
    out->text = text;
    out->content_type = "application/json";
    out->replayed = replayed;
}

void http_read_id(struct http_req *r, struct http_reply *out, http_id_read_fn fn)
{
    int64_t id;
    if (!http_param_id(r, 0, &id, out)) {
        return;
    }
    struct fl_error err;
    fl_error_clear(&err);
    http_reply_result(out, 200, fn(r->db, id, &err), &err);
}

void http_read_id_date(struct http_req *r, struct http_reply *out, const char *name, http_id_date_read_fn fn)
{
    int64_t id;
    const char *date;
    if (!http_param_id(r, 0, &id, out) || !http_query_date(r, name, &date, out)) {
        return;
    }
    struct fl_error err;
    fl_error_clear(&err);
    http_reply_result(out, 200, fn(r->db, id, date, &err), &err);
}

void http_read_id_date_page(struct http_req *r, struct http_reply *out, const char *name, http_id_date_page_fn fn)
{
    int64_t id, after;
    unsigned limit;
    const char *date;
    if (!http_param_id(r, 0, &id, out) || !http_query_date(r, name, &date, out) ||
        !http_query_page(r, &after, &limit, out)) {
        return;
    }
    struct fl_error err;
    fl_error_clear(&err);
    http_reply_result(out, 200, fn(r->db, id, date, after, limit, &err), &err);
}

struct fund_date_args {
    const struct principal *who;
    int64_t fund_id;
    const char *date;
    unsigned status;
    http_fund_date_write_fn fn;
};

static enum fl_err fund_date_op(struct db *db, void *arg, unsigned *status, json_t **reply, struct fl_error *err)
{
    struct fund_date_args *a = arg;
    *status = a->status;
    *reply = a->fn(db, a->who, a->fund_id, a->date, err);
    return *reply ? FLE_OK : err->code;
}

void http_write_fund_date(struct http_req *r, struct http_reply *out, const char *field, unsigned status,
                          http_fund_date_write_fn fn)
{
    const struct jv_field spec[] = {{field, JV_DATE, true, 10}};
    struct fund_date_args a = {.who = &r->who, .status = status, .fn = fn};
    struct fl_error err;
    if (!http_param_id(r, 0, &a.fund_id, out)) {
        return;
    }
    if (jv_check(r->body, spec, 1, "", &err) != FLE_OK) {
        http_reply_error(out, &err);
        return;
    }
    a.date = jv_str(r->body, field);
    http_write(r, out, fund_date_op, &a);
}

struct loan_proposal_args {
    const struct principal *who;
    int64_t loan_id;
    const char *amount, *value_date, *reason;
    http_loan_proposal_fn fn;
};

static enum fl_err loan_proposal_op(struct db *db, void *arg, unsigned *status, json_t **reply, struct fl_error *err)
{
    struct loan_proposal_args *a = arg;
    *status = 201;
    *reply = a->fn(db, a->who, a->loan_id, a->amount, a->value_date, a->reason, err);
    return *reply ? FLE_OK : err->code;
}

void http_write_loan_proposal(struct http_req *r, struct http_reply *out, bool amount_required,
                              http_loan_proposal_fn fn)
{
    const struct jv_field spec[] = {
        {"amount", JV_AMOUNT, amount_required, 32},
        {"value_date", JV_DATE, true, 10},
        {"reason", JV_STRING, true, REASON_BYTES_MAX},
    };
    struct loan_proposal_args a = {.who = &r->who, .fn = fn};
    struct fl_error err;
    if (!http_param_id(r, 0, &a.loan_id, out)) {
        return;
    }
    if (jv_check(r->body, spec, sizeof spec / sizeof spec[0], "", &err) != FLE_OK) {
        http_reply_error(out, &err);
        return;
    }
    a.amount = jv_str(r->body, "amount");
    a.value_date = jv_str(r->body, "value_date");
    a.reason = jv_str(r->body, "reason");
    http_write(r, out, loan_proposal_op, &a);
}

/* Matches url against pattern segment by segment; {name} segments capture one non-empty
 * segment. On a match params point into buf (a copy of url with the captures cut out). */
static bool match(const char *pattern, const char *url, char *buf, size_t cap, const char **params, unsigned *n)
{
    size_t ul = strlen(url);
    if (ul + 1 > cap) {
        return false;
    }
    memcpy(buf, url, ul + 1);
    *n = 0;
    const char *p = pattern;
    char *u = buf;
    char *ends[HTTP_PATH_PARAMS_MAX];
    while (*p != '\0' || *u != '\0') {
        if (*p != '/' || *u != '/') {
            return false;
        }
        p++;
        u++;
        size_t plen = strcspn(p, "/");
        size_t ulen = strcspn(u, "/");
        if (p[0] == '{') {
            if (ulen == 0 || *n == HTTP_PATH_PARAMS_MAX) {
                return false;
            }
            ends[*n] = u + ulen;
            params[(*n)++] = u;
        } else if (plen != ulen || strncmp(p, u, plen) != 0) {
            return false;
        }
        p += plen;
        u += ulen;
    }
    for (unsigned i = 0; i < *n; i++) {
        *ends[i] = '\0';
    }
    return true;
}

static enum MHD_Result send_reply(struct http_server *s, struct MHD_Connection *conn, struct http_reply *out)
{
    char *text = out->text;
    size_t len = 0;
    if (text == NULL) {
        if (out->json == NULL) {
            out->status = 500;
            out->json = json_pack("{s:{s:s, s:s, s:s}}", "error", "code", "internal_error", "message", "no reply",
                                  "field", "");
        }
        text = json_dumps(out->json, JSON_COMPACT);
        if (text == NULL) {
            return MHD_NO;
        }
        out->content_type = "application/json";
    }
    len = strlen(text);
    out->text = NULL;
    struct MHD_Response *resp = MHD_create_response_from_buffer_with_free_callback(len, text, free);
    if (resp == NULL) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                            out->content_type ? out->content_type : "application/json");
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    if (out->replayed) {
        MHD_add_response_header(resp, "Idempotent-Replayed", "true");
    }
    if (out->status == 503) { /* the database is away (db.c reconnects): say when to come back */
        char after[16];
        snprintf(after, sizeof after, "%d", DB_RETRY_AFTER_S);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, after);
    }
    if (out->set_cookie[0]) {
        MHD_add_response_header(resp, MHD_HTTP_HEADER_SET_COOKIE, out->set_cookie);
    }
    if (out->status == 405 && out->allow[0]) {
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, out->allow);
    }
    if (atomic_load(&s->quiescing)) {
        /* Stopping: this reply is the connection's last. */
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    }
    enum MHD_Result rc = MHD_queue_response(conn, out->status, resp);
    MHD_destroy_response(resp);
    return rc;
}

static bool has_json_content_type(struct MHD_Connection *conn)
{
    const char *ct = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    return ct != NULL && strncasecmp(ct, "application/json", 16) == 0 && (ct[16] == '\0' || ct[16] == ';');
}

static bool has_csv_content_type(struct MHD_Connection *conn)
{
    const char *ct = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    return ct != NULL && strncasecmp(ct, "text/csv", 8) == 0 && (ct[8] == '\0' || ct[8] == ';');
}

/* Chooses the route and runs it: authentication, role, idempotency key, body. */
static void dispatch(struct http_server *s, struct http_req *r, struct ctx *c, struct http_reply *out)
{
    unsigned n_routes = 0;
    const struct http_route *routes = http_routes(&n_routes);
    char buf[HTTP_PATH_BYTES_MAX];
    bool path_known = false;
    for (unsigned i = 0; i < n_routes; i++) {
        const char *params[HTTP_PATH_PARAMS_MAX] = {0};
        unsigned n = 0;
        if (!match(routes[i].pattern, r->url, buf, sizeof buf, params, &n)) {
            continue;
        }
        path_known = true;
        if (strcmp(routes[i].method, r->method) != 0) {
            size_t len = strlen(out->allow);
            snprintf(out->allow + len, sizeof out->allow - len, "%s%s", len ? ", " : "", routes[i].method);
            continue;
        }
        r->route = &routes[i];
        memcpy(r->params, params, sizeof params);
        r->n_params = n;
        break;
    }
    if (r->route == NULL) {
        http_reply_fail(out, path_known ? FLE_METHOD_NOT_ALLOWED : FLE_NOT_FOUND, "", NULL);
        return;
    }
    struct fl_error err;
    fl_error_clear(&err);
    if (c->too_large) {
        char msg[96];
        snprintf(msg, sizeof msg, "the body is over %u bytes", s->cfg->http_body_bytes_max);
        http_reply_fail(out, FLE_TOO_LARGE, "", msg);
        return;
    }
    /* Every route but /healthz reads the database (public ones too: published IATI files). */
    if (strcmp(r->route->pattern, "/healthz") != 0) {
        r->db = thread_db(s, &err);
        if (r->db == NULL) {
            http_reply_error(out, &err);
            return;
        }
    }
    if (r->route->roles != 0) {
        const char *authz = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
        if (authz == NULL && http_session_cookie_present(r)) {
            /* A browser: its session cookie, and a CSRF token on writes (h_session.c). */
            if (!http_session_auth(r, out)) {
                return;
            }
        } else if (auth_authenticate(r->db, authz, &r->who, &err) != FLE_OK) {
            http_reply_error(out, &err);
            return;
        }
        if ((r->route->roles & ROLE_BIT(r->who.role)) == 0) {
            char msg[128];
            snprintf(msg, sizeof msg, "the role %s may not %s %s", auth_role_name(r->who.role), r->method,
                     r->route->pattern);
            http_reply_fail(out, FLE_FORBIDDEN, "", msg);
            return;
        }
    }
    if (r->route->write) {
        const char *key = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Idempotency-Key");
        if (key == NULL || key[0] == '\0') {
            http_reply_fail(out, FLE_IDEMPOTENCY_KEY_MISSING, "Idempotency-Key", NULL);
            return;
        }
        if (strlen(key) > IDEMPOTENCY_KEY_BYTES_MAX) {
            http_reply_fail(out, FLE_BAD_PARAM, "Idempotency-Key", "at most 200 characters");
            return;
        }
    }
    if (strcmp(r->method, "POST") == 0 || strcmp(r->method, "PUT") == 0) {
        r->raw_body = c->body;
        r->raw_len = c->len;
        if (http_route_takes_csv(r->route)) {
            /* A CSV body: the handler reads raw_body, r->body stays NULL. */
            if (!has_csv_content_type(r->conn)) {
                http_reply_fail(out, FLE_UNSUPPORTED_MEDIA, "Content-Type", "send Content-Type: text/csv");
                return;
            }
        } else if (c->len == 0) {
            r->body = json_object();
        } else if (!has_json_content_type(r->conn)) {
            http_reply_fail(out, FLE_UNSUPPORTED_MEDIA, "Content-Type", NULL);
            return;
        } else if ((r->body = jv_parse(c->body, c->len, &err)) == NULL) {
            http_reply_error(out, &err);
            return;
        }
    }
    r->route->handler(r, out);
}

/* What the header and argument checks found: the first problem stops the walk. */
struct header_scan {
    size_t bytes;             /* names and values of every header, with ": " and CRLF */
    unsigned content_lengths; /* Content-Length headers */
    bool transfer_encoding;
    const char *block, *block_end;     /* the request head in libmicrohttpd's read buffer */
    const char *prev_key, *prev_value; /* the header before, to check it is whole */
    size_t prev_size;
    enum fl_err code; /* FLE_OK while nothing is wrong */
    char field[ERROR_FIELD_BYTES];
    const char *message;
};

/* A name that is safe to echo in the error's field: printable ASCII, else "". */
static void scan_fail(struct header_scan *h, enum fl_err code, const char *name, size_t name_len, const char *message)
{
    h->code = code;
    h->message = message;
    size_t n = name_len < sizeof h->field - 1 ? name_len : sizeof h->field - 1;
    bool printable = true;
    for (size_t i = 0; i < n; i++) {
        printable &= name[i] > 0x20 && name[i] < 0x7f;
    }
    snprintf(h->field, sizeof h->field, "%.*s", printable ? (int)n : 0, name);
}

/* libmicrohttpd 0.9.75 reads the request line and each header line as C strings, in place in its
 * read buffer: a raw NUL byte ends a value early and what follows it on the line is silently
 * dropped. Each header's key and value point into that buffer, in order, each line ended by the
 * NULs that replaced its CRLF (or LF); so a header is whole only when the next header (or the end
 * of the header block) starts right after those one or two NULs. Anything else between them is
 * what a NUL hid (a folded header, kept elsewhere, also fails this and is refused: RFC 9112
 * allows that). */
static bool header_followed_by(const struct header_scan *h, const char *value, size_t value_size, const char *next,
                               int nuls)
{
    /* Addresses compared as integers: a folded value lives elsewhere in the pool, and only bytes
     * inside the header block are read. */
    uintptr_t lo = (uintptr_t)h->block, hi = (uintptr_t)h->block_end;
    uintptr_t v = (uintptr_t)value, at = v + value_size, to = (uintptr_t)next;
    if (h->block == NULL) {
        return true; /* no head size (cannot happen once the headers are in): nothing to check */
    }
    if (v < lo || at > hi || to < lo || to > hi) {
        return false;
    }
    for (int i = 0; i < nuls && at < to && value[at - v] == '\0'; i++) {
        at++;
    }
    return at == to;
}

/* A name and value without NUL and in UTF-8; else the scan fails naming the name. */
static enum MHD_Result bytes_ok(struct header_scan *h, const char *key, size_t key_size, const char *value,
                                size_t value_size, const char *nul_message, const char *utf8_message)
{
    if (memchr(key, '\0', key_size) != NULL || (value_size > 0 && memchr(value, '\0', value_size) != NULL)) {
        scan_fail(h, FLE_BAD_PARAM, key, strnlen(key, key_size), nul_message);
        return MHD_NO;
    }
    if (!jv_utf8_valid(key, key_size) || (value_size > 0 && !jv_utf8_valid(value, value_size))) {
        scan_fail(h, FLE_BAD_PARAM, key, key_size, utf8_message);
        return MHD_NO;
    }
    return MHD_YES;
}

/* Every header: no NUL, valid UTF-8, counted towards the header size; Content-Length once. */
static enum MHD_Result scan_header(void *cls, enum MHD_ValueKind kind, const char *key, size_t key_size,
                                   const char *value, size_t value_size)
{
    (void)kind;
    struct header_scan *h = cls;
    size_t vlen = value ? value_size : 0;
    if (h->prev_value != NULL && !header_followed_by(h, h->prev_value, h->prev_size, key, 2)) {
        scan_fail(h, FLE_BAD_PARAM, h->prev_key, strlen(h->prev_key), "a header holds a NUL byte (or is folded)");
        return MHD_NO;
    }
    h->prev_key = key;
    h->prev_value = value ? value : key + key_size;
    h->prev_size = vlen;
    h->bytes += key_size + vlen + 4;
    if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0) {
        h->content_lengths++;
    }
    if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) {
        h->transfer_encoding = true;
    }
    return bytes_ok(h, key, key_size, value, vlen, "a header holds a NUL byte", "a header is not valid UTF-8");
}

/* Every query argument, once unescaped: no NUL (%00), valid UTF-8 (it may reach the database). */
static enum MHD_Result scan_argument(void *cls, enum MHD_ValueKind kind, const char *key, size_t key_size,
                                     const char *value, size_t value_size)
{
    (void)kind;
    return bytes_ok(cls, key, key_size, value, value ? value_size : 0, "a query parameter holds a NUL byte (%00)",
                    "a query parameter is not valid UTF-8");
}

/* The checks that need only the request line and headers, made before any of the body is read:
 * false with the error in out when the request is refused. */
static bool request_head_ok(struct MHD_Connection *conn, const struct ctx *c, const char *method, const char *url,
                            const char *version, struct http_reply *out)
{
    /* The target runs from url to the space before the version; a raw NUL in it made the
     * request-line callback see less (url and version point into the same line). */
    bool raw_nul = version != NULL && version[0] != '\0' && (size_t)(version - url) != c->uri_seen + 1;
    if (c->nul_in_uri || raw_nul) {
        http_reply_fail(out, FLE_BAD_PARAM, "path", "the request target holds a NUL byte (%00)");
        return false;
    }
    struct header_scan h = {.code = FLE_OK};
    /* The head runs from the method to the end of the blank line (libmicrohttpd's header size). */
    const union MHD_ConnectionInfo *hs = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
    if (hs != NULL) {
        h.block = method;
        h.block_end = method + hs->header_size;
    }
    MHD_get_connection_values_n(conn, MHD_HEADER_KIND, scan_header, &h);
    /* The last header ends where the blank line and the head end: its CRLF and the blank CRLF. */
    if (h.code == FLE_OK && h.prev_value != NULL &&
        !header_followed_by(&h, h.prev_value, h.prev_size, h.block_end, 4)) {
        scan_fail(&h, FLE_BAD_PARAM, h.prev_key, strlen(h.prev_key), "a header holds a NUL byte (or is folded)");
    }
    if (h.code == FLE_OK && h.bytes > HTTP_HEADER_BYTES_MAX) {
        char msg[96];
        snprintf(msg, sizeof msg, "the headers are over %d bytes", HTTP_HEADER_BYTES_MAX);
        http_reply_fail(out, FLE_HEADERS_TOO_LARGE, "", msg);
        return false;
    }
    if (h.code == FLE_OK && h.content_lengths > 1) {
        /* Two lengths frame the body two ways (request smuggling behind a proxy): refuse both. */
        http_reply_fail(out, FLE_BAD_PARAM, MHD_HTTP_HEADER_CONTENT_LENGTH, "more than one Content-Length header");
        return false;
    }
    if (h.code == FLE_OK && h.content_lengths > 0 && h.transfer_encoding) {
        http_reply_fail(out, FLE_BAD_PARAM, MHD_HTTP_HEADER_TRANSFER_ENCODING,
                        "Transfer-Encoding and Content-Length together");
        return false;
    }
    if (h.code == FLE_OK) {
        MHD_get_connection_values_n(conn, MHD_GET_ARGUMENT_KIND, scan_argument, &h);
    }
    if (h.code != FLE_OK) {
        http_reply_fail(out, h.code, h.field, h.message);
        return false;
    }
    return true;
}

/* This connection's entry in the deadline list (NULL when it could not be made). */
static struct conn *conn_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

/* The request has arrived in full (or is refused): the deadline no longer applies to it. */
static void conn_received(struct http_server *s, struct MHD_Connection *conn)
{
    struct conn *k = conn_of(conn);
    if (k != NULL) {
        pthread_mutex_lock(&s->conns_mu);
        k->receiving = false;
        pthread_mutex_unlock(&s->conns_mu);
    }
}

static void log_request(const char *method, const struct http_req *r, unsigned status, const struct ctx *c)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    long us = (now.tv_sec - c->started.tv_sec) * 1000000L + (now.tv_nsec - c->started.tv_nsec) / 1000;
    /* Route pattern, not the URL: ids and query strings stay out of the log. */
    log_info("http %s %s %u %ldus user=%" PRId64, method, r->route ? r->route->pattern : "-", status, us,
             r->who.user_id);
}

static enum MHD_Result access_handler(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                      const char *version, const char *upload_data, size_t *upload_data_size,
                                      void **con_cls)
{
    struct http_server *s = cls;
    struct ctx *c = *con_cls;
    if (c == NULL) {
        return MHD_NO; /* the request-line callback ran out of memory: close */
    }
    if (!c->headers_seen) {
        c->headers_seen = true;
        struct http_req r = {.conn = conn, .method = method, .url = url, .cfg = s->cfg};
        struct http_reply out = {0};
        if (request_head_ok(conn, c, method, url, version, &out)) {
            return MHD_YES;
        }
        /* Refused before the body: the reply is queued now and the connection closes after it. */
        conn_received(s, conn);
        enum MHD_Result rc = send_reply(s, conn, &out);
        log_request(method, &r, out.status, c);
        json_decref(out.json);
        free(out.text);
        return rc;
    }
    if (*upload_data_size > 0) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (c->too_large || c->len + n > s->cfg->http_body_bytes_max) {
            /* Keep reading (and dropping) so the client gets a 413, not a reset. */
            c->too_large = true;
            free(c->body);
            c->body = NULL;
            c->len = c->cap = 0;
            return MHD_YES;
        }
        if (c->len + n + 1 > c->cap) {
            size_t cap = c->cap ? c->cap : 1024;
            while (cap < c->len + n + 1) {
                cap *= 2;
            }
            char *b = realloc(c->body, cap);
            if (b == NULL) {
                return MHD_NO;
            }
            c->body = b;
            c->cap = cap;
        }
        memcpy(c->body + c->len, upload_data, n);
        c->len += n;
        c->body[c->len] = '\0';
        return MHD_YES;
    }
    conn_received(s, conn);
    if (http_static_path(url)) {
        return (enum MHD_Result)http_static_serve(conn, method, url); /* the console (static.c) */
    }
    struct http_req r = {.conn = conn, .method = method, .url = url, .cfg = s->cfg};
    struct http_reply out = {0};
    if (strlen(url) >= HTTP_PATH_BYTES_MAX) {
        http_reply_fail(&out, FLE_NOT_FOUND, "", "the path is too long");
    } else {
        dispatch(s, &r, c, &out);
    }
    enum MHD_Result rc = send_reply(s, conn, &out);
    log_request(method, &r, out.status, c);
    json_decref(out.json);
    free(out.text);
    json_decref(r.body);
    return rc;
}

/* The request line has arrived (raw, before unescaping): the request's context begins here, so
 * that a request is counted in flight from its first line and %00 is seen before it is cut. */
static void *request_begin(void *cls, const char *uri, struct MHD_Connection *conn)
{
    (void)conn;
    struct http_server *s = cls;
    struct ctx *c = calloc(1, sizeof *c);
    if (c == NULL) {
        return NULL;
    }
    clock_gettime(CLOCK_MONOTONIC, &c->started);
    c->nul_in_uri = uri != NULL && strstr(uri, "%00") != NULL;
    c->uri_seen = uri != NULL ? strlen(uri) : 0;
    atomic_fetch_add(&s->inflight, 1);
    return c;
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    (void)toe;
    struct http_server *s = cls;
    struct ctx *c = *con_cls;
    if (c != NULL) {
        free(c->body);
        free(c);
        *con_cls = NULL;
        atomic_fetch_sub(&s->inflight, 1);
    }
    /* The next request on this connection starts its clock now. */
    struct conn *k = conn_of(conn);
    if (k != NULL) {
        pthread_mutex_lock(&s->conns_mu);
        clock_gettime(CLOCK_MONOTONIC, &k->since);
        k->receiving = true;
        pthread_mutex_unlock(&s->conns_mu);
    }
}

/* Connections enter the deadline list when accepted and leave it before their socket is closed
 * (libmicrohttpd calls CLOSED before closing), so the watchdog never touches a reused descriptor. */
static void connection_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                              enum MHD_ConnectionNotificationCode toe)
{
    struct http_server *s = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        struct conn *k = calloc(1, sizeof *k);
        if (k == NULL || ci == NULL) {
            free(k);
            log_warn("http: a connection without a request deadline (out of memory)");
            return;
        }
        k->fd = ci->connect_fd;
        k->receiving = true;
        clock_gettime(CLOCK_MONOTONIC, &k->since);
        pthread_mutex_lock(&s->conns_mu);
        k->next = s->conns;
        if (s->conns != NULL) {
            s->conns->prev = k;
        }
        s->conns = k;
        pthread_mutex_unlock(&s->conns_mu);
        *socket_context = k;
    } else if (toe == MHD_CONNECTION_NOTIFY_CLOSED && *socket_context != NULL) {
        struct conn *k = *socket_context;
        pthread_mutex_lock(&s->conns_mu);
        if (k->prev != NULL) {
            k->prev->next = k->next;
        } else {
            s->conns = k->next;
        }
        if (k->next != NULL) {
            k->next->prev = k->prev;
        }
        pthread_mutex_unlock(&s->conns_mu);
        free(k);
        *socket_context = NULL;
    }
}

/* With stop_mu held: waits ms milliseconds or until the server stops; true when it is stopping. */
static bool wait_for_stop(struct http_server *s, long ms)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&s->stop_cv, &s->stop_mu, &until);
    return s->stopping;
}

/* Every HTTP_WATCHDOG_MS: a connection whose request has not fully arrived within
 * http_request_deadline_s of its start is shut down, however steadily its bytes trickle in
 * (the idle timeout restarts on every byte; this clock does not). The worker that owns the
 * connection then sees the end of the stream and closes it. */
static void *watchdog(void *arg)
{
    struct http_server *s = arg;
    const long deadline_ms = (long)s->cfg->http_request_deadline_s * 1000L;
    pthread_mutex_lock(&s->stop_mu);
    while (!s->stopping) {
        if (wait_for_stop(s, HTTP_WATCHDOG_MS)) {
            break;
        }
        pthread_mutex_unlock(&s->stop_mu);
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        unsigned cut = 0;
        pthread_mutex_lock(&s->conns_mu);
        for (struct conn *k = s->conns; k != NULL; k = k->next) {
            long ms = (now.tv_sec - k->since.tv_sec) * 1000L + (now.tv_nsec - k->since.tv_nsec) / 1000000L;
            if (k->receiving && !k->cut && ms > deadline_ms) {
                k->cut = shutdown(k->fd, SHUT_RDWR) == 0;
                cut += k->cut;
            }
        }
        pthread_mutex_unlock(&s->conns_mu);
        if (cut > 0) {
            atomic_fetch_add(&s->cut_count, cut);
            log_warn("http: %u request(s) not received within %us; connection closed", cut,
                     s->cfg->http_request_deadline_s);
        }
        pthread_mutex_lock(&s->stop_mu);
    }
    pthread_mutex_unlock(&s->stop_mu);
    return NULL;
}

static void *sealer(void *arg)
{
    struct http_server *s = arg;
    struct db *db = NULL;
    struct anchor_signer *signer = NULL;
    struct fl_error err;
    pthread_mutex_lock(&s->stop_mu);
    while (!s->stopping) {
        if (wait_for_stop(s, (long)s->cfg->ledger_seal_interval_ms)) {
            break;
        }
        pthread_mutex_unlock(&s->stop_mu);
        fl_error_clear(&err);
        if (db == NULL && db_open(s->conninfo, true, s->cfg->db_tx_retries_max, &db, &err) != FLE_OK) {
            db = NULL;
        }
        /* Seal everything committed so far, a chunk per transaction, each head signed (never
         * sealed unsigned: without the key, nothing is sealed and the warning says why). */
        if (signer == NULL && db != NULL) {
            struct anchor_paths paths;
            anchor_paths_from_config(s->cfg, PQdb(db_pg(db)), &paths);
            if (anchor_signer_open(&paths, &signer, &err) != FLE_OK) {
                log_warn("sealer: %s", err.message);
                signer = NULL;
            }
        }
        unsigned sealed = LEDGER_SEAL_CHUNK;
        for (int round = 0; db != NULL && signer != NULL && sealed == LEDGER_SEAL_CHUNK && round < 1000; round++) {
            if (ledger_seal_anchored(db, LEDGER_SEAL_CHUNK, signer, &sealed, &err) != FLE_OK) {
                log_warn("sealer: %s", err.message);
                break;
            }
        }
        pthread_mutex_lock(&s->stop_mu);
    }
    pthread_mutex_unlock(&s->stop_mu);
    db_close(db);
    anchor_signer_close(signer);
    return NULL;
}

static bool parse_listen(const char *listen, struct sockaddr_in *sa)
{
    char host[128];
    const char *colon = strrchr(listen, ':');
    if (colon == NULL || (size_t)(colon - listen) >= sizeof host) {
        return false;
    }
    snprintf(host, sizeof host, "%.*s", (int)(colon - listen), listen);
    long port = strtol(colon + 1, NULL, 10);
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    sa->sin_port = htons((uint16_t)port);
    if (strcmp(host, "localhost") == 0) {
        snprintf(host, sizeof host, "127.0.0.1");
    }
    return port >= 0 && port <= 65535 && inet_pton(AF_INET, host, &sa->sin_addr) == 1;
}

enum fl_err http_server_start(const struct config *cfg, const char *conninfo, struct http_server **out,
                              struct fl_error *err)
{
    assert(cfg != NULL && conninfo != NULL && out != NULL);
    *out = NULL;
    struct sockaddr_in sa;
    if (!parse_listen(cfg->listen, &sa)) {
        return fl_error_set(err, FLE_INTERNAL, "listen", "listen must be IPv4-address:port, not %s", cfg->listen);
    }
    int expected = migrate_count(cfg->migrations_dir, err);
    if (expected < 0) {
        return err->code;
    }
    http_expected_migration = expected;
    char totp_key[TOTP_KEY_PATH_BYTES];
    totp_key_path_from_config(cfg, totp_key); /* sign-ins open TOTP secrets with this key */
    totp_key_configure(totp_key);
    struct http_server *s = calloc(1, sizeof *s);
    if (s == NULL) {
        return fl_error_set(err, FLE_INTERNAL, NULL, "out of memory");
    }
    s->cfg = cfg;
    snprintf(s->conninfo, sizeof s->conninfo, "%s", conninfo);
    pthread_mutex_init(&s->mu, NULL);
    pthread_mutex_init(&s->stop_mu, NULL);
    pthread_cond_init(&s->stop_cv, NULL);
    pthread_mutex_init(&s->conns_mu, NULL);
    /* Jansson's hash seed must be set before threads use it. */
    json_object_seed(0);
    /* MHD_USE_ITC: MHD_quiesce_daemon needs it in thread-pool mode. The per-IP limit counts
     * connections per client address (0: none); the request line callback starts each request's
     * context; the connection callbacks keep the list the deadline watchdog reads. */
    s->daemon = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG | MHD_USE_ITC, 0, NULL, NULL,
        access_handler, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_THREAD_POOL_SIZE,
        (unsigned)cfg->http_threads, MHD_OPTION_CONNECTION_LIMIT, (unsigned)cfg->http_connections_max,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)cfg->http_connection_memory_bytes, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)cfg->http_timeout_s, MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)cfg->http_connections_per_ip_max,
        MHD_OPTION_URI_LOG_CALLBACK, request_begin, s, MHD_OPTION_NOTIFY_CONNECTION, connection_notify, s,
        MHD_OPTION_NOTIFY_COMPLETED, completed, s, MHD_OPTION_END);
    if (s->daemon == NULL) {
        pthread_mutex_destroy(&s->conns_mu);
        pthread_mutex_destroy(&s->mu);
        pthread_mutex_destroy(&s->stop_mu);
        pthread_cond_destroy(&s->stop_cv);
        free(s);
        return fl_error_set(err, FLE_INTERNAL, "listen", "cannot listen on %s: %s", cfg->listen, strerror(errno));
    }
    if (pthread_create(&s->sealer, NULL, sealer, s) == 0) {
        s->sealer_running = true;
    } else {
        log_warn("server: the sealer thread did not start; run `fundledger verify` to seal");
    }
    if (pthread_create(&s->watchdog, NULL, watchdog, s) == 0) {
        s->watchdog_running = true;
    } else {
        log_warn("server: the request-deadline watchdog did not start; only the idle timeout applies");
    }
    *out = s;
    return FLE_OK;
}

uint16_t http_server_port(const struct http_server *s)
{
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    return info ? info->port : 0;
}

unsigned http_server_cut_count(const struct http_server *s)
{
    return atomic_load(&((struct http_server *)s)->cut_count);
}

void http_server_stop(struct http_server *s)
{
    if (s == NULL) {
        return;
    }
    /* Stop accepting (the listening socket is closed: new clients are refused at once), then let
     * the requests in flight finish, for at most http_shutdown_grace_s; a request still trickling
     * in is cut at its deadline meanwhile. Replies from now on close their connection. */
    atomic_store(&s->quiescing, true);
    MHD_socket listener = MHD_quiesce_daemon(s->daemon);
    if (listener != MHD_INVALID_SOCKET) {
        close(listener);
    } else {
        log_warn("server: could not stop accepting before the grace period");
    }
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    const long grace_ms = (long)s->cfg->http_shutdown_grace_s * 1000L;
    int left = atomic_load(&s->inflight);
    if (left > 0) {
        log_info("server: stopping; %d request(s) in flight, waiting up to %us", left, s->cfg->http_shutdown_grace_s);
    }
    for (;;) {
        left = atomic_load(&s->inflight);
        clock_gettime(CLOCK_MONOTONIC, &now);
        long ms = (now.tv_sec - t0.tv_sec) * 1000L + (now.tv_nsec - t0.tv_nsec) / 1000000L;
        if (left <= 0 || ms >= grace_ms) {
            break;
        }
        struct timespec nap = {0, 20 * 1000 * 1000};
        nanosleep(&nap, NULL);
    }
    if (left > 0) {
        log_warn("server: %d request(s) still in flight after %us; they are cut", left, s->cfg->http_shutdown_grace_s);
    }
    MHD_stop_daemon(s->daemon);
    pthread_mutex_lock(&s->stop_mu);
    s->stopping = true;
    pthread_cond_broadcast(&s->stop_cv);
    pthread_mutex_unlock(&s->stop_mu);
    if (s->sealer_running) {
        pthread_join(s->sealer, NULL);
    }
    if (s->watchdog_running) {
        pthread_join(s->watchdog, NULL);
    }
    for (unsigned i = 0; i < s->n_dbs; i++) {
        db_close(s->dbs[i]);
    }
    pthread_mutex_destroy(&s->mu);
    pthread_mutex_destroy(&s->stop_mu);
    pthread_cond_destroy(&s->stop_cv);
    pthread_mutex_destroy(&s->conns_mu);
    free(s);
}
