/* cluster: the service's private PostgreSQL cluster under data_dir (the embedded default). */
#ifndef FUNDLEDGER_CLUSTER_H
#define FUNDLEDGER_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>

#include "fundledger/config.h"
#include "fundledger/error.h"

#define CLUSTER_DB_NAME "fundledger"
#define CONNINFO_BYTES_MAX 1200
/* The two database roles (migrations/0010_roles.sql, docs/architecture.md "Database roles"): the
 * owner, which owns the schema and runs migrations (on the private cluster its bootstrap
 * superuser), and the service role, which the service connects as. */
#define CLUSTER_OWNER_ROLE "fundledger"
#define CLUSTER_SERVICE_ROLE "fundledger_app"

/* The libpq connection string the service uses. With cfg->database_url set it is that, untouched.
 * Otherwise the private cluster, as CLUSTER_SERVICE_ROLE: created (initdb) and started (pg_ctl)
 * when ensure is true, listening only on a unix socket in data_dir/run, never on TCP, with peer
 * authentication (pg_hba.conf and pg_ident.conf, rewritten at every start: the operating-system
 * user running fundledger may connect as the owner and as the service role, nobody else); the
 * database "fundledger" and the service role are created if absent. When run as root the cluster
 * runs as the system user postgres (initdb refuses root); if postgres cannot reach data_dir (a
 * clone under /root, mode 0700), the cluster lives in postgres's home directory instead,
 * /var/lib/postgresql/fundledger/<hash of data_dir's real path>, and says so once. Errors name
 * what failed and where its log is. */
enum fl_err cluster_conninfo(const struct config *cfg, bool ensure, char *out, size_t cap,
                             struct fl_error *err);

/* The connection string migrations run with: cfg->database_owner_url when set (with a
 * database_url), else cfg->database_url (one role for both: backwards compatible, but then the
 * service runs with the owner's rights); on the private cluster, CLUSTER_OWNER_ROLE. ensure as
 * for cluster_conninfo. */
enum fl_err cluster_owner_conninfo(const struct config *cfg, bool ensure, char *out, size_t cap,
                                   struct fl_error *err);

/* Stops the private cluster if it runs (fast shutdown). Not an error when it is not running
 * or when a database_url is configured (then nothing is done and *stopped is false). */
enum fl_err cluster_stop(const struct config *cfg, bool *stopped, struct fl_error *err);

/* Directory holding pg_ctl, initdb, postgres and pgbench: the newest /usr/lib/postgresql/N/bin,
 * or "" when only PATH has them. Static storage. */
const char *cluster_bindir(void);

#endif
