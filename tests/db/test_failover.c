/* test_failover: a connection string naming a primary and its streaming standby with
 * target_session_attrs=read-write follows the standby once it is promoted and the primary is
 * gone: the same struct db, without being reopened, reads what the primary wrote and writes on
 * the new primary; while no server takes writes, calls fail with FLE_DB_UNAVAILABLE (503). */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../support/pgcluster.h"
#include "../support/testdb.h"
#include "fundledger/auth.h"
#include "fundledger/db.h"
#include "fundledger/log.h"
#include "fundledger/migrate.h"

#define WAIT_ROUNDS 200   /* bounded waits: 200 x 50 ms = 10 s */
#define WAIT_US 50000L

static struct pgc pg;
static char primary_ci[700], standby_ci[700], both_ci[1400];

static int setup(void **state)
{
    (void)state;
    const char *level = getenv("FUNDLEDGER_LOG_LEVEL");
    log_set_level_name(level ? level : "error");
    if (!pgc_init(&pg, "failover") || !pgc_node_create(&pg, "primary")) {
        return -1;
    }
    char sp[PGC_PATH_BYTES], ss[PGC_PATH_BYTES], admin[700];
    pgc_socket(&pg, "primary", sp);
    pgc_socket(&pg, "standby", ss);
    snprintf(admin, sizeof admin, "host=%s dbname=postgres user=fundledger", sp);
    if (!testdb_exec(admin, "CREATE DATABASE fl_failover")) {
        return -1;
    }
    snprintf(primary_ci, sizeof primary_ci, "host=%s dbname=fl_failover user=fundledger", sp);
    snprintf(standby_ci, sizeof standby_ci, "host=%s dbname=fl_failover user=fundledger", ss);
    /* Both sockets use the default port: one port serves both hosts. */
    snprintf(both_ci, sizeof both_ci,
             "host=%s,%s dbname=fl_failover user=fundledger target_session_attrs=read-write connect_timeout=5", sp, ss);
    struct fl_error err;
    fl_error_clear(&err);
    struct db *db = NULL;
    unsigned applied = 0;
    if (db_open(primary_ci, false, 8, &db, &err) != FLE_OK || migrate_apply(db, "migrations", &applied, &err) != FLE_OK) {
        fprintf(stderr, "test_failover: migrate: %s\n", err.message);
        db_close(db);
        return -1;
    }
    db_close(db);
    return pgc_standby_create(&pg, "primary", "standby") ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    pgc_destroy(&pg);
    return 0;
}

/* The data directory of the server db is connected to: which of the two it is. */
static char *server_of(struct db *db)
{
    struct fl_error err;
    fl_error_clear(&err);
    PGresult *r = db_exec_sql(db, "SELECT current_setting('data_directory')", &err);
    if (r == NULL) {
        fail_msg("data_directory: %s", err.message);
    }
    char *dir = strdup(db_str(r, 0, 0));
    PQclear(r);
    return dir;
}

static bool ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), t = strlen(tail);
    return n >= t && strcmp(s + n - t, tail) == 0;
}

static void test_follows_promoted_standby(void **state)
{
    (void)state;
    struct db *db = testdb_open(both_ci);
    char *where = server_of(db);
    assert_true(ends_with(where, "/primary"));
    free(where);
    struct fl_error err;
    fl_error_clear(&err);
    int64_t before_id = 0, after_id = 0, found = 0;
    assert_int_equal(auth_user_add(db, "written.on.primary", ROLE_AUDITOR, 0, &before_id, &err), FLE_OK);

    /* The standby has replayed it (hot standby reads). */
    bool replayed = false;
    for (int i = 0; i < WAIT_ROUNDS && !replayed; i++) {
        char *n = testdb_scalar(standby_ci, "SELECT count(*) FROM app_user WHERE name = 'written.on.primary'");
        replayed = n != NULL && strcmp(n, "1") == 0;
        free(n);
        if (!replayed) {
            usleep(WAIT_US);
        }
    }
    assert_true(replayed);

    /* The primary goes away; the standby is still read-only: no server takes writes, so the
     * read-write connection string finds none and every call is "unavailable", never another error. */
    assert_true(pgc_ctl(&pg, "primary", "stop -m immediate"));
    fl_error_clear(&err);
    assert_int_equal(auth_user_find(db, "written.on.primary", &found, &err), FLE_DB_UNAVAILABLE);
    fl_error_clear(&err);
    assert_int_equal(auth_user_add(db, "not.written", ROLE_AUDITOR, 0, &after_id, &err), FLE_DB_UNAVAILABLE);

    /* Promoted, the standby takes writes; the same struct db reconnects to it within the backoff. */
    assert_true(pgc_ctl(&pg, "standby", "promote"));
    enum fl_err e = FLE_DB_UNAVAILABLE;
    for (int i = 0; i < WAIT_ROUNDS && e == FLE_DB_UNAVAILABLE; i++) {
        fl_error_clear(&err);
        e = auth_user_find(db, "written.on.primary", &found, &err);
        if (e == FLE_DB_UNAVAILABLE) {
            usleep(WAIT_US);
        }
    }
    assert_int_equal(e, FLE_OK);
    assert_int_equal(found, before_id);
    where = server_of(db);
    assert_true(ends_with(where, "/standby"));
    free(where);
    fl_error_clear(&err);
    assert_int_equal(auth_user_add(db, "written.on.standby", ROLE_AUDITOR, 0, &after_id, &err), FLE_OK);
    assert_true(after_id > before_id);
    char *n = testdb_scalar(standby_ci, "SELECT count(*) FROM app_user WHERE name = 'written.on.standby'");
    assert_non_null(n);
    assert_string_equal(n, "1");
    free(n);
    n = testdb_scalar(standby_ci, "SELECT count(*) FROM app_user WHERE name = 'not.written'");
    assert_non_null(n);
    assert_string_equal(n, "0");
    free(n);
    db_close(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_follows_promoted_standby)};
    return cmocka_run_group_tests_name("failover to a promoted standby", tests, setup, teardown);
}
