/* test_signals: the real binary ($FUNDLEDGER_BIN serve) and its signals: SIGHUP re-reads the
 * configuration and keeps serving (never a silent death); SIGTERM and SIGINT stop accepting, let
 * a request in flight finish with its full reply, close the database and exit 0. */
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
#include <signal.h>
#include <spawn.h>
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
#include "fundledger/demo.h"
#include "fundledger/log.h"

extern char **environ;

#define TOKEN_BYTES 128
#define REPLY_BYTES 65536

static const char *conninfo;
static char manager_token[TOKEN_BYTES];
static char log_path[600];

struct child {
    pid_t pid;
    unsigned port;
    char url[64];
};

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

static unsigned free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    socklen_t len = sizeof sa;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    close(fd);
    return ntohs(sa.sin_port);
}

/* `fundledger serve` on this test's database with http_shutdown_grace_s = grace_s, its stderr
 * (the log) in log_path. */
static void child_start_grace(struct child *c, unsigned grace_s)
{
    const char *bin = getenv("FUNDLEDGER_BIN");
    if (bin == NULL || bin[0] == '\0') {
        fail_msg("FUNDLEDGER_BIN is not set: run through tests/run.sh");
    }
    c->port = free_port();
    snprintf(c->url, sizeof c->url, "http://127.0.0.1:%u", c->port);
    static char listen_env[64], db_env[1200], grace_env[64];
    snprintf(grace_env, sizeof grace_env, "FUNDLEDGER_HTTP_SHUTDOWN_GRACE_S=%u", grace_s);
    snprintf(listen_env, sizeof listen_env, "FUNDLEDGER_LISTEN=127.0.0.1:%u", c->port);
    snprintf(db_env, sizeof db_env, "FUNDLEDGER_DATABASE_URL=%s", conninfo);
    static char *extra[] = {listen_env, db_env, "FUNDLEDGER_HTTP_THREADS=2", "FUNDLEDGER_LOG_LEVEL=info", grace_env};
    size_t n = 0;
    while (environ[n] != NULL) {
        n++;
    }
    char **envp = calloc(n + sizeof extra / sizeof *extra + 1, sizeof *envp);
    assert_non_null(envp);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        bool ours = false;
        for (size_t j = 0; j < sizeof extra / sizeof *extra; j++) {
            size_t eq = (size_t)(strchr(extra[j], '=') - extra[j]) + 1;
            ours |= strncmp(environ[i], extra[j], eq) == 0;
        }
        if (!ours) {
            envp[k++] = environ[i];
        }
    }
    for (size_t j = 0; j < sizeof extra / sizeof *extra; j++) {
        envp[k++] = extra[j];
    }
    envp[k] = NULL;
    posix_spawn_file_actions_t fa;
    assert_int_equal(posix_spawn_file_actions_init(&fa), 0);
    assert_int_equal(posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0), 0);
    assert_int_equal(posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600),
                     0);
    char *const argv[] = {(char *)bin, "serve", NULL};
    int rc = posix_spawn(&c->pid, bin, &fa, NULL, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    free(envp);
    assert_int_equal(rc, 0);
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
        sleep_ms(50);
    }
    kill(c->pid, SIGKILL);
    waitpid(c->pid, NULL, 0);
    fail_msg("fundledger serve did not answer /healthz within 10 s");
}

static void child_start(struct child *c)
{
    child_start_grace(c, 20);
}

/* Waits at most timeout_ms for the child; its wait status, or -1 when it is still running (then
 * it is killed). */
static int child_wait(struct child *c, long timeout_ms)
{
    long t0 = now_ms();
    int st = 0;
    while (now_ms() - t0 < timeout_ms) {
        if (waitpid(c->pid, &st, WNOHANG) == c->pid) {
            return st;
        }
        sleep_ms(20);
    }
    kill(c->pid, SIGKILL);
    waitpid(c->pid, NULL, 0);
    return -1;
}

/* The child's log holds text. */
static bool log_has(const char *text)
{
    FILE *f = fopen(log_path, "r");
    if (f == NULL) {
        return false;
    }
    static char buf[REPLY_BYTES];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return strstr(buf, text) != NULL;
}

static int raw_connect(unsigned port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

/* Reads until the peer closes or timeout_ms pass; NUL-terminated. */
static size_t read_all(int fd, char *buf, size_t cap, long timeout_ms)
{
    size_t got = 0;
    long t0 = now_ms();
    while (got < cap - 1 && now_ms() - t0 < timeout_ms) {
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        if (poll(&pf, 1, 200) <= 0) {
            continue;
        }
        ssize_t n = recv(fd, buf + got, cap - 1 - got, 0);
        if (n <= 0) {
            break;
        }
        got += (size_t)n;
    }
    buf[got] = '\0';
    return got;
}

static int setup(void **state)
{
    (void)state;
    const char *level = getenv("FUNDLEDGER_LOG_LEVEL");
    log_set_level_name(level ? level : "warn");
    conninfo = testdb_create("http_signals");
    char cred[512];
    json_t *doc;
    if (!demo_fixture_load(conninfo, "test_signals", "signals", &doc, cred, sizeof cred)) {
        return -1;
    }
    snprintf(log_path, sizeof log_path, "%s.log", cred);
    const char *t = json_string_value(json_object_get(json_object_get(doc, "tokens"), "manager"));
    bool ok = t != NULL && strlen(t) < TOKEN_BYTES;
    if (ok) {
        snprintf(manager_token, sizeof manager_token, "%s", t);
    }
    json_decref(doc);
    return ok ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    remove(log_path);
    return 0;
}

/* SIGHUP: the server says so in its log and keeps serving (it used to die without a word); then
 * SIGINT stops it cleanly. */
static void test_sighup_keeps_serving(void **state)
{
    (void)state;
    struct child c;
    child_start(&c);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(kill(c.pid, SIGHUP), 0);
        sleep_ms(300);
        struct httpc_resp r;
        bool ok = httpc_request(c.url, "GET", "/v1/funds", manager_token, NULL, NULL, NULL, &r) && r.status == 200;
        httpc_resp_free(&r);
        if (!ok) {
            child_wait(&c, 0);
            fail_msg("no answer after SIGHUP %d", i + 1);
        }
    }
    assert_int_equal(waitpid(c.pid, NULL, WNOHANG), 0); /* still running */
    assert_true(log_has("SIGHUP: configuration re-read; log_level is info"));
    assert_int_equal(kill(c.pid, SIGINT), 0);
    int st = child_wait(&c, 20000);
    assert_true(st != -1 && WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    assert_true(log_has("SIGINT: stopping"));
    assert_true(log_has("serve: stopped; database connections closed"));
}

/* SIGTERM while a request is in flight (its body half sent): new connections are refused at
 * once, the request finishes and its client gets the full 201 reply, and the process exits 0.
 * The proposal it made is in the database exactly once. */
static void test_sigterm_finishes_in_flight(void **state)
{
    (void)state;
    struct child c;
    child_start(&c);
    char *fund = testdb_scalar(conninfo, "SELECT id FROM fund WHERE code = 'HSP-ELCHARCO'");
    char *cash = testdb_scalar(conninfo, "SELECT a.id FROM account a JOIN fund f ON f.id = a.fund_id "
                                         "WHERE f.code = 'HSP-ELCHARCO' AND a.code = '1000'");
    char *capital = testdb_scalar(conninfo, "SELECT a.id FROM account a JOIN fund f ON f.id = a.fund_id "
                                            "WHERE f.code = 'HSP-ELCHARCO' AND a.code = '3000'");
    assert_non_null(fund);
    assert_non_null(cash);
    assert_non_null(capital);
    char body[512], head[1024];
    int blen = snprintf(body, sizeof body,
                        "{\"effective_date\":\"2026-02-02\",\"memo\":\"in flight at SIGTERM\",\"lines\":["
                        "{\"account_id\":%s,\"debit\":\"123.45\"},{\"account_id\":%s,\"credit\":\"123.45\"}]}",
                        cash, capital);
    int hlen = snprintf(head, sizeof head,
                        "POST /v1/funds/%s/entries HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer %s\r\n"
                        "Idempotency-Key: sigterm-1\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n",
                        fund, manager_token, blen);
    free(fund);
    free(cash);
    free(capital);
    int fd = raw_connect(c.port);
    assert_true(fd >= 0);
    assert_int_equal(send(fd, head, (size_t)hlen, MSG_NOSIGNAL), hlen);
    int half = blen / 2;
    assert_int_equal(send(fd, body, (size_t)half, MSG_NOSIGNAL), half);
    sleep_ms(300);
    assert_int_equal(kill(c.pid, SIGTERM), 0);
    sleep_ms(500);
    /* Stopped accepting: a new client is refused, while the old request is still open. */
    int late = raw_connect(c.port);
    int late_errno = errno;
    if (late >= 0) {
        close(late);
    }
    assert_int_equal(late, -1);
    assert_int_equal(late_errno, ECONNREFUSED);
    assert_int_equal(waitpid(c.pid, NULL, WNOHANG), 0); /* waiting for the request */
    /* The rest of the body: the full reply comes back. */
    assert_int_equal(send(fd, body + half, (size_t)(blen - half), MSG_NOSIGNAL), blen - half);
    static char reply[REPLY_BYTES];
    read_all(fd, reply, sizeof reply, 15000);
    close(fd);
    if (strncmp(reply, "HTTP/1.1 201", 12) != 0) {
        fail_msg("expected a 201 reply, got: %s", reply);
    }
    assert_non_null(strstr(reply, "Connection: close"));
    const char *json = strstr(reply, "\r\n\r\n");
    assert_non_null(json);
    json_error_t je;
    json_t *j = json_loads(json + 4, 0, &je);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "status")), "pending");
    assert_string_equal(json_string_value(json_object_get(j, "amount")), "123.45");
    json_decref(j);
    int st = child_wait(&c, 20000);
    assert_true(st != -1 && WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    assert_true(log_has("SIGTERM: stopping"));
    assert_true(log_has("server: stopping; 1 request(s) in flight"));
    assert_true(log_has("serve: stopped; database connections closed"));
    char *n = testdb_scalar(conninfo, "SELECT count(*) FROM proposal WHERE payload->>'memo' = 'in flight at SIGTERM'");
    assert_non_null(n);
    assert_string_equal(n, "1");
    free(n);
}

/* SIGTERM while a slow handler runs: a statement import of many lines (each a small repayment
 * applied to an active loan, seconds of work), sent whole just before the signal. Its client gets
 * the full 200 report with every line applied, and the process exits 0. */
static void test_sigterm_finishes_slow_import(void **state)
{
    (void)state;
    enum { LINES = 4000 };
    char *fund = testdb_scalar(conninfo, "SELECT id FROM fund WHERE code = 'HSP-ELCHARCO'");
    char *loan = testdb_scalar(conninfo, "SELECT l.id FROM loan l JOIN fund f ON f.id = l.fund_id "
                                         "WHERE f.code = 'HSP-ELCHARCO' AND l.status = 'active' ORDER BY l.id LIMIT 1");
    assert_non_null(fund);
    assert_non_null(loan);
    size_t cap = 64 + (size_t)LINES * 64;
    char *csv = malloc(cap);
    assert_non_null(csv);
    char today[16];
    time_t now = time(NULL);
    struct tm tm;
    strftime(today, sizeof today, "%Y-%m-%d", gmtime_r(&now, &tm));
    size_t len = (size_t)snprintf(csv, cap, "loan_id,amount,value_date,reference\n");
    for (int i = 0; i < LINES; i++) {
        len += (size_t)snprintf(csv + len, cap - len, "%s,0.01,%s,SIGTERM-%d\n", loan, today, i);
    }
    char head[1024];
    int hlen = snprintf(head, sizeof head,
                        "POST /v1/funds/%s/repayments/import HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer %s\r\n"
                        "Idempotency-Key: sigterm-import\r\nContent-Type: text/csv\r\nContent-Length: %zu\r\n\r\n",
                        fund, manager_token, len);
    free(fund);
    struct child c;
    child_start(&c);
    int fd = raw_connect(c.port);
    assert_true(fd >= 0);
    assert_int_equal(send(fd, head, (size_t)hlen, MSG_NOSIGNAL), hlen);
    assert_int_equal(send(fd, csv, len, MSG_NOSIGNAL), (ssize_t)len);
    free(csv);
    sleep_ms(100);
    assert_int_equal(kill(c.pid, SIGTERM), 0);
    static char reply[REPLY_BYTES * 16];
    read_all(fd, reply, sizeof reply, 60000);
    close(fd);
    if (strncmp(reply, "HTTP/1.1 200", 12) != 0) {
        fail_msg("expected a 200 reply, got: %.300s", reply);
    }
    const char *json = strstr(reply, "\r\n\r\n");
    assert_non_null(json);
    json_error_t je;
    json_t *j = json_loads(json + 4, 0, &je);
    if (j == NULL) {
        fail_msg("the reply body is not whole JSON: %s", je.text);
    }
    assert_int_equal(json_integer_value(json_object_get(j, "lines")), LINES);
    assert_int_equal(json_integer_value(json_object_get(j, "applied")), LINES);
    assert_string_equal(json_string_value(json_object_get(j, "amount_applied")), "40.00");
    json_decref(j);
    int st = child_wait(&c, 60000);
    assert_true(st != -1 && WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    /* The import was still running when the signal came. */
    assert_true(log_has("server: stopping; 1 request(s) in flight"));
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM repayment WHERE loan_id = %s AND reference LIKE 'SIGTERM-%%'",
             loan);
    free(loan);
    char *n = testdb_scalar(conninfo, sql);
    assert_non_null(n);
    assert_string_equal(n, "4000");
    free(n);
}

/* The grace is a bound: a request that never completes (half its body, then nothing) does not
 * keep a stopping server alive past http_shutdown_grace_s; the process still exits 0, and the
 * client sees its connection closed without a reply. */
static void test_sigterm_grace_is_bounded(void **state)
{
    (void)state;
    struct child c;
    child_start_grace(&c, 1);
    int fd = raw_connect(c.port);
    assert_true(fd >= 0);
    const char *head = "POST /v1/funds HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                       "Idempotency-Key: never-finished\r\nContent-Length: 1000\r\n\r\n{\"code\":";
    assert_int_equal(send(fd, head, strlen(head), MSG_NOSIGNAL), (ssize_t)strlen(head));
    sleep_ms(200);
    long t0 = now_ms();
    assert_int_equal(kill(c.pid, SIGTERM), 0);
    int st = child_wait(&c, 15000);
    long took = now_ms() - t0;
    assert_true(st != -1 && WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    assert_true(took >= 900);   /* it waited for the request ... */
    assert_true(took <= 10000); /* ... for about the grace, not for ever */
    char reply[256];
    assert_int_equal(read_all(fd, reply, sizeof reply, 2000), 0);
    close(fd);
    assert_true(log_has("request(s) still in flight after 1s; they are cut"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sighup_keeps_serving),
        cmocka_unit_test(test_sigterm_finishes_in_flight),
        cmocka_unit_test(test_sigterm_finishes_slow_import),
        cmocka_unit_test(test_sigterm_grace_is_bounded),
    };
    return cmocka_run_group_tests_name("signals (fundledger serve)", tests, setup, teardown);
}
