/* db: one libpq connection with every named statement prepared, and the transaction runner. */
#ifndef FUNDLEDGER_DB_H
#define FUNDLEDGER_DB_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#include "fundledger/error.h"

struct db;

/* A named statement: its name is that of the C function that runs it. */
struct db_statement {
    const char *name;
    const char *sql;
};

/* The static table of every statement, prepared when a connection opens (statements.c). */
extern const struct db_statement db_statements[];
extern const unsigned db_statements_count;

/* Connects with a libpq connection string or URI and, when prepare is true, prepares every
 * statement of the table (false for a database not migrated yet). On success *out owns the
 * connection (free with db_close). Errors: FLE_DB_UNAVAILABLE (cannot connect), FLE_INTERNAL
 * (a statement fails to prepare: the schema is not what the code expects). */
enum fl_err db_open(const char *conninfo, bool prepare, unsigned tx_retries_max, struct db **out,
                    struct fl_error *err);
/* db_open for a connection that must outlive an outage (a server worker's): when the database
 * cannot be reached (FLE_DB_UNAVAILABLE), *out is nevertheless the connection, kept lost under the
 * same backoff as a reconnection (docs/architecture.md, "Database faults"): calls fail at once
 * with FLE_DB_UNAVAILABLE until the backoff allows the next attempt, which the next call makes.
 * Other errors leave *out NULL, as db_open. */
enum fl_err db_open_retrying(const char *conninfo, bool prepare, unsigned tx_retries_max, struct db **out,
                             struct fl_error *err);
void db_close(struct db *db);
PGconn *db_pg(struct db *db);

/* A second connection to the same database (db_open's conninfo), for work that runs in another
 * thread beside db's own, such as an investor statement's portfolio pass reading db's exported
 * snapshot (statement.c). Opened on the first call and kept: owned by db, closed by db_close.
 * It prepares each statement of the table the first time it runs it. Whoever calls db_sibling
 * is the thread that owns db; it may hand the sibling to one other thread for a while and must
 * wait for that thread before using db_sibling again. A sibling has no sibling. Errors:
 * FLE_DB_UNAVAILABLE (cannot connect), FLE_NOT_FOUND (turned off with db_sibling_allow),
 * FLE_INTERNAL (out of memory). */
enum fl_err db_sibling(struct db *db, struct db **out, struct fl_error *err);
/* Closes db's sibling (after it failed); the next db_sibling opens a new one. */
void db_sibling_drop(struct db *db);
/* Allows (the default) or forbids db a sibling; forbidding closes the one it has. Callers then
 * do all their work on db alone (tests compare the two ways). */
void db_sibling_allow(struct db *db, bool allowed);

/* Runs a prepared statement with n text parameters (a NULL pointer is SQL NULL). Returns the
 * result, owned by the caller (PQclear), or NULL with *err set: FLE_DUPLICATE (23505),
 * FLE_RULE (a CHECK or trigger refused: 23514, 23503, P0001), FLE_DB_UNAVAILABLE (connection
 * lost: libpq, SQLSTATE class 08 but 08P01, 57P01-57P03), FLE_INTERNAL (anything else; the
 * server message is logged, not returned).
 * Outside a transaction a lost connection is first reconnected (PQreset, session settings,
 * statements prepared again; attempts back off per connection, DB_RECONNECT_BACKOFF_*_MS, and
 * fail at once between attempts). A statement lost while it ran outside a transaction runs again
 * in a READ ONLY transaction: a read answers, a write is refused there by PostgreSQL and gives
 * FLE_DB_UNAVAILABLE "outcome unknown" without running twice. Inside a transaction nothing is
 * reconnected (db_tx deals with it); after a loss inside a transaction opened with raw SQL the
 * connection stays failed (close it). */
PGresult *db_exec(struct db *db, const char *stmt, int n, const char *const *params,
                  struct fl_error *err);

/* Runs one SQL text outside the statement table (migrations, administration). Same
 * ownership and errors as db_exec, and the same reconnection first; never run again. */
PGresult *db_exec_sql(struct db *db, const char *sql, struct fl_error *err);

/* Same as db_exec but only succeeds when the statement affected or returned exactly `rows` rows;
 * otherwise FLE_NOT_FOUND when 0 rows, FLE_INTERNAL for more. Returns the result (caller clears). */
PGresult *db_exec_rows(struct db *db, const char *stmt, int n, const char *const *params, int rows,
                       struct fl_error *err);

/* The SQLSTATE of the last failed call ("" after a success). */
const char *db_last_sqlstate(const struct db *db);

/* One transaction: BEGIN, fn, COMMIT. fn returns FLE_OK to commit; anything else rolls back and
 * is returned with *err as fn set it. A serialization failure or deadlock (40001, 40P01),
 * in fn or at COMMIT, rolls back and runs fn again, up to the retry bound; fn must therefore
 * reset its outputs at its start. A constraint that fires at COMMIT (a deferred check) gives
 * FLE_RULE. A lost connection: before or in fn (nothing committed) fn runs again on a new
 * connection, up to DB_LOST_RETRIES_MAX times, then FLE_DB_UNAVAILABLE whatever fn returned; at
 * COMMIT (the outcome is unknown) FLE_DB_UNAVAILABLE at once, never fn again. */
typedef enum fl_err (*db_tx_fn)(struct db *db, void *arg, struct fl_error *err);
enum fl_err db_tx(struct db *db, db_tx_fn fn, void *arg, struct fl_error *err);

/* Runs one prepared statement as a transaction of its own (outside db_tx), reconnecting first
 * if the connection was lost (db_exec) and running it again after a serialization failure or
 * deadlock, up to the retry bound. When it returns a result the statement has committed (durably, with
 * synchronous_commit on). NULL with *err as db_exec; after FLE_DB_UNAVAILABLE the outcome is
 * unknown (the connection may have dropped after the commit), so the caller must not repeat
 * the write blindly. */
PGresult *db_exec_commit(struct db *db, const char *stmt, int n, const char *const *params,
                         struct fl_error *err);

/* Snapshots shared between connections (pg_export_snapshot / SET TRANSACTION SNAPSHOT), so that
 * a sibling's transaction reads exactly the data of db's open transaction. The identifier is
 * hex digits and dashes, shorter than DB_SNAPSHOT_ID_BYTES. */
#define DB_SNAPSHOT_ID_BYTES 64
/* Exports the snapshot of db's open transaction (which must be REPEATABLE READ or SERIALIZABLE
 * for the snapshot to be the one all its reads use) into id; valid while that transaction is
 * open. FLE_INTERNAL (an unexpected identifier) or db_exec's errors. */
enum fl_err db_snapshot_export(struct db *db, char id[DB_SNAPSHOT_ID_BYTES], struct fl_error *err);
/* db_tx in a READ ONLY, REPEATABLE READ transaction that reads the snapshot id (exported by a
 * transaction still open on another connection), with JIT and parallel workers off for it (the
 * caller runs beside another connection already). A snapshot that cannot be imported (its
 * transaction ended, another server) gives the error of SET TRANSACTION SNAPSHOT. */
enum fl_err db_tx_snapshot(struct db *db, const char *id, db_tx_fn fn, void *arg, struct fl_error *err);

/* true while a transaction is open on this connection. */
bool db_in_tx(const struct db *db);

/* Readers of text results. db_i64 returns 0 for NULL; db_str returns "" for NULL. */
int64_t db_i64(const PGresult *r, int row, int col);
const char *db_str(const PGresult *r, int row, int col);
bool db_null(const PGresult *r, int row, int col);
bool db_bool(const PGresult *r, int row, int col);

/* A keyset page read with limit + 1 rows: rows to show (at most limit), whether another page
 * follows, and the id (column 0) of the last row shown, the next page's "after". */
struct db_page {
    int rows;
    bool more;
    int64_t last;
};
struct db_page db_page(const PGresult *r, unsigned limit);

/* Formats an int64 into buf (at least 21 bytes) and returns buf, for statement parameters. */
const char *db_i64_text(int64_t v, char buf[21]);

#endif

#ifndef FUNDLEDGER_DB_ARRAY
#define FUNDLEDGER_DB_ARRAY
/* A PostgreSQL array literal built in text form ("{1,2}", "{\"a\",NULL}") for one parameter
 * that carries a whole batch. Heap buffer owned by the struct: db_array_free. Appends report
 * false on allocation failure, after which the array stays failed. */
struct db_array {
    char *buf;
    size_t len, cap;
    size_t n;
    bool failed;
};
void db_array_init(struct db_array *a);
bool db_array_i64(struct db_array *a, int64_t v);
bool db_array_text(struct db_array *a, const char *s);
bool db_array_null(struct db_array *a);
/* The literal, NUL-terminated, valid until the next append or free; NULL if an append failed. */
const char *db_array_str(struct db_array *a);
void db_array_free(struct db_array *a);
/* Runs the prepared statement `stmt` with the parameters {first, literal of a[0], ..., of a[n-1]}
 * (n at most DB_ARRAY_EXEC_MAX) and frees the n arrays on every path. NULL with err set (an array
 * whose append failed: FLE_INTERNAL "out of memory", the statement not run) or db_exec's result. */
#define DB_ARRAY_EXEC_MAX 8
PGresult *db_exec_arrays(struct db *db, const char *stmt, const char *first, struct db_array *a, int n,
                         struct fl_error *err);
#endif
