/* test_first_connect: a server whose database is away when its workers first need it. Each
 * worker's first connection follows the reconnection policy of docs/architecture.md ("Database
 * faults"): 503 database_unavailable with Retry-After (never 500), one attempt and then backoff
 * (not a new connection attempt per request), and the same process answers once the database is
 * there, without a restart. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../support/httpc.h"
#include "../support/pgcluster.h"
#include "../support/testdb.h"
#include "fundledger/config.h"
#include "fundledger/demo.h"
#include "fundledger/http.h"
#include "fundledger/limits.h"
#include "fundledger/log.h"
#include "fundledger/migrate.h"

#define THREADS 4     /* the server's workers */
#define REQUESTS 60   /* sent one after another while nothing answers as PostgreSQL */
#define RECOVER_MAX 200 /* polls, 50 ms apart, for every worker to answer after the start */

static const char *const token_none = "fl_0000000000000000000000000000000000000000000000000000000000000000";

static long ms_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (t.tv_sec - t0->tv_sec) * 1000L + (t.tv_nsec - t0->tv_nsec) / 1000000L;
}

/* One request answered 503 database_unavailable with Retry-After: 1 (never 500). */
static void expect_unavailable(const char *base, const char *method, const char *path, const char *token,
                               const char *body)
{
    struct httpc_resp r;
    assert_true(httpc_request(base, method, path, token, body ? "first-connect-key" : NULL, NULL, body, &r));
    if (r.status != 503) {
        fail_msg("%s %s with the database away: %ld %s", method, path, r.status, r.body);
    }
    assert_non_null(r.retry_after_header);
    assert_string_equal(r.retry_after_header, "1");
    json_t *e = json_object_get(r.json, "error");
    assert_string_equal(json_string_value(json_object_get(e, "code")), "database_unavailable");
    httpc_resp_free(&r);
}

/* ---- one attempt, then backoff ------------------------------------------------------------ */

/* A TCP listener that is not PostgreSQL: it accepts each connection and closes it at once, so
 * libpq's attempt fails ("server closed the connection unexpectedly"); it counts the attempts. */
struct closer {
    int fd;
    unsigned port;
    atomic_uint accepted;
    atomic_bool stop;
    pthread_t thread;
};

static void *closer_run(void *arg)
{
    struct closer *c = arg;
    while (!atomic_load(&c->stop)) {
        int s = accept(c->fd, NULL, NULL);
        if (s < 0) {
            continue;
        }
        if (!atomic_load(&c->stop)) {
            atomic_fetch_add(&c->accepted, 1);
        }
        close(s);
    }
    return NULL;
}

static void closer_start(struct closer *c)
{
    memset(c, 0, sizeof *c);
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(c->fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(c->fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(c->fd, 64), 0);
    socklen_t len = sizeof a;
    assert_int_equal(getsockname(c->fd, (struct sockaddr *)&a, &len), 0);
    c->port = ntohs(a.sin_port);
    assert_int_equal(pthread_create(&c->thread, NULL, closer_run, c), 0);
}

static void closer_stop(struct closer *c)
{
    atomic_store(&c->stop, true);
    /* Wake accept with one last connection of our own. */
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)c->port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (s >= 0) {
        (void)connect(s, (struct sockaddr *)&a, sizeof a);
        close(s);
    }
    pthread_join(c->thread, NULL);
    close(c->fd);
}

/* The most connection attempts one connection makes in t_ms under the backoff: the first at once,
 * then after DB_RECONNECT_BACKOFF_MIN_MS, doubling, at most DB_RECONNECT_BACKOFF_MAX_MS apart. */
static unsigned attempts_allowed(long t_ms)
{
    unsigned n = 1;
    long t = 0, wait = DB_RECONNECT_BACKOFF_MIN_MS;
    while (t + wait <= t_ms) {
        t += wait;
        n++;
        wait = wait * 2 < DB_RECONNECT_BACKOFF_MAX_MS ? wait * 2 : DB_RECONNECT_BACKOFF_MAX_MS;
    }
    return n;
}

/* 60 requests to a server whose database never answers: every one is 503 with Retry-After, and
 * the workers make at most what the backoff allows (4 workers over ~100 ms: at most 4 x 2 or 3),
 * where one attempt per request made 60. */
static void test_first_connection_backs_off(void **state)
{
    (void)state;
    struct closer c;
    closer_start(&c);
    struct config cfg;
    config_defaults(&cfg);
    snprintf(cfg.listen, sizeof cfg.listen, "127.0.0.1:0");
    snprintf(cfg.migrations_dir, sizeof cfg.migrations_dir, "migrations");
    cfg.http_threads = THREADS;
    cfg.ledger_seal_interval_ms = 3600000; /* the sealer's own connection stays out of the count */
    char conninfo[200];
    snprintf(conninfo, sizeof conninfo,
             "host=127.0.0.1 port=%u dbname=x user=x sslmode=disable gssencmode=disable connect_timeout=2", c.port);
    struct http_server *server = NULL;
    struct fl_error err;
    fl_error_clear(&err);
    assert_int_equal(http_server_start(&cfg, conninfo, &server, &err), FLE_OK);
    char base[64];
    snprintf(base, sizeof base, "http://127.0.0.1:%u", (unsigned)http_server_port(server));
    atomic_store(&c.accepted, 0);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < REQUESTS; i++) {
        expect_unavailable(base, "GET", i % 2 ? "/v1/me" : "/readyz", i % 2 ? token_none : NULL, NULL);
    }
    long t_ms = ms_since(&t0);
    unsigned accepted = atomic_load(&c.accepted);
    unsigned allowed = THREADS * attempts_allowed(t_ms);
    fprintf(stderr, "test_first_connect: %d requests in %ld ms, %u connection attempts (backoff allows %u)\n",
            REQUESTS, t_ms, accepted, allowed);
    assert_true(accepted >= 1);
    assert_true(accepted <= allowed);
    /* healthz needs no database */
    struct httpc_resp r;
    assert_true(httpc_request(base, "GET", "/healthz", NULL, NULL, NULL, NULL, &r));
    assert_int_equal(r.status, 200);
    httpc_resp_free(&r);
    http_server_stop(server);
    closer_stop(&c);
}

/* ---- a stopped cluster, then started -------------------------------------------------------- */

/* The server starts while its cluster is stopped: no worker has ever connected. Every route that
 * needs the database answers 503 (each worker's first request and the next); started, the
 * cluster is used by every worker of the same process within the backoff. */
static void test_stopped_cluster_then_started(void **state)
{
    (void)state;
    struct pgc pg;
    assert_true(pgc_init(&pg, "first") && pgc_node_create(&pg, "main"));
    char sock[PGC_PATH_BYTES], admin[700], conninfo[700];
    pgc_socket(&pg, "main", sock);
    snprintf(admin, sizeof admin, "host=%s dbname=postgres user=fundledger", sock);
    assert_true(testdb_exec(admin, "CREATE DATABASE fl_first"));
    snprintf(conninfo, sizeof conninfo, "host=%s dbname=fl_first user=fundledger", sock);
    struct fl_error err;
    fl_error_clear(&err);
    struct db *db = NULL;
    unsigned applied = 0;
    assert_int_equal(db_open(conninfo, false, 8, &db, &err), FLE_OK);
    assert_int_equal(migrate_apply(db, "migrations", &applied, &err), FLE_OK);
    db_close(db);
    db = testdb_open(conninfo);
    char cred[PGC_PATH_BYTES + 16];
    snprintf(cred, sizeof cred, "%s/credentials.json", pg.dir);
    assert_int_equal(demo_load(db, cred, &err), FLE_OK);
    db_close(db);
    json_error_t je;
    json_t *doc = json_load_file(cred, 0, &je);
    assert_non_null(doc);
    char token[128];
    snprintf(token, sizeof token, "%s", json_string_value(json_object_get(json_object_get(doc, "tokens"), "manager")));
    json_decref(doc);

    assert_true(pgc_ctl(&pg, "main", "stop -m immediate"));
    struct config cfg;
    config_defaults(&cfg);
    snprintf(cfg.listen, sizeof cfg.listen, "127.0.0.1:0");
    snprintf(cfg.migrations_dir, sizeof cfg.migrations_dir, "migrations");
    cfg.http_threads = THREADS;
    struct http_server *server = NULL;
    assert_int_equal(http_server_start(&cfg, conninfo, &server, &err), FLE_OK);
    char base[64];
    snprintf(base, sizeof base, "http://127.0.0.1:%u", (unsigned)http_server_port(server));
    for (int round = 0; round < 3; round++) { /* more requests than workers: each one's first and next */
        expect_unavailable(base, "GET", "/readyz", NULL, NULL);
        expect_unavailable(base, "GET", "/v1/me", token, NULL);
        expect_unavailable(base, "GET", "/v1/funds", token, NULL);
        expect_unavailable(base, "POST", "/v1/funds/1/entries", token,
                           "{\"effective_date\":\"2025-03-31\",\"memo\":\"down\",\"lines\":[]}");
    }

    assert_true(pgc_ctl(&pg, "main", "start"));
    /* Every worker answers within its backoff (at most DB_RECONNECT_BACKOFF_MAX_MS): 2 x THREADS
     * answers 200 in a row; meanwhile only 503. */
    unsigned ok = 0;
    struct httpc_resp r;
    for (int i = 0; i < RECOVER_MAX && ok < 2 * THREADS; i++) {
        assert_true(httpc_request(base, "GET", "/v1/me", token, NULL, NULL, NULL, &r));
        long status = r.status;
        if (status != 200 && status != 503) {
            fail_msg("GET /v1/me after the start: %ld %s", status, r.body);
        }
        ok = status == 200 ? ok + 1 : 0;
        httpc_resp_free(&r);
        if (status != 200) {
            usleep(50000);
        }
    }
    assert_int_equal(ok, 2 * THREADS);
    assert_true(httpc_request(base, "GET", "/readyz", NULL, NULL, NULL, NULL, &r));
    assert_int_equal(r.status, 200);
    httpc_resp_free(&r);
    http_server_stop(server);
    pgc_destroy(&pg);
}

int main(void)
{
    const char *level = getenv("FUNDLEDGER_LOG_LEVEL");
    log_set_level_name(level ? level : "error");
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_first_connection_backs_off),
                                       cmocka_unit_test(test_stopped_cluster_then_started)};
    return cmocka_run_group_tests_name("first database connection (HTTP)", tests, NULL, NULL);
}
