/* HTTP tests: the real server in-process on 127.0.0.1, the demo fund, every error class and role, the
 * four-eyes happy path with exact figures, idempotency, paging and racing approvers, over the socket. */
/* cmocka.h needs these before it, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include <arpa/inet.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../support/httpc.h"
#include "../support/testdb.h"
#include "demo_fixture.h"
#include "fundledger/approval.h"
#include "fundledger/config.h"
#include "fundledger/demo.h"
#include "fundledger/http.h"
#include "fundledger/log.h"
#include "fundledger/migrate.h"
#include "fundledger/money.h"

/* Bounds of the test itself. */
#define KEY_BYTES 64
#define URL_BYTES 96
#define PATH_BYTES 256
#define TOKEN_BYTES 128
#define LIST_PAGES_MAX 400 /* paging loops stop here: a server that never ends a list fails (the demo has about 120 entries with its month-end closes) */
#define RACERS 8           /* concurrent approvers of one proposal */
#define RACE_ROUNDS 5
#define TWO_APPROVER_ROUNDS 20    /* two racers meet less often than eight */
#define SMALL_BODY_BYTES_MAX 2048 /* the body limit of the second server */

/* A fixed effective date for the test's own entries. */
#define DATE "2025-03-31"
/* The happy path's entry alone is on this date. */
#define HAPPY_DATE "2025-04-15"

/* The demo's people, as demo_load names them. */
enum who { ADMIN, MANAGER, APPROVER, COMMITTEE, UNDP, TRANSPARENCY, AUDITOR, PEOPLE };
static const char *const people[PEOPLE] = {"admin", "manager",      "approver", "committee",
                                           "undp",  "transparency", "auditor"};

static const char *conninfo;
static struct config cfg; /* must outlive the server: it keeps a pointer */
static struct http_server *server;
static char base_url[URL_BYTES];
static char tokens[PEOPLE][TOKEN_BYTES];
static int64_t user_ids[PEOPLE];
static int64_t fund_id, cash_id, capital_id, undp_org_id;
static char fund_path[48]; /* "/v1/funds/<id>": 10 + at most 19 digits */
static atomic_uint key_counter;

#define TOKEN(w) (tokens[(w)])

/* ---- helpers ---------------------------------------------------------------------------- */

/* A fresh Idempotency-Key, written into buf. */
static const char *fresh_key(char buf[KEY_BYTES])
{
    snprintf(buf, KEY_BYTES, "test-key-%u", atomic_fetch_add(&key_counter, 1) + 1);
    return buf;
}

/* One request to url (base_url when NULL) with an explicit key (or none); the exchange must complete. */
static void req_to(const char *url, struct httpc_resp *out, const char *method, const char *path, const char *token,
                   const char *key, const char *content_type, const char *body)
{
    if (!httpc_request(url ? url : base_url, method, path, token, key, content_type, body, out)) {
        fail_msg("%s %s: no HTTP answer", method, path);
    }
}

static void req(struct httpc_resp *out, const char *method, const char *path, const char *token, const char *key,
                const char *body)
{
    req_to(NULL, out, method, path, token, key, NULL, body);
}

/* A write with a fresh Idempotency-Key. */
static void wreq(struct httpc_resp *out, const char *method, const char *path, const char *token, const char *body)
{
    char key[KEY_BYTES];
    req(out, method, path, token, fresh_key(key), body);
}

static const char *jstr(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static json_int_t jint(const json_t *o, const char *k)
{
    return json_integer_value(json_object_get(o, k));
}

static const char *or_null(const char *s)
{
    return s ? s : "(null)";
}

#define expect_status(r, st) expect_status_at((r), (st), __FILE__, __LINE__)
#define expect_error(r, st, code, field) expect_error_at((r), (st), (code), (field), __FILE__, __LINE__)

/* The status is st; on a mismatch the body is printed, and the failure names the caller's line. */
static void expect_status_at(const struct httpc_resp *r, long st, const char *file, int line)
{
    if (r->status != st) {
        print_message("%s:%d: expected HTTP %ld, got %ld: %s\n", file, line, st, r->status, or_null(r->body));
    }
    _assert_int_equal((uintmax_t)r->status, (uintmax_t)st, file, line);
}

/* The reply is the error shape {"error":{"code","message","field"}} with these status, code and field. */
static void expect_error_at(const struct httpc_resp *r, long st, const char *code, const char *field, const char *file,
                            int line)
{
    expect_status_at(r, st, file, line);
    json_t *e = json_object_get(r->json, "error");
    if (!json_is_object(e)) {
        print_message("%s:%d: not an error body: %s\n", file, line, or_null(r->body));
    }
    _assert_true(json_is_object(e), "error object", file, line);
    _assert_int_equal(json_object_size(e), 3, file, line);
    _assert_string_equal(or_null(jstr(e, "code")), code, file, line);
    _assert_string_equal(or_null(jstr(e, "field")), field, file, line);
    const char *msg = jstr(e, "message");
    _assert_true(msg != NULL && msg[0] != '\0', "a message", file, line);
}

/* An amount string in COP as minor units. */
static int64_t cop(const char *text)
{
    int64_t minor = 0;
    assert_non_null(text);
    assert_int_equal(money_parse(text, 2, true, &minor), MONEY_OK);
    return minor;
}

static void cop_text(int64_t minor, char buf[MONEY_TEXT_MAX])
{
    assert_true(money_format(minor, 2, buf, MONEY_TEXT_MAX) > 0);
}

/* GET path as token; must be 200 JSON. Returns the body (caller decrefs). */
static json_t *get_json(const char *path, const char *token)
{
    struct httpc_resp r;
    req(&r, "GET", path, token, NULL, NULL);
    expect_status(&r, 200);
    assert_non_null(r.json);
    json_t *j = json_incref(r.json);
    httpc_resp_free(&r);
    return j;
}

/* An account's balance in minor units, debit positive. */
static int64_t balance_of(int64_t account_id)
{
    char path[PATH_BYTES];
    snprintf(path, sizeof path, "/v1/accounts/%" PRId64, account_id);
    json_t *a = get_json(path, TOKEN(MANAGER));
    assert_int_equal(jint(a, "id"), account_id);
    int64_t b = cop(jstr(a, "balance"));
    const char *side = jstr(a, "side");
    assert_non_null(side);
    if (strcmp(side, "credit") == 0) {
        b = -b;
    } else if (strcmp(side, "zero") == 0) {
        assert_int_equal(b, 0);
    } else {
        assert_string_equal(side, "debit");
    }
    json_decref(a);
    return b;
}

/* A two-line manual entry body effective on date, as JSON text (caller frees). */
static char *entry_body_on(const char *date, const char *memo, int64_t debit_account, const char *debit,
                           int64_t credit_account, const char *credit)
{
    json_t *b = json_pack("{s:s, s:s, s:[{s:I, s:s}, {s:I, s:s}]}", "effective_date", date, "memo", memo, "lines",
                          "account_id", (json_int_t)debit_account, "debit", debit, "account_id",
                          (json_int_t)credit_account, "credit", credit);
    assert_non_null(b);
    char *text = json_dumps(b, JSON_COMPACT);
    json_decref(b);
    assert_non_null(text);
    return text;
}

/* The same effective on DATE. */
static char *entry_body(const char *memo, int64_t debit_account, const char *debit, int64_t credit_account,
                        const char *credit)
{
    return entry_body_on(DATE, memo, debit_account, debit, credit_account, credit);
}

/* The manager proposes debit cash / credit paid-in capital of amount; returns the proposal id. */
static int64_t propose(const char *memo, const char *amount)
{
    char path[PATH_BYTES];
    snprintf(path, sizeof path, "%s/entries", fund_path);
    char *body = entry_body(memo, cash_id, amount, capital_id, amount);
    struct httpc_resp r;
    wreq(&r, "POST", path, TOKEN(MANAGER), body);
    free(body);
    expect_status(&r, 201);
    assert_string_equal(or_null(jstr(r.json, "status")), "pending");
    assert_string_equal(or_null(jstr(r.json, "amount")), amount);
    int64_t id = jint(r.json, "id");
    assert_true(id > 0);
    httpc_resp_free(&r);
    return id;
}

/* POST /v1/approvals/{id}/approve (or reject) as token with a fresh key. */
static void decide(int64_t proposal_id, const char *token, bool approve, const char *body, struct httpc_resp *out)
{
    char path[PATH_BYTES];
    snprintf(path, sizeof path, "/v1/approvals/%" PRId64 "/%s", proposal_id, approve ? "approve" : "reject");
    wreq(out, "POST", path, token, body);
}

/* Counts every proposal (any status) by paging GET /v1/approvals?status=any. */
static size_t count_proposals(void)
{
    size_t n = 0;
    json_int_t after = 0;
    for (int page = 0; page < LIST_PAGES_MAX; page++) {
        char path[PATH_BYTES];
        snprintf(path, sizeof path, "/v1/approvals?status=any&limit=500&after=%" JSON_INTEGER_FORMAT, after);
        json_t *j = get_json(path, TOKEN(AUDITOR));
        n += json_array_size(json_object_get(j, "proposals"));
        json_t *next = json_object_get(j, "next_after");
        bool more = json_is_integer(next);
        after = json_integer_value(next);
        json_decref(j);
        if (!more) {
            return n;
        }
    }
    fail_msg("the proposal list does not end");
    return 0;
}

/* Every journal entry of the fund, in list order (caller decrefs), by paging with limit. */
static json_t *all_entries(unsigned limit)
{
    json_t *all = json_array();
    json_int_t after = 0;
    for (int page = 0; page < LIST_PAGES_MAX; page++) {
        char path[PATH_BYTES];
        snprintf(path, sizeof path, "%s/entries?limit=%u&after=%" JSON_INTEGER_FORMAT, fund_path, limit, after);
        json_t *j = get_json(path, TOKEN(AUDITOR));
        json_t *entries = json_object_get(j, "entries");
        assert_true(json_array_size(entries) <= limit);
        json_array_extend(all, entries);
        json_t *next = json_object_get(j, "next_after");
        bool more = json_is_integer(next);
        if (more) {
            /* next_after is the last id of this page. */
            assert_int_equal(json_integer_value(next),
                             jint(json_array_get(entries, json_array_size(entries) - 1), "id"));
        }
        after = json_integer_value(next);
        json_decref(j);
        if (!more) {
            return all;
        }
    }
    fail_msg("the entry list does not end");
    return NULL;
}

/* Entries whose event_ref is ref. */
static size_t count_entries_with_ref(const char *ref)
{
    json_t *all = all_entries(500);
    size_t n = 0, i;
    json_t *e;
    json_array_foreach(all, i, e)
    {
        n += strcmp(or_null(jstr(e, "event_ref")), ref) == 0;
    }
    json_decref(all);
    return n;
}

/* Runs sql on a connection of its own; returns the SQLSTATE of its failure ("" on success) in state
 * and the message in msg. */
static void sql_outcome(const char *sql, char state[6], char *msg, size_t msg_cap)
{
    PGconn *c = PQconnectdb(conninfo);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    const char *s = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    snprintf(state, 6, "%s", st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? "" : s ? s : "?????");
    snprintf(msg, msg_cap, "%s", PQresultErrorMessage(r));
    PQclear(r);
    PQfinish(c);
}

/* ---- setup ------------------------------------------------------------------------------- */

static int64_t id_by(json_t *arr, const char *key, const char *value)
{
    size_t i;
    json_t *o;
    json_array_foreach(arr, i, o)
    {
        if (strcmp(or_null(jstr(o, key)), value) == 0) {
            return jint(o, "id");
        }
    }
    return 0;
}

static int setup(void **state)
{
    (void)state;
    const char *level = getenv("FUNDLEDGER_LOG_LEVEL");
    log_set_level_name(level ? level : "warn");
    conninfo = testdb_create("http_api");

    /* The demo, with its tokens written to a private temporary file. */
    json_t *doc;
    if (!demo_fixture_load(conninfo, "test_api", "api", &doc, NULL, 0)) {
        return -1;
    }
    json_t *toks = json_object_get(doc, "tokens");
    for (int i = 0; i < PEOPLE; i++) {
        const char *t = jstr(toks, people[i]);
        if (t == NULL || strlen(t) >= TOKEN_BYTES) {
            fprintf(stderr, "test_api: no token for %s in the credentials\n", people[i]);
            json_decref(doc);
            return -1;
        }
        snprintf(tokens[i], TOKEN_BYTES, "%s", t);
    }
    json_decref(doc);

    demo_fixture_config(&cfg);
    cfg.http_threads = RACERS;
    if (!demo_fixture_serve(&cfg, conninfo, "test_api", &server, base_url, sizeof base_url)) {
        return -1;
    }

    /* The demo fund, its accounts, its people and the UNDP organisation, as the API shows them. */
    json_t *funds = get_json("/v1/funds", TOKEN(MANAGER));
    fund_id = id_by(json_object_get(funds, "funds"), "code", "HSP-ELCHARCO");
    json_decref(funds);
    snprintf(fund_path, sizeof fund_path, "/v1/funds/%" PRId64, fund_id);
    char path[PATH_BYTES];
    snprintf(path, sizeof path, "%s/accounts", fund_path);
    json_t *accounts = get_json(path, TOKEN(MANAGER));
    cash_id = id_by(json_object_get(accounts, "accounts"), "code", "1000");
    capital_id = id_by(json_object_get(accounts, "accounts"), "code", "3000");
    json_decref(accounts);
    json_t *users = get_json("/v1/users", TOKEN(ADMIN));
    for (int i = 0; i < PEOPLE; i++) {
        user_ids[i] = id_by(json_object_get(users, "users"), "name", people[i]);
    }
    json_decref(users);
    json_t *orgs = get_json("/v1/organisations", TOKEN(ADMIN));
    undp_org_id = id_by(json_object_get(orgs, "organisations"), "name", "United Nations Development Programme");
    json_decref(orgs);
    bool ok = fund_id > 0 && cash_id > 0 && capital_id > 0 && undp_org_id > 0;
    for (int i = 0; i < PEOPLE; i++) {
        ok = ok && user_ids[i] > 0;
    }
    return ok ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    http_server_stop(server);
    server = NULL;
    return 0;
}

/* ---- system ------------------------------------------------------------------------------ */

static void test_health_and_ready(void **state)
{
    (void)state;
    struct httpc_resp r;
    req(&r, "GET", "/healthz", NULL, NULL, NULL);
    expect_status(&r, 200);
    assert_string_equal(r.body, "{\"status\":\"ok\"}");
    httpc_resp_free(&r);

    struct fl_error err;
    fl_error_clear(&err);
    int migrations = migrate_count("migrations", &err);
    assert_true(migrations >= 1);
    req(&r, "GET", "/readyz", NULL, NULL, NULL);
    expect_status(&r, 200);
    assert_string_equal(or_null(jstr(r.json, "status")), "ready");
    assert_int_equal(jint(r.json, "migration"), migrations);
    assert_int_equal(json_object_size(r.json), 2);
    httpc_resp_free(&r);
}

/* ---- 400 ---------------------------------------------------------------------------------- */

static void test_400_body_errors(void **state)
{
    (void)state;
    char path[PATH_BYTES];
    snprintf(path, sizeof path, "%s/entries", fund_path);
    size_t before = count_proposals();
    struct httpc_resp r;

    wreq(&r, "POST", path, TOKEN(MANAGER), "{\"effective_date\": \"2025-03-31\", ");
    expect_error(&r, 400, "malformed_json", "");
    httpc_resp_free(&r);
    wreq(&r, "POST", path, TOKEN(MANAGER), "[1, 2]");
    expect_error(&r, 400, "malformed_json", "");
    httpc_resp_free(&r);
    /* Duplicate members are refused, not resolved. */
    wreq(&r, "POST", path, TOKEN(MANAGER), "{\"memo\": \"a\", \"memo\": \"b\"}");
    expect_error(&r, 400, "malformed_json", "");
    httpc_resp_free(&r);
    /* A bad escape before a two-byte character: jansson's message quotes half of it, which is
     * not UTF-8; the error is still sent (tests/fuzz/fuzz_jsonv: the reply's json_pack failed). */
    wreq(&r, "POST", path, TOKEN(MANAGER), "{\"memo\":\"\\\xc7\x87\"}");
    expect_error(&r, 400, "malformed_json", "");
    assert_non_null(strstr(jstr(json_object_get(r.json, "error"), "message"), "invalid escape near"));
    httpc_resp_free(&r);

    char body[1024];
    snprintf(body, sizeof body,
             "{\"effective_date\":\"" DATE "\",\"colour\":\"red\",\"lines\":[{\"account_id\":%" PRId64
             ",\"debit\":\"1.00\"},{\"account_id\":%" PRId64 ",\"credit\":\"1.00\"}]}",
             cash_id, capital_id);
    wreq(&r, "POST", path, TOKEN(MANAGER), body);
    expect_error(&r, 400, "unknown_field", "colour");
    httpc_resp_free(&r);
    snprintf(body, sizeof body,
             "{\"effective_date\":\"" DATE "\",\"lines\":[{\"account_id\":%" PRId64
             ",\"debit\":\"1.00\",\"note\":\"x\"},{\"account_id\":%" PRId64 ",\"credit\":\"1.00\"}]}",
             cash_id, capital_id);
    wreq(&r, "POST", path, TOKEN(MANAGER), body);
    expect_error(&r, 400, "unknown_field", "lines[0].note");
    httpc_resp_free(&r);

    snprintf(body, sizeof body, "{\"effective_date\":\"" DATE "\",\"memo\":\"no lines\"}");
    wreq(&r, "POST", path, TOKEN(MANAGER), body);
    expect_error(&r, 400, "missing_field", "lines");
    httpc_resp_free(&r);
    snprintf(body, sizeof body,
             "{\"effective_date\":\"" DATE "\",\"lines\":[{\"account_id\":%" PRId64
             ",\"debit\":\"1.00\"},{\"credit\":\"1.00\"}]}",
             cash_id);
    wreq(&r, "POST", path, TOKEN(MANAGER), body);
    expect_error(&r, 400, "missing_field", "lines[1].account_id");
    httpc_resp_free(&r);

    /* Amounts: exact in the currency's exponent (COP has 2), and strings only. */
    char *eb = entry_body("bad amount", cash_id, "10.00", capital_id, "10.001");
    wreq(&r, "POST", path, TOKEN(MANAGER), eb);
    free(eb);
    expect_error(&r, 400, "invalid_field", "lines[1].credit");
    httpc_resp_free(&r);
    snprintf(body, sizeof body,
             "{\"effective_date\":\"" DATE "\",\"lines\":[{\"account_id\":%" PRId64
             ",\"debit\":10.5},{\"account_id\":%" PRId64 ",\"credit\":\"10.50\"}]}",
             cash_id, capital_id);
    wreq(&r, "POST", path, TOKEN(MANAGER), body);
    expect_error(&r, 400, "invalid_field", "lines[0].debit");
    httpc_resp_free(&r);
    eb = entry_body("bad date", cash_id, "1.00", capital_id, "1.00");
    char *at = strstr(eb, DATE);
    assert_non_null(at);
    memcpy(at, "2025-02-29", 10); /* not a leap year */
    wreq(&r, "POST", path, TOKEN(MANAGER), eb);
    free(eb);
    expect_error(&r, 400, "invalid_field", "effective_date");
    httpc_resp_free(&r);

    /* An account that is not the fund's. */
    eb = entry_body("no such account", 999999, "1.00", capital_id, "1.00");
    wreq(&r, "POST", path, TOKEN(MANAGER), eb);
    free(eb);
    expect_error(&r, 400, "invalid_field", "lines[0].account_id");
    httpc_resp_free(&r);

    /* None of these made a proposal. */
    assert_int_equal(count_proposals(), before);
}

static void test_400_path_and_query(void **state)
{
    (void)state;
    struct httpc_resp r;
    req(&r, "GET", "/v1/entries/abc", TOKEN(MANAGER), NULL, NULL);
    expect_error(&r, 400, "invalid_parameter", "entry_id");
    httpc_resp_free(&r);
    req(&r, "GET", "/v1/entries/0", TOKEN(MANAGER), NULL, NULL);
    expect_error(&r, 400, "invalid_parameter", "entry_id");
    httpc_resp_free(&r);
    req(&r, "GET", "/v1/funds/-1/accounts", TOKEN(MANAGER), NULL, NULL);
    expect_error(&r, 400, "invalid_parameter", "fund_id");
    httpc_resp_free(&r);
    req(&r, "GET", "/v1/funds/99999999999999999999/accounts", TOKEN(MANAGER), NULL, NULL);
    expect_error(&r, 400, "invalid_parameter", "fund_id");
    httpc_resp_free(&r);
    wreq(&r, "POST", "/v1/approvals/x1/approve", TOKEN(APPROVER), NULL);
    expect_error(&r, 400, "invalid_parameter", "proposal_id");
    httpc_resp_free(&r);

    char path[PATH_BYTES];
    snprintf(path, sizeof path, "%s/accounts?as_of=2025-02-30", fund_path);
    req(&r, "GET", path, TOKEN(MANAGER), NULL, NULL);
    expect_error(&r, 400, "invalid_parameter", "as_of");
    httpc_resp_free(&r);
    snprintf(path, sizeof path, "%s/entries?from=yesterday", fund_path);
    req(&r, "GET", path, TOKEN(MANAGER), NULL, NULL);
    expect_error(&r, 400, "invalid_parameter", "from");
    httpc_resp_free(&r);
    snprintf(path, sizeof path, "%s/trial-balance?as_of=31/03/2025", fund_path);
    req(&r, "GET", path, TOKEN(MANAGER), NULL, NULL);
    expect_error(&r, 400, "invalid_parameter", "as_of");
    httpc_resp_free(&r);
    req(&r, "GET", "/v1/approvals?status=maybe", TOKEN(MANAGER), NULL, NULL);
    expect_error(&r, 400, "invalid_parameter", "status");
    httpc_resp_free(&r);
    /* A valid date is taken. */
    snprintf(path, sizeof path, "%s/accounts?as_of=2024-02-29", fund_path);
    req(&r, "GET", path, TOKEN(MANAGER), NULL, NULL);
    expect_status(&r, 200);
    assert_string_equal(or_null(jstr(r.json, "as_of")), "2024-02-29");
    httpc_resp_free(&r);
}

static void test_400_idempotency_key_missing(void **state)
{
    (void)state;
    char path[PATH_BYTES];
    snprintf(path, sizeof path, "%s/entries", fund_path);
    size_t before = count_proposals();
    char *body = entry_body("no key", cash_id, "1.00", capital_id, "1.00");
    struct httpc_resp r;
    req(&r, "POST", path, TOKEN(MANAGER), NULL, body);
    expect_error(&r, 400, "idempotency_key_required", "Idempotency-Key");
    httpc_resp_free(&r);
    req(&r, "POST", path, TOKEN(MANAGER), "", body);
    expect_error(&r, 400, "idempotency_key_required", "Idempotency-Key");
    httpc_resp_free(&r);
    char long_key[IDEMPOTENCY_KEY_BYTES_MAX + 2];
    memset(long_key, 'k', sizeof long_key - 1);
    long_key[sizeof long_key - 1] = '\0';
    req(&r, "POST", path, TOKEN(MANAGER), long_key, body);
    expect_error(&r, 400, "invalid_parameter", "Idempotency-Key");
    httpc_resp_free(&r);
    /* DELETE is a write too. */
    req(&r, "DELETE", "/v1/tokens/1", TOKEN(ADMIN), NULL, NULL);
    expect_error(&r, 400, "idempotency_key_required", "Idempotency-Key");
    httpc_resp_free(&r);
    free(body);
    assert_int_equal(count_proposals(), before);
}

/* ---- 401 ---------------------------------------------------------------------------------- */

static void test_401_tokens(void **state)
{
    (void)state;
    struct httpc_resp r;
    req(&r, "GET", "/v1/me", NULL, NULL, NULL);
    expect_error(&r, 401, "unauthenticated", "Authorization");
    httpc_resp_free(&r);
    req(&r, "GET", "/v1/me", "not-a-token", NULL, NULL);
    expect_error(&r, 401, "unauthenticated", "Authorization");
    httpc_resp_free(&r);
    /* A token of the right shape that was never issued. */
    char unknown[TOKEN_BYTES] = "fl_";
    memset(unknown + 3, '0', 64);
    unknown[67] = '\0';
    req(&r, "GET", "/v1/me", unknown, NULL, NULL);
    expect_error(&r, 401, "unauthenticated", "Authorization");
    httpc_resp_free(&r);
    /* A real token under another scheme. */
    char basic[TOKEN_BYTES + 32];
    snprintf(basic, sizeof basic, "Authorization: Basic %s", TOKEN(ADMIN));
    const char *const headers[] = {basic, NULL};
    assert_true(httpc_request_raw(base_url, "GET", "/v1/me", headers, NULL, 0, &r));
    expect_error(&r, 401, "unauthenticated", "Authorization");
    httpc_resp_free(&r);
    /* Writes check the token before anything else. */
    req(&r, "POST", "/v1/users", NULL, NULL, "{}");
    expect_error(&r, 401, "unauthenticated", "Authorization");
    httpc_resp_free(&r);
}

static void test_401_revoked_token(void **state)
{
    (void)state;
    char path[PATH_BYTES];
    snprintf(path, sizeof path, "/v1/users/%" PRId64 "/tokens", user_ids[AUDITOR]);
    struct httpc_resp r;
    wreq(&r, "POST", path, TOKEN(ADMIN), "{\"label\":\"to revoke\"}");
    expect_status(&r, 201);
    assert_int_equal(jint(r.json, "user_id"), user_ids[AUDITOR]);
    int64_t token_id = jint(r.json, "id");
    char token[TOKEN_BYTES];
    assert_non_null(jstr(r.json, "token"));
    assert_int_equal(strlen(jstr(r.json, "token")), TOKEN_TEXT_BYTES - 1);
    snprintf(token, sizeof token, "%s", jstr(r.json, "token"));
    httpc_resp_free(&r);

    json_t *me = get_json("/v1/me", token);
    assert_string_equal(or_null(jstr(me, "name")), "auditor");
    assert_string_equal(or_null(jstr(me, "role")), "auditor");
    json_decref(me);

    /* Only an admin revokes. */
    snprintf(path, sizeof path, "/v1/tokens/%" PRId64, token_id);
    wreq(&r, "DELETE", path, TOKEN(MANAGER), NULL);
    expect_error(&r, 403, "forbidden", "");
    httpc_resp_free(&r);
    /* BUG (src/auth/audit.c:13, audit_record): revoke_op passes detail NULL and audit_record
     * serialises a json_object() it never frees, so each revocation leaks ~200 bytes; under
     * SANITIZE=1 LeakSanitizer reports it at exit and this program fails until audit.c is fixed
     * (json_dumps of a fresh object must be followed by its json_decref). */
    wreq(&r, "DELETE", path, TOKEN(ADMIN), NULL);
    expect_status(&r, 200);
    assert_int_equal(jint(r.json, "id"), token_id);
    assert_true(json_is_true(json_object_get(r.json, "revoked")));
    httpc_resp_free(&r);

    req(&r, "GET", "/v1/me", token, NULL, NULL);
    expect_error(&r, 401, "unauthenticated", "Authorization");
    httpc_resp_free(&r);
    /* Revoking twice: nothing active to revoke. */
    wreq(&r, "DELETE", path, TOKEN(ADMIN), NULL);
    expect_error(&r, 404, "not_found", "token_id");
    httpc_resp_free(&r);
    /* The user's other token is untouched. */
    me = get_json("/v1/me", TOKEN(AUDITOR));
    assert_string_equal(or_null(jstr(me, "name")), "auditor");
    json_decref(me);
}

/* ---- 403 ---------------------------------------------------------------------------------- */

static void test_403_roles(void **state)
{
    (void)state;
    char path[PATH_BYTES];
    struct httpc_resp r;
    snprintf(path, sizeof path, "%s/accounts", fund_path);
    req(&r, "GET", path, TOKEN(UNDP), NULL, NULL);
    expect_error(&r, 403, "forbidden", "");
    httpc_resp_free(&r);

    size_t before = count_proposals();
    snprintf(path, sizeof path, "%s/entries", fund_path);
    char *body = entry_body("approver proposes", cash_id, "1.00", capital_id, "1.00");
    wreq(&r, "POST", path, TOKEN(APPROVER), body);
    expect_error(&r, 403, "forbidden", "");
    httpc_resp_free(&r);
    /* The role is checked before the key: no key, still 403. */
    req(&r, "POST", path, TOKEN(COMMITTEE), NULL, body);
    expect_error(&r, 403, "forbidden", "");
    httpc_resp_free(&r);
    free(body);
    assert_int_equal(count_proposals(), before);

    wreq(&r, "POST", "/v1/users", TOKEN(MANAGER), "{\"name\":\"intruder\",\"role\":\"admin\"}");
    expect_error(&r, 403, "forbidden", "");
    httpc_resp_free(&r);
    json_t *users = get_json("/v1/users", TOKEN(AUDITOR));
    assert_int_equal(id_by(json_object_get(users, "users"), "name", "intruder"), 0);
    json_decref(users);

    /* A fund manager cannot approve at all (four eyes by role). */
    int64_t pid = propose("manager approves own", "2.00");
    decide(pid, TOKEN(MANAGER), true, NULL, &r);
    expect_error(&r, 403, "forbidden", "");
    httpc_resp_free(&r);
    /* An auditor reads the books but writes nothing. */
    snprintf(path, sizeof path, "/v1/approvals/%" PRId64, pid);
    json_t *p = get_json(path, TOKEN(AUDITOR));
    assert_string_equal(or_null(jstr(p, "status")), "pending");
    json_decref(p);
    decide(pid, TOKEN(APPROVER), false, "{\"reason\":\"test only\"}", &r);
    expect_status(&r, 200);
    assert_string_equal(or_null(jstr(r.json, "status")), "rejected");
    assert_string_equal(or_null(jstr(r.json, "reason")), "test only");
    httpc_resp_free(&r);
}

/* ---- 404, 405 ----------------------------------------------------------------------------- */

static void test_404_405(void **state)
{
    (void)state;
    struct httpc_resp r;
    req(&r, "GET", "/v1/nothing", TOKEN(ADMIN), NULL, NULL);
    expect_error(&r, 404, "not_found", "");
    httpc_resp_free(&r);
    /* Unknown routes are 404 before any authentication. */
    req(&r, "GET", "/v1/funds/1/nothing", NULL, NULL, NULL);
    expect_error(&r, 404, "not_found", "");
    httpc_resp_free(&r);
    req(&r, "GET", "/v1/entries/999999", TOKEN(MANAGER), NULL, NULL);
    expect_error(&r, 404, "not_found", "entry_id");
    httpc_resp_free(&r);
    req(&r, "GET", "/v1/approvals/999999", TOKEN(MANAGER), NULL, NULL);
    expect_error(&r, 404, "not_found", "proposal_id");
    httpc_resp_free(&r);
    req(&r, "GET", "/v1/funds/999999", TOKEN(MANAGER), NULL, NULL);
    expect_error(&r, 404, "not_found", "fund_id");
    httpc_resp_free(&r);
    decide(999999, TOKEN(APPROVER), true, NULL, &r);
    expect_error(&r, 404, "not_found", "proposal_id");
    httpc_resp_free(&r);

    req(&r, "DELETE", "/v1/funds", TOKEN(ADMIN), NULL, NULL);
    expect_error(&r, 405, "method_not_allowed", "");
    httpc_resp_free(&r);
    req(&r, "PUT", "/v1/entries/1", TOKEN(ADMIN), NULL, NULL);
    expect_error(&r, 405, "method_not_allowed", "");
    httpc_resp_free(&r);
    req(&r, "GET", "/v1/approvals/1/approve", TOKEN(APPROVER), NULL, NULL);
    expect_error(&r, 405, "method_not_allowed", "");
    httpc_resp_free(&r);
    req(&r, "POST", "/healthz", NULL, NULL, NULL);
    expect_error(&r, 405, "method_not_allowed", "");
    httpc_resp_free(&r);
}

/* ---- 409 ---------------------------------------------------------------------------------- */

static void test_409_idempotency_key_reused(void **state)
{
    (void)state;
    char path[PATH_BYTES], key[KEY_BYTES];
    snprintf(path, sizeof path, "%s/entries", fund_path);
    fresh_key(key);
    size_t before = count_proposals();
    char *a = entry_body("first body", cash_id, "3.00", capital_id, "3.00");
    char *b = entry_body("second body", cash_id, "4.00", capital_id, "4.00");
    struct httpc_resp r;
    req(&r, "POST", path, TOKEN(MANAGER), key, a);
    expect_status(&r, 201);
    httpc_resp_free(&r);
    req(&r, "POST", path, TOKEN(MANAGER), key, b);
    expect_error(&r, 409, "idempotency_key_reused", "Idempotency-Key");
    assert_null(r.replayed_header);
    httpc_resp_free(&r);
    /* The same key on another path is another request too. */
    req(&r, "POST", "/v1/organisations", TOKEN(MANAGER), key, "{\"name\":\"X\",\"kind\":\"partner\"}");
    expect_error(&r, 409, "idempotency_key_reused", "Idempotency-Key");
    httpc_resp_free(&r);
    /* Keys belong to their user: another user may use the same key. */
    req(&r, "POST", "/v1/organisations", TOKEN(ADMIN), key, "{\"name\":\"Key owner test\",\"kind\":\"partner\"}");
    expect_status(&r, 201);
    assert_string_equal(or_null(jstr(r.json, "name")), "Key owner test");
    httpc_resp_free(&r);
    free(a);
    free(b);
    assert_int_equal(count_proposals(), before + 1);
}

static void test_409_already_decided(void **state)
{
    (void)state;
    int64_t pid = propose("decided twice", "5.00");
    struct httpc_resp r;
    decide(pid, TOKEN(APPROVER), true, NULL, &r);
    expect_status(&r, 200);
    assert_string_equal(or_null(jstr(r.json, "status")), "approved");
    httpc_resp_free(&r);
    decide(pid, TOKEN(COMMITTEE), true, NULL, &r);
    expect_error(&r, 409, "already_decided", "proposal_id");
    httpc_resp_free(&r);
    decide(pid, TOKEN(COMMITTEE), false, "{\"reason\":\"too late\"}", &r);
    expect_error(&r, 409, "already_decided", "proposal_id");
    httpc_resp_free(&r);
    /* The approver again, with a new key: still decided. */
    decide(pid, TOKEN(APPROVER), true, NULL, &r);
    expect_error(&r, 409, "already_decided", "proposal_id");
    httpc_resp_free(&r);
    /* A rejection needs a reason. */
    int64_t pid2 = propose("reject without reason", "6.00");
    decide(pid2, TOKEN(APPROVER), false, NULL, &r);
    expect_error(&r, 400, "missing_field", "reason");
    httpc_resp_free(&r);
    decide(pid2, TOKEN(APPROVER), false, "{\"reason\":\"\"}", &r);
    expect_error(&r, 400, "missing_field", "reason");
    httpc_resp_free(&r);
    decide(pid2, TOKEN(APPROVER), false, "{\"reason\":\"not needed\"}", &r);
    expect_status(&r, 200);
    assert_string_equal(or_null(jstr(r.json, "status")), "rejected");
    assert_true(json_is_null(json_object_get(r.json, "result_entry_id")));
    httpc_resp_free(&r);
    decide(pid2, TOKEN(COMMITTEE), true, NULL, &r);
    expect_error(&r, 409, "already_decided", "proposal_id");
    httpc_resp_free(&r);
}

/* ---- 413, 415 ----------------------------------------------------------------------------- */

/* An entry body padded with blanks to exactly len bytes (caller frees). */
static char *padded_entry_body(size_t len)
{
    char *e = entry_body("padded", cash_id, "7.00", capital_id, "7.00");
    size_t n = strlen(e);
    assert_true(n < len);
    char *b = malloc(len + 1);
    assert_non_null(b);
    memcpy(b, e, n - 1); /* without the closing brace */
    memset(b + n - 1, ' ', len - n);
    b[len - 1] = '}';
    b[len] = '\0';
    free(e);
    return b;
}

static void test_413_body_too_large(void **state)
{
    (void)state;
    static struct config small;
    small = cfg;
    small.http_body_bytes_max = SMALL_BODY_BYTES_MAX;
    small.http_threads = 2;
    struct http_server *s2 = NULL;
    struct fl_error err;
    fl_error_clear(&err);
    assert_int_equal(http_server_start(&small, conninfo, &s2, &err), FLE_OK);
    char url[URL_BYTES], path[PATH_BYTES], key[KEY_BYTES];
    snprintf(url, sizeof url, "http://127.0.0.1:%u", (unsigned)http_server_port(s2));
    snprintf(path, sizeof path, "%s/entries", fund_path);
    size_t before = count_proposals();

    struct httpc_resp r;
    char *over = padded_entry_body(SMALL_BODY_BYTES_MAX + 1);
    req_to(url, &r, "POST", path, TOKEN(MANAGER), fresh_key(key), NULL, over);
    expect_error(&r, 413, "body_too_large", "");
    httpc_resp_free(&r);
    free(over);
    /* Exactly at the limit is taken. */
    char *at = padded_entry_body(SMALL_BODY_BYTES_MAX);
    req_to(url, &r, "POST", path, TOKEN(MANAGER), fresh_key(key), NULL, at);
    expect_status(&r, 201);
    assert_string_equal(or_null(jstr(r.json, "amount")), "7.00");
    httpc_resp_free(&r);
    free(at);
    /* The connection survives a refused body. */
    req_to(url, &r, "GET", "/healthz", NULL, NULL, NULL, NULL);
    expect_status(&r, 200);
    httpc_resp_free(&r);
    http_server_stop(s2);

    /* The main server's default limit: 1 MiB. */
    assert_int_equal(cfg.http_body_bytes_max, 1048576u);
    char *huge = padded_entry_body(cfg.http_body_bytes_max + 1);
    wreq(&r, "POST", path, TOKEN(MANAGER), huge);
    expect_error(&r, 413, "body_too_large", "");
    httpc_resp_free(&r);
    free(huge);
    assert_int_equal(count_proposals(), before + 1);
}

static void test_415_content_type(void **state)
{
    (void)state;
    char path[PATH_BYTES], key[KEY_BYTES];
    snprintf(path, sizeof path, "%s/entries", fund_path);
    char *body = entry_body("content type", cash_id, "8.00", capital_id, "8.00");
    struct httpc_resp r;
    req_to(NULL, &r, "POST", path, TOKEN(MANAGER), fresh_key(key), "text/plain", body);
    expect_error(&r, 415, "unsupported_media_type", "Content-Type");
    httpc_resp_free(&r);
    req_to(NULL, &r, "POST", path, TOKEN(MANAGER), fresh_key(key), "application/jsonp", body);
    expect_error(&r, 415, "unsupported_media_type", "Content-Type");
    httpc_resp_free(&r);
    req_to(NULL, &r, "POST", path, TOKEN(MANAGER), fresh_key(key), "application/x-www-form-urlencoded", body);
    expect_error(&r, 415, "unsupported_media_type", "Content-Type");
    httpc_resp_free(&r);
    /* Parameters after the type are fine. */
    req_to(NULL, &r, "POST", path, TOKEN(MANAGER), fresh_key(key), "application/json; charset=utf-8", body);
    expect_status(&r, 201);
    httpc_resp_free(&r);
    free(body);
}

/* ---- 422 ---------------------------------------------------------------------------------- */

static void test_422_unbalanced(void **state)
{
    (void)state;
    char path[PATH_BYTES];
    snprintf(path, sizeof path, "%s/entries", fund_path);
    size_t before = count_proposals();
    char *body = entry_body("unbalanced", cash_id, "100.00", capital_id, "99.99");
    struct httpc_resp r;
    wreq(&r, "POST", path, TOKEN(MANAGER), body);
    expect_error(&r, 422, "unbalanced_entry", "lines");
    httpc_resp_free(&r);
    free(body);
    assert_int_equal(count_proposals(), before);
}

/* The maker of test_422_self_approval's proposal is the approver itself, made through the C API
 * (by role an approver cannot propose over HTTP). */
struct self_args {
    int64_t proposal_id;
};

static enum fl_err propose_as_approver(struct db *db, void *arg, struct fl_error *err)
{
    struct self_args *a = arg;
    struct principal maker = {.user_id = user_ids[APPROVER], .role = ROLE_APPROVER};
    snprintf(maker.name, sizeof maker.name, "approver");
    json_t *payload = json_pack("{s:s, s:s, s:[{s:I, s:s, s:I}, {s:I, s:s, s:I}]}", "effective_date", DATE, "memo",
                                "made by an approver", "lines", "account_id", (json_int_t)cash_id, "currency", "COP",
                                "amount_minor", (json_int_t)5000, "account_id", (json_int_t)capital_id, "currency",
                                "COP", "amount_minor", (json_int_t)-5000);
    json_t *p = approval_propose(db, &maker, fund_id, "journal_entry", payload, 5000, "COP", err);
    if (p == NULL) {
        return err->code;
    }
    a->proposal_id = jint(p, "id");
    json_decref(p);
    return FLE_OK;
}

static void test_422_self_approval(void **state)
{
    (void)state;
    struct self_args a = {0};
    struct db *db = testdb_open(conninfo);
    struct fl_error err;
    fl_error_clear(&err);
    assert_int_equal(db_tx(db, propose_as_approver, &a, &err), FLE_OK);
    db_close(db);
    assert_true(a.proposal_id > 0);

    /* Domain level, over HTTP: the maker never decides. */
    struct httpc_resp r;
    decide(a.proposal_id, TOKEN(APPROVER), true, NULL, &r);
    expect_error(&r, 422, "self_approval", "proposal_id");
    httpc_resp_free(&r);
    decide(a.proposal_id, TOKEN(APPROVER), false, "{\"reason\":\"my own\"}", &r);
    expect_error(&r, 422, "self_approval", "proposal_id");
    httpc_resp_free(&r);

    /* Database level: the trigger refuses the maker's decision row whatever the code does. */
    char sql[256], st[6], msg[512];
    snprintf(sql, sizeof sql,
             "INSERT INTO proposal_decision (proposal_id, user_id, decision, limit_minor) VALUES (%" PRId64 ", %" PRId64
             ", 'approve', 0)",
             a.proposal_id, user_ids[APPROVER]);
    sql_outcome(sql, st, msg, sizeof msg);
    assert_string_equal(st, "23514");
    assert_non_null(strstr(msg, "cannot decide"));

    char path[PATH_BYTES];
    snprintf(path, sizeof path, "/v1/approvals/%" PRId64, a.proposal_id);
    json_t *p = get_json(path, TOKEN(AUDITOR));
    assert_string_equal(or_null(jstr(p, "status")), "pending");
    assert_int_equal(json_array_size(json_object_get(p, "decisions")), 0);
    json_decref(p);

    /* Another approver may. */
    decide(a.proposal_id, TOKEN(COMMITTEE), true, NULL, &r);
    expect_status(&r, 200);
    assert_string_equal(or_null(jstr(r.json, "status")), "approved");
    assert_true(jint(r.json, "result_entry_id") > 0);
    httpc_resp_free(&r);
}

static void test_422_over_limit(void **state)
{
    (void)state;
    char path[PATH_BYTES];
    struct httpc_resp r;

    /* Above the approver's 500,000,000.00: their approval is the first of two. */
    int64_t pid = propose("above one limit", "600000000.00");
    decide(pid, TOKEN(APPROVER), true, NULL, &r);
    expect_status(&r, 200);
    assert_string_equal(or_null(jstr(r.json, "status")), "pending");
    assert_true(json_is_null(json_object_get(r.json, "result_entry_id")));
    json_t *decisions = json_object_get(r.json, "decisions");
    assert_int_equal(json_array_size(decisions), 1);
    assert_string_equal(or_null(jstr(json_array_get(decisions, 0), "user")), "approver");
    assert_string_equal(or_null(jstr(json_array_get(decisions, 0), "decision")), "approve");
    httpc_resp_free(&r);
    /* The same approver cannot give the second approval. */
    decide(pid, TOKEN(APPROVER), true, NULL, &r);
    expect_error(&r, 409, "already_decided", "proposal_id");
    httpc_resp_free(&r);
    decide(pid, TOKEN(COMMITTEE), true, NULL, &r);
    expect_status(&r, 200);
    assert_string_equal(or_null(jstr(r.json, "status")), "approved");
    assert_int_equal(json_array_size(json_object_get(r.json, "decisions")), 2);
    int64_t entry = jint(r.json, "result_entry_id");
    assert_true(entry > 0);
    httpc_resp_free(&r);
    snprintf(path, sizeof path, "/v1/entries/%" PRId64, entry);
    json_t *e = get_json(path, TOKEN(AUDITOR));
    assert_string_equal(or_null(jstr(json_array_get(json_object_get(e, "lines"), 0), "debit")), "600000000.00");
    json_decref(e);

    /* Exactly the combined 2,500,000,000.00 posts. */
    pid = propose("at the combined limit", "2500000000.00");
    decide(pid, TOKEN(COMMITTEE), true, NULL, &r);
    expect_status(&r, 200);
    assert_string_equal(or_null(jstr(r.json, "status")), "pending");
    httpc_resp_free(&r);
    decide(pid, TOKEN(APPROVER), true, NULL, &r);
    expect_status(&r, 200);
    assert_string_equal(or_null(jstr(r.json, "status")), "approved");
    assert_true(jint(r.json, "result_entry_id") > 0);
    httpc_resp_free(&r);

    /* One cent above the combined limits: the second approval is refused and changes nothing. */
    pid = propose("above the combined limit", "2500000000.01");
    int64_t cash_before = balance_of(cash_id);
    decide(pid, TOKEN(APPROVER), true, NULL, &r);
    expect_status(&r, 200);
    assert_string_equal(or_null(jstr(r.json, "status")), "pending");
    httpc_resp_free(&r);
    decide(pid, TOKEN(COMMITTEE), true, NULL, &r);
    expect_error(&r, 422, "over_approval_limit", "proposal_id");
    httpc_resp_free(&r);
    snprintf(path, sizeof path, "/v1/approvals/%" PRId64, pid);
    json_t *p = get_json(path, TOKEN(AUDITOR));
    assert_string_equal(or_null(jstr(p, "status")), "pending");
    assert_int_equal(json_array_size(json_object_get(p, "decisions")), 1);
    json_decref(p);
    assert_int_equal(balance_of(cash_id), cash_before);
    /* It can still be rejected. */
    decide(pid, TOKEN(COMMITTEE), false, "{\"reason\":\"over the limits\"}", &r);
    expect_status(&r, 200);
    assert_string_equal(or_null(jstr(r.json, "status")), "rejected");
    httpc_resp_free(&r);
}

/* ---- the happy path ----------------------------------------------------------------------- */

/* The COP totals of the trial balance: debit and credit in minor units; checks they balance. */
static void trial_totals(int64_t *debit, int64_t *credit)
{
    char path[PATH_BYTES];
    snprintf(path, sizeof path, "%s/trial-balance", fund_path);
    json_t *tb = get_json(path, TOKEN(APPROVER));
    assert_int_equal(jint(tb, "fund_id"), fund_id);
    json_t *totals = json_object_get(tb, "totals");
    assert_int_equal(json_array_size(totals), 1);
    size_t i;
    json_t *t;
    json_array_foreach(totals, i, t)
    {
        assert_string_equal(or_null(jstr(t, "currency")), "COP");
        assert_string_equal(or_null(jstr(t, "debit")), or_null(jstr(t, "credit")));
        assert_string_equal(or_null(jstr(t, "difference")), "0.00");
        *debit = cop(jstr(t, "debit"));
        *credit = cop(jstr(t, "credit"));
    }
    /* The accounts add up to the totals. */
    int64_t d = 0, c = 0;
    json_t *a;
    json_array_foreach(json_object_get(tb, "accounts"), i, a)
    {
        d += cop(jstr(a, "debit"));
        c += cop(jstr(a, "credit"));
    }
    assert_int_equal(d, *debit);
    assert_int_equal(c, *credit);
    json_decref(tb);
}

/* Checks line i of entry e: account, code, and exactly one of debit or credit with amount. */
static void expect_line(const json_t *e, size_t i, int64_t account_id, const char *code, const char *side,
                        const char *amount)
{
    json_t *l = json_array_get(json_object_get(e, "lines"), i);
    assert_non_null(l);
    assert_int_equal(jint(l, "line_no"), i + 1);
    assert_int_equal(jint(l, "account_id"), account_id);
    assert_string_equal(or_null(jstr(l, "account_code")), code);
    assert_string_equal(or_null(jstr(l, "currency")), "COP");
    assert_string_equal(or_null(jstr(l, side)), amount);
    assert_null(json_object_get(l, strcmp(side, "debit") == 0 ? "credit" : "debit"));
}

static void test_happy_path(void **state)
{
    (void)state;
    char path[PATH_BYTES], text[MONEY_TEXT_MAX];
    struct httpc_resp r;
    int64_t cash0 = balance_of(cash_id), capital0 = balance_of(capital_id);
    int64_t tb_debit0 = 0, tb_credit0 = 0;
    trial_totals(&tb_debit0, &tb_credit0);

    /* Propose: pending, nothing posted. */
    snprintf(path, sizeof path, "%s/entries", fund_path);
    char *body = entry_body_on(HAPPY_DATE, "Second UNDP tranche", cash_id, "123.45", capital_id, "123.45");
    wreq(&r, "POST", path, TOKEN(MANAGER), body);
    free(body);
    expect_status(&r, 201);
    int64_t pid = jint(r.json, "id");
    assert_true(pid > 0);
    assert_int_equal(jint(r.json, "fund_id"), fund_id);
    assert_string_equal(or_null(jstr(r.json, "kind")), "journal_entry");
    assert_string_equal(or_null(jstr(r.json, "status")), "pending");
    assert_string_equal(or_null(jstr(r.json, "amount")), "123.45");
    assert_string_equal(or_null(jstr(r.json, "currency")), "COP");
    assert_string_equal(or_null(jstr(json_object_get(r.json, "proposed_by"), "name")), "manager");
    assert_int_equal(jint(json_object_get(r.json, "proposed_by"), "id"), user_ids[MANAGER]);
    assert_true(json_is_null(json_object_get(r.json, "result_entry_id")));
    assert_true(json_is_null(json_object_get(r.json, "decided_at")));
    assert_int_equal(json_array_size(json_object_get(r.json, "decisions")), 0);
    json_t *pl = json_object_get(json_object_get(r.json, "payload"), "lines");
    assert_int_equal(json_array_size(pl), 2);
    /* Stored amounts are decimal strings, as replies show them (docs/architecture.md). */
    assert_string_equal(or_null(jstr(json_array_get(pl, 0), "amount")), "123.45");
    assert_string_equal(or_null(jstr(json_array_get(pl, 1), "amount")), "-123.45");
    assert_null(json_object_get(json_array_get(pl, 0), "amount_minor"));
    httpc_resp_free(&r);
    assert_int_equal(balance_of(cash_id), cash0);

    /* It is in the pending queue. */
    json_t *queue = get_json("/v1/approvals", TOKEN(APPROVER));
    bool queued = false;
    size_t i;
    json_t *q;
    json_array_foreach(json_object_get(queue, "proposals"), i, q)
    {
        queued |= jint(q, "id") == pid;
        assert_string_equal(or_null(jstr(q, "status")), "pending");
    }
    assert_true(queued);
    json_decref(queue);

    /* Approve: posted. */
    decide(pid, TOKEN(APPROVER), true, "{\"reason\":\"matches the bank statement\"}", &r);
    expect_status(&r, 200);
    assert_null(r.replayed_header);
    assert_int_equal(jint(r.json, "id"), pid);
    assert_string_equal(or_null(jstr(r.json, "status")), "approved");
    assert_true(json_is_string(json_object_get(r.json, "decided_at")));
    int64_t entry = jint(r.json, "result_entry_id");
    assert_true(entry > 0);
    json_t *d = json_array_get(json_object_get(r.json, "decisions"), 0);
    assert_int_equal(json_array_size(json_object_get(r.json, "decisions")), 1);
    assert_int_equal(jint(d, "user_id"), user_ids[APPROVER]);
    assert_string_equal(or_null(jstr(d, "decision")), "approve");
    assert_string_equal(or_null(jstr(d, "reason")), "matches the bank statement");
    httpc_resp_free(&r);

    /* The entry, exactly. */
    snprintf(path, sizeof path, "/v1/entries/%" PRId64, entry);
    json_t *e = get_json(path, TOKEN(AUDITOR));
    assert_int_equal(jint(e, "id"), entry);
    assert_int_equal(jint(e, "fund_id"), fund_id);
    assert_string_equal(or_null(jstr(e, "effective_date")), HAPPY_DATE);
    assert_string_equal(or_null(jstr(e, "memo")), "Second UNDP tranche");
    assert_string_equal(or_null(jstr(e, "event_type")), "manual");
    char ref[64];
    snprintf(ref, sizeof ref, "proposal:%" PRId64, pid);
    assert_string_equal(or_null(jstr(e, "event_ref")), ref);
    assert_string_equal(or_null(jstr(json_object_get(e, "posted_by"), "name")), "approver");
    assert_true(json_is_null(json_object_get(e, "reverses_entry_id")));
    assert_true(json_is_null(json_object_get(e, "reversed_by_entry_id")));
    assert_int_equal(json_array_size(json_object_get(e, "lines")), 2);
    expect_line(e, 0, cash_id, "1000", "debit", "123.45");
    expect_line(e, 1, capital_id, "3000", "credit", "123.45");
    json_decref(e);

    /* Balances moved by exactly 123.45; the trial balance still balances. */
    assert_int_equal(balance_of(cash_id), cash0 + 12345);
    assert_int_equal(balance_of(capital_id), capital0 - 12345);
    snprintf(path, sizeof path, "/v1/accounts/%" PRId64, cash_id);
    json_t *acc = get_json(path, TOKEN(MANAGER));
    cop_text(cash0 + 12345, text);
    assert_string_equal(or_null(jstr(acc, "balance")), text);
    assert_string_equal(or_null(jstr(acc, "side")), "debit");
    json_decref(acc);
    int64_t tb_debit1 = 0, tb_credit1 = 0;
    trial_totals(&tb_debit1, &tb_credit1);
    assert_int_equal(tb_debit1, tb_debit0 + 12345);
    assert_int_equal(tb_credit1, tb_credit0 + 12345);
    /* As of the day before the entry, it does not count (no other entry is on its date). */
    snprintf(path, sizeof path, "/v1/accounts/%" PRId64 "?as_of=2025-04-14", cash_id);
    json_t *before = get_json(path, TOKEN(MANAGER));
    snprintf(path, sizeof path, "/v1/accounts/%" PRId64 "?as_of=" HAPPY_DATE, cash_id);
    json_t *on = get_json(path, TOKEN(MANAGER));
    assert_int_equal(cop(jstr(on, "balance")) - cop(jstr(before, "balance")), 12345);
    json_decref(before);
    json_decref(on);

    /* Reverse: a proposal, approved by the other approver. */
    snprintf(path, sizeof path, "/v1/entries/%" PRId64 "/reversal", entry);
    wreq(&r, "POST", path, TOKEN(MANAGER), "{\"memo\":\"wrong account\"}");
    expect_status(&r, 201);
    int64_t rpid = jint(r.json, "id");
    assert_string_equal(or_null(jstr(r.json, "kind")), "reversal");
    assert_string_equal(or_null(jstr(r.json, "status")), "pending");
    assert_string_equal(or_null(jstr(r.json, "amount")), "123.45");
    httpc_resp_free(&r);
    assert_int_equal(balance_of(cash_id), cash0 + 12345);
    decide(rpid, TOKEN(COMMITTEE), true, NULL, &r);
    expect_status(&r, 200);
    assert_string_equal(or_null(jstr(r.json, "status")), "approved");
    int64_t reversal = jint(r.json, "result_entry_id");
    assert_true(reversal > entry);
    httpc_resp_free(&r);

    snprintf(path, sizeof path, "/v1/entries/%" PRId64, reversal);
    e = get_json(path, TOKEN(AUDITOR));
    assert_int_equal(jint(e, "reverses_entry_id"), entry);
    assert_string_equal(or_null(jstr(e, "event_type")), "reversal");
    snprintf(ref, sizeof ref, "entry:%" PRId64, entry);
    assert_string_equal(or_null(jstr(e, "event_ref")), ref);
    assert_string_equal(or_null(jstr(e, "effective_date")), HAPPY_DATE);
    assert_string_equal(or_null(jstr(e, "memo")), "wrong account");
    assert_int_equal(json_array_size(json_object_get(e, "lines")), 2);
    expect_line(e, 0, cash_id, "1000", "credit", "123.45");
    expect_line(e, 1, capital_id, "3000", "debit", "123.45");
    json_decref(e);
    snprintf(path, sizeof path, "/v1/entries/%" PRId64, entry);
    e = get_json(path, TOKEN(AUDITOR));
    assert_int_equal(jint(e, "reversed_by_entry_id"), reversal);
    json_decref(e);
    assert_int_equal(balance_of(cash_id), cash0);
    assert_int_equal(balance_of(capital_id), capital0);
    int64_t tb_debit2 = 0, tb_credit2 = 0;
    trial_totals(&tb_debit2, &tb_credit2);
    assert_int_equal(tb_debit2, tb_debit0);
    assert_int_equal(tb_credit2, tb_credit0);

    /* Once only; and a reversal is never reversed. */
    snprintf(path, sizeof path, "/v1/entries/%" PRId64 "/reversal", entry);
    wreq(&r, "POST", path, TOKEN(MANAGER), "{\"memo\":\"again\"}");
    expect_error(&r, 409, "already_reversed", "entry_id");
    httpc_resp_free(&r);
    snprintf(path, sizeof path, "/v1/entries/%" PRId64 "/reversal", reversal);
    wreq(&r, "POST", path, TOKEN(MANAGER), "{\"memo\":\"undo the undo\"}");
    expect_error(&r, 422, "business_rule", "entry_id");
    httpc_resp_free(&r);
    wreq(&r, "POST", "/v1/entries/999999/reversal", TOKEN(MANAGER), "{\"memo\":\"nothing\"}");
    expect_error(&r, 404, "not_found", "entry_id");
    httpc_resp_free(&r);
    wreq(&r, "POST", path, TOKEN(MANAGER), "{}");
    expect_error(&r, 400, "missing_field", "memo");
    httpc_resp_free(&r);
}

/* Two reversal proposals of one entry may be pending at once; only the first approved posts. */
static void test_two_pending_reversals(void **state)
{
    (void)state;
    int64_t pid = propose("to be reversed twice", "9.00");
    struct httpc_resp r;
    decide(pid, TOKEN(APPROVER), true, NULL, &r);
    expect_status(&r, 200);
    int64_t entry = jint(r.json, "result_entry_id");
    assert_true(entry > 0);
    httpc_resp_free(&r);
    char path[PATH_BYTES];
    snprintf(path, sizeof path, "/v1/entries/%" PRId64 "/reversal", entry);
    int64_t rp[2];
    for (int k = 0; k < 2; k++) {
        wreq(&r, "POST", path, TOKEN(MANAGER), "{\"memo\":\"duplicate reversal\"}");
        expect_status(&r, 201);
        rp[k] = jint(r.json, "id");
        httpc_resp_free(&r);
    }
    int64_t cash0 = balance_of(cash_id);
    decide(rp[0], TOKEN(APPROVER), true, NULL, &r);
    expect_status(&r, 200);
    assert_string_equal(or_null(jstr(r.json, "status")), "approved");
    httpc_resp_free(&r);
    decide(rp[1], TOKEN(APPROVER), true, NULL, &r);
    expect_error(&r, 409, "already_reversed", "entry_id");
    httpc_resp_free(&r);
    assert_int_equal(balance_of(cash_id), cash0 - 900);
    char ref[64];
    snprintf(ref, sizeof ref, "entry:%" PRId64, entry);
    assert_int_equal(count_entries_with_ref(ref), 1);
}

/* ---- idempotency -------------------------------------------------------------------------- */

static void test_idempotent_replay(void **state)
{
    (void)state;
    char path[PATH_BYTES], key[KEY_BYTES];
    snprintf(path, sizeof path, "%s/entries", fund_path);
    fresh_key(key);
    size_t before = count_proposals();
    char *body = entry_body("sent twice", cash_id, "11.00", capital_id, "11.00");
    struct httpc_resp r1, r2;
    req(&r1, "POST", path, TOKEN(MANAGER), key, body);
    expect_status(&r1, 201);
    assert_null(r1.replayed_header);
    req(&r2, "POST", path, TOKEN(MANAGER), key, body);
    expect_status(&r2, 201);
    assert_string_equal(or_null(r2.replayed_header), "true");
    assert_string_equal(r2.body, r1.body);
    assert_int_equal(jint(r2.json, "id"), jint(r1.json, "id"));
    int64_t pid = jint(r1.json, "id");
    httpc_resp_free(&r1);
    httpc_resp_free(&r2);
    free(body);
    assert_int_equal(count_proposals(), before + 1);

    /* An approval replayed: the same answer, one decision, one entry. */
    char akey[KEY_BYTES];
    fresh_key(akey);
    snprintf(path, sizeof path, "/v1/approvals/%" PRId64 "/approve", pid);
    req(&r1, "POST", path, TOKEN(APPROVER), akey, NULL);
    expect_status(&r1, 200);
    assert_null(r1.replayed_header);
    req(&r2, "POST", path, TOKEN(APPROVER), akey, NULL);
    expect_status(&r2, 200);
    assert_string_equal(or_null(r2.replayed_header), "true");
    assert_string_equal(r2.body, r1.body);
    httpc_resp_free(&r1);
    httpc_resp_free(&r2);
    char ref[64];
    snprintf(ref, sizeof ref, "proposal:%" PRId64, pid);
    assert_int_equal(count_entries_with_ref(ref), 1);

    /* A refused request does not use up its key. */
    snprintf(path, sizeof path, "%s/entries", fund_path);
    fresh_key(key);
    body = entry_body("unbalanced first", cash_id, "12.00", capital_id, "12.01");
    req(&r1, "POST", path, TOKEN(MANAGER), key, body);
    expect_error(&r1, 422, "unbalanced_entry", "lines");
    httpc_resp_free(&r1);
    req(&r1, "POST", path, TOKEN(MANAGER), key, body);
    expect_error(&r1, 422, "unbalanced_entry", "lines");
    assert_null(r1.replayed_header);
    httpc_resp_free(&r1);
    free(body);
    body = entry_body("balanced second", cash_id, "12.00", capital_id, "12.00");
    req(&r1, "POST", path, TOKEN(MANAGER), key, body);
    expect_status(&r1, 201);
    assert_null(r1.replayed_header);
    httpc_resp_free(&r1);
    free(body);
    assert_int_equal(count_proposals(), before + 2);
}

static void test_idempotent_token_replay(void **state)
{
    (void)state;
    char path[PATH_BYTES], key[KEY_BYTES];
    snprintf(path, sizeof path, "/v1/users/%" PRId64 "/tokens", user_ids[TRANSPARENCY]);
    fresh_key(key);
    struct httpc_resp r1, r2;
    req(&r1, "POST", path, TOKEN(ADMIN), key, "{\"label\":\"replayed\",\"expires_days\":30}");
    expect_status(&r1, 201);
    assert_null(r1.replayed_header);
    const char *token = jstr(r1.json, "token");
    assert_non_null(token);
    assert_int_equal(strncmp(token, "fl_", 3), 0);
    req(&r2, "POST", path, TOKEN(ADMIN), key, "{\"label\":\"replayed\",\"expires_days\":30}");
    expect_status(&r2, 201);
    assert_string_equal(or_null(r2.replayed_header), "true");
    json_t *t2 = json_object_get(r2.json, "token");
    assert_non_null(t2);
    assert_true(json_is_null(t2));
    assert_int_equal(jint(r2.json, "id"), jint(r1.json, "id"));
    assert_int_equal(jint(r2.json, "user_id"), user_ids[TRANSPARENCY]);
    assert_null(strstr(r2.body, token));
    /* The token shown once works. */
    json_t *me = get_json("/v1/me", token);
    assert_string_equal(or_null(jstr(me, "name")), "transparency");
    json_decref(me);
    httpc_resp_free(&r1);
    httpc_resp_free(&r2);
}

/* ---- roles that read ---------------------------------------------------------------------- */

static void test_investor_view(void **state)
{
    (void)state;
    json_t *me = get_json("/v1/me", TOKEN(UNDP));
    assert_int_equal(jint(me, "user_id"), user_ids[UNDP]);
    assert_string_equal(or_null(jstr(me, "name")), "undp");
    assert_string_equal(or_null(jstr(me, "role")), "investor");
    assert_int_equal(jint(me, "organisation_id"), undp_org_id);
    assert_int_equal(json_object_size(json_object_get(me, "approval_limits")), 0);
    json_decref(me);

    json_t *funds = get_json("/v1/funds", TOKEN(UNDP));
    assert_int_equal(id_by(json_object_get(funds, "funds"), "code", "HSP-ELCHARCO"), fund_id);
    json_decref(funds);
    json_t *fund = get_json(fund_path, TOKEN(UNDP));
    assert_int_equal(jint(fund, "id"), fund_id);
    assert_string_equal(or_null(jstr(fund, "base_currency")), "COP");
    json_decref(fund);

    /* Every route of the books is closed to an investor. */
    char books[10][PATH_BYTES];
    snprintf(books[0], PATH_BYTES, "%s/accounts", fund_path);
    snprintf(books[1], PATH_BYTES, "%s/trial-balance", fund_path);
    snprintf(books[2], PATH_BYTES, "%s/entries", fund_path);
    snprintf(books[3], PATH_BYTES, "/v1/accounts/%" PRId64, cash_id);
    snprintf(books[4], PATH_BYTES, "/v1/entries/1");
    snprintf(books[5], PATH_BYTES, "/v1/approvals");
    snprintf(books[6], PATH_BYTES, "/v1/approvals/1");
    snprintf(books[7], PATH_BYTES, "/v1/audit");
    snprintf(books[8], PATH_BYTES, "/v1/users");
    snprintf(books[9], PATH_BYTES, "/v1/organisations");
    for (size_t i = 0; i < sizeof books / sizeof books[0]; i++) {
        struct httpc_resp r;
        req(&r, "GET", books[i], TOKEN(UNDP), NULL, NULL);
        if (r.status != 403) {
            print_message("GET %s as investor\n", books[i]);
        }
        expect_error(&r, 403, "forbidden", "");
        httpc_resp_free(&r);
    }
    struct httpc_resp r;
    char path[PATH_BYTES];
    snprintf(path, sizeof path, "%s/entries", fund_path);
    char *body = entry_body("investor proposes", cash_id, "1.00", capital_id, "1.00");
    wreq(&r, "POST", path, TOKEN(UNDP), body);
    expect_error(&r, 403, "forbidden", "");
    httpc_resp_free(&r);
    free(body);

    /* The transparency officer sees funds and organisations, not the books. */
    json_t *orgs = get_json("/v1/organisations", TOKEN(TRANSPARENCY));
    assert_int_equal(id_by(json_object_get(orgs, "organisations"), "name", "United Nations Development Programme"),
                     undp_org_id);
    json_decref(orgs);
    snprintf(path, sizeof path, "%s/trial-balance", fund_path);
    req(&r, "GET", path, TOKEN(TRANSPARENCY), NULL, NULL);
    expect_error(&r, 403, "forbidden", "");
    httpc_resp_free(&r);
    /* An approver's /v1/me shows its limit. */
    me = get_json("/v1/me", TOKEN(COMMITTEE));
    assert_string_equal(or_null(jstr(json_object_get(me, "approval_limits"), "COP")), "2000000000.00");
    assert_true(json_is_null(json_object_get(me, "organisation_id")));
    json_decref(me);
}

/* ---- paging ------------------------------------------------------------------------------- */

static void test_paging(void **state)
{
    (void)state;
    char path[PATH_BYTES];
    snprintf(path, sizeof path, "%s/entries?limit=1", fund_path);
    json_t *p1 = get_json(path, TOKEN(AUDITOR));
    json_t *e1 = json_object_get(p1, "entries");
    assert_int_equal(json_array_size(e1), 1);
    json_int_t first = jint(json_array_get(e1, 0), "id");
    json_t *next = json_object_get(p1, "next_after");
    assert_true(json_is_integer(next));
    assert_int_equal(json_integer_value(next), first);
    snprintf(path, sizeof path, "%s/entries?limit=1&after=%" JSON_INTEGER_FORMAT, fund_path, first);
    json_t *p2 = get_json(path, TOKEN(AUDITOR));
    json_t *e2 = json_object_get(p2, "entries");
    assert_int_equal(json_array_size(e2), 1);
    assert_true(jint(json_array_get(e2, 0), "id") > first);
    json_decref(p1);
    json_decref(p2);

    /* Paging one by one gives exactly the one-page list. */
    json_t *one_by_one = all_entries(1);
    json_t *whole = all_entries(500);
    assert_true(json_array_size(whole) >= 4); /* the demo's three and this test program's */
    assert_int_equal(json_array_size(one_by_one), json_array_size(whole));
    for (size_t i = 0; i < json_array_size(whole); i++) {
        assert_int_equal(jint(json_array_get(one_by_one, i), "id"), jint(json_array_get(whole, i), "id"));
        if (i > 0) {
            assert_true(jint(json_array_get(whole, i), "id") > jint(json_array_get(whole, i - 1), "id"));
        }
    }
    json_decref(one_by_one);
    json_decref(whole);

    struct httpc_resp r;
    const char *const bad[] = {"limit=0", "limit=501", "limit=-1", "limit=ten", "limit="};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(path, sizeof path, "%s/entries?%s", fund_path, bad[i]);
        req(&r, "GET", path, TOKEN(AUDITOR), NULL, NULL);
        expect_error(&r, 400, "invalid_parameter", "limit");
        httpc_resp_free(&r);
    }
    snprintf(path, sizeof path, "%s/entries?after=-5", fund_path);
    req(&r, "GET", path, TOKEN(AUDITOR), NULL, NULL);
    expect_error(&r, 400, "invalid_parameter", "after");
    httpc_resp_free(&r);
    req(&r, "GET", "/v1/approvals?limit=0", TOKEN(AUDITOR), NULL, NULL);
    expect_error(&r, 400, "invalid_parameter", "limit");
    httpc_resp_free(&r);
    req(&r, "GET", "/v1/audit?limit=501", TOKEN(AUDITOR), NULL, NULL);
    expect_error(&r, 400, "invalid_parameter", "limit");
    httpc_resp_free(&r);
    snprintf(path, sizeof path, "%s/entries?limit=500", fund_path);
    req(&r, "GET", path, TOKEN(AUDITOR), NULL, NULL);
    expect_status(&r, 200);
    assert_true(json_is_null(json_object_get(r.json, "next_after")));
    httpc_resp_free(&r);
}

/* ---- racing requests ---------------------------------------------------------------------- */

/* One of n requests started together. The thread only records; the test thread asserts. */
struct racer {
    pthread_barrier_t *start;
    const char *token;
    const char *body;
    char path[PATH_BYTES];
    char key[KEY_BYTES];
    struct httpc_resp resp;
    bool answered;
};

static void *race(void *arg)
{
    struct racer *r = arg;
    pthread_barrier_wait(r->start);
    r->answered = httpc_request(base_url, "POST", r->path, r->token, r->key, NULL, r->body, &r->resp);
    return NULL;
}

/* Sends the n prepared POSTs at once and waits for every answer. */
static void run_racers(struct racer *racers, int n)
{
    pthread_barrier_t start;
    pthread_t threads[RACERS];
    assert_true(n >= 1 && n <= RACERS);
    assert_int_equal(pthread_barrier_init(&start, NULL, (unsigned)n), 0);
    for (int i = 0; i < n; i++) {
        racers[i].start = &start;
        assert_int_equal(pthread_create(&threads[i], NULL, race, &racers[i]), 0);
    }
    for (int i = 0; i < n; i++) {
        assert_int_equal(pthread_join(threads[i], NULL), 0);
        assert_true(racers[i].answered);
    }
    pthread_barrier_destroy(&start);
}

static void test_concurrent_approvals(void **state)
{
    (void)state;
    /* Six more approvers, made over HTTP by the admin, each with a token and a COP limit. */
    static char racer_tokens[RACERS][TOKEN_BYTES];
    snprintf(racer_tokens[0], TOKEN_BYTES, "%s", TOKEN(APPROVER));
    snprintf(racer_tokens[1], TOKEN_BYTES, "%s", TOKEN(COMMITTEE));
    for (int i = 2; i < RACERS; i++) {
        char body[128], path[PATH_BYTES];
        struct httpc_resp r;
        snprintf(body, sizeof body, "{\"name\":\"racer%d\",\"role\":\"approver\"}", i);
        wreq(&r, "POST", "/v1/users", TOKEN(ADMIN), body);
        expect_status(&r, 201);
        assert_string_equal(or_null(jstr(r.json, "role")), "approver");
        int64_t uid = jint(r.json, "id");
        httpc_resp_free(&r);
        snprintf(path, sizeof path, "/v1/users/%" PRId64 "/tokens", uid);
        wreq(&r, "POST", path, TOKEN(ADMIN), NULL);
        expect_status(&r, 201);
        assert_non_null(jstr(r.json, "token"));
        snprintf(racer_tokens[i], TOKEN_BYTES, "%s", jstr(r.json, "token"));
        httpc_resp_free(&r);
        snprintf(path, sizeof path, "/v1/users/%" PRId64 "/approval-limits/COP", uid);
        wreq(&r, "PUT", path, TOKEN(ADMIN), "{\"limit\":\"1000000.00\"}");
        expect_status(&r, 200);
        assert_int_equal(jint(r.json, "user_id"), uid);
        assert_string_equal(or_null(jstr(r.json, "currency")), "COP");
        assert_string_equal(or_null(jstr(r.json, "limit")), "1000000.00");
        httpc_resp_free(&r);
    }

    for (int round = 0; round < RACE_ROUNDS; round++) {
        int64_t pid = propose("raced", "1000.00");
        static struct racer racers[RACERS];
        for (int i = 0; i < RACERS; i++) {
            racers[i] = (struct racer){.token = racer_tokens[i]};
            snprintf(racers[i].path, PATH_BYTES, "/v1/approvals/%" PRId64 "/approve", pid);
            fresh_key(racers[i].key);
        }
        run_racers(racers, RACERS);
        int approved = 0, decided = 0;
        int64_t entry = 0;
        for (int i = 0; i < RACERS; i++) {
            struct httpc_resp *r = &racers[i].resp;
            if (r->status == 200) {
                approved++;
                assert_string_equal(or_null(jstr(r->json, "status")), "approved");
                entry = jint(r->json, "result_entry_id");
            } else {
                expect_error(r, 409, "already_decided", "proposal_id");
                decided++;
            }
            httpc_resp_free(r);
        }
        assert_int_equal(approved, 1);
        assert_int_equal(decided, RACERS - 1);
        assert_true(entry > 0);

        char path[PATH_BYTES], ref[64];
        snprintf(path, sizeof path, "/v1/approvals/%" PRId64, pid);
        json_t *p = get_json(path, TOKEN(AUDITOR));
        assert_string_equal(or_null(jstr(p, "status")), "approved");
        assert_int_equal(jint(p, "result_entry_id"), entry);
        assert_int_equal(json_array_size(json_object_get(p, "decisions")), 1);
        json_decref(p);
        snprintf(ref, sizeof ref, "proposal:%" PRId64, pid);
        assert_int_equal(count_entries_with_ref(ref), 1);
    }
}

/* One client retrying one proposal with one key, all at once: one proposal, one answer. */
static void test_concurrent_same_key_propose(void **state)
{
    (void)state;
    for (int round = 0; round < RACE_ROUNDS; round++) {
        size_t before = count_proposals();
        char *body = entry_body("same key at once", cash_id, "13.00", capital_id, "13.00");
        static struct racer racers[RACERS];
        char key[KEY_BYTES];
        fresh_key(key);
        for (int i = 0; i < RACERS; i++) {
            racers[i] = (struct racer){.token = TOKEN(MANAGER), .body = body};
            snprintf(racers[i].path, PATH_BYTES, "%s/entries", fund_path);
            snprintf(racers[i].key, KEY_BYTES, "%s", key);
        }
        run_racers(racers, RACERS);
        int fresh = 0;
        for (int i = 0; i < RACERS; i++) {
            struct httpc_resp *r = &racers[i].resp;
            expect_status(r, 201);
            assert_string_equal(r->body, racers[0].resp.body);
            fresh += r->replayed_header == NULL;
            if (r->replayed_header != NULL) {
                assert_string_equal(r->replayed_header, "true");
            }
        }
        for (int i = 0; i < RACERS; i++) {
            httpc_resp_free(&racers[i].resp);
        }
        free(body);
        assert_int_equal(fresh, 1);
        assert_int_equal(count_proposals(), before + 1);
    }
}

/* One approver sending one approval with one key several times at once (a client retrying on a
 * timeout): every copy gets either the stored reply (200, identical body, Idempotent-Replayed:
 * true) or 409 conflict naming Idempotency-Key; exactly one copy writes. Regression test: the
 * copies that had waited on the proposal's row lock used to run the write again after their
 * twin committed and answer 409 already_decided (fixed in idem_run, src/core/idempotency.c, by
 * looking the key up again when the write fails). */
static void test_concurrent_same_key_approve(void **state)
{
    (void)state;
    for (int round = 0; round < RACE_ROUNDS; round++) {
        int64_t pid = propose("approved with one key at once", "14.00");
        static struct racer racers[RACERS];
        char key[KEY_BYTES];
        fresh_key(key);
        for (int i = 0; i < RACERS; i++) {
            racers[i] = (struct racer){.token = TOKEN(APPROVER)};
            snprintf(racers[i].path, PATH_BYTES, "/v1/approvals/%" PRId64 "/approve", pid);
            snprintf(racers[i].key, KEY_BYTES, "%s", key);
        }
        run_racers(racers, RACERS);
        int fresh = 0, wrong = 0;
        const char *fresh_body = NULL;
        for (int i = 0; i < RACERS; i++) {
            struct httpc_resp *r = &racers[i].resp;
            if (r->status == 200 && r->replayed_header == NULL) {
                fresh++;
                fresh_body = r->body;
            }
        }
        for (int i = 0; i < RACERS && fresh_body != NULL; i++) {
            struct httpc_resp *r = &racers[i].resp;
            json_t *e = json_object_get(r->json, "error");
            bool ok = (r->status == 200 && strcmp(r->body, fresh_body) == 0) ||
                      (r->status == 409 && strcmp(or_null(jstr(e, "code")), "conflict") == 0 &&
                       strcmp(or_null(jstr(e, "field")), "Idempotency-Key") == 0);
            if (!ok) {
                print_message("round %d, copy %d: %ld %s\n", round, i, r->status, or_null(r->body));
                wrong++;
            }
        }
        for (int i = 0; i < RACERS; i++) {
            httpc_resp_free(&racers[i].resp);
        }
        char ref[64];
        snprintf(ref, sizeof ref, "proposal:%" PRId64, pid);
        assert_int_equal(count_entries_with_ref(ref), 1);
        assert_int_equal(fresh, 1);
        assert_int_equal(wrong, 0);
    }
}

/* Two approvers whose limits together cover the amount (approver 500,000,000.00 + committee
 * 2,000,000,000.00 >= 2,200,000,000.00) approve at once. As sequentially (test_422_over_limit),
 * one answer is pending and the other approved with the entry. Regression test: the earlier
 * approvals used to be counted in the statement that waited for `FOR UPDATE OF p`, with its
 * snapshot from before the wait (READ COMMITTED), so both approvals were recorded as first ones
 * and the proposal stayed pending (fixed by reading them in a second statement after the lock,
 * approval_decide_prior in src/db/statements.c). */
static void test_concurrent_two_approvers_above_one_limit(void **state)
{
    (void)state;
    for (int round = 0; round < TWO_APPROVER_ROUNDS; round++) {
        int64_t pid = propose("two approvers at once", "2200000000.00");
        static struct racer racers[2];
        racers[0] = (struct racer){.token = TOKEN(APPROVER)};
        racers[1] = (struct racer){.token = TOKEN(COMMITTEE)};
        for (int i = 0; i < 2; i++) {
            snprintf(racers[i].path, PATH_BYTES, "/v1/approvals/%" PRId64 "/approve", pid);
            fresh_key(racers[i].key);
        }
        run_racers(racers, 2);
        int pending = 0, approved = 0;
        for (int i = 0; i < 2; i++) {
            struct httpc_resp *r = &racers[i].resp;
            expect_status(r, 200);
            pending += strcmp(or_null(jstr(r->json, "status")), "pending") == 0;
            approved += strcmp(or_null(jstr(r->json, "status")), "approved") == 0;
            httpc_resp_free(r);
        }
        char path[PATH_BYTES];
        snprintf(path, sizeof path, "/v1/approvals/%" PRId64, pid);
        json_t *p = get_json(path, TOKEN(AUDITOR));
        char status[32];
        snprintf(status, sizeof status, "%s", or_null(jstr(p, "status")));
        size_t approvals = json_array_size(json_object_get(p, "decisions"));
        json_decref(p); /* before asserting: a failure leaks nothing */
        if (strcmp(status, "approved") != 0) {
            print_message("round %d: proposal %" PRId64 " is %s with %zu approvals\n", round, pid, status, approvals);
        }
        assert_int_equal(approvals, 2);
        assert_string_equal(status, "approved");
        assert_int_equal(pending, 1);
        assert_int_equal(approved, 1);
    }
}

/* ---- garbage ------------------------------------------------------------------------------ */

static void expect_alive(void)
{
    struct httpc_resp r;
    req(&r, "GET", "/healthz", NULL, NULL, NULL);
    expect_status(&r, 200);
    httpc_resp_free(&r);
}

static void test_garbage_does_not_crash(void **state)
{
    (void)state;
    char path[PATH_BYTES];
    snprintf(path, sizeof path, "%s/entries", fund_path);
    struct httpc_resp r;

    /* 100 levels of nesting. */
    char deep[256];
    size_t n = 0;
    n += (size_t)snprintf(deep + n, sizeof deep - n, "{\"lines\":");
    for (int i = 0; i < 99; i++) {
        deep[n++] = '[';
    }
    for (int i = 0; i < 99; i++) {
        deep[n++] = ']';
    }
    deep[n++] = '}';
    deep[n] = '\0';
    wreq(&r, "POST", path, TOKEN(MANAGER), deep);
    expect_error(&r, 400, "malformed_json", "");
    httpc_resp_free(&r);
    expect_alive();

    /* An empty body where fields are needed. */
    wreq(&r, "POST", path, TOKEN(MANAGER), "");
    expect_error(&r, 400, "missing_field", "effective_date");
    httpc_resp_free(&r);
    wreq(&r, "POST", path, TOKEN(MANAGER), NULL);
    expect_error(&r, 400, "missing_field", "effective_date");
    httpc_resp_free(&r);

    /* Not UTF-8; an escaped NUL inside a string; a NUL byte in the body. */
    wreq(&r, "POST", path, TOKEN(MANAGER), "{\"memo\":\"\xff\xfe\"}");
    expect_error(&r, 400, "malformed_json", "memo");
    httpc_resp_free(&r);
    char body[512];
    snprintf(body, sizeof body,
             "{\"effective_date\":\"" DATE "\",\"memo\":\"a\\u0000b\",\"lines\":[{\"account_id\":%" PRId64
             ",\"debit\":\"1.00\"},{\"account_id\":%" PRId64 ",\"credit\":\"1.00\"}]}",
             cash_id, capital_id);
    wreq(&r, "POST", path, TOKEN(MANAGER), body);
    expect_error(&r, 400, "malformed_json", "");
    httpc_resp_free(&r);
    static const char nul_body[] = "{\"memo\":\0\"x\"}";
    char auth[TOKEN_BYTES + 32], key[KEY_BYTES + 32], kb[KEY_BYTES];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", TOKEN(MANAGER));
    snprintf(key, sizeof key, "Idempotency-Key: %s", fresh_key(kb));
    const char *const nul_headers[] = {auth, key, "Content-Type: application/json", "Expect:", NULL};
    assert_true(httpc_request_raw(base_url, "POST", path, nul_headers, nul_body, sizeof nul_body - 1, &r));
    expect_error(&r, 400, "malformed_json", "");
    httpc_resp_free(&r);

    /* A path over the limit. */
    char long_path[HTTP_PATH_BYTES_MAX + 16];
    memset(long_path, 'a', sizeof long_path - 1);
    long_path[0] = '/';
    long_path[sizeof long_path - 1] = '\0';
    req(&r, "GET", long_path, TOKEN(ADMIN), NULL, NULL);
    expect_error(&r, 404, "not_found", "");
    httpc_resp_free(&r);

    /* A method nobody routes. */
    req(&r, "BREW", "/healthz", NULL, NULL, NULL);
    expect_error(&r, 405, "method_not_allowed", "");
    httpc_resp_free(&r);

    /* A header far over the connection's memory: libmicrohttpd refuses the request itself. */
    size_t big = 100 * 1024;
    char *huge = malloc(big + 16);
    assert_non_null(huge);
    memcpy(huge, "X-Filler: ", 10);
    memset(huge + 10, 'x', big);
    huge[10 + big] = '\0';
    const char *const huge_headers[] = {huge, NULL};
    bool answered = httpc_request_raw(base_url, "GET", "/healthz", huge_headers, NULL, 0, &r);
    free(huge);
    assert_true(answered);
    assert_int_equal(r.status, 431);
    httpc_resp_free(&r);
    expect_alive();

    /* The server still does real work. */
    int64_t pid = propose("after the garbage", "1.00");
    assert_true(pid > 0);
}

/* ---- requests that must not crash a separate server process -------------------------------- */

extern char **environ;

/* A free TCP port on 127.0.0.1 (free when asked; the caller binds it soon after). */
static unsigned free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    socklen_t len = sizeof sa;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    close(fd);
    return ntohs(sa.sin_port);
}

/* `fundledger serve` ($FUNDLEDGER_BIN, set by tests/run.sh) on this test's database, as a child
 * process, so that a request that kills a server does not kill this program. */
struct child_server {
    pid_t pid;
    char url[URL_BYTES];
};

static void child_start(struct child_server *c)
{
    const char *bin = getenv("FUNDLEDGER_BIN");
    if (bin == NULL || bin[0] == '\0') {
        fail_msg("FUNDLEDGER_BIN is not set: run through tests/run.sh");
    }
    unsigned port = free_port();
    snprintf(c->url, sizeof c->url, "http://127.0.0.1:%u", port);
    static char listen_env[64], db_env[1200], threads_env[64];
    snprintf(listen_env, sizeof listen_env, "FUNDLEDGER_LISTEN=127.0.0.1:%u", port);
    snprintf(db_env, sizeof db_env, "FUNDLEDGER_DATABASE_URL=%s", conninfo);
    snprintf(threads_env, sizeof threads_env, "FUNDLEDGER_HTTP_THREADS=2");
    /* The environment without settings of ours, then ours. */
    size_t n = 0;
    while (environ[n] != NULL) {
        n++;
    }
    char **envp = calloc(n + 4, sizeof *envp);
    assert_non_null(envp);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (strncmp(environ[i], "FUNDLEDGER_LISTEN=", 18) != 0 &&
            strncmp(environ[i], "FUNDLEDGER_DATABASE_URL=", 24) != 0 &&
            strncmp(environ[i], "FUNDLEDGER_HTTP_THREADS=", 24) != 0) {
            envp[k++] = environ[i];
        }
    }
    envp[k++] = listen_env;
    envp[k++] = db_env;
    envp[k++] = threads_env;
    envp[k] = NULL;
    posix_spawn_file_actions_t fa;
    assert_int_equal(posix_spawn_file_actions_init(&fa), 0);
    assert_int_equal(posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0), 0);
    char *const argv[] = {(char *)bin, "serve", NULL};
    int rc = posix_spawn(&c->pid, bin, &fa, NULL, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    free(envp);
    assert_int_equal(rc, 0);
    /* Ready when /healthz answers: at most 10 s. */
    for (int i = 0; i < 200; i++) {
        struct httpc_resp r;
        bool up = httpc_request(c->url, "GET", "/healthz", NULL, NULL, NULL, NULL, &r) && r.status == 200;
        httpc_resp_free(&r);
        if (up) {
            return;
        }
        int st = 0;
        if (waitpid(c->pid, &st, WNOHANG) == c->pid) {
            fail_msg("fundledger serve exited before it served (status %d)", st);
        }
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    kill(c->pid, SIGKILL);
    waitpid(c->pid, NULL, 0);
    fail_msg("fundledger serve did not answer /healthz within 10 s");
}

/* Stops the child; returns true when it was still running (and then stopped cleanly). */
static bool child_stop(struct child_server *c)
{
    int st = 0;
    if (waitpid(c->pid, &st, WNOHANG) == c->pid) {
        print_message("fundledger serve had died: %s %d\n", WIFSIGNALED(st) ? "signal" : "exit status",
                      WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
        return false;
    }
    kill(c->pid, SIGTERM);
    assert_int_equal(waitpid(c->pid, &st, 0), c->pid);
    return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* Debits that would add up to more than an int64_t: each is now above the amount maximum
 * (MONEY_AMOUNT_MAX, 10^15 minor units; 64 lines of it total far below int64), so the first is
 * refused, 400 invalid_field naming "lines[0].debit". Regression test, against a separate
 * `fundledger serve` so that a crash cannot take this program down: journal_propose used to add
 * the debits without an overflow check (undefined behaviour; it wrapped negative and tripped
 * assert(amount_minor >= 0) in approval_propose, aborting the server on one fund manager's
 * request). */
static void test_overflowing_debits_do_not_crash(void **state)
{
    (void)state;
    struct child_server c;
    child_start(&c);
    char body[1024], path[PATH_BYTES], key[KEY_BYTES];
    const char *big = "50000000000000000.00";
    snprintf(body, sizeof body,
             "{\"effective_date\":\"" DATE "\",\"lines\":[{\"account_id\":%" PRId64 ",\"debit\":\"%s\"},"
             "{\"account_id\":%" PRId64 ",\"credit\":\"%s\"},{\"account_id\":%" PRId64 ",\"debit\":\"%s\"},"
             "{\"account_id\":%" PRId64 ",\"credit\":\"%s\"}]}",
             cash_id, big, capital_id, big, cash_id, big, capital_id, big);
    snprintf(path, sizeof path, "%s/entries", fund_path);
    struct httpc_resp r;
    bool answered = httpc_request(c.url, "POST", path, TOKEN(MANAGER), fresh_key(key), NULL, body, &r);
    long status = r.status;
    char code[64] = "", field[64] = "";
    snprintf(code, sizeof code, "%s", or_null(jstr(json_object_get(r.json, "error"), "code")));
    snprintf(field, sizeof field, "%s", or_null(jstr(json_object_get(r.json, "error"), "field")));
    httpc_resp_free(&r);
    bool alive = httpc_request(c.url, "GET", "/healthz", NULL, NULL, NULL, NULL, &r) && r.status == 200;
    httpc_resp_free(&r);
    bool stopped_cleanly = child_stop(&c);
    assert_true(answered);
    assert_true(alive);
    assert_true(stopped_cleanly);
    assert_int_equal(status, 400);
    assert_string_equal(code, "invalid_field");
    assert_string_equal(field, "lines[0].debit");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_health_and_ready),
        cmocka_unit_test(test_400_body_errors),
        cmocka_unit_test(test_400_path_and_query),
        cmocka_unit_test(test_400_idempotency_key_missing),
        cmocka_unit_test(test_401_tokens),
        cmocka_unit_test(test_401_revoked_token),
        cmocka_unit_test(test_403_roles),
        cmocka_unit_test(test_404_405),
        cmocka_unit_test(test_409_idempotency_key_reused),
        cmocka_unit_test(test_409_already_decided),
        cmocka_unit_test(test_413_body_too_large),
        cmocka_unit_test(test_415_content_type),
        cmocka_unit_test(test_422_unbalanced),
        cmocka_unit_test(test_422_self_approval),
        cmocka_unit_test(test_422_over_limit),
        cmocka_unit_test(test_happy_path),
        cmocka_unit_test(test_two_pending_reversals),
        cmocka_unit_test(test_idempotent_replay),
        cmocka_unit_test(test_idempotent_token_replay),
        cmocka_unit_test(test_investor_view),
        cmocka_unit_test(test_paging),
        cmocka_unit_test(test_concurrent_approvals),
        cmocka_unit_test(test_concurrent_same_key_propose),
        cmocka_unit_test(test_concurrent_same_key_approve),
        cmocka_unit_test(test_concurrent_two_approvers_above_one_limit),
        cmocka_unit_test(test_garbage_does_not_crash),
        cmocka_unit_test(test_overflowing_debits_do_not_crash),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
