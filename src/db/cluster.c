/* cluster: initdb, start, stop of the private PostgreSQL cluster under data_dir. */
#include "fundledger/cluster.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <grp.h>
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

#include "fundledger/hash.h"
#include "fundledger/log.h"

#define CLUSTER_ARGS_MAX 24
#define CLUSTER_SUPERUSER CLUSTER_OWNER_ROLE
#define CLUSTER_AUTH_FILE_BYTES_MAX 4096

struct paths {
    char base[PATH_MAX];     /* data_dir, resolved */
    char home[PATH_MAX];     /* where the cluster lives: base, or under postgres's home (see resolve) */
    bool moved;              /* home is not base */
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

/* Whether the system user postgres can reach dir (search permission on it and every directory
 * above it): checked by a child process that becomes postgres, as the cluster's commands do. */
static bool postgres_can_reach(const char *dir)
{
    struct passwd *pw = getpwnam("postgres");
    if (pw == NULL) {
        return false;
    }
    uid_t uid = pw->pw_uid;
    gid_t gid = pw->pw_gid;
    pid_t pid = fork();
    if (pid < 0) {
        return false;
    }
    if (pid == 0) {
        if (initgroups("postgres", gid) != 0 || setgid(gid) != 0 || setuid(uid) != 0) {
            _exit(2);
        }
        _exit(access(dir, X_OK) == 0 ? 0 : 1);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            return false;
        }
    }
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static bool initialised_at(const char *home)
{
    char v[PATH_MAX + 32];
    snprintf(v, sizeof v, "%s/pgdata/PG_VERSION", home);
    return access(v, F_OK) == 0;
}

/* The cluster's home when root and postgres cannot reach data_dir (a clone under /root, mode
 * 0700): postgres's home directory (/var/lib/postgresql)/fundledger/<first 16 hex digits of the
 * SHA-256 of data_dir's real path>, so each data_dir keeps its own cluster and finds it again. */
static bool moved_home(const char *base, char *out, size_t cap)
{
    struct passwd *pw = getpwnam("postgres");
    uint8_t sum[HASH_BYTES];
    char hex[HASH_HEX_BYTES];
    if (pw == NULL || pw->pw_dir == NULL || pw->pw_dir[0] != '/' || !hash_sha256(base, strlen(base), sum)) {
        return false;
    }
    hash_hex(sum, HASH_BYTES, hex);
    return snprintf(out, cap, "%s/fundledger/%.16s", pw->pw_dir, hex) < (int)cap;
}

static enum fl_err resolve(const struct config *cfg, struct paths *p, bool create, struct fl_error *err)
{
    if (create && !make_dir(cfg->data_dir, 0755)) {
        return fl_error_set(err, FLE_INTERNAL, "data_dir", "cannot create %s: %s", cfg->data_dir, strerror(errno));
    }
    if (realpath(cfg->data_dir, p->base) == NULL) {
        return fl_error_set(err, FLE_INTERNAL, "data_dir", "no data directory %s", cfg->data_dir);
    }
    snprintf(p->home, sizeof p->home, "%s", p->base);
    p->moved = false;
    if (am_root()) {
        /* initdb refuses root, so the cluster runs as postgres, which must reach its directory.
         * A cluster once moved stays where it is, even if data_dir becomes reachable later. */
        char alt[PATH_MAX];
        bool have_alt = moved_home(p->base, alt, sizeof alt);
        bool alt_made = have_alt && initialised_at(alt);
        bool reachable = alt_made || postgres_can_reach(p->base);
        if (alt_made || (have_alt && !reachable && !initialised_at(p->base))) {
            snprintf(p->home, sizeof p->home, "%s", alt);
            p->moved = true;
        } else if (!reachable) {
            /* A cluster already in data_dir (made when it was reachable), or no home for postgres. */
            return fl_error_set(err, FLE_INTERNAL, "data_dir",
                                "the system user postgres cannot reach %s: make every directory above it "
                                "searchable (chmod o+x), choose another data_dir, or set FUNDLEDGER_DATABASE_URL",
                                p->base);
        }
    }
    int n1 = snprintf(p->pgdata, sizeof p->pgdata, "%s/pgdata", p->home);
    int n2 = snprintf(p->sock, sizeof p->sock, "%s/run", p->home);
    int n3 = snprintf(p->log, sizeof p->log, "%s/postgresql.log", p->home);
    int n4 = snprintf(p->cmdlog, sizeof p->cmdlog, "%s/cluster.log", p->base);
    /* A unix socket path is limited to 107 bytes; keep room for "/.s.PGSQL.5432". */
    if (n1 >= PATH_MAX || n3 >= PATH_MAX || n4 >= PATH_MAX || n2 > 90) {
        return fl_error_set(err, FLE_INTERNAL, "data_dir", "data directory path %s is too long for a socket",
                            p->home);
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

/* Replaces path's content with text when it differs (written beside it and renamed, then given
 * to postgres when root); *changed tells whether it did. */
static enum fl_err write_if_changed(const char *path, const char *text, bool *changed, struct fl_error *err)
{
    char old[CLUSTER_AUTH_FILE_BYTES_MAX];
    size_t len = strlen(text), n = 0;
    FILE *f = fopen(path, "r");
    if (f != NULL) {
        n = fread(old, 1, sizeof old, f);
        fclose(f);
        if (n == len && memcmp(old, text, len) == 0) {
            *changed = false;
            return FLE_OK;
        }
    }
    char tmp[PATH_MAX + 8];
    if (snprintf(tmp, sizeof tmp, "%s.new", path) >= (int)sizeof tmp) {
        return fl_error_set(err, FLE_INTERNAL, "data_dir", "path too long: %s", path);
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) {
        return fl_error_set(err, FLE_INTERNAL, "data_dir", "cannot write %s: %s", tmp, strerror(errno));
    }
    bool ok = write(fd, text, len) == (ssize_t)len;
    ok = close(fd) == 0 && ok;
    enum fl_err e = ok ? give_to_postgres(tmp, err) : FLE_INTERNAL;
    if (!ok || e != FLE_OK || rename(tmp, path) != 0) {
        unlink(tmp);
        return e != FLE_OK ? e : fl_error_set(err, FLE_INTERNAL, "data_dir", "cannot write %s", path);
    }
    *changed = true;
    return FLE_OK;
}

/* Peer authentication on the unix socket, the only listener: the operating-system user running
 * fundledger may connect as the owner (migrations) and as the service role, nobody else and as
 * no other role. Written at every start, so a cluster made before (trust) is brought to this. */
static enum fl_err write_auth(const struct paths *p, bool *changed, struct fl_error *err)
{
    struct passwd *me = getpwuid(geteuid());
    if (me == NULL || me->pw_name == NULL || strpbrk(me->pw_name, " \t\n\"#") != NULL) {
        return fl_error_set(err, FLE_INTERNAL, NULL,
                            "the user running fundledger (uid %u) needs a plain name in /etc/passwd for the private "
                            "cluster's peer authentication, or set FUNDLEDGER_DATABASE_URL",
                            (unsigned)geteuid());
    }
    char hba[CLUSTER_AUTH_FILE_BYTES_MAX], ident[CLUSTER_AUTH_FILE_BYTES_MAX], path[PATH_MAX + 16];
    snprintf(hba, sizeof hba,
             "# Written by fundledger (src/db/cluster.c) at every start; edits here are replaced.\n"
             "# Unix socket only (listen_addresses is empty); peer authentication through pg_ident.conf.\n"
             "local all " CLUSTER_OWNER_ROLE "," CLUSTER_SERVICE_ROLE " peer map=fundledger\n");
    int n = snprintf(ident, sizeof ident,
                     "# Written by fundledger (src/db/cluster.c) at every start; edits here are replaced.\n"
                     "# The user running fundledger: the owner (migrations) and the service role.\n"
                     "fundledger %s " CLUSTER_OWNER_ROLE "\n"
                     "fundledger %s " CLUSTER_SERVICE_ROLE "\n",
                     me->pw_name, me->pw_name);
    if (n >= (int)sizeof ident) {
        return fl_error_set(err, FLE_INTERNAL, NULL, "user name too long");
    }
    bool c1 = false, c2 = false;
    enum fl_err e;
    snprintf(path, sizeof path, "%s/pg_hba.conf", p->pgdata);
    if ((e = write_if_changed(path, hba, &c1, err)) != FLE_OK) {
        return e;
    }
    snprintf(path, sizeof path, "%s/pg_ident.conf", p->pgdata);
    if ((e = write_if_changed(path, ident, &c2, err)) != FLE_OK) {
        return e;
    }
    *changed = c1 || c2;
    return FLE_OK;
}

static bool ok_or_state(PGresult *r, const char *allowed)
{
    const char *st = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    return PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK ||
           (st != NULL && strcmp(st, allowed) == 0);
}

/* The database and the service role (migration 0010 grants it its privileges). */
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
        if (!ok_or_state(r, "42P04")) {
            e = fl_error_set(err, FLE_INTERNAL, NULL, "cannot create database: %s", PQerrorMessage(c));
        }
        PQclear(r);
    }
    r = PQexec(c, "SELECT 1 FROM pg_roles WHERE rolname = '" CLUSTER_SERVICE_ROLE "'");
    exists = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
    PQclear(r);
    if (e == FLE_OK && !exists) {
        r = PQexec(c, "CREATE ROLE " CLUSTER_SERVICE_ROLE
                      " LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOREPLICATION NOBYPASSRLS");
        /* 42710: made meanwhile by another process. */
        if (!ok_or_state(r, "42710")) {
            e = fl_error_set(err, FLE_INTERNAL, NULL, "cannot create role " CLUSTER_SERVICE_ROLE ": %s",
                             PQerrorMessage(c));
        }
        PQclear(r);
    }
out:
    PQfinish(c);
    return e;
}

/* Creates, starts and opens the private cluster under data_dir (or, see resolve, under
 * postgres's home). */
static enum fl_err ensure_cluster(const struct config *cfg, struct paths *p, struct fl_error *err)
{
    enum fl_err e = resolve(cfg, p, true, err);
    if (e != FLE_OK) {
        return e;
    }
    if (p->moved) {
        char parent[PATH_MAX];
        snprintf(parent, sizeof parent, "%s", p->home);
        char *slash = strrchr(parent, '/');
        *slash = '\0';
        if (!make_dir(parent, 0755) || (e = give_to_postgres(parent, err)) != FLE_OK || !make_dir(p->home, 0700) ||
            (e = give_to_postgres(p->home, err)) != FLE_OK) {
            return e != FLE_OK ? e : fl_error_set(err, FLE_INTERNAL, "data_dir", "cannot create %s: %s", p->home,
                                                  strerror(errno));
        }
    }
    if (!make_dir(p->sock, 0755) || (e = give_to_postgres(p->sock, err)) != FLE_OK) {
        return e != FLE_OK ? e : fl_error_set(err, FLE_INTERNAL, "data_dir", "cannot create %s", p->sock);
    }
    int fd = open(p->cmdlog, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
        close(fd);
    }
    if ((e = give_to_postgres(p->cmdlog, err)) != FLE_OK) {
        return e;
    }
    if (am_root()) {
        const char *probe[] = {"pg_ctl", "--version", NULL};
        if (run(p, probe) != 0) {
            return fl_error_set(err, FLE_INTERNAL, "data_dir", "the postgres user cannot run pg_ctl; see %s",
                                p->cmdlog);
        }
    }
    if (!initialised(p)) {
        if (!make_dir(p->pgdata, 0700) || (e = give_to_postgres(p->pgdata, err)) != FLE_OK) {
            return e != FLE_OK ? e : fl_error_set(err, FLE_INTERNAL, "data_dir", "cannot create %s", p->pgdata);
        }
        if (p->moved) {
            log_info("cluster: the system user postgres cannot reach %s (a directory above it is not searchable "
                     "by others), so the private cluster lives in %s",
                     p->base, p->home);
        }
        log_info("cluster: creating a private PostgreSQL cluster in %s", p->pgdata);
        const char *argv[] = {"initdb", "-D", p->pgdata, "-U", CLUSTER_SUPERUSER, "--auth-local=peer",
                              "--auth-host=reject", "-E", "UTF8", "--no-locale", NULL};
        if (run(p, argv) != 0) {
            return fl_error_set(err, FLE_INTERNAL, NULL, "initdb failed; see %s", p->cmdlog);
        }
    }
    bool auth_changed = false;
    if ((e = write_auth(p, &auth_changed, err)) != FLE_OK) {
        return e;
    }
    if (!running(p)) {
        char opts[PATH_MAX + 128];
        /* Unix socket only, private to the owner; no TCP listener. */
        snprintf(opts, sizeof opts, "-c listen_addresses='' -k '%s' -c unix_socket_permissions=0700", p->sock);
        int fd2 = open(p->log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (fd2 >= 0) {
            close(fd2);
        }
        if ((e = give_to_postgres(p->log, err)) != FLE_OK) {
            return e;
        }
        log_info("cluster: starting PostgreSQL (log %s)", p->log);
        const char *argv[] = {"pg_ctl", "-D", p->pgdata, "-l", p->log, "-w", "-t", "60", "-o", opts, "start", NULL};
        if (run(p, argv) != 0 && !running(p)) {
            return fl_error_set(err, FLE_INTERNAL, NULL, "PostgreSQL did not start; see %s", p->log);
        }
    } else if (auth_changed) {
        const char *argv[] = {"pg_ctl", "-D", p->pgdata, "reload", NULL};
        if (run(p, argv) != 0) {
            return fl_error_set(err, FLE_INTERNAL, NULL, "pg_ctl reload failed; see %s", p->cmdlog);
        }
    }
    return ensure_database(p->sock, err);
}

/* The conninfo of role on the private cluster, or of the configured database. */
static enum fl_err conninfo_as(const struct config *cfg, bool owner, bool ensure, char *out, size_t cap,
                               struct fl_error *err)
{
    assert(cfg != NULL && out != NULL);
    if (cfg->database_url[0] != '\0') {
        const char *url = owner && cfg->database_owner_url[0] != '\0' ? cfg->database_owner_url : cfg->database_url;
        if (snprintf(out, cap, "%s", url) >= (int)cap) {
            return fl_error_set(err, FLE_INTERNAL, owner ? "database_owner_url" : "database_url", "too long");
        }
        return FLE_OK;
    }
    struct paths p;
    enum fl_err e = ensure ? ensure_cluster(cfg, &p, err) : resolve(cfg, &p, false, err);
    if (e != FLE_OK) {
        return e;
    }
    if (snprintf(out, cap, "host=%s dbname=" CLUSTER_DB_NAME " user=%s", p.sock,
                 owner ? CLUSTER_OWNER_ROLE : CLUSTER_SERVICE_ROLE) >= (int)cap) {
        return fl_error_set(err, FLE_INTERNAL, "data_dir", "data directory path too long");
    }
    return FLE_OK;
}

enum fl_err cluster_conninfo(const struct config *cfg, bool ensure, char *out, size_t cap, struct fl_error *err)
{
    return conninfo_as(cfg, false, ensure, out, cap, err);
}

enum fl_err cluster_owner_conninfo(const struct config *cfg, bool ensure, char *out, size_t cap,
                                   struct fl_error *err)
{
    return conninfo_as(cfg, true, ensure, out, cap, err);
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
