/* pgcluster: a test's own PostgreSQL clusters in a temp directory, which it may stop, restart,
 * copy into a streaming standby and promote, without touching the shared cluster of tests/run.sh. */
#ifndef FUNDLEDGER_TEST_PGCLUSTER_H
#define FUNDLEDGER_TEST_PGCLUSTER_H

#include <stdbool.h>
#include <stddef.h>

#define PGC_PATH_BYTES 256
#define PGC_NODES_MAX 4
#define PGC_DIR_BYTES 128 /* the temp directory: short, so every path under it fits PGC_PATH_BYTES */

/* The temp directory and the clusters ("nodes") made in it. Each node named N has its data in
 * DIR/N, its unix socket in DIR/N.sock (never TCP) and its log in DIR/N.log. As root every
 * command runs as the system user postgres (initdb refuses root). */
struct pgc {
    char dir[PGC_DIR_BYTES];
    char bindir[PGC_PATH_BYTES];
    char nodes[PGC_NODES_MAX][32];
    unsigned n_nodes;
};

/* Makes the temp directory (tag names it). false with a message on stderr on failure. */
bool pgc_init(struct pgc *c, const char *tag);

/* initdb a new node (superuser fundledger, trust on its socket) and start it. Commits are
 * durable (synchronous_commit on): an immediate stop loses nothing acknowledged. */
bool pgc_node_create(struct pgc *c, const char *name);

/* pg_basebackup of node from into a new node to, set up as its streaming standby (-R), started. */
bool pgc_standby_create(struct pgc *c, const char *from, const char *to);

/* Runs pg_ctl on a node: action is "start", "stop -m immediate", "restart -m immediate",
 * "promote", ... (pg_ctl waits: -w). */
bool pgc_ctl(struct pgc *c, const char *name, const char *action);

/* The node's socket directory, for host= in a connection string. */
const char *pgc_socket(const struct pgc *c, const char *name, char buf[PGC_PATH_BYTES]);

/* Stops every node (immediate) and removes the directory. */
void pgc_destroy(struct pgc *c);

#endif
