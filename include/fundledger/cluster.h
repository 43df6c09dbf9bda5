/* cluster: the service's private PostgreSQL cluster under data_dir (the embedded default). */
#ifndef FUNDLEDGER_CLUSTER_H
#define FUNDLEDGER_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>

#include "fundledger/config.h"
#include "fundledger/error.h"

#define CLUSTER_DB_NAME "fundledger"
#define CONNINFO_BYTES_MAX 1200

/* The libpq connection string to use. With cfg->database_url set it is that, untouched.
 * Otherwise the private cluster under cfg->data_dir: created (initdb) and started (pg_ctl) when
 * ensure is true, listening only on a unix socket in data_dir/run, never on TCP; the database
 * "fundledger" is created if absent. When run as root the cluster runs as the system user
 * postgres (initdb refuses root). Errors name what failed and where its log is. */
enum fl_err cluster_conninfo(const struct config *cfg, bool ensure, char *out, size_t cap,
                             struct fl_error *err);

/* Stops the private cluster if it runs (fast shutdown). Not an error when it is not running
 * or when a database_url is configured (then nothing is done and *stopped is false). */
enum fl_err cluster_stop(const struct config *cfg, bool *stopped, struct fl_error *err);

/* Directory holding pg_ctl, initdb, postgres and pgbench: the newest /usr/lib/postgresql/N/bin,
 * or "" when only PATH has them. Static storage. */
const char *cluster_bindir(void);

#endif
