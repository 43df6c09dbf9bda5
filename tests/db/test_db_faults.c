/* test_db_faults: the db layer after a lost connection (its backend terminated between statements,
 * inside a transaction, or while a statement runs) and the mapping of database failures by cause:
 * a failed account or organisation look-up is the database's error, never the client's. */
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../support/testdb.h"
#include "fundledger/approval.h"
#include "fundledger/auth.h"
#include "fundledger/db.h"
#include "fundledger/fund.h"
#include "fundledger/log.h"
#include "fundledger/org.h"

#define WAIT_ROUNDS 200 /* bounded waits: 200 x 20 ms = 4 s */
#define WAIT_US 20000L

static const char *conninfo;
static struct principal manager;
static int64_t fund_id, account_id;

static int64_t backend_pid(struct db *db)
{
    struct fl_error err;
    fl_error_clear(&err);
    PGresult *r = db_exec_sql(db, "SELECT pg_backend_pid()", &err);
    assert_non_null(r);
    int64_t pid = db_i64(r, 0, 0);
    PQclear(r);
    return pid;
}

/* Terminates a backend from another connection and waits until it is gone. */
static void terminate(int64_t pid)
{
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT pg_terminate_backend(%" PRId64 ")", pid);
    char *ok = testdb_scalar(conninfo, sql);
    assert_non_null(ok);
    assert_string_equal(ok, "t");
    free(ok);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM pg_stat_activity WHERE pid = %" PRId64, pid);
    for (int i = 0; i < WAIT_ROUNDS; i++) {
        char *n = testdb_scalar(conninfo, sql);
        bool gone = n != NULL && strcmp(n, "0") == 0;
        free(n);
        if (gone) {
            return;
        }
        usleep(WAIT_US);
    }
    fail_msg("backend %" PRId64 " did not end", pid);
}

/* Waits until backend pid waits on a lock. */
static void wait_blocked(int64_t pid)
{
    char sql[200];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM pg_stat_activity WHERE pid = %" PRId64 " AND wait_event_type = 'Lock'",
             pid);
    for (int i = 0; i < WAIT_ROUNDS; i++) {
        char *n = testdb_scalar(conninfo, sql);
        bool blocked = n != NULL && strcmp(n, "1") == 0;
        free(n);
        if (blocked) {
            return;
        }
        usleep(WAIT_US);
    }
    fail_msg("backend %" PRId64 " never waited on the lock", pid);
}

/* A connection of the test's own holding an ACCESS EXCLUSIVE lock on table until released. It is
 * the owner's: the service role may not take that lock (it has no UPDATE, DELETE or TRUNCATE on
 * the tables the tests lock). */
static PGconn *lock_table(const char *table)
{
    PGconn *c = PQconnectdb(testdb_owner(conninfo));
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    char sql[128];
    snprintf(sql, sizeof sql, "BEGIN; LOCK TABLE %s IN ACCESS EXCLUSIVE MODE", table);
    PGresult *r = PQexec(c, sql);
    assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
    return c;
}

static void release(PGconn *c)
{
    PQclear(PQexec(c, "COMMIT"));
    PQfinish(c);
}

static long count_of(const char *sql)
{
    char *n = testdb_scalar(conninfo, sql);
    assert_non_null(n);
    long v = strtol(n, NULL, 10);
    free(n);
    return v;
}

struct fund_args {
    const struct principal *who;
};

static enum fl_err make_fund(struct db *db, void *arg, struct fl_error *err)
{
    struct fund_args *a = arg;
    json_t *f = fund_create(db, a->who, "FAULTS", "Faults fund", "COP", err);
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
    const char *level = getenv("FUNDLEDGER_LOG_LEVEL");
    log_set_level_name(level ? level : "error");
    conninfo = testdb_create("db_faults");
    struct db *db = testdb_open(conninfo);
    struct fl_error err;
    fl_error_clear(&err);
    manager.role = ROLE_FUND_MANAGER;
    snprintf(manager.name, sizeof manager.name, "faults.manager");
    if (auth_user_add(db, manager.name, ROLE_FUND_MANAGER, 0, &manager.user_id, &err) != FLE_OK) {
        fprintf(stderr, "test_db_faults: %s\n", err.message);
        db_close(db);
        return -1;
    }
    struct fund_args a = {&manager};
    enum fl_err e = db_tx(db, make_fund, &a, &err);
    db_close(db);
    if (e != FLE_OK) {
        fprintf(stderr, "test_db_faults: fund: %s\n", err.message);
        return -1;
    }
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT min(id) FROM account WHERE fund_id = %" PRId64, fund_id);
    account_id = count_of(sql);
    return account_id > 0 ? 0 : -1;
}

/* Between statements the backend ends (a restart, an administrator): the next call reconnects,
 * with the session's settings and the statement table, and answers. */
static void test_idle_loss_reconnects(void **state)
{
    (void)state;
    struct db *db = testdb_open(conninfo);
    int64_t pid = backend_pid(db);
    terminate(pid);
    struct fl_error err;
    fl_error_clear(&err);
    json_t *f = fund_get(db, fund_id, &err);
    assert_non_null(f);
    assert_string_equal(json_string_value(json_object_get(f, "code")), "FAULTS");
    json_decref(f);
    assert_true(backend_pid(db) != pid);
    PGresult *r = db_exec_sql(db, "SELECT current_setting('DateStyle'), current_setting('TimeZone')", &err);
    assert_non_null(r);
    assert_string_equal(db_str(r, 0, 0), "ISO, YMD");
    assert_string_equal(db_str(r, 0, 1), "UTC");
    PQclear(r);
    db_close(db);
}

/* A transaction whose connection is lost before COMMIT never committed: db_tx runs it again on a
 * new connection, whatever fn made of the failure (here a client error). */
struct lose_args {
    unsigned runs;
    unsigned lose_runs; /* the first lose_runs runs lose their connection */
    const char *name;
};

static enum fl_err write_then_lose(struct db *db, void *arg, struct fl_error *err)
{
    struct lose_args *a = arg;
    a->runs++;
    int64_t id = 0;
    enum fl_err e = auth_user_add(db, a->name, ROLE_AUDITOR, 0, &id, err);
    if (e != FLE_OK) {
        return e;
    }
    if (a->runs <= a->lose_runs) {
        terminate(backend_pid(db));
        json_t *f = fund_get(db, fund_id, err);
        assert_null(f);
        assert_int_equal(err->code, FLE_DB_UNAVAILABLE);
        return fl_error_set(err, FLE_BAD_FIELD, "x", "a misreported failure");
    }
    return FLE_OK;
}

static void test_tx_lost_runs_again(void **state)
{
    (void)state;
    struct db *db = testdb_open(conninfo);
    struct fl_error err;
    fl_error_clear(&err);
    struct lose_args a = {.lose_runs = 1, .name = "lost.once"};
    assert_int_equal(db_tx(db, write_then_lose, &a, &err), FLE_OK);
    assert_int_equal(a.runs, 2);
    assert_int_equal(count_of("SELECT count(*) FROM app_user WHERE name = 'lost.once'"), 1);

    /* Lost on every run: 503 (never fn's 400) after the bounded retries, nothing written. */
    struct lose_args b = {.lose_runs = 100, .name = "lost.always"};
    fl_error_clear(&err);
    assert_int_equal(db_tx(db, write_then_lose, &b, &err), FLE_DB_UNAVAILABLE);
    assert_int_equal(err.code, FLE_DB_UNAVAILABLE);
    assert_int_equal(b.runs, DB_LOST_RETRIES_MAX + 1);
    assert_int_equal(count_of("SELECT count(*) FROM app_user WHERE name = 'lost.always'"), 0);
    /* And the connection works afterwards. */
    json_t *f = fund_get(db, fund_id, &err);
    assert_non_null(f);
    json_decref(f);
    db_close(db);
}

/* A call outside a transaction, lost while it runs (blocked on a lock, then its backend ends). */
struct blocked_call {
    struct db *db;
    bool write;
    json_t *account;    /* the read's answer */
    enum fl_err result; /* the write's */
    struct fl_error err;
};

static void *blocked_call_run(void *arg)
{
    struct blocked_call *b = arg;
    fl_error_clear(&b->err);
    if (b->write) {
        int64_t id = 0;
        b->result = auth_user_add(b->db, "lost.mid.write", ROLE_AUDITOR, 0, &id, &b->err);
    } else {
        b->account = fund_account_get(b->db, account_id, NULL, &b->err);
    }
    return NULL;
}

static void lose_mid_statement(struct blocked_call *b, const char *table)
{
    b->db = testdb_open(conninfo);
    int64_t pid = backend_pid(b->db);
    PGconn *holder = lock_table(table);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, blocked_call_run, b), 0);
    wait_blocked(pid);
    terminate(pid);
    release(holder);
    pthread_join(t, NULL);
}

static void test_read_lost_mid_statement_runs_again(void **state)
{
    (void)state;
    struct blocked_call b = {.write = false};
    lose_mid_statement(&b, "account");
    assert_non_null(b.account);
    assert_int_equal(json_integer_value(json_object_get(b.account, "id")), account_id);
    json_decref(b.account);
    db_close(b.db);
}

static void test_write_lost_mid_statement_not_repeated(void **state)
{
    (void)state;
    struct blocked_call b = {.write = true};
    lose_mid_statement(&b, "app_user");
    /* Its outcome is unknown to the caller: 503, and it was not run a second time. */
    assert_int_equal(b.result, FLE_DB_UNAVAILABLE);
    assert_non_null(strstr(b.err.message, "outcome is unknown"));
    assert_int_equal(count_of("SELECT count(*) FROM app_user WHERE name = 'lost.mid.write'"), 0);
    db_close(b.db);
}

/* journal_propose with the account look-up failing in the database (a lock timeout here): the
 * database's error (500), not 400 "no account in this fund". */
static enum fl_err propose_entry(struct db *db, void *arg, struct fl_error *err)
{
    (void)arg;
    struct journal_line_input lines[2] = {{account_id, "1.00", NULL}, {account_id, NULL, "1.00"}};
    json_t *p = journal_propose(db, &manager, fund_id, "2025-03-31", "fault", lines, 2, err);
    json_decref(p);
    return p ? FLE_OK : err->code;
}

static void test_db_failure_is_not_a_client_error(void **state)
{
    (void)state;
    struct db *db = testdb_open(conninfo);
    struct fl_error err;
    fl_error_clear(&err);
    PGresult *r = db_exec_sql(db, "SET lock_timeout = '100ms'", &err);
    assert_non_null(r);
    PQclear(r);
    PGconn *holder = lock_table("account");
    assert_int_equal(db_tx(db, propose_entry, NULL, &err), FLE_INTERNAL);
    assert_int_equal(err.code, FLE_INTERNAL);
    release(holder);

    holder = lock_table("organisation");
    fl_error_clear(&err);
    json_t *o = org_get_kind(db, 1, "investor", "organisation_id", &err);
    assert_null(o);
    assert_int_equal(err.code, FLE_INTERNAL);
    release(holder);
    /* Without the lock, a missing organisation is the client's error. */
    fl_error_clear(&err);
    assert_null(org_get_kind(db, 999999, "investor", "organisation_id", &err));
    assert_int_equal(err.code, FLE_BAD_FIELD);
    assert_string_equal(err.field, "organisation_id");
    db_close(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_idle_loss_reconnects),
        cmocka_unit_test(test_tx_lost_runs_again),
        cmocka_unit_test(test_read_lost_mid_statement_runs_again),
        cmocka_unit_test(test_write_lost_mid_statement_not_repeated),
        cmocka_unit_test(test_db_failure_is_not_a_client_error),
    };
    return cmocka_run_group_tests_name("database faults", tests, setup, NULL);
}
