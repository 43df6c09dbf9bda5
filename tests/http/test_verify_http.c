/* test_verify_http: verify runs (docs/console.md, Auditor): POST /v1/verify-runs runs verify,
 * records the run and audits it once per Idempotency-Key; GET lists the runs newest first with the
 * latest; `fundledger verify` records its run too (via cli); a forged entry is a failed run naming
 * it; the table is append-only. */
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
#include "../support/testdb.h"
#include "fundledger/auth.h"
#include "fundledger/config.h"
#include "fundledger/fund.h"
#include "fundledger/http.h"
#include "fundledger/log.h"

static struct config cfg;
static struct http_server *server;
static char base[64];
static const char *conninfo;
static char auditor_token[TOKEN_TEXT_BYTES], manager_token[TOKEN_TEXT_BYTES];
static int64_t auditor_id, fund_id, cash_id, capital_id, manager_id;
/* The anchor key and log of this test's own (a log left by an earlier run of the same database
 * name would name entries this database never had). */
static char anchor_dir[] = "/tmp/fl_verify_http_XXXXXX";

static int64_t scalar(const char *sql)
{
    char *v = testdb_scalar(conninfo, sql);
    assert_non_null(v);
    int64_t n = strtoll(v, NULL, 10);
    free(v);
    return n;
}

static enum fl_err fund_tx(struct db *db, void *arg, struct fl_error *err)
{
    const struct principal *m = arg;
    json_t *f = fund_create(db, m, "VERIFY", "Verify test fund", "COP", err);
    if (f == NULL) {
        return err->code;
    }
    fund_id = json_integer_value(json_object_get(f, "id"));
    json_decref(f);
    return FLE_OK;
}

static int setup(void **state)
{
    (void)state;
    log_set_level_name("error");
    curl_global_init(CURL_GLOBAL_ALL);
    conninfo = testdb_create("verify_http");
    struct db *db = testdb_open(conninfo);
    struct fl_error err;
    fl_error_clear(&err);
    struct principal m = {.role = ROLE_FUND_MANAGER};
    if (auth_user_add(db, "v.auditor", ROLE_AUDITOR, 0, &auditor_id, &err) != FLE_OK ||
        auth_user_add(db, "v.manager", ROLE_FUND_MANAGER, 0, &manager_id, &err) != FLE_OK ||
        auth_token_create(db, auditor_id, "t", 0, auditor_token, NULL, &err) != FLE_OK ||
        auth_token_create(db, manager_id, "t", 0, manager_token, NULL, &err) != FLE_OK) {
        fprintf(stderr, "test_verify_http: setup: %s\n", err.message);
        return -1;
    }
    m.user_id = manager_id;
    snprintf(m.name, sizeof m.name, "v.manager");
    if (db_tx(db, fund_tx, &m, &err) != FLE_OK || fund_account_by_code(db, fund_id, "1000", &cash_id, &err) != FLE_OK ||
        fund_account_by_code(db, fund_id, "3000", &capital_id, &err) != FLE_OK) {
        fprintf(stderr, "test_verify_http: setup: %s\n", err.message);
        return -1;
    }
    db_close(db);
    config_defaults(&cfg);
    snprintf(cfg.listen, sizeof cfg.listen, "127.0.0.1:0");
    snprintf(cfg.migrations_dir, sizeof cfg.migrations_dir, "migrations");
    if (mkdtemp(anchor_dir) == NULL) {
        fprintf(stderr, "test_verify_http: mkdtemp failed\n");
        return -1;
    }
    snprintf(cfg.anchor_key_file, sizeof cfg.anchor_key_file, "%s/anchor.key", anchor_dir);
    snprintf(cfg.anchor_log_file, sizeof cfg.anchor_log_file, "%s/anchor.log", anchor_dir);
    if (http_server_start(&cfg, conninfo, &server, &err) != FLE_OK) {
        fprintf(stderr, "test_verify_http: %s\n", err.message);
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
    const char *const files[] = {"anchor.key", "anchor.key.pub", "anchor.log"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char path[128];
        snprintf(path, sizeof path, "%s/%s", anchor_dir, files[i]);
        (void)remove(path);
    }
    (void)rmdir(anchor_dir);
    return 0;
}

static int64_t jint(const json_t *o, const char *k)
{
    return json_integer_value(json_object_get(o, k));
}

static void test_runs_recorded_listed_and_audited(void **state)
{
    (void)state;
    struct httpc_resp r;
    /* A clean ledger: ok, nothing found. */
    assert_true(httpc_request(base, "POST", "/v1/verify-runs", auditor_token, "verify-1", NULL, NULL, &r));
    assert_int_equal(r.status, 201);
    json_t *run = r.json;
    assert_non_null(run);
    int64_t run1 = jint(run, "id");
    assert_true(run1 > 0);
    assert_string_equal(json_string_value(json_object_get(run, "via")), "api");
    assert_string_equal(json_string_value(json_object_get(run, "run_by")), "v.auditor");
    assert_int_equal(jint(run, "user_id"), auditor_id);
    assert_string_equal(json_string_value(json_object_get(run, "result")), "ok");
    assert_true(json_is_true(json_object_get(run, "ok")));
    assert_int_equal(jint(run, "problems_total"), 0);
    assert_int_equal(json_array_size(json_object_get(run, "findings")), 0);
    assert_int_equal(jint(run, "origins_checked"), 0);
    assert_true(strcmp(json_string_value(json_object_get(run, "finished_at")),
                       json_string_value(json_object_get(run, "started_at"))) >= 0);
    httpc_resp_free(&r);
    /* The same key again: the stored run, nothing new recorded. */
    assert_true(httpc_request(base, "POST", "/v1/verify-runs", auditor_token, "verify-1", NULL, NULL, &r));
    assert_int_equal(r.status, 201);
    assert_non_null(r.replayed_header);
    assert_string_equal(r.replayed_header, "true");
    assert_int_equal(jint(r.json, "id"), run1);
    httpc_resp_free(&r);
    assert_int_equal(scalar("SELECT count(*) FROM verify_run"), 1);
    /* A fund manager may not (403); an unknown body field is 400 naming it. */
    assert_true(httpc_request(base, "POST", "/v1/verify-runs", manager_token, "verify-m", NULL, NULL, &r));
    assert_int_equal(r.status, 403);
    httpc_resp_free(&r);
    assert_true(httpc_request(base, "POST", "/v1/verify-runs", auditor_token, "verify-x", NULL, "{\"x\":1}", &r));
    assert_int_equal(r.status, 400);
    assert_string_equal(json_string_value(json_object_get(json_object_get(r.json, "error"), "field")), "x");
    httpc_resp_free(&r);
    assert_int_equal(scalar("SELECT count(*) FROM verify_run"), 1);

    /* A balanced entry forged by the superuser, with no proposal: a failed run naming it. */
    int64_t forged = scalar("SELECT nextval('journal_entry_id_seq')");
    char sql[1024];
    snprintf(sql, sizeof sql,
             "WITH e AS (INSERT INTO journal_entry (id, fund_id, effective_date, posted_by, memo, event_type, "
             "event_ref) VALUES (%" PRId64 ", %" PRId64 ", '2026-04-02', %" PRId64 ", 'forged', 'manual', "
             "'proposal:999999')) INSERT INTO journal_line (entry_id, line_no, account_id, currency, "
             "amount_minor, effective_date) VALUES (%" PRId64 ", 1, %" PRId64 ", 'COP', 5000000, '2026-04-02'), "
             "(%" PRId64 ", 2, %" PRId64 ", 'COP', -5000000, '2026-04-02')",
             forged, fund_id, manager_id, forged, cash_id, forged, capital_id);
    assert_true(testdb_exec(conninfo, sql));
    assert_true(httpc_request(base, "POST", "/v1/verify-runs", auditor_token, "verify-2", NULL, "{}", &r));
    assert_int_equal(r.status, 201);
    int64_t run2 = jint(r.json, "id");
    assert_true(run2 > run1);
    assert_string_equal(json_string_value(json_object_get(r.json, "result")), "failed");
    assert_true(json_is_false(json_object_get(r.json, "ok")));
    assert_int_equal(jint(r.json, "origins_checked"), 1);
    assert_true(jint(r.json, "problems_total") >= 1);
    json_t *found = json_object_get(r.json, "findings");
    bool named = false;
    for (size_t i = 0; i < json_array_size(found); i++) {
        json_t *f = json_array_get(found, i);
        named = named || (jint(f, "entry_id") == forged &&
                          strstr(json_string_value(json_object_get(f, "text")), "no approved proposal posted it"));
    }
    assert_true(named);
    httpc_resp_free(&r);

    /* `fundledger verify` finds the same, exits 1 and records its run (via cli, no user). */
    const char *bin = getenv("FUNDLEDGER_BIN");
    if (bin != NULL) {
        char cmd[4096];
        snprintf(cmd, sizeof cmd,
                 "FUNDLEDGER_DATABASE_URL='%s' FUNDLEDGER_ANCHOR_KEY_FILE='%s' FUNDLEDGER_ANCHOR_LOG_FILE='%s' '%s' "
                 "verify >/dev/null 2>&1",
                 conninfo, cfg.anchor_key_file, cfg.anchor_log_file, bin);
        int status = system(cmd);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 1);
        assert_int_equal(scalar("SELECT count(*) FROM verify_run WHERE via = 'cli' AND user_id IS NULL AND NOT ok "
                                "AND run_by <> '' AND origins_checked = 1"),
                         1);
    }
    int64_t runs = scalar("SELECT count(*) FROM verify_run");
    int64_t newest = scalar("SELECT max(id) FROM verify_run");

    /* GET: the latest and the runs newest first; paged backwards with before. */
    assert_true(httpc_request(base, "GET", "/v1/verify-runs", auditor_token, NULL, NULL, NULL, &r));
    assert_int_equal(r.status, 200);
    assert_int_equal(jint(json_object_get(r.json, "latest"), "id"), newest);
    assert_int_equal(json_array_size(json_object_get(r.json, "runs")), (size_t)runs);
    assert_int_equal(jint(json_array_get(json_object_get(r.json, "runs"), 0), "id"), newest);
    assert_true(json_is_null(json_object_get(r.json, "next_before")));
    httpc_resp_free(&r);
    assert_true(httpc_request(base, "GET", "/v1/verify-runs?limit=1", auditor_token, NULL, NULL, NULL, &r));
    assert_int_equal(r.status, 200);
    assert_int_equal(json_array_size(json_object_get(r.json, "runs")), 1);
    assert_int_equal(jint(r.json, "next_before"), newest);
    httpc_resp_free(&r);
    char path[128];
    snprintf(path, sizeof path, "/v1/verify-runs?before=%" PRId64, run2);
    assert_true(httpc_request(base, "GET", path, auditor_token, NULL, NULL, NULL, &r));
    assert_int_equal(r.status, 200);
    assert_int_equal(json_array_size(json_object_get(r.json, "runs")), 1);
    assert_int_equal(jint(json_array_get(json_object_get(r.json, "runs"), 0), "id"), run1);
    assert_int_equal(jint(json_object_get(r.json, "latest"), "id"), newest);
    httpc_resp_free(&r);
    assert_true(httpc_request(base, "GET", "/v1/verify-runs?after=1", auditor_token, NULL, NULL, NULL, &r));
    assert_int_equal(r.status, 400);
    httpc_resp_free(&r);
    assert_true(httpc_request(base, "GET", "/v1/verify-runs", manager_token, NULL, NULL, NULL, &r));
    assert_int_equal(r.status, 403);
    httpc_resp_free(&r);

    /* Audited: one verify.run per recorded run (API ones as the auditor). */
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM audit_log WHERE action = 'verify.run' AND object_type = 'verify_run' "
             "AND user_id = %" PRId64,
             auditor_id);
    assert_int_equal(scalar(sql), 2);
    assert_int_equal(scalar("SELECT count(*) FROM audit_log WHERE action = 'verify.run'"), runs);
    /* History: no update, delete or truncate, even by the owner. */
    assert_false(testdb_exec(conninfo, "UPDATE verify_run SET ok = true, problems_total = 0, findings = '[]'"));
    assert_false(testdb_exec(conninfo, "DELETE FROM verify_run"));
    assert_false(testdb_exec(conninfo, "TRUNCATE verify_run"));
    assert_int_equal(scalar("SELECT count(*) FROM verify_run"), runs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_runs_recorded_listed_and_audited),
    };
    return cmocka_run_group_tests_name("verify runs (HTTP)", tests, setup, teardown);
}
