/* db: libpq connections, the prepared statement table, error mapping and transactions. */
#include "fundledger/db.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fundledger/log.h"

struct db {
    PGconn *pg;
    unsigned tx_retries_max;
    bool in_tx;
    char sqlstate[6];
};

PGconn *db_pg(struct db *db)
{
    assert(db != NULL);
    return db->pg;
}

const char *db_last_sqlstate(const struct db *db)
{
    return db->sqlstate;
}

bool db_in_tx(const struct db *db)
{
    return db->in_tx;
}

static enum fl_err prepare_all(struct db *db, struct fl_error *err)
{
    for (unsigned i = 0; i < db_statements_count; i++) {
        PGresult *r = PQprepare(db->pg, db_statements[i].name, db_statements[i].sql, 0, NULL);
        bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        if (!ok) {
            log_error("db: cannot prepare %s: %s", db_statements[i].name, PQerrorMessage(db->pg));
        }
        PQclear(r);
        if (!ok) {
            return fl_error_set(err, FLE_INTERNAL, NULL,
                                "database schema does not match this build (statement %s); run migrate",
                                db_statements[i].name);
        }
    }
    return FLE_OK;
}

enum fl_err db_open(const char *conninfo, bool prepare, unsigned tx_retries_max, struct db **out,
                    struct fl_error *err)
{
    assert(conninfo != NULL && out != NULL);
    *out = NULL;
    struct db *db = calloc(1, sizeof *db);
    if (db == NULL) {
        return fl_error_set(err, FLE_INTERNAL, NULL, "out of memory");
    }
    db->tx_retries_max = tx_retries_max;
    db->pg = PQconnectdb(conninfo);
    if (db->pg == NULL || PQstatus(db->pg) != CONNECTION_OK) {
        /* libpq's message may echo the connection string's host but never a password field. */
        log_error("db: cannot connect: %s", db->pg ? PQerrorMessage(db->pg) : "out of memory");
        db_close(db);
        return fl_error_set(err, FLE_DB_UNAVAILABLE, NULL, "cannot connect to the database");
    }
    /* Dates and times are read as text: fix their form for every session. */
    PGresult *set = PQexec(db->pg, "SET application_name = 'fundledger'; SET DateStyle = 'ISO, YMD'; "
                                   "SET TimeZone = 'UTC'; SET IntervalStyle = 'iso_8601'; SET client_min_messages = warning");
    bool set_ok = PQresultStatus(set) == PGRES_COMMAND_OK;
    PQclear(set);
    if (!set_ok) {
        db_close(db);
        return fl_error_set(err, FLE_DB_UNAVAILABLE, NULL, "cannot configure the database session");
    }
    if (prepare) {
        enum fl_err e = prepare_all(db, err);
        if (e != FLE_OK) {
            db_close(db);
            return e;
        }
    }
    *out = db;
    return FLE_OK;
}

void db_close(struct db *db)
{
    if (db == NULL) {
        return;
    }
    if (db->pg != NULL) {
        PQfinish(db->pg);
    }
    free(db);
}

/* Maps a failed result to an error, remembering the SQLSTATE. Clears r. */
static PGresult *fail(struct db *db, PGresult *r, const char *what, struct fl_error *err)
{
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    snprintf(db->sqlstate, sizeof db->sqlstate, "%s", state ? state : "");
    const char *msg = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    if (msg == NULL) {
        msg = PQerrorMessage(db->pg);
    }
    /* Class 08 is a lost or refused connection, except 08P01, a protocol violation (a bug). */
    bool lost = PQstatus(db->pg) != CONNECTION_OK ||
                (state && strncmp(state, "08", 2) == 0 && strcmp(state, "08P01") != 0) ||
                (state && strncmp(state, "57P", 3) == 0);
    if (lost) {
        log_error("db: %s: connection lost: %s", what, msg);
        fl_error_set(err, FLE_DB_UNAVAILABLE, NULL, "the database connection was lost");
    } else if (state && strcmp(state, "23505") == 0) {
        fl_error_set(err, FLE_DUPLICATE, NULL, "%s", msg);
    } else if (state && (strcmp(state, "23514") == 0 || strcmp(state, "23503") == 0 ||
                         strcmp(state, "P0001") == 0 || strcmp(state, "23502") == 0 ||
                         strcmp(state, "22003") == 0)) {
        /* Our own CHECKs and triggers: their message is written for people and safe to show. */
        fl_error_set(err, FLE_RULE, NULL, "%s", msg);
    } else if (state && (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0)) {
        fl_error_set(err, FLE_CONFLICT, NULL, "concurrent update; retry");
    } else {
        log_error("db: %s failed (%s): %s", what, state ? state : "-", msg);
        fl_error_set(err, FLE_INTERNAL, NULL, "database error");
    }
    PQclear(r);
    return NULL;
}

static PGresult *check(struct db *db, PGresult *r, const char *what, struct fl_error *err)
{
    ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
        db->sqlstate[0] = '\0';
        return r;
    }
    return fail(db, r, what, err);
}

PGresult *db_exec(struct db *db, const char *stmt, int n, const char *const *params,
                  struct fl_error *err)
{
    assert(db != NULL && stmt != NULL && n >= 0);
    PGresult *r = PQexecPrepared(db->pg, stmt, n, params, NULL, NULL, 0);
    return check(db, r, stmt, err);
}

PGresult *db_exec_sql(struct db *db, const char *sql, struct fl_error *err)
{
    assert(db != NULL && sql != NULL);
    return check(db, PQexec(db->pg, sql), "sql", err);
}

PGresult *db_exec_rows(struct db *db, const char *stmt, int n, const char *const *params, int rows,
                       struct fl_error *err)
{
    PGresult *r = db_exec(db, stmt, n, params, err);
    if (r == NULL) {
        return NULL;
    }
    const char *tuples = PQcmdTuples(r);
    int got = PQresultStatus(r) == PGRES_TUPLES_OK ? PQntuples(r) : atoi(tuples);
    if (got != rows) {
        PQclear(r);
        if (got == 0) {
            fl_error_set(err, FLE_NOT_FOUND, NULL, "not found");
        } else {
            log_error("db: %s: %d rows, expected %d", stmt, got, rows);
            fl_error_set(err, FLE_INTERNAL, NULL, "database error");
        }
        return NULL;
    }
    return r;
}

static bool simple(struct db *db, const char *sql, struct fl_error *err)
{
    PGresult *r = db_exec_sql(db, sql, err);
    PQclear(r);
    return r != NULL;
}

static bool retryable(const struct db *db)
{
    return strcmp(db->sqlstate, "40001") == 0 || strcmp(db->sqlstate, "40P01") == 0;
}

/* Reconnects a connection found lost between transactions (never inside one). */
static bool connected(struct db *db, struct fl_error *err)
{
    if (PQstatus(db->pg) != CONNECTION_OK) {
        PQreset(db->pg);
        if (PQstatus(db->pg) != CONNECTION_OK || prepare_all(db, err) != FLE_OK) {
            fl_error_set(err, FLE_DB_UNAVAILABLE, NULL, "cannot connect to the database");
            return false;
        }
    }
    return true;
}

enum fl_err db_tx(struct db *db, db_tx_fn fn, void *arg, struct fl_error *err)
{
    assert(db != NULL && fn != NULL);
    assert(!db->in_tx);
    if (!connected(db, err)) {
        return FLE_DB_UNAVAILABLE;
    }
    for (unsigned attempt = 0; attempt <= db->tx_retries_max; attempt++) {
        if (!simple(db, "BEGIN", err)) {
            return err ? err->code : FLE_INTERNAL;
        }
        db->in_tx = true;
        enum fl_err e = fn(db, arg, err);
        if (e == FLE_OK && simple(db, "COMMIT", err)) {
            db->in_tx = false;
            return FLE_OK;
        }
        if (e == FLE_OK) {
            e = err ? err->code : FLE_INTERNAL; /* COMMIT failed: a deferred check, or a retry */
        }
        bool again = retryable(db);
        PQclear(PQexec(db->pg, "ROLLBACK"));
        db->in_tx = false;
        if (!again) {
            return e;
        }
        log_debug("db: transaction retried after %s (attempt %u)", db->sqlstate, attempt + 1);
    }
    return fl_error_set(err, FLE_CONFLICT, NULL, "too much concurrent activity; retry");
}

PGresult *db_exec_commit(struct db *db, const char *stmt, int n, const char *const *params,
                         struct fl_error *err)
{
    assert(db != NULL && stmt != NULL);
    assert(!db->in_tx);
    if (!connected(db, err)) {
        return NULL;
    }
    for (unsigned attempt = 0; attempt <= db->tx_retries_max; attempt++) {
        PGresult *r = db_exec(db, stmt, n, params, err);
        if (r != NULL || !retryable(db)) {
            return r;
        }
        log_debug("db: %s retried after %s (attempt %u)", stmt, db->sqlstate, attempt + 1);
    }
    fl_error_set(err, FLE_CONFLICT, NULL, "too much concurrent activity; retry");
    return NULL;
}

int64_t db_i64(const PGresult *r, int row, int col)
{
    if (PQgetisnull(r, row, col)) {
        return 0;
    }
    return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

const char *db_str(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? "" : PQgetvalue(r, row, col);
}

bool db_null(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) != 0;
}

bool db_bool(const PGresult *r, int row, int col)
{
    return !PQgetisnull(r, row, col) && PQgetvalue(r, row, col)[0] == 't';
}

const char *db_i64_text(int64_t v, char buf[21])
{
    snprintf(buf, 21, "%" PRId64, v);
    return buf;
}

struct db_page db_page(const PGresult *r, unsigned limit)
{
    assert(r != NULL && limit >= 1);
    struct db_page pg = {.rows = PQntuples(r)};
    pg.more = pg.rows > (int)limit;
    if (pg.more) {
        pg.rows = (int)limit;
    }
    pg.last = pg.rows > 0 ? db_i64(r, pg.rows - 1, 0) : 0;
    return pg;
}
