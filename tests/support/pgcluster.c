/* pgcluster: a test's own PostgreSQL clusters (start, restart, standby, promote) in a temp directory. */
#include "pgcluster.h"

#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fundledger/cluster.h"

#define PGC_CMD_BYTES 2048

/* Runs a shell command built here from our own paths (mkdtemp's, no quotes in them), as
 * postgres when we are root. Its output goes to DIR/commands.log. */
static bool run(const struct pgc *c, const char *cmd)
{
    char full[PGC_CMD_BYTES];
    int n = snprintf(full, sizeof full, "%s %s >>'%s/commands.log' 2>&1", geteuid() == 0 ? "runuser -u postgres --" : "",
                     cmd, c->dir);
    if (n < 0 || (size_t)n >= sizeof full) {
        fprintf(stderr, "pgcluster: command too long\n");
        return false;
    }
    int rc = system(full);
    if (rc != 0) {
        fprintf(stderr, "pgcluster: failed (%d): %s (see %s/commands.log)\n", rc, cmd, c->dir);
    }
    return rc == 0;
}

static bool give_to_postgres(const char *path)
{
    if (geteuid() != 0) {
        return true;
    }
    struct passwd *pw = getpwnam("postgres");
    return pw != NULL && chown(path, pw->pw_uid, pw->pw_gid) == 0;
}

bool pgc_init(struct pgc *c, const char *tag)
{
    memset(c, 0, sizeof *c);
    const char *bin = cluster_bindir();
    snprintf(c->bindir, sizeof c->bindir, "%s%s", bin, bin[0] ? "/" : "");
    snprintf(c->dir, sizeof c->dir, "/tmp/fundledger-%s.XXXXXX", tag);
    if (mkdtemp(c->dir) == NULL || chmod(c->dir, 0755) != 0 || !give_to_postgres(c->dir)) {
        fprintf(stderr, "pgcluster: cannot make %s\n", c->dir);
        return false;
    }
    return true;
}

const char *pgc_socket(const struct pgc *c, const char *name, char buf[PGC_PATH_BYTES])
{
    snprintf(buf, PGC_PATH_BYTES, "%s/%s.sock", c->dir, name);
    return buf;
}

/* Adds the node's name and socket directory, and appends its settings to postgresql.conf (the
 * last setting of a name wins, so a standby's copy of its primary's file is overridden). */
static bool node_setup(struct pgc *c, const char *name)
{
    if (c->n_nodes == PGC_NODES_MAX) {
        return false;
    }
    snprintf(c->nodes[c->n_nodes++], sizeof c->nodes[0], "%s", name);
    char sock[PGC_PATH_BYTES], conf[PGC_PATH_BYTES + 64];
    pgc_socket(c, name, sock);
    if (mkdir(sock, 0700) != 0 || !give_to_postgres(sock)) {
        fprintf(stderr, "pgcluster: cannot make %s\n", sock);
        return false;
    }
    snprintf(conf, sizeof conf, "%s/%s/postgresql.conf", c->dir, name);
    FILE *f = fopen(conf, "a");
    if (f == NULL) {
        fprintf(stderr, "pgcluster: cannot open %s\n", conf);
        return false;
    }
    /* fsync off is safe here: the test kills PostgreSQL, never the machine; commits stay
     * synchronous so an immediate stop loses nothing that was acknowledged. */
    int w = fprintf(f,
                    "\nlisten_addresses = ''\nunix_socket_directories = '%s'\nfsync = off\n"
                    "synchronous_commit = on\nmax_connections = 60\nwal_level = replica\nmax_wal_senders = 4\n"
                    "hot_standby = on\n",
                    sock);
    return fclose(f) == 0 && w > 0;
}

bool pgc_ctl(struct pgc *c, const char *name, const char *action)
{
    char cmd[PGC_CMD_BYTES];
    snprintf(cmd, sizeof cmd, "%spg_ctl -D '%s/%s' -l '%s/%s.log' -w -t 60 %s", c->bindir, c->dir, name, c->dir, name,
             action);
    return run(c, cmd);
}

bool pgc_node_create(struct pgc *c, const char *name)
{
    char cmd[PGC_CMD_BYTES];
    snprintf(cmd, sizeof cmd, "%sinitdb -D '%s/%s' -U fundledger -A trust -E UTF8 --no-locale --no-sync", c->bindir,
             c->dir, name);
    return run(c, cmd) && node_setup(c, name) && pgc_ctl(c, name, "start");
}

bool pgc_standby_create(struct pgc *c, const char *from, const char *to)
{
    char cmd[PGC_CMD_BYTES], sock[PGC_PATH_BYTES];
    snprintf(cmd, sizeof cmd, "%spg_basebackup -h '%s' -U fundledger -D '%s/%s' -R -X stream -c fast --no-sync",
             c->bindir, pgc_socket(c, from, sock), c->dir, to);
    return run(c, cmd) && node_setup(c, to) && pgc_ctl(c, to, "start");
}

void pgc_destroy(struct pgc *c)
{
    if (c->dir[0] == '\0') {
        return;
    }
    for (unsigned i = 0; i < c->n_nodes; i++) {
        char cmd[PGC_CMD_BYTES];
        snprintf(cmd, sizeof cmd, "%spg_ctl -D '%s/%s' -m immediate -w stop", c->bindir, c->dir, c->nodes[i]);
        char full[PGC_CMD_BYTES + 64];
        snprintf(full, sizeof full, "%s %s >/dev/null 2>&1", geteuid() == 0 ? "runuser -u postgres --" : "", cmd);
        (void)!system(full); /* a node already stopped is fine */
    }
    char rm[PGC_PATH_BYTES + 16];
    snprintf(rm, sizeof rm, "rm -rf '%s'", c->dir);
    (void)!system(rm);
    c->dir[0] = '\0';
}
