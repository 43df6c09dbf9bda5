/* testdb: a fresh database per test program, cloned from the migrated template of tests/run.sh. */
#ifndef FUNDLEDGER_TESTDB_H
#define FUNDLEDGER_TESTDB_H

#include "fundledger/db.h"

/* Creates database "t_<name>" from the template (dropping an old one) and returns its libpq
 * connection string as the service role fundledger_app, as the service connects (static
 * storage). Aborts the test program when no test cluster is set up. */
const char *testdb_create(const char *name);

/* The same database's connection string as the owner (the test cluster's superuser), for setup
 * the service role may not do. Thread-local storage, valid until the next call. */
const char *testdb_owner(const char *conninfo);

/* Opens a prepared connection to the database made by testdb_create (as the service role).
 * Aborts on failure. */
struct db *testdb_open(const char *conninfo);

/* Runs SQL on a connection of its own as the owner (setup and assertions), returning the first
 * value of the first row as a malloc'd string (or NULL when no rows / on error, with the error
 * printed). */
char *testdb_scalar(const char *conninfo, const char *sql);

/* The first value of the first row of sql as an integer. Exits the test program (status 2, the
 * SQL printed) when there is no value or it is not an integer. */
long long testdb_int(const char *conninfo, const char *sql);

/* Runs SQL as the owner and returns true when it succeeded. */
bool testdb_exec(const char *conninfo, const char *sql);

/* Runs SQL as the owner, expected to fail: returns the server's primary error message
 * (malloc'd), or NULL when the SQL succeeded. Tests match the message to show which rule
 * refused it (a trigger holds for the owner too). */
char *testdb_refusal(const char *conninfo, const char *sql);

/* As testdb_refusal, but on conninfo as given (the service role for testdb_create's); the
 * SQLSTATE of the failure goes to sqlstate ("" when the SQL succeeded). */
char *testdb_service_refusal(const char *conninfo, const char *sql, char sqlstate[6]);

#endif
