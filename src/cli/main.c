/* main: the fundledger command line: serve, migrate, verify, users, tokens, demo, database. */
#include <errno.h>
#include <pthread.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fundledger/session.h"
#include "fundledger/auth.h"
#include "fundledger/cluster.h"
#include "fundledger/config.h"
#include "fundledger/db.h"
#include "fundledger/demo.h"
#include "fundledger/http.h"
#include "fundledger/iati_export.h"
#include "fundledger/ledger.h"
#include "fundledger/log.h"
#include "fundledger/migrate.h"
#include "fundledger/money.h"

static const char usage[] =
    "usage: fundledger [--config FILE] COMMAND [ARGS]\n"
    "\n"
    "commands:\n"
    "  serve [--demo-if-empty]        migrate, optionally load the demo fund, serve HTTP\n"
    "  migrate                        apply pending migrations\n"
    "  verify                         recompute the hash chain and every balance from the journal\n"
    "  seal                           seal committed journal entries into the hash chain now\n"
    "  user add NAME --role ROLE [--org ID]\n"
    "                                 create a user (roles: admin, fund_manager, approver,\n"
    "                                 investor, transparency_officer, auditor)\n"
    "  user limit NAME CURRENCY AMOUNT  set an approver's approval limit\n"
    "  user password NAME             set a user's console password, read from stdin\n"
    "  user totp NAME                 make a user's TOTP secret; prints its otpauth URI once\n"
    "  token create --user NAME [--label TEXT] [--expires-days N]\n"
    "                                 create an API token; it is printed once\n"
    "  token revoke ID                revoke a token\n"
    "  demo load                      load the demo fund (writes var/demo-credentials.json)\n"
    "  iati export --fund ID --out DIR [--today YYYY-MM-DD] [--policy-url URL]\n"
    "                                 write DIR/activities.xml and DIR/organisation.xml for a\n"
    "                                 fund after every check (schema, codelists, rules, privacy,\n"
    "                                 ledger totals); the problems and exit 1 otherwise\n"
    "  iati check FILE [--kind activities|organisation]\n"
    "                                 check any IATI file (schema, codelists, rules, no\n"
    "                                 coordinates); kind from the root element by default\n"
    "  db start | stop | url          the private PostgreSQL cluster under data_dir\n"
    "  help                           this text\n"
    "\n"
    "Settings: config/fundledger.conf (if present; --config or FUNDLEDGER_CONFIG to choose\n"
    "another), overridden by FUNDLEDGER_<KEY> environment variables. With no database_url the\n"
    "commands use the private cluster under data_dir, starting it when needed.\n";

static struct config cfg;

static int fail(const char *what, const struct fl_error *err)
{
    fprintf(stderr, "fundledger: %s: %s%s%s\n", what, err->message[0] ? err->message : fl_err_hint(err->code),
            err->field[0] ? " (" : "", err->field[0] ? err->field : "");
    if (err->field[0]) {
        fputs(")\n", stderr);
    }
    return 1;
}

static int bad_usage(const char *msg)
{
    fprintf(stderr, "fundledger: %s (see fundledger help)\n", msg);
    return 2;
}

/* Connects (starting the private cluster if needed) and applies migrations when asked. */
static struct db *connect_db(bool migrate, char *conninfo, size_t cap)
{
    struct fl_error err;
    fl_error_clear(&err);
    if (cluster_conninfo(&cfg, true, conninfo, cap, &err) != FLE_OK) {
        fail("database", &err);
        return NULL;
    }
    struct db *db = NULL;
    if (db_open(conninfo, false, cfg.db_tx_retries_max, &db, &err) != FLE_OK) {
        fail("database", &err);
        return NULL;
    }
    if (migrate) {
        unsigned applied = 0;
        if (migrate_apply(db, cfg.migrations_dir, &applied, &err) != FLE_OK) {
            fail("migrate", &err);
            db_close(db);
            return NULL;
        }
        if (applied) {
            log_info("migrate: %u migration(s) applied", applied);
        }
    }
    /* Reopen with the statements prepared against the migrated schema. */
    db_close(db);
    db = NULL;
    if (db_open(conninfo, true, cfg.db_tx_retries_max, &db, &err) != FLE_OK) {
        fail("database", &err);
        return NULL;
    }
    return db;
}

static void credentials_path(char *out, size_t cap)
{
    snprintf(out, cap, "%s/demo-credentials.json", cfg.data_dir);
}

static int cmd_demo_load(struct db *db)
{
    struct fl_error err;
    fl_error_clear(&err);
    char path[1024];
    credentials_path(path, sizeof path);
    if (!demo_database_empty(db, &err)) {
        if (err.code != FLE_OK) {
            return fail("demo load", &err);
        }
        fprintf(stderr, "fundledger: demo load: the database already holds a fund; nothing loaded\n");
        return 1;
    }
    if (demo_load(db, path, &err) != FLE_OK) {
        return fail("demo load", &err);
    }
    printf("demo fund loaded; one API token per role in %s (mode 0600)\n", path);
    return 0;
}

static int cmd_serve(int argc, char **argv)
{
    bool demo = false;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--demo-if-empty") == 0) {
            demo = true;
        } else {
            return bad_usage("serve takes only --demo-if-empty");
        }
    }
    char conninfo[CONNINFO_BYTES_MAX];
    struct db *db = connect_db(true, conninfo, sizeof conninfo);
    if (db == NULL) {
        return 1;
    }
    struct fl_error err;
    fl_error_clear(&err);
    char path[1024];
    credentials_path(path, sizeof path);
    if (demo && demo_database_empty(db, &err)) {
        if (demo_load(db, path, &err) != FLE_OK) {
            db_close(db);
            return fail("demo load", &err);
        }
        printf("demo fund loaded\n");
    }
    db_close(db);
    /* Block the stop signals in every thread; the main thread waits for them. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    struct http_server *srv = NULL;
    if (http_server_start(&cfg, conninfo, &srv, &err) != FLE_OK) {
        return fail("serve", &err);
    }
    printf("fundledger serving on http://%s/ (threads %u)\n", cfg.listen, cfg.http_threads);
    if (access(path, R_OK) == 0) {
        printf("demo tokens: %s; for example:\n"
               "  TOKEN=$(python3 -c 'import json;print(json.load(open(\"%s\"))[\"tokens\"][\"manager\"])')\n"
               "  curl -H \"Authorization: Bearer $TOKEN\" http://%s/v1/funds\n",
               path, path, cfg.listen);
    }
    printf("stop with Ctrl-C; `make stop` stops the private database\n");
    fflush(stdout);
    int sig = 0;
    sigwait(&stop, &sig);
    log_info("serve: signal %d, stopping", sig);
    http_server_stop(srv);
    return 0;
}

static int cmd_verify(struct db *db)
{
    struct ledger_verify_report rep;
    struct fl_error err;
    fl_error_clear(&err);
    if (ledger_verify(db, &rep, &err) != FLE_OK) {
        return fail("verify", &err);
    }
    printf("verify: %" PRId64 " sealed entries checked, %" PRId64 " not sealed yet, %" PRId64 " accounts checked\n",
           rep.entries_checked, rep.entries_unsealed, rep.accounts_checked);
    if (!rep.ok) {
        printf("verify: MISMATCH: %s\n", rep.problem);
        return 1;
    }
    printf("verify: ok\n");
    return 0;
}

static int cmd_seal(struct db *db)
{
    struct fl_error err;
    fl_error_clear(&err);
    unsigned total = 0, sealed = LEDGER_SEAL_CHUNK;
    for (int round = 0; sealed == LEDGER_SEAL_CHUNK && round < 1000000; round++) {
        if (ledger_seal(db, LEDGER_SEAL_CHUNK, &sealed, &err) != FLE_OK) {
            return fail("seal", &err);
        }
        total += sealed;
    }
    printf("seal: %u entries sealed\n", total);
    return 0;
}

static const char *opt(int argc, char **argv, const char *name)
{
    for (int i = 0; i + 1 < argc; i++) {
        if (strcmp(argv[i], name) == 0) {
            return argv[i + 1];
        }
    }
    return NULL;
}

/* Every argument is either a known option with its value or a positional at a known place. */
static bool only_options(int argc, char **argv, int first, const char *const *names)
{
    for (int i = first; i < argc; i += 2) {
        bool known = false;
        for (int k = 0; names[k] && !known; k++) {
            known = strcmp(argv[i], names[k]) == 0;
        }
        if (!known || i + 1 >= argc) {
            return false;
        }
    }
    return true;
}

/* user password NAME: reads the password from the first line of stdin (never argv, which other
 * users can see); user totp NAME: makes a TOTP secret and prints its otpauth URI, once. */
static int cmd_user_credential(struct db *db, const char *what, const char *name)
{
    struct fl_error err;
    fl_error_clear(&err);
    int64_t id = 0;
    if (auth_user_find(db, name, &id, &err) != FLE_OK) {
        return fail(what, &err);
    }
    if (strcmp(what, "totp") == 0) {
        char uri[TOTP_URI_BYTES];
        if (session_totp_enroll(db, id, name, uri, NULL, &err) != FLE_OK) {
            return fail("user totp", &err);
        }
        printf("%s\n", uri);
        fprintf(stderr, "add this to %s's authenticator app now: it is not shown again\n", name);
        return 0;
    }
    char line[PASSWORD_BYTES_MAX + 3];
    if (fgets(line, sizeof line, stdin) == NULL) {
        return bad_usage("user password NAME reads the password from stdin");
    }
    line[strcspn(line, "\r\n")] = '\0';
    struct password_params pp;
    password_params_from_config(&cfg, &pp);
    enum fl_err e = session_password_set(db, &pp, id, line, &err);
    memset(line, 0, sizeof line);
    if (e != FLE_OK) {
        return fail("user password", &err);
    }
    printf("password of %s set; the user's browser sessions were ended\n", name);
    return 0;
}

static int cmd_user(struct db *db, int argc, char **argv)
{
    struct fl_error err;
    fl_error_clear(&err);
    if (argc >= 2 && strcmp(argv[0], "add") == 0) {
        static const char *const names[] = {"--role", "--org", NULL};
        const char *role_name = opt(argc, argv, "--role");
        enum role role;
        if (!only_options(argc, argv, 2, names) || role_name == NULL) {
            return bad_usage("user add NAME --role ROLE [--org ID]");
        }
        if (!auth_role_parse(role_name, &role) || role == ROLE_SYSTEM) {
            return bad_usage("unknown role");
        }
        const char *org = opt(argc, argv, "--org");
        int64_t org_id = org ? strtoll(org, NULL, 10) : 0;
        int64_t id = 0;
        if (auth_user_add(db, argv[1], role, org_id, &id, &err) != FLE_OK) {
            return fail("user add", &err);
        }
        printf("user %s (%s) created with id %" PRId64 "\n", argv[1], role_name, id);
        return 0;
    }
    if (argc == 4 && strcmp(argv[0], "limit") == 0) {
        int64_t id = 0, limit = 0;
        int exp = money_currency_exponent(argv[2]);
        if (exp < 0) {
            return bad_usage("unknown currency");
        }
        if (money_parse(argv[3], exp, false, &limit) != MONEY_OK) {
            return bad_usage("the amount is a decimal such as 1000000.00");
        }
        if (auth_user_find(db, argv[1], &id, &err) != FLE_OK || auth_limit_set(db, id, argv[2], limit, &err) != FLE_OK) {
            return fail("user limit", &err);
        }
        printf("approval limit of %s set to %s %s\n", argv[1], argv[3], argv[2]);
        return 0;
    }
    if (argc == 2 && (strcmp(argv[0], "password") == 0 || strcmp(argv[0], "totp") == 0)) {
        return cmd_user_credential(db, argv[0], argv[1]); /* sign-in for people (docs/console.md) */
    }
    return bad_usage("user add NAME --role ROLE [--org ID] | user limit NAME CURRENCY AMOUNT | user password NAME "
                     "| user totp NAME");
}

static int cmd_token(struct db *db, int argc, char **argv)
{
    struct fl_error err;
    fl_error_clear(&err);
    if (argc >= 1 && strcmp(argv[0], "create") == 0) {
        static const char *const names[] = {"--user", "--label", "--expires-days", NULL};
        const char *user = opt(argc, argv, "--user");
        if (!only_options(argc, argv, 1, names) || user == NULL) {
            return bad_usage("token create --user NAME [--label TEXT] [--expires-days N]");
        }
        const char *days = opt(argc, argv, "--expires-days");
        long d = days ? strtol(days, NULL, 10) : 0;
        if (d < 0 || d > 3650) {
            return bad_usage("--expires-days is 0 to 3650");
        }
        int64_t uid = 0, tid = 0;
        char token[TOKEN_TEXT_BYTES];
        if (auth_user_find(db, user, &uid, &err) != FLE_OK ||
            auth_token_create(db, uid, opt(argc, argv, "--label"), (unsigned)d, token, &tid, &err) != FLE_OK) {
            return fail("token create", &err);
        }
        printf("%s\n", token);
        fprintf(stderr, "token %" PRId64 " for %s: store it now, it is shown once\n", tid, user);
        return 0;
    }
    if (argc == 2 && strcmp(argv[0], "revoke") == 0) {
        int64_t id = strtoll(argv[1], NULL, 10);
        if (id <= 0) {
            return bad_usage("token revoke ID");
        }
        if (auth_token_revoke(db, id, &err) != FLE_OK) {
            return fail("token revoke", &err);
        }
        printf("token %" PRId64 " revoked\n", id);
        return 0;
    }
    return bad_usage("token create --user NAME | token revoke ID");
}

/* iati check FILE [--kind K]: needs no database. */
static int cmd_iati_check(int argc, char **argv)
{
    static const char *const names[] = {"--kind", NULL};
    if (argc < 2 || strcmp(argv[0], "check") != 0 || !only_options(argc, argv, 2, names)) {
        return bad_usage("iati check FILE [--kind activities|organisation] | iati export --fund ID --out DIR");
    }
    const char *path = argv[1], *kind_name = opt(argc, argv, "--kind");
    enum iati_kind kind;
    if (kind_name != NULL && strcmp(kind_name, "activities") == 0) {
        kind = IATI_KIND_ACTIVITIES;
    } else if (kind_name != NULL && strcmp(kind_name, "organisation") == 0) {
        kind = IATI_KIND_ORGANISATIONS;
    } else if (kind_name != NULL) {
        return bad_usage("--kind is activities or organisation");
    } else if (!iati_file_kind(path, &kind)) {
        fprintf(stderr,
                "fundledger: iati check: %s: not readable, or its root is neither iati-activities nor "
                "iati-organisations (use --kind)\n",
                path);
        return 1;
    }
    struct iati_check_config c = {
        .schema_dir = cfg.iati_schema_dir, .codelist_dir = cfg.iati_codelist_dir, .refuse_coordinates = true};
    struct iati_problems problems;
    iati_problems_init(&problems);
    enum iati_check_result res = iati_check_file(path, kind, &c, &problems);
    iati_problems_print(&problems, stderr);
    size_t n = problems.count + problems.dropped;
    iati_problems_free(&problems);
    if (res == IATI_CHECK_OK) {
        printf("iati check: %s: ok\n", path);
        return 0;
    }
    fprintf(stderr, "iati check: %s: %zu problem(s)%s\n", path, n, res == IATI_CHECK_ERROR ? ", check not run" : "");
    return 1;
}

struct iati_export_run {
    struct iati_export_options o;
    struct iati_export_summary sum;
    struct iati_problems problems;
};

static enum fl_err iati_export_tx(struct db *db, void *arg, struct fl_error *err)
{
    struct iati_export_run *x = arg;
    iati_problems_free(&x->problems); /* a retry starts over */
    if (iati_export_snapshot(db, err) != FLE_OK) {
        return err->code;
    }
    return iati_export_publish(db, &x->o, &x->sum, &x->problems, err);
}

static const char *const iati_export_names[] = {"--fund", "--out", "--today", "--policy-url", NULL};

static bool iati_export_args_ok(int argc, char **argv)
{
    const char *fund = opt(argc, argv, "--fund");
    return argc >= 5 && only_options(argc, argv, 1, iati_export_names) && fund != NULL && strtoll(fund, NULL, 10) > 0 &&
           opt(argc, argv, "--out") != NULL;
}

/* iati export --fund ID --out DIR: both files after every check, or the problems and exit 1. */
static int cmd_iati_export(struct db *db, int argc, char **argv)
{
    struct iati_export_run x;
    memset(&x, 0, sizeof x);
    char policy[256];
    const char *given = opt(argc, argv, "--policy-url");
    snprintf(policy, sizeof policy, "%s", given ? given : "");
    if (given == NULL) {
        snprintf(policy, sizeof policy, "http://%s/v1/iati/exclusions-policy", cfg.listen);
    }
    x.o = (struct iati_export_options){.fund_id = strtoll(opt(argc, argv, "--fund"), NULL, 10),
                                       .out_dir = opt(argc, argv, "--out"),
                                       .reporting_org_ref = cfg.iati_reporting_org_ref,
                                       .schema_dir = cfg.iati_schema_dir,
                                       .codelist_dir = cfg.iati_codelist_dir,
                                       .today = opt(argc, argv, "--today"),
                                       .policy_url = policy};
    iati_problems_init(&x.problems);
    struct fl_error err;
    fl_error_clear(&err);
    enum fl_err e = db_tx(db, iati_export_tx, &x, &err);
    iati_problems_print(&x.problems, stderr);
    iati_problems_free(&x.problems);
    if (e != FLE_OK) {
        return fail("iati export", &err);
    }
    printf("iati export: %s/activities.xml (%llu activities of %s) and %s/organisation.xml\n", x.o.out_dir,
           (unsigned long long)x.sum.activity_count, x.sum.fund_identifier, x.o.out_dir);
    for (int t = 0; t < IATI_TX_COUNT_; t++) {
        char amount[MONEY_TEXT_MAX];
        if (x.sum.written.count[t] == 0 ||
            money_format(x.sum.written.total_minor[t], x.sum.written.exponent, amount, sizeof amount) == 0) {
            continue;
        }
        printf("  transaction type %-2s %6llu  %s %s (equal to the ledger)\n", iati_tx_code((enum iati_tx)t),
               (unsigned long long)x.sum.written.count[t], amount, x.sum.written.currency);
    }
    return 0;
}

static int cmd_db(int argc, char **argv)
{
    struct fl_error err;
    fl_error_clear(&err);
    char conninfo[CONNINFO_BYTES_MAX];
    if (argc == 1 && (strcmp(argv[0], "start") == 0 || strcmp(argv[0], "url") == 0)) {
        if (cluster_conninfo(&cfg, true, conninfo, sizeof conninfo, &err) != FLE_OK) {
            return fail("db", &err);
        }
        printf("%s\n", conninfo);
        return 0;
    }
    if (argc == 1 && strcmp(argv[0], "stop") == 0) {
        bool stopped = false;
        if (cluster_stop(&cfg, &stopped, &err) != FLE_OK) {
            return fail("db stop", &err);
        }
        printf("%s\n", stopped ? "private database stopped" : "private database was not running");
        return 0;
    }
    return bad_usage("db start | stop | url");
}

int main(int argc, char **argv)
{
    int i = 1;
    const char *config_path = getenv("FUNDLEDGER_CONFIG");
    bool required = config_path != NULL;
    if (i + 1 < argc && strcmp(argv[i], "--config") == 0) {
        config_path = argv[i + 1];
        required = true;
        i += 2;
    }
    if (i >= argc || strcmp(argv[i], "help") == 0 || strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
        fputs(usage, i >= argc ? stderr : stdout);
        return i >= argc ? 2 : 0;
    }
    char err[512];
    if (!config_load(&cfg, config_path ? config_path : "config/fundledger.conf", required, err, sizeof err)) {
        fprintf(stderr, "fundledger: %s\n", err);
        return 1;
    }
    if (!log_set_level_name(cfg.log_level)) {
        fprintf(stderr, "fundledger: log_level: one of error, warn, info, debug\n");
        return 1;
    }
    const char *cmd = argv[i];
    int rest = argc - i - 1;
    char **args = argv + i + 1;
    if (strcmp(cmd, "serve") == 0) {
        return cmd_serve(rest, args);
    }
    if (strcmp(cmd, "db") == 0) {
        return cmd_db(rest, args);
    }
    if (strcmp(cmd, "iati") == 0 && (rest < 1 || strcmp(args[0], "export") != 0)) {
        return cmd_iati_check(rest, args);
    }
    if (strcmp(cmd, "iati") == 0 && !iati_export_args_ok(rest, args)) {
        return bad_usage("iati export --fund ID --out DIR [--today YYYY-MM-DD] [--policy-url URL]");
    }
    static const char *const db_commands[] = {"migrate", "verify", "seal", "user", "token", "demo", "iati"};
    bool known = false;
    for (size_t k = 0; k < sizeof db_commands / sizeof db_commands[0]; k++) {
        known = known || strcmp(cmd, db_commands[k]) == 0;
    }
    if (!known) {
        fprintf(stderr, "fundledger: unknown command '%s' (see fundledger help)\n", cmd);
        return 2;
    }
    if ((strcmp(cmd, "migrate") == 0 || strcmp(cmd, "verify") == 0 || strcmp(cmd, "seal") == 0) && rest != 0) {
        return bad_usage("this command takes no arguments");
    }
    if (strcmp(cmd, "demo") == 0 && !(rest == 1 && strcmp(args[0], "load") == 0)) {
        return bad_usage("demo load");
    }
    char conninfo[CONNINFO_BYTES_MAX];
    /* Every command first brings the schema up to date, so none meets an old schema. */
    struct db *db = connect_db(true, conninfo, sizeof conninfo);
    if (db == NULL) {
        return 1;
    }
    int rc = 0;
    if (strcmp(cmd, "migrate") == 0) {
        struct fl_error e2;
        fl_error_clear(&e2);
        printf("migrate: database at migration %d\n", migrate_current(db, &e2));
    } else if (strcmp(cmd, "verify") == 0) {
        rc = cmd_verify(db);
    } else if (strcmp(cmd, "seal") == 0) {
        rc = cmd_seal(db);
    } else if (strcmp(cmd, "user") == 0) {
        rc = cmd_user(db, rest, args);
    } else if (strcmp(cmd, "token") == 0) {
        rc = cmd_token(db, rest, args);
    } else if (strcmp(cmd, "iati") == 0) {
        rc = cmd_iati_export(db, rest, args);
    } else {
        rc = cmd_demo_load(db);
    }
    db_close(db);
    return rc;
}
