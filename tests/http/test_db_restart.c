/* test_db_restart: the real server over HTTP on a cluster of the test's own, restarted with
 * pg_ctl restart -m immediate while several writers propose and approve journal entries. Every
 * acknowledged write is in the journal exactly once, a retry with the same Idempotency-Key gets
 * the stored reply, the server answers again (authenticated routes and /readyz) without being
 * restarted, and while the database is away every answer is 503 with Retry-After, never 4xx/500. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include <inttypes.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../support/httpc.h"
#include "../support/pgcluster.h"
#include "../support/testdb.h"
#include "fundledger/config.h"
#include "fundledger/demo.h"
#include "fundledger/http.h"
#include "fundledger/log.h"
#include "fundledger/migrate.h"

#define WRITERS 6             /* concurrent writers, each with its own proposals */
#define WRITES_BEFORE 4       /* each writer's acknowledged approvals before the restart */
#define WRITES_AFTER 4        /* ... and after it, on the same server process */
#define ATTEMPTS_MAX 400      /* one write's retries (25 ms apart: 10 s) before the test fails */
#define RETRY_PAUSE_US 25000L /* between a writer's retries */
#define WRITES_MAX (WRITERS * 64)

static struct pgc pg;
static char conninfo[600];
static struct config cfg;
static struct http_server *server;
static char base_url[64];
static char manager_token[128], approver_token[128], auditor_token[128];
static int64_t fund_id, cash_id, capital_id;

/* What the writers saw, added up under the lock. */
static pthread_mutex_t seen_mu = PTHREAD_MUTEX_INITIALIZER;
static unsigned seen_503, seen_503_without_retry_after, seen_no_answer, seen_other;
static char seen_other_text[512];
static atomic_uint acknowledged; /* approvals answered 200 */
static atomic_bool restart_done;

/* One acknowledged write, kept so the test can replay it and find it in the journal. */
struct ack {
    char memo[64];
    char key[64];
    char path[96];
    char body[400];
    long status;
    char *reply; /* the body of the acknowledging answer */
    bool approval;
};
static struct ack acks[WRITES_MAX * 2];
static atomic_uint n_acks;

static const char *jstr(const json_t *j, const char *k)
{
    return json_string_value(json_object_get(j, k));
}

static int64_t id_by_code(const json_t *arr, const char *code)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        const char *c = jstr(v, "code");
        if (c && strcmp(c, code) == 0) {
            return json_integer_value(json_object_get(v, "id"));
        }
    }
    return 0;
}

static void note_other(const char *what, long status, const char *body)
{
    pthread_mutex_lock(&seen_mu);
    seen_other++;
    if (seen_other_text[0] == '\0') {
        snprintf(seen_other_text, sizeof seen_other_text, "%s: %ld %s", what, status, body ? body : "");
    }
    pthread_mutex_unlock(&seen_mu);
}

/* Sends one write until it is acknowledged with want_status, with the same key every time.
 * Answers meanwhile must be 503 database_unavailable with Retry-After (or no answer at all,
 * counted apart); anything else is recorded as a failure. Returns the acknowledging answer. */
static bool write_until_acked(const char *path, const char *token, const char *key, const char *body,
                              long want_status, struct httpc_resp *out)
{
    for (int attempt = 0; attempt < ATTEMPTS_MAX; attempt++) {
        bool answered = httpc_request(base_url, "POST", path, token, key, NULL, body, out);
        if (answered && out->status == want_status) {
            return true;
        }
        pthread_mutex_lock(&seen_mu);
        if (!answered) {
            seen_no_answer++;
        } else if (out->status == 503) {
            seen_503++;
            const char *code = jstr(json_object_get(out->json, "error"), "code");
            if (out->retry_after_header == NULL || strcmp(out->retry_after_header, "1") != 0 || code == NULL ||
                strcmp(code, "database_unavailable") != 0) {
                seen_503_without_retry_after++;
            }
        }
        pthread_mutex_unlock(&seen_mu);
        if (answered && out->status != 503) {
            note_other(path, out->status, out->body);
            return false;
        }
        httpc_resp_free(out);
        usleep(RETRY_PAUSE_US);
    }
    note_other(path, 0, "no acknowledgement within the retry bound");
    return false;
}

static void keep_ack(const char *memo, const char *key, const char *path, const char *body, const struct httpc_resp *r,
                     bool approval)
{
    unsigned i = atomic_fetch_add(&n_acks, 1);
    assert_true(i < sizeof acks / sizeof acks[0]);
    struct ack *a = &acks[i];
    snprintf(a->memo, sizeof a->memo, "%s", memo);
    snprintf(a->key, sizeof a->key, "%s", key);
    snprintf(a->path, sizeof a->path, "%s", path);
    snprintf(a->body, sizeof a->body, "%s", body ? body : "");
    a->status = r->status;
    a->reply = strdup(r->body);
    a->approval = approval;
}

/* Proposes one entry (manager) and approves it (approver), each until acknowledged. */
static bool one_write(unsigned writer, unsigned j)
{
    char memo[64], key[64], path[96], body[400];
    snprintf(memo, sizeof memo, "restart w%u n%u", writer, j);
    snprintf(key, sizeof key, "restart-propose-%u-%u", writer, j);
    snprintf(path, sizeof path, "/v1/funds/%" PRId64 "/entries", fund_id);
    snprintf(body, sizeof body,
             "{\"effective_date\":\"2025-03-31\",\"memo\":\"%s\",\"lines\":[{\"account_id\":%" PRId64
             ",\"debit\":\"1.00\"},{\"account_id\":%" PRId64 ",\"credit\":\"1.00\"}]}",
             memo, cash_id, capital_id);
    struct httpc_resp r;
    if (!write_until_acked(path, manager_token, key, body, 201, &r)) {
        httpc_resp_free(&r);
        return false;
    }
    int64_t proposal = json_integer_value(json_object_get(r.json, "id"));
    keep_ack(memo, key, path, body, &r, false);
    httpc_resp_free(&r);
    if (proposal <= 0) {
        note_other("proposal id", 201, "none");
        return false;
    }
    snprintf(key, sizeof key, "restart-approve-%u-%u", writer, j);
    snprintf(path, sizeof path, "/v1/approvals/%" PRId64 "/approve", proposal);
    if (!write_until_acked(path, approver_token, key, NULL, 200, &r)) {
        httpc_resp_free(&r);
        return false;
    }
    keep_ack(memo, key, path, NULL, &r, true);
    httpc_resp_free(&r);
    atomic_fetch_add(&acknowledged, 1);
    return true;
}

static void *writer(void *arg)
{
    unsigned w = (unsigned)(uintptr_t)arg;
    unsigned j = 0;
    /* Writes before the restart, then on until the restart is over and WRITES_AFTER more are done. */
    for (; j < WRITES_BEFORE; j++) {
        if (!one_write(w, j)) {
            return NULL;
        }
    }
    while (!atomic_load(&restart_done) && j < 48) {
        if (!one_write(w, j++)) {
            return NULL;
        }
    }
    for (unsigned k = 0; k < WRITES_AFTER; k++) {
        if (!one_write(w, j++)) {
            return NULL;
        }
    }
    return NULL;
}

static json_t *get_json(const char *path, const char *token, long want)
{
    struct httpc_resp r;
    assert_true(httpc_request(base_url, "GET", path, token, NULL, NULL, NULL, &r));
    if (r.status != want) {
        fail_msg("GET %s: %ld %s", path, r.status, r.body);
    }
    json_t *j = json_incref(r.json);
    httpc_resp_free(&r);
    return j;
}

/* A GET answered 503 database_unavailable with Retry-After: 1. */
static void expect_unavailable(const char *method, const char *path, const char *token, const char *body)
{
    struct httpc_resp r;
    assert_true(httpc_request(base_url, method, path, token, body ? "restart-down-key" : NULL, NULL, body, &r));
    if (r.status != 503) {
        fail_msg("%s %s while the database is down: %ld %s", method, path, r.status, r.body);
    }
    assert_non_null(r.retry_after_header);
    assert_string_equal(r.retry_after_header, "1");
    assert_string_equal(jstr(json_object_get(r.json, "error"), "code"), "database_unavailable");
    httpc_resp_free(&r);
}

static int setup(void **state)
{
    (void)state;
    const char *level = getenv("FUNDLEDGER_LOG_LEVEL");
    log_set_level_name(level ? level : "error");
    if (!pgc_init(&pg, "restart") || !pgc_node_create(&pg, "main")) {
        return -1;
    }
    char sock[PGC_PATH_BYTES];
    pgc_socket(&pg, "main", sock);
    char admin[700];
    snprintf(admin, sizeof admin, "host=%s dbname=postgres user=fundledger", sock);
    if (!testdb_exec(admin, "CREATE DATABASE fl_restart")) {
        return -1;
    }
    snprintf(conninfo, sizeof conninfo, "host=%s dbname=fl_restart user=fundledger", sock);
    struct fl_error err;
    fl_error_clear(&err);
    struct db *db = NULL;
    unsigned applied = 0;
    if (db_open(conninfo, false, 8, &db, &err) != FLE_OK || migrate_apply(db, "migrations", &applied, &err) != FLE_OK) {
        fprintf(stderr, "test_db_restart: migrate: %s\n", err.message);
        db_close(db);
        return -1;
    }
    db_close(db);
    db = testdb_open(conninfo);
    char cred[PGC_PATH_BYTES + 16];
    snprintf(cred, sizeof cred, "%s/credentials.json", pg.dir);
    enum fl_err e = demo_load(db, cred, &err);
    db_close(db);
    if (e != FLE_OK) {
        fprintf(stderr, "test_db_restart: demo_load: %s\n", err.message);
        return -1;
    }
    json_error_t je;
    json_t *doc = json_load_file(cred, 0, &je);
    json_t *toks = json_object_get(doc, "tokens");
    const char *m = jstr(toks, "manager"), *a = jstr(toks, "approver"), *au = jstr(toks, "auditor");
    if (m == NULL || a == NULL || au == NULL) {
        json_decref(doc);
        return -1;
    }
    snprintf(manager_token, sizeof manager_token, "%s", m);
    snprintf(approver_token, sizeof approver_token, "%s", a);
    snprintf(auditor_token, sizeof auditor_token, "%s", au);
    json_decref(doc);

    config_defaults(&cfg);
    snprintf(cfg.listen, sizeof cfg.listen, "127.0.0.1:0");
    snprintf(cfg.migrations_dir, sizeof cfg.migrations_dir, "migrations");
    cfg.http_threads = 4; /* fewer threads than writers: connections are shared out over requests */
    if (http_server_start(&cfg, conninfo, &server, &err) != FLE_OK) {
        fprintf(stderr, "test_db_restart: http_server_start: %s\n", err.message);
        return -1;
    }
    snprintf(base_url, sizeof base_url, "http://127.0.0.1:%u", (unsigned)http_server_port(server));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    http_server_stop(server);
    pgc_destroy(&pg);
    for (unsigned i = 0; i < atomic_load(&n_acks); i++) {
        free(acks[i].reply);
    }
    return 0;
}

static void find_fund(void)
{
    json_t *funds = get_json("/v1/funds", manager_token, 200);
    fund_id = id_by_code(json_object_get(funds, "funds"), "HSP-ELCHARCO");
    json_decref(funds);
    assert_true(fund_id > 0);
    char path[96];
    snprintf(path, sizeof path, "/v1/funds/%" PRId64 "/accounts", fund_id);
    json_t *accounts = get_json(path, manager_token, 200);
    cash_id = id_by_code(json_object_get(accounts, "accounts"), "1000");
    capital_id = id_by_code(json_object_get(accounts, "accounts"), "3000");
    json_decref(accounts);
    assert_true(cash_id > 0 && capital_id > 0);
}

static char *scalar(const char *sql)
{
    char *v = testdb_scalar(conninfo, sql);
    assert_non_null(v);
    return v;
}

static void test_restart_under_load(void **state)
{
    (void)state;
    find_fund();
    json_decref(get_json("/readyz", NULL, 200));
    char *journal_before = scalar("SELECT count(*) FROM journal_entry");

    pthread_t t[WRITERS];
    for (unsigned i = 0; i < WRITERS; i++) {
        assert_int_equal(pthread_create(&t[i], NULL, writer, (void *)(uintptr_t)i), 0);
    }
    /* Restart once the writers are under way (each has done at least one write or so). */
    for (int i = 0; i < 400 && atomic_load(&acknowledged) < WRITERS * 2; i++) {
        usleep(25000);
    }
    assert_true(pgc_ctl(&pg, "main", "restart -m immediate"));
    atomic_store(&restart_done, true);
    for (unsigned i = 0; i < WRITERS; i++) {
        pthread_join(t[i], NULL);
    }
    if (seen_other > 0) {
        fail_msg("%u answers were neither the acknowledgement nor 503; first: %s", seen_other, seen_other_text);
    }
    assert_int_equal(seen_503_without_retry_after, 0);
    unsigned approved = atomic_load(&acknowledged);
    assert_true(approved >= WRITERS * (WRITES_BEFORE + WRITES_AFTER));
    fprintf(stderr, "test_db_restart: %u approvals acknowledged; %u answers 503, %u without an answer\n", approved,
            seen_503, seen_no_answer);

    /* Every acknowledged approval posted exactly one journal entry, found by its memo. */
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT count(*) - %s FROM journal_entry", journal_before);
    char *added = scalar(sql);
    assert_int_equal(strtol(added, NULL, 10), (long)approved);
    free(added);
    free(journal_before);
    char *dups = scalar("SELECT count(*) FROM (SELECT memo FROM journal_entry WHERE memo LIKE 'restart w%' "
                        "GROUP BY memo HAVING count(*) <> 1) d");
    assert_string_equal(dups, "0");
    free(dups);
    char *proposals = scalar("SELECT count(*) FROM proposal WHERE payload->>'memo' LIKE 'restart w%'");
    assert_int_equal(strtol(proposals, NULL, 10), (long)approved);
    free(proposals);
    for (unsigned i = 0; i < atomic_load(&n_acks); i++) {
        if (!acks[i].approval) {
            continue;
        }
        char q[300];
        snprintf(q, sizeof q, "SELECT count(*) FROM journal_entry WHERE memo = '%.60s'", acks[i].memo);
        char *one = scalar(q);
        if (strcmp(one, "1") != 0) {
            fail_msg("%s: %s journal entries", acks[i].memo, one);
        }
        free(one);
    }

    /* A retry with the same Idempotency-Key gets the stored reply, byte for byte. */
    for (unsigned i = 0; i < atomic_load(&n_acks); i += 5) {
        struct httpc_resp r;
        const struct ack *a = &acks[i];
        assert_true(httpc_request(base_url, "POST", a->path, a->approval ? approver_token : manager_token, a->key,
                                  NULL, a->approval ? NULL : a->body, &r));
        assert_int_equal(r.status, a->status);
        assert_string_equal(r.body, a->reply);
        assert_non_null(r.replayed_header);
        assert_string_equal(r.replayed_header, "true");
        httpc_resp_free(&r);
    }
    /* The same process answers: readiness, identity, lists. */
    json_decref(get_json("/readyz", NULL, 200));
    json_decref(get_json("/v1/me", manager_token, 200));
    json_decref(get_json("/v1/me", auditor_token, 200));
    json_decref(get_json("/v1/approvals?status=any", auditor_token, 200));
}

/* With the database stopped, every route that needs it answers 503 with Retry-After (the first
 * request of each worker too); once it is back, the same process answers again. */
static void test_outage_then_recovery(void **state)
{
    (void)state;
    /* Touch every worker's connection first so each has one to lose. */
    for (int i = 0; i < 16; i++) {
        json_decref(get_json("/v1/me", manager_token, 200));
    }
    assert_true(pgc_ctl(&pg, "main", "stop -m immediate"));
    char path[96];
    snprintf(path, sizeof path, "/v1/funds/%" PRId64 "/entries", fund_id);
    for (int round = 0; round < 3; round++) { /* more requests than workers: each worker's first and next */
        expect_unavailable("GET", "/readyz", NULL, NULL);
        expect_unavailable("GET", "/v1/me", manager_token, NULL);
        expect_unavailable("GET", "/v1/funds", manager_token, NULL);
        expect_unavailable("GET", path, manager_token, NULL);
        expect_unavailable("POST", path, manager_token,
                           "{\"effective_date\":\"2025-03-31\",\"memo\":\"down\",\"lines\":[]}");
    }
    struct httpc_resp r;
    assert_true(httpc_request(base_url, "GET", "/healthz", NULL, NULL, NULL, NULL, &r));
    assert_int_equal(r.status, 200);
    httpc_resp_free(&r);
    assert_true(pgc_ctl(&pg, "main", "start"));
    /* Back within the reconnection backoff (at most DB_RECONNECT_BACKOFF_MAX_MS per worker). */
    bool ready = false;
    for (int i = 0; i < 100 && !ready; i++) {
        assert_true(httpc_request(base_url, "GET", "/readyz", NULL, NULL, NULL, NULL, &r));
        ready = r.status == 200;
        assert_true(r.status == 200 || r.status == 503);
        httpc_resp_free(&r);
        if (!ready) {
            usleep(50000);
        }
    }
    assert_true(ready);
    /* Each worker may still be inside its backoff; within a second or two all answer. */
    unsigned ok = 0;
    for (int i = 0; i < 200 && ok < 16; i++) {
        assert_true(httpc_request(base_url, "GET", "/v1/me", manager_token, NULL, NULL, NULL, &r));
        long status = r.status;
        assert_true(status == 200 || status == 503);
        ok = status == 200 ? ok + 1 : 0;
        httpc_resp_free(&r);
        if (status != 200) {
            usleep(50000);
        }
    }
    assert_int_equal(ok, 16);
    json_decref(get_json(path, manager_token, 200));
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_restart_under_load),
                                       cmocka_unit_test(test_outage_then_recovery)};
    return cmocka_run_group_tests_name("database restart under load (HTTP)", tests, setup, teardown);
}
