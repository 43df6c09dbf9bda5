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
    char *conninfo;          /* what db_open was given, for db_sibling */
    unsigned char *prepared; /* a sibling's statements prepared so far (one flag each); NULL otherwise */
    struct db *sibling;      /* db_sibling's connection, owned, or NULL */
    bool sibling_off;        /* db_sibling_allow(db, false) */
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

static PGresult *fail(struct db *db, PGresult *r, const char *what, struct fl_error *err);

/* A sibling prepares each statement of the table the first time it runs it: it runs a few. */
static bool prepare_lazily(struct db *db, const char *stmt, struct fl_error *err)
{
    assert(db->prepared != NULL);
    for (unsigned i = 0; i < db_statements_count; i++) {
        if (strcmp(db_statements[i].name, stmt) != 0) {
            continue;
        }
        if (db->prepared[i]) {
            return true;
        }
        PGresult *r = PQprepare(db->pg, stmt, db_statements[i].sql, 0, NULL);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            fail(db, r, stmt, err);
            return false;
        }
        PQclear(r);
        db->prepared[i] = 1;
        return true;
    }
    assert(!"a statement of the table"); /* a name not in the table is a programming error */
    fl_error_set(err, FLE_INTERNAL, NULL, "no statement %s", stmt);
    return false;
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
    if ((db->conninfo = strdup(conninfo)) == NULL) {
        free(db);
        return fl_error_set(err, FLE_INTERNAL, NULL, "out of memory");
    }
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
    db_close(db->sibling);
    if (db->pg != NULL) {
        PQfinish(db->pg);
    }
    free(db->prepared);
    free(db->conninfo);
    free(db);
}

enum fl_err db_sibling(struct db *db, struct db **out, struct fl_error *err)
{
    assert(db != NULL && out != NULL);
    assert(db->prepared == NULL); /* a sibling has no sibling */
    *out = NULL;
    if (db->sibling_off) {
        return fl_error_set(err, FLE_NOT_FOUND, NULL, "no second connection for this one");
    }
    if (db->sibling == NULL) {
        struct db *s = NULL;
        enum fl_err e = db_open(db->conninfo, false, db->tx_retries_max, &s, err);
        if (e != FLE_OK) {
            return e;
        }
        if ((s->prepared = calloc(db_statements_count, 1)) == NULL) {
            db_close(s);
            return fl_error_set(err, FLE_INTERNAL, NULL, "out of memory");
        }
        db->sibling = s;
    }
    assert(!db->sibling->in_tx);
    *out = db->sibling;
    return FLE_OK;
}

void db_sibling_drop(struct db *db)
{
    assert(db != NULL);
    db_close(db->sibling);
    db->sibling = NULL;
}

void db_sibling_allow(struct db *db, bool allowed)
{
    assert(db != NULL);
    db->sibling_off = !allowed;
    if (!allowed) {
        db_sibling_drop(db);
    }
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
    if (db->prepared != NULL && !prepare_lazily(db, stmt, err)) {
        return NULL;
    }
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
        if (db->prepared != NULL) { /* a new session: a sibling prepares its statements again */
            memset(db->prepared, 0, db_statements_count);
        }
        if (PQstatus(db->pg) != CONNECTION_OK || (db->prepared == NULL && prepare_all(db, err) != FLE_OK)) {
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

static bool snapshot_id_ok(const char *s)
{
    size_t n = strlen(s);
    return n > 0 && n < DB_SNAPSHOT_ID_BYTES && strspn(s, "0123456789ABCDEFabcdef-") == n;
}

enum fl_err db_snapshot_export(struct db *db, char id[DB_SNAPSHOT_ID_BYTES], struct fl_error *err)
{
    assert(db != NULL && id != NULL);
    assert(db->in_tx);
    PGresult *r = db_exec(db, "db_snapshot_export", 0, NULL, err);
    if (r == NULL) {
        return err->code;
    }
    bool ok = PQntuples(r) == 1 && snapshot_id_ok(db_str(r, 0, 0));
    if (ok) {
        snprintf(id, DB_SNAPSHOT_ID_BYTES, "%s", db_str(r, 0, 0));
    }
    PQclear(r);
    return ok ? FLE_OK : fl_error_set(err, FLE_INTERNAL, NULL, "unexpected snapshot identifier");
}

struct snapshot_tx {
    const char *id;
    db_tx_fn fn;
    void *arg;
};

static enum fl_err snapshot_tx_run(struct db *db, void *arg, struct fl_error *err)
{
    const struct snapshot_tx *st = arg;
    /* SET TRANSACTION SNAPSHOT takes a literal, not a parameter: the identifier is checked to be
     * hex digits and dashes (db_tx_snapshot) before it is written into the command. */
    char set[DB_SNAPSHOT_ID_BYTES + 32];
    int n = snprintf(set, sizeof set, "SET TRANSACTION SNAPSHOT '%s'", st->id);
    assert(n > 0 && (size_t)n < sizeof set);
    const char *const cmds[] = {"SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY", set,
                                "SET LOCAL jit = off", "SET LOCAL max_parallel_workers_per_gather = 0"};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        if (!simple(db, cmds[i], err)) {
            return err->code;
        }
    }
    return st->fn(db, st->arg, err);
}

enum fl_err db_tx_snapshot(struct db *db, const char *id, db_tx_fn fn, void *arg, struct fl_error *err)
{
    assert(db != NULL && id != NULL && fn != NULL);
    if (!snapshot_id_ok(id)) {
        return fl_error_set(err, FLE_INTERNAL, NULL, "not a snapshot identifier");
    }
    struct snapshot_tx st = {id, fn, arg};
    return db_tx(db, snapshot_tx_run, &st, err);
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
