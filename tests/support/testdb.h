/* testdb: a fresh database per test program, cloned from the migrated template of tests/run.sh. */
#ifndef FUNDLEDGER_TESTDB_H
#define FUNDLEDGER_TESTDB_H

#include "fundledger/db.h"

/* Creates database "t_<name>" from the template (dropping an old one) and returns its libpq
 * connection string (static storage). Aborts the test program when no test cluster is set up. */
const char *testdb_create(const char *name);

/* Opens a prepared connection to the database made by testdb_create. Aborts on failure. */
struct db *testdb_open(const char *conninfo);

/* Runs SQL on a connection of its own (superuser), returning the first value of the first row
 * as a malloc'd string (or NULL when no rows / on error, with the error printed). */
char *testdb_scalar(const char *conninfo, const char *sql);

/* The first value of the first row of sql as an integer. Exits the test program (status 2, the
 * SQL printed) when there is no value or it is not an integer. */
long long testdb_int(const char *conninfo, const char *sql);

/* Runs SQL and returns true when it succeeded. */
bool testdb_exec(const char *conninfo, const char *sql);

/* Runs SQL expected to fail: returns the server's primary error message (malloc'd), or NULL when
 * the SQL succeeded. Tests match the message to show which rule refused it. */
char *testdb_refusal(const char *conninfo, const char *sql);

#endif
