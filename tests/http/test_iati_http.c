/* test_iati_http: IATI publications over the real server: only a transparency officer publishes,
 * with an Idempotency-Key; the files and the list are public; versions are immutable and
 * fetchable byte for byte (SHA-256); changes between versions; a failed check is 422 with every
 * problem and publishes nothing. */
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
#include <sys/wait.h>
#include <unistd.h>

#include "../support/httpc.h"
#include "../support/iati_fixture.h"
#include "../support/testdb.h"
#include "fundledger/config.h"
#include "fundledger/hash.h"
#include "fundledger/http.h"
#include "fundledger/log.h"
#include "fundledger/money.h"

#define REF "CO-RUE-9001234567"
#define URL_BYTES 96
#define PATH_BYTES 256
#define DIR_BYTES 400

static const char *ci;
static struct db *db;
static struct iati_fixture F;
static struct config cfg, cfg_broken; /* must outlive the servers */
static struct http_server *server, *broken;
static char base_url[URL_BYTES], broken_url[URL_BYTES];
static char tok_transparency[TOKEN_TEXT_BYTES], tok_manager[TOKEN_TEXT_BYTES];
static char shared[DIR_BYTES], empty_dir[DIR_BYTES];
static char v1_activities_sha[HASH_HEX_BYTES];

static void req(struct httpc_resp *out, const char *url, const char *method, const char *path, const char *token,
                const char *key, const char *body)
{
    if (!httpc_request(url ? url : base_url, method, path, token, key, NULL, body, out)) {
        fail_msg("%s %s: no HTTP answer", method, path);
    }
}

static void expect_status(const struct httpc_resp *r, long st)
{
    if (r->status != st) {
        print_message("expected HTTP %ld, got %ld: %s\n", st, r->status, r->body ? r->body : "(null)");
    }
    assert_int_equal(r->status, st);
}

static const char *error_code(const struct httpc_resp *r)
{
    return json_string_value(json_object_get(json_object_get(r->json, "error"), "code"));
}

/* Content-Type of a GET, through libcurl directly (httpc keeps only the body). */
static size_t discard(char *data, size_t size, size_t nmemb, void *arg)
{
    (void)data;
    (void)arg;
    return size * nmemb;
}

static void content_type_of(const char *path, char *out, size_t cap)
{
    char url[URL_BYTES + PATH_BYTES];
    snprintf(url, sizeof url, "%s%s", base_url, path);
    CURL *c = curl_easy_init();
    assert_non_null(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    char *ct = NULL;
    assert_int_equal(curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct), CURLE_OK);
    snprintf(out, cap, "%s", ct ? ct : "");
    curl_easy_cleanup(c);
}

static void sha_hex(const char *text, char out[HASH_HEX_BYTES])
{
    uint8_t h[HASH_BYTES];
    assert_true(hash_sha256(text, strlen(text), h));
    hash_hex(h, HASH_BYTES, out);
}

static int start(struct config *c, const char *schema_dir, struct http_server **s, char *url)
{
    config_defaults(c);
    snprintf(c->listen, sizeof c->listen, "127.0.0.1:0");
    snprintf(c->migrations_dir, sizeof c->migrations_dir, "migrations");
    snprintf(c->iati_schema_dir, sizeof c->iati_schema_dir, "%s", schema_dir);
    snprintf(c->iati_codelist_dir, sizeof c->iati_codelist_dir, "%s/iati/codelists", shared);
    snprintf(c->iati_reporting_org_ref, sizeof c->iati_reporting_org_ref, "%s", REF);
    c->http_threads = 2;
    /* each department of the fixture (2 and 1 loans to persons) its own activity: the setting
     * reaches the export (with the default 5 the 3 loans would be withheld: 3 activities) */
    c->iati_small_group_min = 1;
    struct fl_error err;
    if (http_server_start(c, ci, s, &err) != FLE_OK) {
        fprintf(stderr, "test_iati_http: http_server_start: %s\n", err.message);
        return -1;
    }
    snprintf(url, URL_BYTES, "http://127.0.0.1:%u", (unsigned)http_server_port(*s));
    return 0;
}

static int setup(void **state)
{
    (void)state;
    const char *level = getenv("FUNDLEDGER_LOG_LEVEL");
    log_set_level_name(level ? level : "warn");
    const char *s = getenv("FUNDLEDGER_SHARED_DIR");
    snprintf(shared, sizeof shared, "%s", s != NULL && s[0] != '\0' ? s : "../shared");
    ci = testdb_create("iati_http");
    db = testdb_open(ci);
    if (!iati_fixture_build(db, "h", "HSP-HTTP", REF, &F)) {
        return -1;
    }
    struct fl_error err;
    if (auth_token_create(db, F.transparency.user_id, "test", 0, tok_transparency, NULL, &err) != FLE_OK ||
        auth_token_create(db, F.manager.user_id, "test", 0, tok_manager, NULL, &err) != FLE_OK) {
        return -1;
    }
    snprintf(empty_dir, sizeof empty_dir, "/tmp/fl-iati-http-XXXXXX");
    if (mkdtemp(empty_dir) == NULL) {
        return -1;
    }
    char schemas[DIR_BYTES + 32];
    snprintf(schemas, sizeof schemas, "%s/iati/schemas", shared);
    /* a second server whose schema directory is empty: every publication must be refused */
    return start(&cfg, schemas, &server, base_url) || start(&cfg_broken, empty_dir, &broken, broken_url) ? -1 : 0;
}

static int teardown(void **state)
{
    (void)state;
    http_server_stop(server);
    http_server_stop(broken);
    rmdir(empty_dir);
    db_close(db);
    return 0;
}

static void fund_path(char *buf, size_t cap, const char *rest)
{
    snprintf(buf, cap, "/v1/funds/%" PRId64 "/publications%s", F.fund_id, rest);
}

static void test_nothing_published_yet(void **state)
{
    (void)state;
    char path[PATH_BYTES];
    struct httpc_resp r;
    fund_path(path, sizeof path, "");
    req(&r, NULL, "GET", path, NULL, NULL, NULL); /* public: no token */
    expect_status(&r, 200);
    assert_int_equal(json_array_size(json_object_get(r.json, "publications")), 0);
    httpc_resp_free(&r);
    fund_path(path, sizeof path, "/latest/activities.xml");
    req(&r, NULL, "GET", path, NULL, NULL, NULL);
    expect_status(&r, 404);
    httpc_resp_free(&r);
    req(&r, NULL, "GET", "/v1/funds/999999/publications", NULL, NULL, NULL);
    expect_status(&r, 404);
    httpc_resp_free(&r);
}

static void test_only_a_transparency_officer_publishes(void **state)
{
    (void)state;
    char path[PATH_BYTES];
    struct httpc_resp r;
    fund_path(path, sizeof path, "");
    req(&r, NULL, "POST", path, NULL, "k-anon", NULL);
    expect_status(&r, 401);
    httpc_resp_free(&r);
    req(&r, NULL, "POST", path, tok_manager, "k-manager", NULL);
    expect_status(&r, 403);
    httpc_resp_free(&r);
    req(&r, NULL, "POST", path, tok_transparency, NULL, NULL);
    expect_status(&r, 400);
    assert_string_equal(error_code(&r), "idempotency_key_required");
    httpc_resp_free(&r);
    req(&r, NULL, "POST", path, tok_transparency, "k-field", "{\"version\": 3}");
    expect_status(&r, 400);
    assert_string_equal(error_code(&r), "unknown_field");
    httpc_resp_free(&r);
}

static void test_publish_and_fetch(void **state)
{
    (void)state;
    char path[PATH_BYTES];
    struct httpc_resp r;
    fund_path(path, sizeof path, "");
    req(&r, NULL, "POST", path, tok_transparency, "publish-1", NULL);
    expect_status(&r, 201);
    assert_int_equal(json_integer_value(json_object_get(r.json, "version")), 1);
    assert_int_equal(json_integer_value(json_object_get(r.json, "activity_count")), 5);
    assert_int_equal(json_array_size(json_object_get(r.json, "warnings")), 0); /* none in the fixture */
    assert_int_equal(json_integer_value(json_object_get(json_object_get(r.json, "small_groups"), "withheld_loans")), 0);
    assert_int_equal(json_integer_value(json_object_get(r.json, "created_by")), F.transparency.user_id);
    assert_string_equal(json_string_value(json_object_get(r.json, "fund_identifier")), REF "-HSP-HTTP");
    const json_t *tx = json_object_get(r.json, "transactions");
    assert_string_equal(json_string_value(json_object_get(json_object_get(tx, "1"), "total")), "5500000.00");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(tx, "11"), "count")), 3);
    snprintf(v1_activities_sha, sizeof v1_activities_sha, "%s",
             json_string_value(json_object_get(r.json, "activities_sha256")));
    char org_sha[HASH_HEX_BYTES];
    snprintf(org_sha, sizeof org_sha, "%s", json_string_value(json_object_get(r.json, "organisation_sha256")));
    char *first = r.body;
    r.body = NULL;
    httpc_resp_free(&r);
    /* a retry with the same key replays the stored reply and publishes nothing more */
    req(&r, NULL, "POST", path, tok_transparency, "publish-1", NULL);
    expect_status(&r, 201);
    assert_non_null(r.replayed_header);
    assert_string_equal(r.body, first);
    free(first);
    httpc_resp_free(&r);

    /* the files, public, byte for byte what was hashed */
    fund_path(path, sizeof path, "/latest/activities.xml");
    req(&r, NULL, "GET", path, NULL, NULL, NULL);
    expect_status(&r, 200);
    assert_true(strncmp(r.body, "<?xml", 5) == 0);
    char sha[HASH_HEX_BYTES];
    sha_hex(r.body, sha);
    assert_string_equal(sha, v1_activities_sha);
    for (int i = 0; i < IATI_FIXTURE_PERSONS; i++) {
        assert_null(strstr(r.body, iati_fixture_person_names[i]));
    }
    /* and valid against the official schema, as xmllint sees it */
    char tmp[] = "/tmp/fl-iati-http-file-XXXXXX";
    int fd = mkstemp(tmp);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, r.body, strlen(r.body)), (ssize_t)strlen(r.body));
    close(fd);
    char cmd[2 * DIR_BYTES];
    snprintf(cmd, sizeof cmd, "xmllint --noout --nonet --schema %s/iati/schemas/iati-activities-schema.xsd %s 2>&1",
             shared, tmp);
    int rc = system(cmd);
    assert_true(rc != -1 && WIFEXITED(rc) && WEXITSTATUS(rc) == 0);
    unlink(tmp);
    httpc_resp_free(&r);
    char ct[128];
    content_type_of(path, ct, sizeof ct);
    assert_string_equal(ct, "application/xml");

    fund_path(path, sizeof path, "/1/organisation.xml");
    req(&r, NULL, "GET", path, NULL, NULL, NULL);
    expect_status(&r, 200);
    sha_hex(r.body, sha);
    assert_string_equal(sha, org_sha);
    assert_non_null(strstr(r.body, "<iati-organisations"));
    httpc_resp_free(&r);

    fund_path(path, sizeof path, "");
    req(&r, NULL, "GET", path, NULL, NULL, NULL);
    expect_status(&r, 200);
    const json_t *list = json_object_get(r.json, "publications");
    assert_int_equal(json_array_size(list), 1);
    const json_t *p = json_array_get(list, 0);
    assert_string_equal(json_string_value(json_object_get(p, "activities_sha256")), v1_activities_sha);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(json_object_get(p, "transactions"), "4"), "total")),
        "125000.50");
    httpc_resp_free(&r);
}

static void test_changes_between_versions(void **state)
{
    (void)state;
    assert_true(iati_fixture_repay(db, &F, F.loan_coop, "50000.00", "2026-06-01", "COOP-003"));
    char path[PATH_BYTES];
    struct httpc_resp r;
    fund_path(path, sizeof path, "");
    req(&r, NULL, "POST", path, tok_transparency, "publish-2", NULL);
    expect_status(&r, 201);
    assert_int_equal(json_integer_value(json_object_get(r.json, "version")), 2);
    httpc_resp_free(&r);

    fund_path(path, sizeof path, "/2/changes");
    req(&r, NULL, "GET", path, NULL, NULL, NULL);
    expect_status(&r, 200);
    assert_int_equal(json_integer_value(json_object_get(r.json, "previous_version")), 1);
    assert_int_equal(json_integer_value(json_object_get(r.json, "activities_added_count")), 0);
    assert_int_equal(json_integer_value(json_object_get(r.json, "activities_removed_count")), 0);
    /* the new repayment: its interest (5) and principal (6) */
    assert_int_equal(json_integer_value(json_object_get(r.json, "transactions_added_count")), 2);
    assert_int_equal(json_integer_value(json_object_get(r.json, "transactions_removed_count")), 0);
    const json_t *totals = json_object_get(r.json, "totals");
    const char *c5 = json_string_value(json_object_get(json_object_get(totals, "5"), "change"));
    const char *c6 = json_string_value(json_object_get(json_object_get(totals, "6"), "change"));
    assert_non_null(c5);
    assert_non_null(c6);
    /* interest + principal of the new repayment = 50,000.00 */
    int64_t a5 = 0, a6 = 0;
    assert_int_equal(money_parse(c5, 2, true, &a5), MONEY_OK);
    assert_int_equal(money_parse(c6, 2, true, &a6), MONEY_OK);
    assert_int_equal(a5 + a6, 5000000);
    assert_string_equal(json_string_value(json_object_get(json_object_get(totals, "3"), "change")), "0.00");
    httpc_resp_free(&r);

    fund_path(path, sizeof path, "/1/changes");
    req(&r, NULL, "GET", path, NULL, NULL, NULL);
    expect_status(&r, 200);
    assert_true(json_is_null(json_object_get(r.json, "previous_version")));
    assert_int_equal(json_integer_value(json_object_get(r.json, "activities_added_count")), 5);
    httpc_resp_free(&r);

    /* version 1 is still there, unchanged */
    fund_path(path, sizeof path, "/1/activities.xml");
    req(&r, NULL, "GET", path, NULL, NULL, NULL);
    expect_status(&r, 200);
    char sha[HASH_HEX_BYTES];
    sha_hex(r.body, sha);
    assert_string_equal(sha, v1_activities_sha);
    httpc_resp_free(&r);
    /* and the database refuses to change it */
    assert_false(testdb_exec(ci, "UPDATE publication SET activities_xml = '' WHERE version = 1"));
    assert_false(testdb_exec(ci, "DELETE FROM publication"));
}

static void test_failed_check_is_422_and_publishes_nothing(void **state)
{
    (void)state;
    char path[PATH_BYTES];
    struct httpc_resp r;
    fund_path(path, sizeof path, "");
    req(&r, broken_url, "POST", path, tok_transparency, "publish-broken", NULL);
    expect_status(&r, 422);
    const json_t *e = json_object_get(r.json, "error");
    assert_string_equal(json_string_value(json_object_get(e, "code")), "business_rule");
    const json_t *problems = json_object_get(e, "problems");
    assert_true(json_array_size(problems) >= 1);
    const json_t *p0 = json_array_get(problems, 0);
    assert_string_equal(json_string_value(json_object_get(p0, "rule_id")), "FL-CONFIG");
    assert_non_null(strstr(json_string_value(json_object_get(p0, "message")), "not readable"));
    httpc_resp_free(&r);
    req(&r, NULL, "GET", path, NULL, NULL, NULL);
    expect_status(&r, 200);
    assert_int_equal(json_array_size(json_object_get(r.json, "publications")), 2);
    httpc_resp_free(&r);
}

static void test_bad_versions_and_policy(void **state)
{
    (void)state;
    char path[PATH_BYTES];
    struct httpc_resp r;
    fund_path(path, sizeof path, "/abc/activities.xml");
    req(&r, NULL, "GET", path, NULL, NULL, NULL);
    expect_status(&r, 400);
    httpc_resp_free(&r);
    fund_path(path, sizeof path, "/99/organisation.xml");
    req(&r, NULL, "GET", path, NULL, NULL, NULL);
    expect_status(&r, 404);
    httpc_resp_free(&r);
    fund_path(path, sizeof path, "/99/changes");
    req(&r, NULL, "GET", path, NULL, NULL, NULL);
    expect_status(&r, 404);
    httpc_resp_free(&r);
    fund_path(path, sizeof path, "/latest/changes");
    req(&r, NULL, "GET", path, NULL, NULL, NULL);
    expect_status(&r, 200);
    assert_int_equal(json_integer_value(json_object_get(r.json, "version")), 2);
    httpc_resp_free(&r);
    req(&r, NULL, "GET", "/v1/iati/exclusions-policy", NULL, NULL, NULL);
    expect_status(&r, 200);
    assert_non_null(strstr(r.body, "1581"));
    httpc_resp_free(&r);
    req(&r, NULL, "DELETE", "/v1/iati/exclusions-policy", NULL, "k", NULL);
    expect_status(&r, 405);
    httpc_resp_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nothing_published_yet),
        cmocka_unit_test(test_only_a_transparency_officer_publishes),
        cmocka_unit_test(test_publish_and_fetch),
        cmocka_unit_test(test_changes_between_versions),
        cmocka_unit_test(test_failed_check_is_422_and_publishes_nothing),
        cmocka_unit_test(test_bad_versions_and_policy),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
