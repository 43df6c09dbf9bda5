/* db: libpq connections, the prepared statement table, error mapping and transactions. */
#include "fundledger/db.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fundledger/limits.h"
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
    bool prepare;            /* db_open's prepare: a new session prepares the whole table again */
    /* Connection faults (see "Database faults" in docs/architecture.md). */
    bool broken;                  /* a call found the connection lost: reconnect before the next */
    bool call_raw_tx;             /* the call running is inside a transaction opened with SQL */
    bool tx_lost;                 /* lost inside db_tx's open transaction (db_tx clears it) */
    bool raw_tx_lost;             /* lost inside a transaction opened with SQL: stays failed */
    unsigned reconnect_failures;  /* failed attempts since the connection was last good */
    struct timespec reconnect_at; /* no attempt before this (CLOCK_MONOTONIC) while failing */
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

/* Whether a failure means the connection is gone (or going): libpq lost it, SQLSTATE class 08
 * (connection exception) except 08P01 (a protocol violation: a bug), or 57P01-57P03 (the server
 * shuts down, crashed, or cannot accept connections yet). */
static bool lost(const struct db *db, const char *state)
{
    return PQstatus(db->pg) != CONNECTION_OK ||
           (state != NULL && strncmp(state, "08", 2) == 0 && strcmp(state, "08P01") != 0) ||
           (state != NULL && strncmp(state, "57P0", 4) == 0 && state[4] >= '1' && state[4] <= '3');
}

static enum fl_err prepare_all(struct db *db, struct fl_error *err)
{
    for (unsigned i = 0; i < db_statements_count; i++) {
        PGresult *r = PQprepare(db->pg, db_statements[i].name, db_statements[i].sql, 0, NULL);
        bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        bool gone = !ok && lost(db, r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL);
        if (!ok) {
            log_error("db: cannot prepare %s: %s", db_statements[i].name, PQerrorMessage(db->pg));
        }
        PQclear(r);
        if (gone) {
            return fl_error_set(err, FLE_DB_UNAVAILABLE, NULL, "the database connection was lost");
        }
        if (!ok) {
            return fl_error_set(err, FLE_INTERNAL, NULL,
                                "database schema does not match this build (statement %s); run migrate",
                                db_statements[i].name);
        }
    }
    return FLE_OK;
}

/* Dates and times are read as text: fix their form for every session (after a reconnection too). */
static bool session_setup(struct db *db)
{
    PGresult *set = PQexec(db->pg, "SET application_name = 'fundledger'; SET DateStyle = 'ISO, YMD'; "
                                   "SET TimeZone = 'UTC'; SET IntervalStyle = 'iso_8601'; SET client_min_messages = warning");
    bool ok = PQresultStatus(set) == PGRES_COMMAND_OK;
    PQclear(set);
    return ok;
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

/* The first connection of db (allocated by db_open_any): connect, session settings, statements.
 * On failure db->pg is kept (PQreset reuses its parameters) and the error says why. */
static enum fl_err first_connect(struct db *db, struct fl_error *err)
{
    db->pg = PQconnectdb(db->conninfo);
    if (db->pg == NULL) {
        return fl_error_set(err, FLE_INTERNAL, NULL, "out of memory");
    }
    if (PQstatus(db->pg) != CONNECTION_OK) {
        /* libpq's message may echo the connection string's host but never a password field. */
        log_error("db: cannot connect: %s", PQerrorMessage(db->pg));
        return fl_error_set(err, FLE_DB_UNAVAILABLE, NULL, "cannot connect to the database");
    }
    if (!session_setup(db)) {
        return fl_error_set(err, FLE_DB_UNAVAILABLE, NULL, "cannot configure the database session");
    }
    return db->prepare ? prepare_all(db, err) : FLE_OK;
}

static void schedule_retry(struct db *db, const struct timespec *now);

/* db_open and db_open_retrying: keep says whether a connection that cannot be made yet
 * (FLE_DB_UNAVAILABLE) is kept, lost, under the reconnection backoff. */
static enum fl_err db_open_any(const char *conninfo, bool prepare, unsigned tx_retries_max, bool keep,
                               struct db **out, struct fl_error *err)
{
    assert(conninfo != NULL && out != NULL);
    *out = NULL;
    struct db *db = calloc(1, sizeof *db);
    if (db == NULL) {
        return fl_error_set(err, FLE_INTERNAL, NULL, "out of memory");
    }
    db->tx_retries_max = tx_retries_max;
    db->prepare = prepare;
    if ((db->conninfo = strdup(conninfo)) == NULL) {
        free(db);
        return fl_error_set(err, FLE_INTERNAL, NULL, "out of memory");
    }
    enum fl_err e = first_connect(db, err);
    if (e == FLE_DB_UNAVAILABLE && keep) {
        /* As after a failed reconnection: the first attempt has failed, the next waits. */
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        schedule_retry(db, &now);
        db->broken = true;
        *out = db;
        return e;
    }
    if (e != FLE_OK) {
        db_close(db);
        return e;
    }
    *out = db;
    return FLE_OK;
}

enum fl_err db_open(const char *conninfo, bool prepare, unsigned tx_retries_max, struct db **out,
                    struct fl_error *err)
{
    return db_open_any(conninfo, prepare, tx_retries_max, false, out, err);
}

enum fl_err db_open_retrying(const char *conninfo, bool prepare, unsigned tx_retries_max, struct db **out,
                             struct fl_error *err)
{
    return db_open_any(conninfo, prepare, tx_retries_max, true, out, err);
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
    if (lost(db, state)) {
        log_error("db: %s: connection lost: %s", what, msg);
        /* Whatever the server still holds of this session is gone or going: start a new one. */
        db->broken = true;
        db->tx_lost = db->tx_lost || db->in_tx;
        db->raw_tx_lost = db->raw_tx_lost || db->call_raw_tx;
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

/* Whether the connection, idle between statements, is still there. A server that shut down or
 * crashed has closed the socket (after a last notice, often): poll sees it readable, and
 * PQconsumeInput reads what is there, notices the end of the stream and marks the connection bad.
 * Costs one poll(2) when nothing is pending; nothing is sent. */
static bool idle_alive(struct db *db)
{
    if (db->broken || PQstatus(db->pg) != CONNECTION_OK) {
        return false;
    }
    for (int round = 0; round < 4; round++) { /* a notice, then the end: two reads suffice */
        struct pollfd p = {.fd = PQsocket(db->pg), .events = POLLIN};
        int n = poll(&p, 1, 0);
        if (n == 0 || (n < 0 && errno == EINTR)) {
            return true; /* nothing pending (an interrupted poll: the statement will tell) */
        }
        if (n < 0 || !PQconsumeInput(db->pg)) {
            return false;
        }
    }
    return PQstatus(db->pg) == CONNECTION_OK;
}

static bool before(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

/* One more failed attempt (a first connection or a reconnection): the next is not before
 * DB_RECONNECT_BACKOFF_MIN_MS << failures so far, at most DB_RECONNECT_BACKOFF_MAX_MS, from now. */
static void schedule_retry(struct db *db, const struct timespec *now)
{
    unsigned shift = db->reconnect_failures < 10 ? db->reconnect_failures : 10;
    long ms = (long)DB_RECONNECT_BACKOFF_MIN_MS << shift;
    ms = ms < DB_RECONNECT_BACKOFF_MAX_MS ? ms : DB_RECONNECT_BACKOFF_MAX_MS;
    db->reconnect_at = *now;
    db->reconnect_at.tv_sec += ms / 1000;
    db->reconnect_at.tv_nsec += (ms % 1000) * 1000000L;
    if (db->reconnect_at.tv_nsec >= 1000000000L) {
        db->reconnect_at.tv_sec++;
        db->reconnect_at.tv_nsec -= 1000000000L;
    }
    db->reconnect_failures++;
}

/* A new session for a lost connection: PQreset with the same connection string (so a multi-host
 * string with target_session_attrs=read-write finds the server that now takes writes), the
 * session settings, and the statement table. Attempts back off (DB_RECONNECT_BACKOFF_*_MS) so
 * requests meanwhile fail at once with FLE_DB_UNAVAILABLE instead of waiting on a dead server. */
static enum fl_err reconnect(struct db *db, struct fl_error *err)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (db->reconnect_failures > 0 && before(&now, &db->reconnect_at)) {
        return fl_error_set(err, FLE_DB_UNAVAILABLE, NULL, "the database cannot be reached; retry");
    }
    PQreset(db->pg);
    if (db->prepared != NULL) { /* a new session: a sibling prepares its statements again */
        memset(db->prepared, 0, db_statements_count);
    }
    struct fl_error why;
    fl_error_clear(&why);
    enum fl_err e = FLE_DB_UNAVAILABLE;
    if (PQstatus(db->pg) == CONNECTION_OK && session_setup(db)) {
        e = db->prepare ? prepare_all(db, &why) : FLE_OK;
    }
    if (e == FLE_OK) {
        if (db->reconnect_failures > 0) {
            log_warn("db: reconnected after %u failed attempt(s)", db->reconnect_failures);
        } else {
            log_warn("db: reconnected");
        }
        db->broken = false;
        db->reconnect_failures = 0;
        db->sqlstate[0] = '\0';
        return FLE_OK;
    }
    if (db->reconnect_failures == 0) { /* once per outage, not once per request */
        log_error("db: cannot reconnect (retrying every %d ms at most): %s", DB_RECONNECT_BACKOFF_MAX_MS,
                  PQstatus(db->pg) != CONNECTION_OK ? PQerrorMessage(db->pg) : why.message);
    }
    schedule_retry(db, &now);
    db->broken = true;
    if (e == FLE_INTERNAL) { /* connected, but the statements do not prepare: not ours to hide */
        return fl_error_set(err, FLE_INTERNAL, NULL, "%s", why.message);
    }
    return fl_error_set(err, FLE_DB_UNAVAILABLE, NULL, "the database cannot be reached; retry");
}

/* Before a statement outside any transaction: a usable connection, reconnected if it was lost. */
static enum fl_err ensure(struct db *db, struct fl_error *err)
{
    if (db->raw_tx_lost) {
        return fl_error_set(err, FLE_DB_UNAVAILABLE, NULL,
                            "the connection was lost inside a transaction opened with SQL; close it");
    }
    return idle_alive(db) ? FLE_OK : reconnect(db, err);
}

/* Whether a transaction is open on the connection: db_tx's, or one a caller opened with SQL. */
static bool tx_open(const struct db *db)
{
    PGTransactionStatusType ts = PQtransactionStatus(db->pg);
    return db->in_tx || ts == PQTRANS_INTRANS || ts == PQTRANS_INERROR || ts == PQTRANS_ACTIVE;
}

static PGresult *exec_prepared(struct db *db, const char *stmt, int n, const char *const *params,
                               struct fl_error *err)
{
    if (db->prepared != NULL && !prepare_lazily(db, stmt, err)) {
        return NULL;
    }
    PGresult *r = PQexecPrepared(db->pg, stmt, n, params, NULL, NULL, 0);
    return check(db, r, stmt, err);
}

/* A statement outside any transaction lost its connection while it ran: it may have committed.
 * It runs again, on a new connection, only if it is a read, and PostgreSQL is the judge: inside
 * a READ ONLY transaction any write is refused (25006), which is then answered as "outcome
 * unknown" (FLE_DB_UNAVAILABLE) without having written anything. */
static PGresult *again_if_read(struct db *db, const char *stmt, int n, const char *const *params,
                               struct fl_error *err)
{
    if (ensure(db, err) != FLE_OK) {
        return NULL;
    }
    PGresult *b = check(db, PQexec(db->pg, "BEGIN READ ONLY"), "BEGIN READ ONLY", err);
    if (b == NULL) {
        return NULL;
    }
    PQclear(b);
    PGresult *r = exec_prepared(db, stmt, n, params, err);
    if (r == NULL) {
        bool write = strcmp(db->sqlstate, "25006") == 0;
        if (!db->broken) {
            PQclear(PQexec(db->pg, "ROLLBACK"));
        }
        if (write) {
            fl_error_set(err, FLE_DB_UNAVAILABLE, NULL,
                         "the database connection was lost during a write; its outcome is unknown");
        }
        return NULL;
    }
    PGresult *c = check(db, PQexec(db->pg, "COMMIT"), "COMMIT", err);
    if (c == NULL) {
        PQclear(r);
        return NULL;
    }
    PQclear(c);
    log_warn("db: %s ran again after a lost connection (a read)", stmt);
    return r;
}

PGresult *db_exec(struct db *db, const char *stmt, int n, const char *const *params,
                  struct fl_error *err)
{
    assert(db != NULL && stmt != NULL && n >= 0);
    bool open = tx_open(db);
    if (!open && ensure(db, err) != FLE_OK) {
        return NULL;
    }
    db->call_raw_tx = open && !db->in_tx;
    PGresult *r = exec_prepared(db, stmt, n, params, err);
    db->call_raw_tx = false;
    if (r != NULL || open || !db->broken) {
        return r;
    }
    return again_if_read(db, stmt, n, params, err);
}

PGresult *db_exec_sql(struct db *db, const char *sql, struct fl_error *err)
{
    assert(db != NULL && sql != NULL);
    bool open = tx_open(db);
    if (!open && ensure(db, err) != FLE_OK) {
        return NULL;
    }
    db->call_raw_tx = open && !db->in_tx;
    PGresult *r = check(db, PQexec(db->pg, sql), "sql", err);
    db->call_raw_tx = false;
    return r;
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

static enum fl_err code_of(const struct fl_error *err)
{
    return err != NULL && err->code != FLE_OK ? err->code : FLE_INTERNAL;
}

enum fl_err db_tx(struct db *db, db_tx_fn fn, void *arg, struct fl_error *err)
{
    assert(db != NULL && fn != NULL);
    assert(!db->in_tx);
    unsigned conflicts = 0, losses = 0;
    for (;;) {
        enum fl_err e = ensure(db, err);
        if (e != FLE_OK) {
            return e;
        }
        if (!simple(db, "BEGIN", err)) {
            if (db->broken && losses++ < DB_LOST_RETRIES_MAX) {
                continue; /* nothing ran: try on a new connection */
            }
            return code_of(err);
        }
        db->in_tx = true;
        db->tx_lost = false;
        e = fn(db, arg, err);
        bool lost_in_fn = db->tx_lost; /* then COMMIT was never sent: nothing committed */
        if (e == FLE_OK && !lost_in_fn && simple(db, "COMMIT", err)) {
            db->in_tx = false;
            return FLE_OK;
        }
        bool at_commit = e == FLE_OK && !lost_in_fn;
        if (e == FLE_OK) {
            e = code_of(err); /* COMMIT failed: a deferred check, a retry, or the connection */
        }
        bool gone = db->tx_lost;
        db->in_tx = false;
        db->tx_lost = false;
        if (gone && at_commit) {
            /* The server may have committed before the connection went: never run fn again. */
            return fl_error_set(err, FLE_DB_UNAVAILABLE, NULL,
                                "the database connection was lost at COMMIT; the outcome is unknown: "
                                "retry with the same Idempotency-Key");
        }
        if (gone) {
            /* Whatever fn made of the failure (it may have called it a client error), the cause is
             * the connection; the transaction never committed, so it may run again. */
            if (losses++ < DB_LOST_RETRIES_MAX) {
                log_warn("db: a transaction runs again after a lost connection");
                continue;
            }
            return fl_error_set(err, FLE_DB_UNAVAILABLE, NULL, "the database connection was lost");
        }
        bool again = retryable(db);
        PQclear(PQexec(db->pg, "ROLLBACK"));
        if (!again) {
            return e;
        }
        if (conflicts++ >= db->tx_retries_max) {
            return fl_error_set(err, FLE_CONFLICT, NULL, "too much concurrent activity; retry");
        }
        log_debug("db: transaction retried after %s (attempt %u)", db->sqlstate, conflicts);
    }
}

PGresult *db_exec_commit(struct db *db, const char *stmt, int n, const char *const *params,
                         struct fl_error *err)
{
    assert(db != NULL && stmt != NULL);
    assert(!db->in_tx);
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
