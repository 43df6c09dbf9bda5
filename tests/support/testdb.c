/* testdb: per-program test databases cloned from the migrated template. */
#include "testdb.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fundledger/cluster.h"

static char conninfo[1024];

#define SERVICE_USER " user=" CLUSTER_SERVICE_ROLE
#define OWNER_USER " user=" CLUSTER_OWNER_ROLE

/* The owner's conninfo for a service conninfo of testdb_create (ci with its user replaced);
 * other conninfo strings are used as they are. */
static void owner_ci(const char *ci, char *out, size_t cap)
{
    const char *u = strstr(ci, SERVICE_USER);
    if (u == NULL || u[strlen(SERVICE_USER)] != '\0') {
        snprintf(out, cap, "%s", ci);
        return;
    }
    snprintf(out, cap, "%.*s%s", (int)(u - ci), ci, OWNER_USER);
}

const char *testdb_owner(const char *ci)
{
    static _Thread_local char out[1024];
    owner_ci(ci, out, sizeof out);
    return out;
}

const char *testdb_create(const char *name)
{
    const char *host = getenv("FUNDLEDGER_TEST_PGHOST");
    const char *tpl = getenv("FUNDLEDGER_TEST_TEMPLATE");
    if (host == NULL || tpl == NULL) {
        fprintf(stderr, "testdb: run through tests/run.sh (make check): no test cluster\n");
        exit(2);
    }
    char admin[600];
    snprintf(admin, sizeof admin, "host=%s dbname=postgres" OWNER_USER, host);
    PGconn *c = PQconnectdb(admin);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "testdb: %s", PQerrorMessage(c));
        exit(2);
    }
    PQclear(PQexec(c, "SET client_min_messages = warning"));
    char sql[512];
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS t_%s", name);
    PQclear(PQexec(c, sql));
    snprintf(sql, sizeof sql, "CREATE DATABASE t_%s TEMPLATE %s", name, tpl);
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        fprintf(stderr, "testdb: %s", PQerrorMessage(c));
        exit(2);
    }
    PQclear(r);
    PQfinish(c);
    snprintf(conninfo, sizeof conninfo, "host=%s dbname=t_%s" SERVICE_USER, host, name);
    return conninfo;
}

struct db *testdb_open(const char *ci)
{
    struct db *db = NULL;
    struct fl_error err;
    fl_error_clear(&err);
    if (db_open(ci, true, 8, &db, &err) != FLE_OK) {
        fprintf(stderr, "testdb: open: %s\n", err.message);
        exit(2);
    }
    return db;
}

char *testdb_scalar(const char *ci, const char *sql)
{
    PGconn *c = PQconnectdb(testdb_owner(ci));
    char *out = NULL;
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0) {
        out = strdup(PQgetvalue(r, 0, 0));
    } else if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        fprintf(stderr, "testdb: %s", PQerrorMessage(c));
    }
    PQclear(r);
    PQfinish(c);
    return out;
}

long long testdb_int(const char *ci, const char *sql)
{
    char *v = testdb_scalar(ci, sql);
    char *end = NULL;
    long long n = v ? strtoll(v, &end, 10) : 0;
    bool ok = v != NULL && v[0] != '\0' && *end == '\0';
    if (!ok) {
        fprintf(stderr, "testdb: no integer from: %s\n", sql);
        free(v);
        exit(2);
    }
    free(v);
    return n;
}

bool testdb_exec(const char *ci, const char *sql)
{
    PGconn *c = PQconnectdb(testdb_owner(ci));
    PGresult *r = PQexec(c, sql);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
    PQclear(r);
    PQfinish(c);
    return ok;
}

char *testdb_refusal(const char *ci, const char *sql)
{
    PGconn *c = PQconnectdb(testdb_owner(ci));
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    char *msg = NULL;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        const char *m = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
        msg = strdup(m ? m : PQerrorMessage(c));
    }
    PQclear(r);
    PQfinish(c);
    return msg;
}

char *testdb_service_refusal(const char *ci, const char *sql, char sqlstate[6])
{
    PGconn *c = PQconnectdb(ci);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "testdb: %s", PQerrorMessage(c));
        exit(2);
    }
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    char *msg = NULL;
    sqlstate[0] = '\0';
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        const char *m = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
        const char *s = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        msg = strdup(m ? m : PQerrorMessage(c));
        snprintf(sqlstate, 6, "%s", s ? s : "?????");
    }
    PQclear(r);
    PQfinish(c);
    return msg;
}
