/* cluster: initdb, start, stop of the private PostgreSQL cluster under data_dir. */
#include "fundledger/cluster.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <libpq-fe.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fundledger/log.h"

#define CLUSTER_ARGS_MAX 24
#define CLUSTER_SUPERUSER "fundledger"

struct paths {
    char base[PATH_MAX];
    char pgdata[PATH_MAX];
    char sock[PATH_MAX];
    char log[PATH_MAX];
    char cmdlog[PATH_MAX];
};

const char *cluster_bindir(void)
{
    static char dir[PATH_MAX];
    static int done;
    if (done) {
        return dir;
    }
    glob_t g;
    if (glob("/usr/lib/postgresql/*/bin/pg_ctl", 0, NULL, &g) == 0) {
        /* Paths sort as text; pick the highest major version numerically. */
        long best = -1;
        for (size_t i = 0; i < g.gl_pathc; i++) {
            long v = strtol(g.gl_pathv[i] + strlen("/usr/lib/postgresql/"), NULL, 10);
            if (v > best) {
                best = v;
                snprintf(dir, sizeof dir, "%.*s", (int)(strlen(g.gl_pathv[i]) - strlen("/pg_ctl")),
                         g.gl_pathv[i]);
            }
        }
        globfree(&g);
    }
    done = 1;
    return dir;
}

static bool am_root(void)
{
    return geteuid() == 0;
}

/* Runs argv (argv[0] a program in the PostgreSQL bindir), as postgres when root, with output
 * appended to the command log. Returns the exit status, or -1 if it could not run. */
static int run(const struct paths *p, const char *const *argv)
{
    char prog[PATH_MAX];
    const char *bindir = cluster_bindir();
    if (bindir[0]) {
        if (snprintf(prog, sizeof prog, "%s/%s", bindir, argv[0]) >= (int)sizeof prog) {
            return -1;
        }
    } else {
        snprintf(prog, sizeof prog, "%s", argv[0]);
    }
    const char *full[CLUSTER_ARGS_MAX + 5];
    int k = 0;
    if (am_root()) {
        full[k++] = "runuser";
        full[k++] = "-u";
        full[k++] = "postgres";
        full[k++] = "--";
    }
    full[k++] = prog;
    for (int i = 1; argv[i] != NULL; i++) {
        assert(i < CLUSTER_ARGS_MAX);
        full[k++] = argv[i];
    }
    full[k] = NULL;

    pid_t pid = fork();
    if (pid < 0) {
        return -1;
    }
    if (pid == 0) {
        int fd = open(p->cmdlog, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0) {
            dup2(devnull, 0);
            close(devnull);
        }
        /* The server must not inherit our libpq settings or the caller's cwd expectations. */
        unsetenv("PGHOST");
        unsetenv("PGDATABASE");
        if (chdir("/") != 0) {
            _exit(126);
        }
        execvp(full[0], (char *const *)full);
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            return -1;
        }
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static bool make_dir(const char *path, mode_t mode)
{
    return mkdir(path, mode) == 0 || errno == EEXIST;
}

static enum fl_err give_to_postgres(const char *path, struct fl_error *err)
{
    if (!am_root()) {
        return FLE_OK;
    }
    struct passwd *pw = getpwnam("postgres");
    if (pw == NULL) {
        return fl_error_set(err, FLE_INTERNAL, NULL,
                            "running as root needs the system user postgres (install the postgresql package)");
    }
    if (chown(path, pw->pw_uid, pw->pw_gid) != 0) {
        return fl_error_set(err, FLE_INTERNAL, NULL, "cannot chown %s to postgres: %s", path, strerror(errno));
    }
    return FLE_OK;
}

static enum fl_err resolve(const struct config *cfg, struct paths *p, bool create, struct fl_error *err)
{
    if (create && !make_dir(cfg->data_dir, 0755)) {
        return fl_error_set(err, FLE_INTERNAL, "data_dir", "cannot create %s: %s", cfg->data_dir, strerror(errno));
    }
    if (realpath(cfg->data_dir, p->base) == NULL) {
        return fl_error_set(err, FLE_INTERNAL, "data_dir", "no data directory %s", cfg->data_dir);
    }
    int n1 = snprintf(p->pgdata, sizeof p->pgdata, "%s/pgdata", p->base);
    int n2 = snprintf(p->sock, sizeof p->sock, "%s/run", p->base);
    int n3 = snprintf(p->log, sizeof p->log, "%s/postgresql.log", p->base);
    int n4 = snprintf(p->cmdlog, sizeof p->cmdlog, "%s/cluster.log", p->base);
    /* A unix socket path is limited to 107 bytes; keep room for "/.s.PGSQL.5432". */
    if (n1 >= PATH_MAX || n3 >= PATH_MAX || n4 >= PATH_MAX || n2 > 90) {
        return fl_error_set(err, FLE_INTERNAL, "data_dir", "data directory path %s is too long for a socket",
                            p->base);
    }
    return FLE_OK;
}

static bool initialised(const struct paths *p)
{
    char v[PATH_MAX + 16];
    snprintf(v, sizeof v, "%s/PG_VERSION", p->pgdata);
    return access(v, F_OK) == 0;
}

static bool running(const struct paths *p)
{
    const char *argv[] = {"pg_ctl", "status", "-D", p->pgdata, NULL};
    return run(p, argv) == 0;
}

static enum fl_err ensure_database(const char *sock, struct fl_error *err)
{
    char ci[CONNINFO_BYTES_MAX];
    if (snprintf(ci, sizeof ci, "host=%s dbname=postgres user=" CLUSTER_SUPERUSER, sock) >= (int)sizeof ci) {
        return fl_error_set(err, FLE_INTERNAL, "data_dir", "socket path too long");
    }
    PGconn *c = PQconnectdb(ci);
    enum fl_err e = FLE_OK;
    if (PQstatus(c) != CONNECTION_OK) {
        e = fl_error_set(err, FLE_DB_UNAVAILABLE, NULL, "private cluster is not answering: %s", PQerrorMessage(c));
        goto out;
    }
    PGresult *r = PQexec(c, "SELECT 1 FROM pg_database WHERE datname = '" CLUSTER_DB_NAME "'");
    bool exists = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
    PQclear(r);
    if (!exists) {
        r = PQexec(c, "CREATE DATABASE " CLUSTER_DB_NAME " ENCODING 'UTF8' TEMPLATE template0");
        /* Another process may have created it meanwhile: 42P04 is fine. */
        const char *st = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        if (PQresultStatus(r) != PGRES_COMMAND_OK && !(st && strcmp(st, "42P04") == 0)) {
            e = fl_error_set(err, FLE_INTERNAL, NULL, "cannot create database: %s", PQerrorMessage(c));
        }
        PQclear(r);
    }
out:
    PQfinish(c);
    return e;
}

enum fl_err cluster_conninfo(const struct config *cfg, bool ensure, char *out, size_t cap, struct fl_error *err)
{
    assert(cfg != NULL && out != NULL);
    if (cfg->database_url[0] != '\0') {
        if (snprintf(out, cap, "%s", cfg->database_url) >= (int)cap) {
            return fl_error_set(err, FLE_INTERNAL, "database_url", "database_url is too long");
        }
        return FLE_OK;
    }
    struct paths p;
    enum fl_err e = resolve(cfg, &p, ensure, err);
    if (e != FLE_OK) {
        return e;
    }
    if (ensure) {
        if (!make_dir(p.sock, 0755) || (e = give_to_postgres(p.sock, err)) != FLE_OK) {
            return e != FLE_OK ? e : fl_error_set(err, FLE_INTERNAL, "data_dir", "cannot create %s", p.sock);
        }
        int fd = open(p.cmdlog, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            close(fd);
        }
        if ((e = give_to_postgres(p.cmdlog, err)) != FLE_OK) {
            return e;
        }
        if (am_root()) {
            const char *probe[] = {"pg_ctl", "--version", NULL};
            if (run(&p, probe) != 0) {
                return fl_error_set(err, FLE_INTERNAL, "data_dir",
                                    "the postgres user cannot run pg_ctl in %s; every directory above it must be "
                                    "searchable (chmod o+x) or set FUNDLEDGER_DATABASE_URL",
                                    p.base);
            }
        }
        if (!initialised(&p)) {
            if (!make_dir(p.pgdata, 0700) || (e = give_to_postgres(p.pgdata, err)) != FLE_OK) {
                return e != FLE_OK ? e : fl_error_set(err, FLE_INTERNAL, "data_dir", "cannot create %s", p.pgdata);
            }
            log_info("cluster: creating a private PostgreSQL cluster in %s", p.pgdata);
            const char *argv[] = {"initdb", "-D", p.pgdata, "-U", CLUSTER_SUPERUSER, "-A", "trust",
                                  "-E", "UTF8", "--no-locale", NULL};
            if (run(&p, argv) != 0) {
                return fl_error_set(err, FLE_INTERNAL, NULL, "initdb failed; see %s", p.cmdlog);
            }
        }
        if (!running(&p)) {
            char opts[PATH_MAX + 128];
            /* Unix socket only, private to the owner; no TCP listener. */
            snprintf(opts, sizeof opts, "-c listen_addresses='' -k '%s' -c unix_socket_permissions=0700", p.sock);
            int fd2 = open(p.log, O_WRONLY | O_CREAT | O_APPEND, 0600);
            if (fd2 >= 0) {
                close(fd2);
            }
            if ((e = give_to_postgres(p.log, err)) != FLE_OK) {
                return e;
            }
            log_info("cluster: starting PostgreSQL (log %s)", p.log);
            const char *argv[] = {"pg_ctl", "-D", p.pgdata, "-l", p.log, "-w", "-t", "60", "-o", opts, "start", NULL};
            if (run(&p, argv) != 0 && !running(&p)) {
                return fl_error_set(err, FLE_INTERNAL, NULL, "PostgreSQL did not start; see %s", p.log);
            }
        }
        if ((e = ensure_database(p.sock, err)) != FLE_OK) {
            return e;
        }
    }
    if (snprintf(out, cap, "host=%s dbname=" CLUSTER_DB_NAME " user=" CLUSTER_SUPERUSER, p.sock) >= (int)cap) {
        return fl_error_set(err, FLE_INTERNAL, "data_dir", "data directory path too long");
    }
    return FLE_OK;
}

enum fl_err cluster_stop(const struct config *cfg, bool *stopped, struct fl_error *err)
{
    *stopped = false;
    if (cfg->database_url[0] != '\0') {
        return FLE_OK;
    }
    struct paths p;
    if (resolve(cfg, &p, false, err) != FLE_OK || !initialised(&p)) {
        fl_error_clear(err);
        return FLE_OK;
    }
    if (!running(&p)) {
        return FLE_OK;
    }
    const char *argv[] = {"pg_ctl", "-D", p.pgdata, "-m", "fast", "-w", "stop", NULL};
    if (run(&p, argv) != 0) {
        return fl_error_set(err, FLE_INTERNAL, NULL, "pg_ctl stop failed; see %s", p.cmdlog);
    }
    *stopped = true;
    return FLE_OK;
}
