/* test_cli: the built command line ($FUNDLEDGER_BIN) on this test's database: every number read
 * strictly (a bad one exits 2 with one exact line on stderr and changes nothing), one-line errors
 * naming the field, tokens that expire by default and renew, iati export --out made when missing. */
/* cmocka.h needs these before it, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include <fcntl.h>
#include <inttypes.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../support/testdb.h"
#include "fundledger/demo.h"

extern char **environ;

/* Bounds of the test. */
#define ARGS_MAX 16
#define ENV_MAX 256
#define OUTPUT_BYTES 8192
#define TMP_BYTES 200 /* the temporary directory; paths below it fit PATH_BYTES */
#define PATH_BYTES 512
#define LONG_PATH_BYTES 1200
#define ID_MAX_TEXT "9223372036854775807"

static const char *conninfo;
static const char *bin;
static char tmp_dir[TMP_BYTES];
static char env_url[1100], env_schemas[PATH_BYTES], env_codelists[PATH_BYTES];
static long long admin_token_id; /* the token every "must not touch it" check looks at */
static long long fund_id;

/* What one run of the binary gave. */
struct run {
    int exit_code; /* -1 when it did not exit normally */
    char out[OUTPUT_BYTES];
    char err[OUTPUT_BYTES];
};

static void read_back(int fd, char *buf, size_t cap)
{
    assert_true(lseek(fd, 0, SEEK_SET) == 0);
    size_t n = 0;
    ssize_t got;
    while (n + 1 < cap && (got = read(fd, buf + n, cap - 1 - n)) > 0) {
        n += (size_t)got;
    }
    buf[n] = '\0';
    close(fd);
}

/* Runs $FUNDLEDGER_BIN with args (NULL-terminated) on the test database, the environment of the
 * test plus extra (NULL-terminated "NAME=value", may be NULL); no FUNDLEDGER_CONFIG. */
static void run_env(const char *const *args, const char *const *extra, struct run *out)
{
    char *argv[ARGS_MAX + 2];
    size_t a = 0;
    argv[a++] = (char *)bin;
    for (; args[a - 1] != NULL; a++) {
        assert_true(a < ARGS_MAX);
        argv[a] = (char *)args[a - 1];
    }
    argv[a] = NULL;
    char *envp[ENV_MAX];
    size_t e = 0;
    for (char **p = environ; *p != NULL && e + 8 < ENV_MAX; p++) {
        if (strncmp(*p, "FUNDLEDGER_DATABASE_URL=", 24) != 0 && strncmp(*p, "FUNDLEDGER_CONFIG=", 18) != 0 &&
            strncmp(*p, "FUNDLEDGER_TOKEN_LIFETIME_DAYS=", 31) != 0) {
            envp[e++] = *p;
        }
    }
    envp[e++] = env_url;
    envp[e++] = env_schemas;
    envp[e++] = env_codelists;
    for (size_t i = 0; extra != NULL && extra[i] != NULL; i++) {
        assert_true(e + 1 < ENV_MAX);
        envp[e++] = (char *)extra[i];
    }
    envp[e] = NULL;

    char out_path[PATH_BYTES], err_path[PATH_BYTES];
    snprintf(out_path, sizeof out_path, "%s/out-XXXXXX", tmp_dir);
    snprintf(err_path, sizeof err_path, "%s/err-XXXXXX", tmp_dir);
    int out_fd = mkstemp(out_path), err_fd = mkstemp(err_path);
    assert_true(out_fd >= 0 && err_fd >= 0);
    unlink(out_path);
    unlink(err_path);
    posix_spawn_file_actions_t fa;
    assert_int_equal(posix_spawn_file_actions_init(&fa), 0);
    assert_int_equal(posix_spawn_file_actions_adddup2(&fa, out_fd, 1), 0);
    assert_int_equal(posix_spawn_file_actions_adddup2(&fa, err_fd, 2), 0);
    assert_int_equal(posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0), 0);
    pid_t pid;
    int rc = posix_spawn(&pid, bin, &fa, NULL, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    assert_int_equal(rc, 0);
    int status = 0;
    assert_true(waitpid(pid, &status, 0) == pid);
    out->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    read_back(out_fd, out->out, sizeof out->out);
    read_back(err_fd, out->err, sizeof out->err);
}

static void run(const char *const *args, struct run *out)
{
    run_env(args, NULL, out);
}

#define RUN(out, ...)                                                                                                  \
    do {                                                                                                               \
        const char *const args_[] = {__VA_ARGS__, NULL};                                                               \
        run(args_, (out));                                                                                             \
    } while (0)

/* The run exited with code and wrote exactly err_line (one line, its newline included) on
 * stderr and nothing on stdout. */
#define expect_refusal(r, code, err_line) expect_refusal_at((r), (code), (err_line), __FILE__, __LINE__)
static void expect_refusal_at(const struct run *r, int code, const char *err_line, const char *file, int line)
{
    if (r->exit_code != code || strcmp(r->err, err_line) != 0 || r->out[0] != '\0') {
        print_message("%s:%d: exit %d (want %d)\n  stderr: [%s]\n  want:   [%s]\n  stdout: [%s]\n", file, line,
                      r->exit_code, code, r->err, err_line, r->out);
    }
    _assert_int_equal((uintmax_t)r->exit_code, (uintmax_t)code, file, line);
    _assert_string_equal(r->err, err_line, file, line);
    _assert_string_equal(r->out, "", file, line);
}

static bool token_revoked(long long id)
{
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT (revoked_at IS NOT NULL)::int FROM api_token WHERE id = %lld", id);
    return testdb_int(conninfo, sql) == 1;
}

static long long expires_in_s(long long id)
{
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT extract(epoch FROM expires_at - now())::bigint FROM api_token WHERE id = %lld",
             id);
    return testdb_int(conninfo, sql);
}

/* The expiry is days from now, give or take the two minutes a slow run may take. */
#define expect_days(id, days)                                                                                          \
    do {                                                                                                               \
        long long s_ = expires_in_s(id);                                                                               \
        if (!(s_ > (days)*86400LL - 120 && s_ <= (days)*86400LL)) {                                                    \
            fail_msg("token %lld expires in %lld s, not %d days", (long long)(id), s_, (days));                        \
        }                                                                                                              \
    } while (0)

static long long token_count(void)
{
    return testdb_int(conninfo, "SELECT count(*) FROM api_token");
}

/* Creates a token for user with the binary (extra args after --user NAME); returns its id. */
static long long create_token(const char *user, const char *days)
{
    struct run r;
    if (days != NULL) {
        RUN(&r, "token", "create", "--user", user, "--expires-days", days);
    } else {
        RUN(&r, "token", "create", "--user", user);
    }
    if (r.exit_code != 0) {
        fail_msg("token create: %d %s", r.exit_code, r.err);
    }
    /* stdout: the token and a newline, nothing else. */
    assert_int_equal(strlen(r.out), 3 + 64 + 1);
    assert_memory_equal(r.out, "fl_", 3);
    long long id = 0;
    char who[64], lifetime[16];
    assert_int_equal(sscanf(r.err, "token %lld for %63s expires in %15s days", &id, who, lifetime), 3);
    char want[256];
    snprintf(want, sizeof want, "token %lld for %s, expires in %s days: store it now, it is shown once\n", id, user,
             days ? days : "90");
    assert_string_equal(r.err, want);
    return id;
}

/* ---- setup ------------------------------------------------------------------------------ */

static int setup(void **state)
{
    (void)state;
    bin = getenv("FUNDLEDGER_BIN");
    if (bin == NULL) {
        fprintf(stderr, "test_cli: FUNDLEDGER_BIN is not set: run through tests/run.sh\n");
        return -1;
    }
    conninfo = testdb_create("cli");
    snprintf(env_url, sizeof env_url, "FUNDLEDGER_DATABASE_URL=%s", conninfo);
    const char *shared = getenv("FUNDLEDGER_SHARED_DIR");
    snprintf(env_schemas, sizeof env_schemas, "FUNDLEDGER_IATI_SCHEMA_DIR=%s/iati/schemas",
             shared ? shared : "../shared");
    snprintf(env_codelists, sizeof env_codelists, "FUNDLEDGER_IATI_CODELIST_DIR=%s/iati/codelists",
             shared ? shared : "../shared");
    const char *tmp = getenv("TMPDIR");
    snprintf(tmp_dir, sizeof tmp_dir, "%s/fundledger-test-cli-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
    if (mkdtemp(tmp_dir) == NULL) {
        return -1;
    }
    umask(022); /* so a directory made with mode 0755 is 0755 */
    /* The demo (a fund to export, users), then the token the refusals must leave alone. */
    char cred[PATH_BYTES];
    snprintf(cred, sizeof cred, "%s/credentials.json", tmp_dir);
    struct db *db = testdb_open(conninfo);
    struct fl_error err;
    fl_error_clear(&err);
    enum fl_err e = demo_load(db, cred, &err);
    db_close(db);
    remove(cred);
    if (e != FLE_OK) {
        fprintf(stderr, "test_cli: demo_load: %s\n", err.message);
        return -1;
    }
    char *v = testdb_scalar(conninfo, "SELECT t.id FROM api_token t JOIN app_user u ON u.id = t.user_id "
                                      "WHERE u.name = 'admin'");
    admin_token_id = v ? strtoll(v, NULL, 10) : 0;
    free(v);
    v = testdb_scalar(conninfo, "SELECT id FROM fund WHERE code = 'HSP-ELCHARCO'");
    fund_id = v ? strtoll(v, NULL, 10) : 0;
    free(v);
    return admin_token_id > 0 && fund_id > 0 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    rmdir(tmp_dir);
    return 0;
}

/* ---- bad numbers: exit 2, one exact line, nothing changed ------------------------------- */

static void test_token_revoke_strict(void **state)
{
    (void)state;
    char id_x[32], id_sp[32], id_plus[32];
    snprintf(id_x, sizeof id_x, "%lldx", admin_token_id);
    snprintf(id_sp, sizeof id_sp, " %lld", admin_token_id);
    snprintf(id_plus, sizeof id_plus, "+%lld", admin_token_id);
    const char *const bad[] = {
        id_x, id_sp, id_plus, "", "0", "-1", "abc", "1e3", "0x1", "9223372036854775808", "99999999999999999999999"};
    static const char want[] =
        "fundledger: token revoke ID: must be an integer from 1 to " ID_MAX_TEXT " (see fundledger help)\n";
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct run r;
        RUN(&r, "token", "revoke", bad[i]);
        expect_refusal(&r, 2, want);
    }
    assert_false(token_revoked(admin_token_id));
    assert_int_equal(testdb_int(conninfo, "SELECT count(*) FROM api_token WHERE revoked_at IS NOT NULL"), 0);
}

static void test_token_create_strict(void **state)
{
    (void)state;
    long long before = token_count();
    const char *const bad[] = {"abc", "5x", "x5", "0", "-5", "3651", " 5", "5 ", "+5", "5.0", ""};
    static const char want[] = "fundledger: --expires-days: must be an integer from 1 to 3650 (see fundledger help)\n";
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct run r;
        RUN(&r, "token", "create", "--user", "admin", "--expires-days", bad[i]);
        expect_refusal(&r, 2, want);
    }
    assert_int_equal(token_count(), before);
}

static void test_other_numbers_strict(void **state)
{
    (void)state;
    struct run r;
    char out_dir[PATH_BYTES];
    snprintf(out_dir, sizeof out_dir, "%s/never-made", tmp_dir);
    RUN(&r, "iati", "export", "--fund", "1x", "--out", out_dir);
    expect_refusal(&r, 2, "fundledger: --fund: must be an integer from 1 to " ID_MAX_TEXT " (see fundledger help)\n");
    RUN(&r, "iati", "export", "--fund", "0", "--out", out_dir);
    expect_refusal(&r, 2, "fundledger: --fund: must be an integer from 1 to " ID_MAX_TEXT " (see fundledger help)\n");
    struct stat st;
    assert_int_equal(stat(out_dir, &st), -1);

    long long users = testdb_int(conninfo, "SELECT count(*) FROM app_user");
    RUN(&r, "user", "add", "newinvestor", "--role", "investor", "--org", "1x");
    expect_refusal(&r, 2, "fundledger: --org: must be an integer from 1 to " ID_MAX_TEXT " (see fundledger help)\n");
    assert_int_equal(testdb_int(conninfo, "SELECT count(*) FROM app_user"), users);

    char id_x[32];
    snprintf(id_x, sizeof id_x, "%lldx", admin_token_id);
    long long before = expires_in_s(admin_token_id);
    RUN(&r, "token", "renew", id_x);
    expect_refusal(&r, 2,
                   "fundledger: token renew ID: must be an integer from 1 to " ID_MAX_TEXT " (see fundledger help)\n");
    char id[32];
    snprintf(id, sizeof id, "%lld", admin_token_id);
    RUN(&r, "token", "renew", id, "--expires-days", "5x");
    expect_refusal(&r, 2, "fundledger: --expires-days: must be an integer from 1 to 3650 (see fundledger help)\n");
    RUN(&r, "token", "renew", id, "--days", "5");
    expect_refusal(&r, 2, "fundledger: token renew ID [--expires-days N] (see fundledger help)\n");
    long long after = expires_in_s(admin_token_id);
    assert_true(after <= before && after > before - 120); /* untouched: only time went by */
}

/* ---- errors naming a field: one line ---------------------------------------------------- */

static void test_field_errors_one_line(void **state)
{
    (void)state;
    struct run r;
    RUN(&r, "token", "create", "--user", "nobody");
    expect_refusal(&r, 1, "fundledger: token create: no user nobody (user)\n");
    RUN(&r, "token", "revoke", "999999");
    expect_refusal(&r, 1, "fundledger: token revoke: no active token 999999 (token_id)\n");
    RUN(&r, "token", "renew", "999999");
    expect_refusal(&r, 1, "fundledger: token renew: no live token 999999 (revoked, expired or absent) (token_id)\n");
    RUN(&r, "user", "add", "Bad Name", "--role", "admin");
    expect_refusal(&r, 1, "fundledger: user add: 1-64 characters: a-z, 0-9, '.', '_', '-' (name)\n");
    RUN(&r, "user", "add", "admin", "--role", "admin");
    expect_refusal(&r, 1, "fundledger: user add: a user called admin exists (name)\n");
    RUN(&r, "user", "add", "someone", "--role", "investor");
    expect_refusal(&r, 1,
                   "fundledger: user add: an investor is bound to one investor organisation; other roles to none "
                   "(organisation_id)\n");
}

/* ---- tokens: expire by default, renew, revoke ------------------------------------------- */

static void test_token_lifetimes(void **state)
{
    (void)state;
    long long id = create_token("auditor", NULL);
    expect_days(id, 90);
    long long id5 = create_token("auditor", "5");
    expect_days(id5, 5);
    long long id3650 = create_token("auditor", "3650");
    expect_days(id3650, 3650);

    /* The configured default. */
    struct run r;
    const char *const args[] = {"token", "create", "--user", "auditor", NULL};
    const char *const env7[] = {"FUNDLEDGER_TOKEN_LIFETIME_DAYS=7", NULL};
    run_env(args, env7, &r);
    assert_int_equal(r.exit_code, 0);
    long long id7 = 0;
    assert_int_equal(sscanf(r.err, "token %lld for auditor, expires in 7 days", &id7), 1);
    expect_days(id7, 7);
    const char *const env0[] = {"FUNDLEDGER_TOKEN_LIFETIME_DAYS=0", NULL};
    run_env(args, env0, &r);
    assert_int_equal(r.exit_code, 1);
    assert_string_equal(r.err, "fundledger: environment FUNDLEDGER_TOKEN_LIFETIME_DAYS: token_lifetime_days: must be "
                               "an integer from 1 to 3650\n");

    /* Renewal: N days from now, then the default. */
    char ids[32];
    snprintf(ids, sizeof ids, "%lld", id5);
    RUN(&r, "token", "renew", ids, "--expires-days", "30");
    assert_int_equal(r.exit_code, 0);
    char want_prefix[64];
    snprintf(want_prefix, sizeof want_prefix, "token %lld expires 20", id5);
    assert_memory_equal(r.out, want_prefix, strlen(want_prefix));
    assert_string_equal(r.out + strlen(r.out) - 2, "Z\n");
    assert_string_equal(r.err, "");
    expect_days(id5, 30);
    RUN(&r, "token", "renew", ids);
    assert_int_equal(r.exit_code, 0);
    expect_days(id5, 90);

    /* Revoked: stays dead. */
    RUN(&r, "token", "revoke", ids);
    assert_int_equal(r.exit_code, 0);
    char want[96];
    snprintf(want, sizeof want, "token %lld revoked\n", id5);
    assert_string_equal(r.out, want);
    assert_true(token_revoked(id5));
    RUN(&r, "token", "revoke", ids);
    snprintf(want, sizeof want, "fundledger: token revoke: no active token %lld (token_id)\n", id5);
    expect_refusal(&r, 1, want);
    RUN(&r, "token", "renew", ids);
    snprintf(want, sizeof want, "fundledger: token renew: no live token %lld (revoked, expired or absent) (token_id)\n",
             id5);
    expect_refusal(&r, 1, want);

    /* Expired: stays dead too. */
    char sql[128];
    snprintf(sql, sizeof sql, "UPDATE api_token SET expires_at = now() - interval '1 second' WHERE id = %lld", id);
    assert_true(testdb_exec(conninfo, sql));
    snprintf(ids, sizeof ids, "%lld", id);
    RUN(&r, "token", "renew", ids);
    snprintf(want, sizeof want, "fundledger: token renew: no live token %lld (revoked, expired or absent) (token_id)\n",
             id);
    expect_refusal(&r, 1, want);
    assert_true(expires_in_s(id) < 0);
    /* The admin's token was never touched by any of this. */
    assert_false(token_revoked(admin_token_id));
}

/* ---- iati export --out: made when missing ----------------------------------------------- */

static void test_iati_export_makes_out(void **state)
{
    (void)state;
    char top[PATH_BYTES], mid[PATH_BYTES], out_dir[PATH_BYTES], fund[32];
    snprintf(top, sizeof top, "%s/x", tmp_dir);
    snprintf(mid, sizeof mid, "%s/x/y", tmp_dir);
    snprintf(out_dir, sizeof out_dir, "%s/x/y/z", tmp_dir);
    snprintf(fund, sizeof fund, "%lld", fund_id);
    struct run r;
    RUN(&r, "iati", "export", "--fund", fund, "--out", out_dir);
    if (r.exit_code != 0) {
        fail_msg("iati export: %d %s", r.exit_code, r.err);
    }
    const char *const made[] = {top, mid, out_dir};
    for (size_t i = 0; i < 3; i++) {
        struct stat st;
        assert_int_equal(stat(made[i], &st), 0);
        assert_true(S_ISDIR(st.st_mode));
        assert_int_equal(st.st_mode & 07777, 0755);
    }
    char a[LONG_PATH_BYTES], o[LONG_PATH_BYTES];
    snprintf(a, sizeof a, "%s/activities.xml", out_dir);
    snprintf(o, sizeof o, "%s/organisation.xml", out_dir);
    struct stat st;
    assert_int_equal(stat(a, &st), 0);
    assert_true(st.st_size > 1000);
    assert_int_equal(stat(o, &st), 0);
    /* Again into the existing directory: fine. */
    RUN(&r, "iati", "export", "--fund", fund, "--out", out_dir);
    assert_int_equal(r.exit_code, 0);
    /* A file where the directory should be: one line, exit 1. */
    char want[2 * LONG_PATH_BYTES];
    snprintf(want, sizeof want, "fundledger: iati export: cannot make the directory %s/x: Not a directory (--out)\n",
             a);
    char under_file[LONG_PATH_BYTES + 8];
    snprintf(under_file, sizeof under_file, "%s/x", a);
    RUN(&r, "iati", "export", "--fund", fund, "--out", under_file);
    expect_refusal(&r, 1, want);
    remove(a);
    remove(o);
    rmdir(out_dir);
    rmdir(mid);
    rmdir(top);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_token_revoke_strict),  cmocka_unit_test(test_token_create_strict),
        cmocka_unit_test(test_other_numbers_strict), cmocka_unit_test(test_field_errors_one_line),
        cmocka_unit_test(test_token_lifetimes),      cmocka_unit_test(test_iati_export_makes_out),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
