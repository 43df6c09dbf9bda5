/* HTTP tests of the pipeline: the real server in-process on 127.0.0.1 with the demo's people,
 * entrepreneurs created, listed with filters, moved (and refused with 409), roles (investors never
 * see entrepreneurs), field errors naming the field, idempotent replays, the funnel, and
 * human-security measures with their four-eyes approval, over the socket. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <inttypes.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../support/httpc.h"
#include "../support/testdb.h"
#include "demo_fixture.h"
#include "fundledger/config.h"
#include "fundledger/demo.h"
#include "fundledger/http.h"
#include "fundledger/log.h"

#define KEY_BYTES 64
#define URL_BYTES 96
#define PATH_BYTES 256
#define BODY_BYTES 1024
#define TOKEN_BYTES 128

enum who { ADMIN, MANAGER, APPROVER, COMMITTEE, UNDP, TRANSPARENCY, AUDITOR, PEOPLE };
static const char *const people[PEOPLE] = {"admin", "manager",      "approver", "committee",
                                           "undp",  "transparency", "auditor"};

static const char *conninfo;
static struct config cfg; /* must outlive the server */
static struct http_server *server;
static char base_url[URL_BYTES];
static char tokens[PEOPLE][TOKEN_BYTES];
static int64_t fund_id;
static char fund_path[48];
static atomic_uint key_counter;

#define TOKEN(w) (tokens[(w)])

/* ---- helpers ------------------------------------------------------------------------------ */

static const char *fresh_key(char buf[KEY_BYTES])
{
    snprintf(buf, KEY_BYTES, "pipeline-key-%u", atomic_fetch_add(&key_counter, 1) + 1);
    return buf;
}

static void req(struct httpc_resp *out, const char *method, const char *path, const char *token, const char *key,
                const char *body)
{
    if (!httpc_request(base_url, method, path, token, key, NULL, body, out)) {
        fail_msg("%s %s: no HTTP answer", method, path);
    }
}

static void wreq(struct httpc_resp *out, const char *method, const char *path, const char *token, const char *body)
{
    char key[KEY_BYTES];
    req(out, method, path, token, fresh_key(key), body);
}

static const char *or_null(const char *s)
{
    return s ? s : "(null)";
}

static const char *jstr(const json_t *o, const char *k)
{
    return or_null(json_string_value(json_object_get(o, k)));
}

static json_int_t jint(const json_t *o, const char *k)
{
    return json_integer_value(json_object_get(o, k));
}

#define expect_status(r, st) expect_status_at((r), (st), __FILE__, __LINE__)
#define expect_error(r, st, code, field) expect_error_at((r), (st), (code), (field), __FILE__, __LINE__)

static void expect_status_at(const struct httpc_resp *r, long st, const char *file, int line)
{
    if (r->status != st) {
        print_message("%s:%d: expected HTTP %ld, got %ld: %s\n", file, line, st, r->status, or_null(r->body));
    }
    _assert_int_equal((uintmax_t)r->status, (uintmax_t)st, file, line);
}

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
    _assert_string_equal(jstr(e, "code"), code, file, line);
    _assert_string_equal(jstr(e, "field"), field, file, line);
    _assert_true(jstr(e, "message")[0] != '\0', "a message", file, line);
}

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

/* POSTs an entrepreneur body to the demo fund as the manager; returns its id (expects 201). */
static int64_t create(const char *body)
{
    char path[PATH_BYTES];
    snprintf(path, sizeof path, "%s/entrepreneurs", fund_path);
    struct httpc_resp r;
    wreq(&r, "POST", path, TOKEN(MANAGER), body);
    expect_status(&r, 201);
    assert_string_equal(jstr(r.json, "stage"), "sourced");
    int64_t id = jint(r.json, "id");
    assert_true(id > 0);
    httpc_resp_free(&r);
    return id;
}

/* POST /v1/entrepreneurs/{id}/stage with a fresh key. */
static void move(int64_t id, const char *token, const char *body, struct httpc_resp *out)
{
    char path[PATH_BYTES];
    snprintf(path, sizeof path, "/v1/entrepreneurs/%" PRId64 "/stage", id);
    wreq(out, "POST", path, token, body);
}

static void move_ok(int64_t id, const char *to, const char *reason)
{
    char body[BODY_BYTES];
    if (reason) {
        snprintf(body, sizeof body, "{\"to\":\"%s\",\"reason\":\"%s\"}", to, reason);
    } else {
        snprintf(body, sizeof body, "{\"to\":\"%s\"}", to);
    }
    struct httpc_resp r;
    move(id, TOKEN(MANAGER), body, &r);
    expect_status(&r, 200);
    assert_string_equal(jstr(r.json, "stage"), to);
    httpc_resp_free(&r);
}

/* The number of entrepreneurs a list query (after "?") returns, paging through with limit 500. */
static size_t list_count(const char *query)
{
    char path[PATH_BYTES];
    snprintf(path, sizeof path, "%s/entrepreneurs?limit=500%s%s", fund_path, query[0] ? "&" : "", query);
    json_t *j = get_json(path, TOKEN(AUDITOR));
    size_t n = json_array_size(json_object_get(j, "entrepreneurs"));
    assert_true(json_is_null(json_object_get(j, "next_after")));
    json_decref(j);
    return n;
}

/* ---- setup -------------------------------------------------------------------------------- */

static int setup(void **state)
{
    (void)state;
    const char *level = getenv("FUNDLEDGER_LOG_LEVEL");
    log_set_level_name(level ? level : "warn");
    conninfo = testdb_create("http_pipeline");
    json_t *doc;
    if (!demo_fixture_load(conninfo, "test_pipeline_http", "pipeline", &doc, NULL, 0)) {
        return -1;
    }
    json_t *toks = json_object_get(doc, "tokens");
    for (int i = 0; i < PEOPLE; i++) {
        const char *t = json_string_value(json_object_get(toks, people[i]));
        if (t == NULL || strlen(t) >= TOKEN_BYTES) {
            fprintf(stderr, "test_pipeline_http: no token for %s\n", people[i]);
            json_decref(doc);
            return -1;
        }
        snprintf(tokens[i], TOKEN_BYTES, "%s", t);
    }
    json_decref(doc);

    demo_fixture_config(&cfg);
    if (!demo_fixture_serve(&cfg, conninfo, "test_pipeline_http", &server, base_url, sizeof base_url)) {
        return -1;
    }
    json_t *funds = get_json("/v1/funds", TOKEN(MANAGER));
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(funds, "funds"), i, f)
    {
        if (strcmp(jstr(f, "code"), "HSP-ELCHARCO") == 0) {
            fund_id = jint(f, "id");
        }
    }
    json_decref(funds);
    snprintf(fund_path, sizeof fund_path, "/v1/funds/%" PRId64, fund_id);
    return fund_id > 0 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    http_server_stop(server);
    server = NULL;
    return 0;
}

/* ---- tests ------------------------------------------------------------------------------- */

static const char coop_body[] =
    "{\"kind\":\"cooperative\",\"name\":\"Cooperativa Cacaotera del Pacífico\",\"tax_id\":\"900123456-8\","
    "\"municipality_code\":\"52250\",\"value_chain\":\"cacao\",\"women_led\":true,\"members\":42,"
    "\"requested\":\"150000000.00\",\"purpose\":\"Working capital for the 2026 harvest\"}";

static void test_reference_lists(void **state)
{
    (void)state;
    /* Any authenticated user, the investor too. */
    for (int w = 0; w < PEOPLE; w++) {
        json_t *m = get_json("/v1/municipalities", TOKEN(w));
        assert_true(json_array_size(json_object_get(m, "municipalities")) >= 7);
        json_decref(m);
        json_t *v = get_json("/v1/value-chains", TOKEN(w));
        assert_int_equal(json_array_size(json_object_get(v, "value_chains")), 5);
        json_decref(v);
    }
    struct httpc_resp r;
    req(&r, "GET", "/v1/municipalities", NULL, NULL, NULL);
    expect_error(&r, 401, "unauthenticated", "Authorization");
    httpc_resp_free(&r);
}

static void test_create_get_and_person(void **state)
{
    (void)state;
    char path[PATH_BYTES];
    snprintf(path, sizeof path, "%s/entrepreneurs", fund_path);
    struct httpc_resp r;
    wreq(&r, "POST", path, TOKEN(MANAGER), coop_body);
    expect_status(&r, 201);
    assert_string_equal(jstr(r.json, "iati_ref"), "CO-RUE-900123456");
    assert_string_equal(jstr(r.json, "requested"), "150000000.00");
    assert_string_equal(jstr(r.json, "currency"), "COP");
    assert_string_equal(jstr(r.json, "municipality_name"), "El Charco");
    assert_true(json_is_true(json_object_get(r.json, "women_led")));
    assert_int_equal(jint(r.json, "members"), 42);
    int64_t id = jint(r.json, "id");
    httpc_resp_free(&r);

    snprintf(path, sizeof path, "/v1/entrepreneurs/%" PRId64, id);
    json_t *e = get_json(path, TOKEN(AUDITOR));
    assert_int_equal(jint(e, "id"), id);
    assert_int_equal(jint(e, "fund_id"), fund_id);
    json_t *h = json_object_get(e, "history");
    assert_int_equal(json_array_size(h), 1);
    assert_string_equal(jstr(json_array_get(h, 0), "to"), "sourced");
    assert_string_equal(jstr(json_object_get(json_array_get(h, 0), "user"), "name"), "manager");
    json_decref(e);

    /* A person: no organisation, no IATI reference; members default to 1. */
    int64_t p = create("{\"kind\":\"person\",\"name\":\"Yurani Valencia\",\"tax_id\":\"1087654321\","
                       "\"municipality_code\":\"52835\",\"value_chain\":\"banana\",\"youth_led\":true,"
                       "\"requested\":\"2500000\"}");
    snprintf(path, sizeof path, "/v1/entrepreneurs/%" PRId64, p);
    e = get_json(path, TOKEN(APPROVER));
    assert_true(json_is_null(json_object_get(e, "organisation_id")));
    assert_true(json_is_null(json_object_get(e, "iati_ref")));
    assert_int_equal(jint(e, "members"), 1);
    assert_string_equal(jstr(e, "requested"), "2500000.00");
    json_decref(e);

    req(&r, "GET", "/v1/entrepreneurs/999999", TOKEN(AUDITOR), NULL, NULL);
    expect_error(&r, 404, "not_found", "entrepreneur_id");
    httpc_resp_free(&r);
    req(&r, "GET", "/v1/entrepreneurs/abc", TOKEN(AUDITOR), NULL, NULL);
    expect_error(&r, 400, "invalid_parameter", "entrepreneur_id");
    httpc_resp_free(&r);
}

static void test_create_field_errors(void **state)
{
    (void)state;
    char path[PATH_BYTES];
    snprintf(path, sizeof path, "%s/entrepreneurs", fund_path);
    size_t before = list_count("");
    static const struct {
        const char *body, *code, *field;
    } cases[] = {
        {"{\"name\":\"x\",\"municipality_code\":\"52250\",\"value_chain\":\"cacao\"}", "missing_field", "kind"},
        {"{\"kind\":\"company\",\"name\":\"x\",\"municipality_code\":\"52250\",\"value_chain\":\"cacao\"}",
         "invalid_field", "kind"},
        {"{\"kind\":\"firm\",\"name\":\"\",\"municipality_code\":\"52250\",\"value_chain\":\"cacao\"}", "invalid_field",
         "name"},
        {"{\"kind\":\"firm\",\"name\":\"x\",\"tax_id\":\"900123456-7\",\"municipality_code\":\"52250\","
         "\"value_chain\":\"cacao\"}",
         "invalid_field", "tax_id"},
        {"{\"kind\":\"firm\",\"name\":\"x\",\"municipality_code\":\"99999\",\"value_chain\":\"cacao\"}",
         "invalid_field", "municipality_code"},
        {"{\"kind\":\"firm\",\"name\":\"x\",\"municipality_code\":\"52250\",\"value_chain\":\"avocado\"}",
         "invalid_field", "value_chain"},
        {"{\"kind\":\"firm\",\"name\":\"x\",\"municipality_code\":\"52250\",\"value_chain\":\"cacao\","
         "\"members\":\"3\"}",
         "invalid_field", "members"},
        {"{\"kind\":\"firm\",\"name\":\"x\",\"municipality_code\":\"52250\",\"value_chain\":\"cacao\","
         "\"members\":0}",
         "invalid_field", "members"},
        {"{\"kind\":\"firm\",\"name\":\"x\",\"municipality_code\":\"52250\",\"value_chain\":\"cacao\","
         "\"requested\":\"1.234\"}",
         "invalid_field", "requested"},
        {"{\"kind\":\"firm\",\"name\":\"x\",\"municipality_code\":\"52250\",\"value_chain\":\"cacao\","
         "\"requested\":1000}",
         "invalid_field", "requested"},
        {"{\"kind\":\"firm\",\"name\":\"x\",\"municipality_code\":\"52250\",\"value_chain\":\"cacao\","
         "\"women_led\":\"yes\"}",
         "invalid_field", "women_led"},
        {"{\"kind\":\"firm\",\"name\":\"x\",\"municipality_code\":\"52250\",\"value_chain\":\"cacao\","
         "\"stage\":\"approved\"}",
         "unknown_field", "stage"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct httpc_resp r;
        wreq(&r, "POST", path, TOKEN(MANAGER), cases[i].body);
        expect_error(&r, 400, cases[i].code, cases[i].field);
        httpc_resp_free(&r);
    }
    struct httpc_resp r;
    wreq(&r, "POST", "/v1/funds/999999/entrepreneurs", TOKEN(MANAGER), coop_body);
    expect_error(&r, 404, "not_found", "fund_id");
    httpc_resp_free(&r);
    assert_int_equal(list_count(""), before);
}

static void test_roles(void **state)
{
    (void)state;
    int64_t id = create(coop_body);
    char paths[5][PATH_BYTES];
    snprintf(paths[0], PATH_BYTES, "%s/entrepreneurs", fund_path);
    snprintf(paths[1], PATH_BYTES, "/v1/entrepreneurs/%" PRId64, id);
    snprintf(paths[2], PATH_BYTES, "%s/funnel", fund_path);
    snprintf(paths[3], PATH_BYTES, "%s/entrepreneurs?women_led=true", fund_path);
    snprintf(paths[4], PATH_BYTES, "%s/hs-measures", fund_path);
    struct httpc_resp r;
    /* Investors never see entrepreneurs, nor their measures. */
    for (size_t i = 0; i < 5; i++) {
        req(&r, "GET", paths[i], TOKEN(UNDP), NULL, NULL);
        expect_error(&r, 403, "forbidden", "");
        httpc_resp_free(&r);
    }
    /* The transparency officer sees measures (what may be published), not entrepreneurs. */
    for (size_t i = 0; i < 4; i++) {
        req(&r, "GET", paths[i], TOKEN(TRANSPARENCY), NULL, NULL);
        expect_error(&r, 403, "forbidden", "");
        httpc_resp_free(&r);
    }
    req(&r, "GET", paths[4], TOKEN(TRANSPARENCY), NULL, NULL);
    expect_status(&r, 200);
    httpc_resp_free(&r);
    /* The admin neither: its job (users, tokens, settings) does not need people's data (Ley 1581
     * de 2012, data minimisation; docs/authorization.md). */
    for (size_t i = 0; i < 5; i++) {
        req(&r, "GET", paths[i], TOKEN(ADMIN), NULL, NULL);
        expect_error(&r, 403, "forbidden", "");
        httpc_resp_free(&r);
    }
    /* Staff who work the pipeline read. */
    const enum who staff[] = {MANAGER, APPROVER, AUDITOR};
    for (size_t s = 0; s < sizeof staff / sizeof staff[0]; s++) {
        for (size_t i = 0; i < 5; i++) {
            json_decref(get_json(paths[i], TOKEN(staff[s])));
        }
    }
    /* Only a fund manager writes. */
    const enum who not_makers[] = {ADMIN, APPROVER, UNDP, TRANSPARENCY, AUDITOR};
    for (size_t s = 0; s < sizeof not_makers / sizeof not_makers[0]; s++) {
        wreq(&r, "POST", paths[0], TOKEN(not_makers[s]), coop_body);
        expect_error(&r, 403, "forbidden", "");
        httpc_resp_free(&r);
        move(id, TOKEN(not_makers[s]), "{\"to\":\"screening\"}", &r);
        expect_error(&r, 403, "forbidden", "");
        httpc_resp_free(&r);
        wreq(&r, "POST", paths[4], TOKEN(not_makers[s]), "{}");
        expect_error(&r, 403, "forbidden", "");
        httpc_resp_free(&r);
    }
    req(&r, "GET", paths[1], NULL, NULL, NULL);
    expect_error(&r, 401, "unauthenticated", "Authorization");
    httpc_resp_free(&r);
}

static void test_moves(void **state)
{
    (void)state;
    int64_t id = create(coop_body);
    struct httpc_resp r;
    /* A skip is refused with 409 naming the allowed moves. */
    move(id, TOKEN(MANAGER), "{\"to\":\"approved\"}", &r);
    expect_error(&r, 409, "conflict", "to");
    assert_string_equal(jstr(json_object_get(r.json, "error"), "message"),
                        "from sourced the allowed moves are: screening, declined, withdrawn");
    httpc_resp_free(&r);
    move_ok(id, "screening", NULL);
    move(id, TOKEN(MANAGER), "{\"to\":\"sourced\",\"reason\":\"back\"}", &r);
    expect_error(&r, 409, "conflict", "to");
    assert_string_equal(jstr(json_object_get(r.json, "error"), "message"),
                        "from screening the allowed moves are: due_diligence, declined, withdrawn");
    httpc_resp_free(&r);
    /* A decline needs a reason; a stage must be one. */
    move(id, TOKEN(MANAGER), "{\"to\":\"declined\"}", &r);
    expect_error(&r, 400, "missing_field", "reason");
    httpc_resp_free(&r);
    move(id, TOKEN(MANAGER), "{\"to\":\"funded\"}", &r);
    expect_error(&r, 400, "invalid_field", "to");
    httpc_resp_free(&r);
    move(id, TOKEN(MANAGER), "{}", &r);
    expect_error(&r, 400, "missing_field", "to");
    httpc_resp_free(&r);
    move(id, TOKEN(MANAGER), "{\"to\":\"due_diligence\",\"why\":\"x\"}", &r);
    expect_error(&r, 400, "unknown_field", "why");
    httpc_resp_free(&r);
    move(999999, TOKEN(MANAGER), "{\"to\":\"screening\"}", &r);
    expect_error(&r, 404, "not_found", "entrepreneur_id");
    httpc_resp_free(&r);
    move_ok(id, "due_diligence", NULL);
    move_ok(id, "committee", NULL);
    move_ok(id, "due_diligence", "the cash-flow projection is missing");
    move_ok(id, "declined", "repayment capacity too low");
    move(id, TOKEN(MANAGER), "{\"to\":\"screening\",\"reason\":\"try again\"}", &r);
    expect_error(&r, 409, "conflict", "to");
    assert_string_equal(jstr(json_object_get(r.json, "error"), "message"),
                        "declined is a final stage: no move is allowed from it");
    httpc_resp_free(&r);

    char path[PATH_BYTES];
    snprintf(path, sizeof path, "/v1/entrepreneurs/%" PRId64, id);
    json_t *e = get_json(path, TOKEN(AUDITOR));
    json_t *h = json_object_get(e, "history");
    assert_int_equal(json_array_size(h), 6);
    json_t *back = json_array_get(h, 4);
    assert_string_equal(jstr(back, "from"), "committee");
    assert_string_equal(jstr(back, "to"), "due_diligence");
    assert_string_equal(jstr(back, "reason"), "the cash-flow projection is missing");
    assert_string_equal(jstr(json_object_get(back, "user"), "name"), "manager");
    assert_true(jstr(back, "at")[0] != '(');
    json_decref(e);
}

static void test_list_filters_and_paging(void **state)
{
    (void)state;
    size_t all = list_count("");
    size_t women = list_count("women_led=true");
    size_t charco = list_count("municipality=52250");
    size_t beans = list_count("value_chain=beans");
    size_t screening = list_count("stage=screening");
    int64_t a = create("{\"kind\":\"association\",\"name\":\"Asociación Frijolera de Ituango\","
                       "\"municipality_code\":\"05361\",\"value_chain\":\"beans\",\"women_led\":true,"
                       "\"conflict_victim\":true,\"members\":120}");
    int64_t b = create("{\"kind\":\"firm\",\"name\":\"Maderas Sintéticas del Charco SAS\",\"tax_id\":\"901234567\","
                       "\"municipality_code\":\"52250\",\"value_chain\":\"synthetic_wood\"}");
    move_ok(b, "screening", NULL);
    assert_int_equal(list_count(""), all + 2);
    assert_int_equal(list_count("women_led=true"), women + 1);
    assert_int_equal(list_count("municipality=52250"), charco + 1);
    assert_int_equal(list_count("value_chain=beans"), beans + 1);
    assert_int_equal(list_count("stage=screening"), screening + 1);
    assert_int_equal(list_count("women_led=false") + list_count("women_led=true"), all + 2);

    char path[PATH_BYTES];
    snprintf(path, sizeof path,
             "%s/entrepreneurs?municipality=05361&value_chain=beans&women_led=true&conflict_victim=true", fund_path);
    json_t *j = get_json(path, TOKEN(MANAGER));
    json_t *rows = json_object_get(j, "entrepreneurs");
    /* The demo may hold entrepreneurs matching all four filters too: every row must match, and
     * the one made here must be among them with its figures. */
    size_t k;
    json_t *row;
    bool found = false;
    json_array_foreach(rows, k, row)
    {
        assert_string_equal(jstr(row, "municipality_code"), "05361");
        assert_string_equal(jstr(row, "value_chain"), "beans");
        assert_true(json_is_true(json_object_get(row, "women_led")));
        assert_true(json_is_true(json_object_get(row, "conflict_victim")));
        if (jint(row, "id") == a) {
            found = true;
            assert_int_equal(jint(row, "members"), 120);
        }
    }
    assert_true(found);
    json_decref(j);

    /* Paging one by one gives the whole list, in id order. */
    json_int_t after = 0;
    size_t seen = 0;
    for (int page = 0; page < 1000; page++) {
        snprintf(path, sizeof path, "%s/entrepreneurs?limit=1&after=%" JSON_INTEGER_FORMAT, fund_path, after);
        j = get_json(path, TOKEN(AUDITOR));
        rows = json_object_get(j, "entrepreneurs");
        assert_true(json_array_size(rows) <= 1);
        if (json_array_size(rows) == 1) {
            assert_true(jint(json_array_get(rows, 0), "id") > after);
            seen++;
        }
        json_t *next = json_object_get(j, "next_after");
        bool more = json_is_integer(next);
        after = json_integer_value(next);
        json_decref(j);
        if (!more) {
            break;
        }
    }
    assert_int_equal(seen, all + 2);

    static const struct {
        const char *query, *field;
    } bad[] = {
        {"women_led=yes", "women_led"},
        {"youth_led=1", "youth_led"},
        {"conflict_victim=", "conflict_victim"},
        {"stage=funded", "stage"},
        {"municipality=Tumaco", "municipality"},
        {"value_chain=C4C40", "value_chain"},
        {"limit=0", "limit"},
        {"after=-1", "after"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct httpc_resp r;
        snprintf(path, sizeof path, "%s/entrepreneurs?%s", fund_path, bad[i].query);
        req(&r, "GET", path, TOKEN(AUDITOR), NULL, NULL);
        expect_error(&r, 400, "invalid_parameter", bad[i].field);
        httpc_resp_free(&r);
    }
    struct httpc_resp r;
    req(&r, "GET", "/v1/funds/999999/entrepreneurs", TOKEN(AUDITOR), NULL, NULL);
    expect_error(&r, 404, "not_found", "fund_id");
    httpc_resp_free(&r);
}

static void test_idempotent_replay(void **state)
{
    (void)state;
    char path[PATH_BYTES], key[KEY_BYTES];
    snprintf(path, sizeof path, "%s/entrepreneurs", fund_path);
    size_t before = list_count("");
    fresh_key(key);
    struct httpc_resp r1, r2, r3;
    req(&r1, "POST", path, TOKEN(MANAGER), key, coop_body);
    expect_status(&r1, 201);
    assert_null(r1.replayed_header);
    req(&r2, "POST", path, TOKEN(MANAGER), key, coop_body);
    expect_status(&r2, 201);
    assert_string_equal(or_null(r2.replayed_header), "true");
    assert_true(json_equal(r1.json, r2.json));
    /* The same key with another body is refused. */
    req(&r3, "POST", path, TOKEN(MANAGER), key,
        "{\"kind\":\"firm\",\"name\":\"Otra\",\"municipality_code\":\"52250\","
        "\"value_chain\":\"cacao\"}");
    expect_error(&r3, 409, "idempotency_key_reused", "Idempotency-Key");
    httpc_resp_free(&r3);
    assert_int_equal(list_count(""), before + 1);

    /* A move replayed is the stored 200, not a 409 from the machine. */
    int64_t id = jint(r1.json, "id");
    httpc_resp_free(&r1);
    httpc_resp_free(&r2);
    snprintf(path, sizeof path, "/v1/entrepreneurs/%" PRId64 "/stage", id);
    fresh_key(key);
    req(&r1, "POST", path, TOKEN(MANAGER), key, "{\"to\":\"screening\"}");
    expect_status(&r1, 200);
    req(&r2, "POST", path, TOKEN(MANAGER), key, "{\"to\":\"screening\"}");
    expect_status(&r2, 200);
    assert_string_equal(or_null(r2.replayed_header), "true");
    assert_true(json_equal(r1.json, r2.json));
    httpc_resp_free(&r1);
    httpc_resp_free(&r2);
    snprintf(path, sizeof path, "/v1/entrepreneurs/%" PRId64, id);
    json_t *e = get_json(path, TOKEN(AUDITOR));
    assert_int_equal(json_array_size(json_object_get(e, "history")), 2);
    json_decref(e);
    /* Without a key, nothing. */
    req(&r1, "POST", "/v1/municipalities", TOKEN(MANAGER), NULL, NULL);
    expect_error(&r1, 405, "method_not_allowed", "");
    httpc_resp_free(&r1);
    snprintf(path, sizeof path, "%s/entrepreneurs", fund_path);
    req(&r1, "POST", path, TOKEN(MANAGER), NULL, coop_body);
    expect_error(&r1, 400, "idempotency_key_required", "Idempotency-Key");
    httpc_resp_free(&r1);
}

static void test_funnel(void **state)
{
    (void)state;
    char path[PATH_BYTES];
    snprintf(path, sizeof path, "%s/funnel", fund_path);
    json_t *before = get_json(path, TOKEN(MANAGER));
    json_t *stages = json_object_get(before, "stages");
    assert_int_equal(json_array_size(stages), 10);
    assert_string_equal(jstr(json_array_get(stages, 0), "stage"), "sourced");
    assert_string_equal(jstr(json_array_get(stages, 9), "stage"), "written_off");
    json_int_t committee0 = jint(json_array_get(stages, 3), "count");
    const char *committee_amount0 = jstr(json_array_get(stages, 3), "requested");
    json_int_t total0 = jint(json_object_get(before, "total"), "count");
    assert_int_equal(total0, (json_int_t)list_count(""));
    /* One more at committee, requesting 12,345.67. */
    int64_t id = create("{\"kind\":\"firm\",\"name\":\"Bananeras Unidas\",\"municipality_code\":\"52835\","
                        "\"value_chain\":\"banana\",\"requested\":\"12345.67\"}");
    move_ok(id, "screening", NULL);
    move_ok(id, "due_diligence", NULL);
    move_ok(id, "committee", NULL);
    json_t *after = get_json(path, TOKEN(AUDITOR));
    json_t *c = json_array_get(json_object_get(after, "stages"), 3);
    assert_string_equal(jstr(c, "stage"), "committee");
    assert_int_equal(jint(c, "count"), committee0 + 1);
    if (committee0 == 0) {
        assert_string_equal(committee_amount0, "0.00");
        assert_string_equal(jstr(c, "requested"), "12345.67");
    }
    assert_int_equal(jint(json_object_get(after, "total"), "count"), total0 + 1);
    assert_string_equal(jstr(after, "currency"), "COP");
    json_decref(before);
    json_decref(after);
    struct httpc_resp r;
    req(&r, "GET", "/v1/funds/999999/funnel", TOKEN(MANAGER), NULL, NULL);
    expect_error(&r, 404, "not_found", "fund_id");
    httpc_resp_free(&r);
}

static void test_measures(void **state)
{
    (void)state;
    char path[PATH_BYTES];
    snprintf(path, sizeof path, "%s/hs-measures", fund_path);
    struct httpc_resp r;
    wreq(&r, "POST", path, TOKEN(MANAGER),
         "{\"municipality_code\":\"52250\",\"round\":0,\"dimension\":\"food\",\"indicator\":\"Three meals a day (%)\","
         "\"raw_value\":\"61.5\",\"score\":\"61.5\",\"method\":\"Household survey\",\"measured_on\":\"2025-06-30\"}");
    expect_status(&r, 201);
    assert_string_equal(jstr(r.json, "raw_value"), "61.5");
    assert_string_equal(jstr(r.json, "score"), "61.50");
    assert_true(json_is_null(json_object_get(r.json, "approved_by")));
    int64_t m = jint(r.json, "id");
    httpc_resp_free(&r);

    static const struct {
        const char *body, *code, *field;
    } bad[] = {
        {"{\"municipality_code\":\"52250\",\"round\":0,\"dimension\":\"spiritual\",\"indicator\":\"x\","
         "\"raw_value\":\"1\",\"score\":\"1\",\"measured_on\":\"2025-06-30\"}",
         "invalid_field", "dimension"},
        {"{\"municipality_code\":\"52250\",\"round\":0,\"dimension\":\"food\",\"indicator\":\"x\","
         "\"raw_value\":\"1e3\",\"score\":\"1\",\"measured_on\":\"2025-06-30\"}",
         "invalid_field", "raw_value"},
        {"{\"municipality_code\":\"52250\",\"round\":0,\"dimension\":\"food\",\"indicator\":\"x\","
         "\"raw_value\":\"1\",\"score\":\"100.5\",\"measured_on\":\"2025-06-30\"}",
         "invalid_field", "score"},
        {"{\"municipality_code\":\"52250\",\"round\":0,\"dimension\":\"food\",\"indicator\":\"x\","
         "\"raw_value\":\"1\",\"score\":50,\"measured_on\":\"2025-06-30\"}",
         "invalid_field", "score"},
        {"{\"municipality_code\":\"52250\",\"round\":101,\"dimension\":\"food\",\"indicator\":\"x\","
         "\"raw_value\":\"1\",\"score\":\"1\",\"measured_on\":\"2025-06-30\"}",
         "invalid_field", "round"},
        {"{\"municipality_code\":\"52250\",\"dimension\":\"food\",\"indicator\":\"x\","
         "\"raw_value\":\"1\",\"score\":\"1\",\"measured_on\":\"2025-06-30\"}",
         "missing_field", "round"},
        {"{\"municipality_code\":\"52250\",\"round\":0,\"dimension\":\"food\",\"indicator\":\"x\","
         "\"raw_value\":\"1\",\"score\":\"1\",\"measured_on\":\"2999-01-01\"}",
         "invalid_field", "measured_on"},
        {"{\"municipality_code\":\"00000\",\"round\":0,\"dimension\":\"food\",\"indicator\":\"x\","
         "\"raw_value\":\"1\",\"score\":\"1\",\"measured_on\":\"2025-06-30\"}",
         "invalid_field", "municipality_code"},
        {"{\"municipality_code\":\"52250\",\"entrepreneur_id\":999999,\"round\":0,\"dimension\":\"food\","
         "\"indicator\":\"x\",\"raw_value\":\"1\",\"score\":\"1\",\"measured_on\":\"2025-06-30\"}",
         "invalid_field", "entrepreneur_id"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        wreq(&r, "POST", path, TOKEN(MANAGER), bad[i].body);
        expect_error(&r, 400, bad[i].code, bad[i].field);
        httpc_resp_free(&r);
    }

    /* Four eyes on data. */
    char ap[PATH_BYTES];
    snprintf(ap, sizeof ap, "/v1/hs-measures/%" PRId64 "/approve", m);
    wreq(&r, "POST", ap, TOKEN(MANAGER), NULL);
    expect_error(&r, 422, "self_approval", "measure_id");
    httpc_resp_free(&r);
    wreq(&r, "POST", ap, TOKEN(UNDP), NULL);
    expect_error(&r, 403, "forbidden", "");
    httpc_resp_free(&r);
    wreq(&r, "POST", ap, TOKEN(APPROVER), "{\"note\":\"x\"}");
    expect_error(&r, 400, "unknown_field", "note");
    httpc_resp_free(&r);
    /* Before approval, the transparency officer does not see it. */
    char lp[PATH_BYTES];
    snprintf(lp, sizeof lp, "%s/hs-measures?municipality=52250&round=0&dimension=food", fund_path);
    json_t *j = get_json(lp, TOKEN(TRANSPARENCY));
    size_t published = json_array_size(json_object_get(j, "measures"));
    json_decref(j);
    wreq(&r, "POST", ap, TOKEN(APPROVER), NULL);
    expect_status(&r, 200);
    assert_string_equal(jstr(json_object_get(r.json, "approved_by"), "name"), "approver");
    httpc_resp_free(&r);
    wreq(&r, "POST", ap, TOKEN(COMMITTEE), NULL);
    expect_error(&r, 409, "conflict", "measure_id");
    httpc_resp_free(&r);
    wreq(&r, "POST", "/v1/hs-measures/999999/approve", TOKEN(APPROVER), NULL);
    expect_error(&r, 404, "not_found", "measure_id");
    httpc_resp_free(&r);
    j = get_json(lp, TOKEN(TRANSPARENCY));
    assert_int_equal(json_array_size(json_object_get(j, "measures")), published + 1);
    json_decref(j);

    /* A measure of one entrepreneur is never shown to the transparency officer, even approved. */
    int64_t e = create("{\"kind\":\"person\",\"name\":\"Deyanira Castillo\",\"municipality_code\":\"52250\","
                       "\"value_chain\":\"cacao\"}");
    char body[BODY_BYTES];
    snprintf(body, sizeof body,
             "{\"municipality_code\":\"52250\",\"entrepreneur_id\":%" PRId64 ",\"round\":0,\"dimension\":\"food\","
             "\"indicator\":\"Meals\",\"raw_value\":\"2\",\"score\":\"40\",\"measured_on\":\"2025-06-30\"}",
             e);
    wreq(&r, "POST", path, TOKEN(MANAGER), body);
    expect_status(&r, 201);
    snprintf(ap, sizeof ap, "/v1/hs-measures/%" PRId64 "/approve", (int64_t)jint(r.json, "id"));
    httpc_resp_free(&r);
    wreq(&r, "POST", ap, TOKEN(APPROVER), NULL);
    expect_status(&r, 200);
    httpc_resp_free(&r);
    j = get_json(lp, TOKEN(TRANSPARENCY));
    assert_int_equal(json_array_size(json_object_get(j, "measures")), published + 1);
    json_decref(j);
    j = get_json(lp, TOKEN(AUDITOR));
    assert_true(json_array_size(json_object_get(j, "measures")) >= published + 2);
    json_decref(j);
    /* And the entrepreneur shows it as its latest. */
    snprintf(lp, sizeof lp, "/v1/entrepreneurs/%" PRId64, e);
    j = get_json(lp, TOKEN(MANAGER));
    assert_int_equal(json_array_size(json_object_get(j, "latest_measures")), 1);
    json_decref(j);

    static const struct {
        const char *query, *field;
    } badq[] = {{"round=abc", "round"},
                {"round=101", "round"},
                {"round=-1", "round"},
                {"dimension=spiritual", "dimension"},
                {"municipality=5225", "municipality"}};
    for (size_t i = 0; i < sizeof badq / sizeof badq[0]; i++) {
        snprintf(lp, sizeof lp, "%s/hs-measures?%s", fund_path, badq[i].query);
        req(&r, "GET", lp, TOKEN(AUDITOR), NULL, NULL);
        expect_error(&r, 400, "invalid_parameter", badq[i].field);
        httpc_resp_free(&r);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference_lists),
        cmocka_unit_test(test_create_get_and_person),
        cmocka_unit_test(test_create_field_errors),
        cmocka_unit_test(test_roles),
        cmocka_unit_test(test_moves),
        cmocka_unit_test(test_list_filters_and_paging),
        cmocka_unit_test(test_idempotent_replay),
        cmocka_unit_test(test_funnel),
        cmocka_unit_test(test_measures),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
