/* test_unavailable: with its database unreachable the server stays up, answers /healthz, and
 * every route that needs the database answers 503 database_unavailable in the error shape. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "../support/httpc.h"
#include "fundledger/config.h"
#include "fundledger/http.h"
#include "fundledger/log.h"

static struct config cfg;
static struct http_server *server;
static char base[64];

static int setup(void **state)
{
    (void)state;
    log_set_level_name("error");
    config_defaults(&cfg);
    snprintf(cfg.listen, sizeof cfg.listen, "127.0.0.1:0");
    snprintf(cfg.migrations_dir, sizeof cfg.migrations_dir, "migrations");
    struct fl_error err;
    fl_error_clear(&err);
    /* A socket directory where no PostgreSQL listens. */
    if (http_server_start(&cfg, "host=/nonexistent-fundledger dbname=x user=x connect_timeout=2", &server, &err) !=
        FLE_OK) {
        fprintf(stderr, "test_unavailable: %s\n", err.message);
        return -1;
    }
    snprintf(base, sizeof base, "http://127.0.0.1:%u", (unsigned)http_server_port(server));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    http_server_stop(server);
    return 0;
}

static void expect_503(const char *method, const char *path, const char *body)
{
    struct httpc_resp r;
    const char *token = "fl_0000000000000000000000000000000000000000000000000000000000000000";
    assert_true(httpc_request(base, method, path, token, body ? "k-1" : NULL, NULL, body, &r));
    assert_int_equal(r.status, 503);
    json_t *e = json_object_get(r.json, "error");
    assert_string_equal(json_string_value(json_object_get(e, "code")), "database_unavailable");
    assert_non_null(json_object_get(e, "message"));
    assert_non_null(json_object_get(e, "field"));
    httpc_resp_free(&r);
}

static void test_database_unavailable(void **state)
{
    (void)state;
    struct httpc_resp r;
    assert_true(httpc_request(base, "GET", "/healthz", NULL, NULL, NULL, NULL, &r));
    assert_int_equal(r.status, 200);
    httpc_resp_free(&r);
    expect_503("GET", "/readyz", NULL);
    expect_503("GET", "/v1/me", NULL);
    expect_503("GET", "/v1/funds", NULL);
    expect_503("POST", "/v1/funds", "{\"code\":\"X\",\"name\":\"X\",\"base_currency\":\"COP\"}");
    /* Still alive after the refusals. */
    assert_true(httpc_request(base, "GET", "/healthz", NULL, NULL, NULL, NULL, &r));
    assert_int_equal(r.status, 200);
    httpc_resp_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_database_unavailable)};
    return cmocka_run_group_tests_name("database unavailable (HTTP)", tests, setup, teardown);
}
