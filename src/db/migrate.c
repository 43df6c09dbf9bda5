/* migrate: numbered, append-only schema migrations recorded with their SHA-256. */
#include "fundledger/migrate.h"

#include <assert.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fundledger/hash.h"
#include "fundledger/log.h"

#define MIGRATION_FILE_BYTES_MAX (4u << 20) /* a schema file is text; 4 MiB is far beyond any */
#define MIGRATION_NAME_BYTES 128

struct migration {
    unsigned version;
    char name[MIGRATION_NAME_BYTES];
};

static bool valid_name(const char *n, unsigned *version)
{
    size_t len = strlen(n);
    if (len < 10 || len >= MIGRATION_NAME_BYTES || strcmp(n + len - 4, ".sql") != 0 || n[4] != '_') {
        return false;
    }
    for (int i = 0; i < 4; i++) {
        if (n[i] < '0' || n[i] > '9') {
            return false;
        }
    }
    for (size_t i = 5; i < len - 4; i++) {
        char c = n[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) {
            return false;
        }
    }
    *version = (unsigned)atoi(n);
    return *version > 0;
}

static int cmp_migration(const void *a, const void *b)
{
    const struct migration *x = a, *y = b;
    return (x->version > y->version) - (x->version < y->version);
}

/* Lists the migrations of dir sorted by version; checks there are no gaps or duplicates. */
static int list(const char *dir, struct migration *out, struct fl_error *err)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        fl_error_set(err, FLE_INTERNAL, "migrations_dir", "cannot open migrations directory %s", dir);
        return -1;
    }
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        unsigned v;
        if (!valid_name(e->d_name, &v)) {
            continue;
        }
        if (n == MIGRATIONS_MAX) {
            closedir(d);
            fl_error_set(err, FLE_INTERNAL, "migrations_dir", "more than %d migrations", MIGRATIONS_MAX);
            return -1;
        }
        out[n].version = v;
        snprintf(out[n].name, sizeof out[n].name, "%s", e->d_name);
        n++;
    }
    closedir(d);
    qsort(out, (size_t)n, sizeof *out, cmp_migration);
    for (int i = 0; i < n; i++) {
        if (out[i].version != (unsigned)i + 1) {
            fl_error_set(err, FLE_INTERNAL, "migrations_dir", "migration %04d is missing or repeated (found %s)",
                         i + 1, out[i].name);
            return -1;
        }
    }
    return n;
}

int migrate_count(const char *dir, struct fl_error *err)
{
    static struct migration ms[MIGRATIONS_MAX];
    return list(dir, ms, err);
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return NULL;
    }
    char *buf = malloc(MIGRATION_FILE_BYTES_MAX + 1);
    size_t n = buf ? fread(buf, 1, MIGRATION_FILE_BYTES_MAX + 1, f) : 0;
    bool ok = buf != NULL && !ferror(f) && n <= MIGRATION_FILE_BYTES_MAX;
    fclose(f);
    if (!ok) {
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

static bool run(struct db *db, const char *sql, struct fl_error *err)
{
    PGresult *r = db_exec_sql(db, sql, err);
    PQclear(r);
    return r != NULL;
}

/* Applies one migration (or checks its checksum) inside its own transaction. */
static enum fl_err apply_one(struct db *db, const char *dir, const struct migration *m, bool *applied,
                             struct fl_error *err)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, m->name);
    size_t len = 0;
    char *sql = read_file(path, &len);
    if (sql == NULL) {
        return fl_error_set(err, FLE_INTERNAL, "migrations_dir", "cannot read %s", path);
    }
    uint8_t sum[HASH_BYTES];
    char hex[HASH_HEX_BYTES];
    if (!hash_sha256(sql, len, sum)) {
        free(sql);
        return fl_error_set(err, FLE_INTERNAL, NULL, "cannot hash %s", path);
    }
    hash_hex(sum, HASH_BYTES, hex);

    enum fl_err e = FLE_INTERNAL;
    char query[512];
    *applied = false;
    if (!run(db, "BEGIN", err) || !run(db, "SELECT pg_advisory_xact_lock(7265100001)", err)) {
        goto out;
    }
    snprintf(query, sizeof query, "SELECT encode(checksum, 'hex') FROM schema_migration WHERE version = %u",
             m->version);
    PGresult *r = db_exec_sql(db, query, err);
    if (r == NULL) {
        goto rollback;
    }
    if (PQntuples(r) == 1) {
        bool same = strcmp(PQgetvalue(r, 0, 0), hex) == 0;
        PQclear(r);
        if (!same) {
            fl_error_set(err, FLE_INTERNAL, "migrations_dir",
                         "%s was changed after it was applied; landed migrations are append-only", m->name);
            goto rollback;
        }
        e = run(db, "COMMIT", err) ? FLE_OK : FLE_INTERNAL;
        goto out;
    }
    PQclear(r);
    if (!run(db, sql, err)) {
        log_error("migrate: %s failed: %s", m->name, err ? err->message : "");
        if (strcmp(db_last_sqlstate(db), "42501") == 0) {
            /* insufficient_privilege: most likely the service role's connection. */
            fl_error_set(err, FLE_INTERNAL, "database_owner_url",
                         "%s needs the owner's rights: migrations run with database_owner_url (the owner role), "
                         "not as the service role",
                         m->name);
        }
        goto rollback;
    }
    const char *params[3];
    char v[21];
    params[0] = db_i64_text(m->version, v);
    params[1] = m->name;
    params[2] = hex;
    r = PQexecParams(db_pg(db),
                     "INSERT INTO schema_migration (version, name, checksum) VALUES ($1, $2, decode($3, 'hex'))",
                     3, NULL, params, NULL, NULL, 0);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    if (!ok || !run(db, "COMMIT", err)) {
        fl_error_set(err, FLE_INTERNAL, NULL, "cannot record migration %s", m->name);
        goto rollback;
    }
    *applied = true;
    log_info("migrate: applied %s", m->name);
    e = FLE_OK;
    goto out;
rollback:
    PQclear(PQexec(db_pg(db), "ROLLBACK"));
    e = err && err->code != FLE_OK ? err->code : FLE_INTERNAL;
out:
    free(sql);
    return e;
}

enum fl_err migrate_apply(struct db *db, const char *dir, unsigned *applied, struct fl_error *err)
{
    assert(db != NULL && dir != NULL);
    static struct migration ms[MIGRATIONS_MAX];
    if (applied) {
        *applied = 0;
    }
    int n = list(dir, ms, err);
    if (n < 0) {
        return FLE_INTERNAL;
    }
    /* Created only when absent: the service role (which may not create tables) can then run
     * this to check that every migration is applied and unchanged. */
    int current = migrate_current(db, err);
    if (current < 0) {
        return FLE_INTERNAL;
    }
    if (current == 0 &&
        !run(db,
             "CREATE TABLE IF NOT EXISTS schema_migration ("
             " version int PRIMARY KEY, name text NOT NULL, checksum bytea NOT NULL,"
             " applied_at timestamptz NOT NULL DEFAULT now())",
             err)) {
        return FLE_INTERNAL;
    }
    for (int i = 0; i < n; i++) {
        bool done = false;
        enum fl_err e = apply_one(db, dir, &ms[i], &done, err);
        if (e != FLE_OK) {
            return e;
        }
        if (done && applied) {
            (*applied)++;
        }
    }
    return FLE_OK;
}

int migrate_current(struct db *db, struct fl_error *err)
{
    PGresult *r = db_exec_sql(db, "SELECT to_regclass('schema_migration') IS NOT NULL", err);
    if (r == NULL) {
        return -1;
    }
    bool exists = db_bool(r, 0, 0);
    PQclear(r);
    if (!exists) {
        return 0;
    }
    r = db_exec_sql(db, "SELECT coalesce(max(version), 0) FROM schema_migration", err);
    if (r == NULL) {
        return -1;
    }
    int v = (int)db_i64(r, 0, 0);
    PQclear(r);
    return v;
}

int migrate_role_is_owner(struct db *db, char *role, size_t cap, struct fl_error *err)
{
    PGresult *r = db_exec_sql(db,
                              "SELECT current_user, r.rolsuper OR coalesce(pg_has_role(current_user, "
                              "(SELECT relowner FROM pg_class WHERE oid = to_regclass('journal_line')), 'USAGE'), false) "
                              "FROM pg_roles r WHERE r.rolname = current_user",
                              err);
    if (r == NULL) {
        return -1;
    }
    if (PQntuples(r) != 1) {
        PQclear(r);
        fl_error_set(err, FLE_INTERNAL, NULL, "cannot read the connection's role");
        return -1;
    }
    snprintf(role, cap, "%s", PQgetvalue(r, 0, 0));
    int owner = db_bool(r, 0, 1) ? 1 : 0;
    PQclear(r);
    return owner;
}
