/* main: the fundledger command line: serve, migrate, verify, users, tokens, demo, database. */
#include <errno.h>
#include <pthread.h>
#include <pwd.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fundledger/anchor.h"
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
#include "fundledger/repayment.h"
#include "fundledger/servicing.h"
#include "fundledger/verify_run.h"

static const char usage[] =
    "usage: fundledger [--config FILE] COMMAND [ARGS]\n"
    "\n"
    "commands:\n"
    "  serve [--demo-if-empty]        migrate, optionally load the demo fund, serve HTTP\n"
    "  migrate                        apply pending migrations\n"
    "  verify                         check the hash chain, its signed anchors, balances, origins\n"
    "  seal                           seal committed journal entries into the hash chain now\n"
    "  user add NAME --role ROLE [--org ID]\n"
    "                                 create a user (roles: admin, fund_manager, approver,\n"
    "                                 investor, transparency_officer, auditor)\n"
    "  user limit NAME CURRENCY AMOUNT  set an approver's approval limit\n"
    "  user password NAME             set a user's console password, read from stdin\n"
    "  user totp NAME                 make a user's TOTP secret; prints its otpauth URI once\n"
    "  token create --user NAME [--label TEXT] [--expires-days N]\n"
    "                                 create an API token; it is printed once; it expires in\n"
    "                                 N days (1 to 3650; default token_lifetime_days, 90)\n"
    "  token renew ID [--expires-days N]\n"
    "                                 a live token now expires N days from now (default as above)\n"
    "  token revoke ID                revoke a token\n"
    "  demo load                      load the demo fund (writes var/demo-credentials.json)\n"
    "  iati export --fund ID --out DIR [--today YYYY-MM-DD] [--policy-url URL]\n"
    "                                 write DIR/activities.xml and DIR/organisation.xml for a\n"
    "                                 fund (DIR is created when missing, mode 0755)\n"
    "                                 after every check (schema, codelists, rules, privacy,\n"
    "                                 ledger totals); the problems and exit 1 otherwise\n"
    "  iati check FILE [--kind activities|organisation] [--strict] [--policy] [--format text|json]\n"
    "                                 check any IATI file (schema, codelists, rulesets) with the\n"
    "                                 IATI Validator's severities; --policy adds the fund's\n"
    "                                 publication policies; exit 0 no error, 1 errors (--strict:\n"
    "                                 or warnings), 2 could not run\n"
    "  close --fund ID --date YYYY-MM-DD --user NAME\n"
    "                                 month-end close of a fund: post what became due by the\n"
    "                                 date (capitalised interest); once per date, never before\n"
    "                                 the last close\n"
    "  default-rate --fund ID --rate R --from YYYY-MM-DD --user NAME\n"
    "                                 the fund's default (moratorium) interest rate, EA (e.g.\n"
    "                                 0.30), from a date after its latest repayment; always\n"
    "                                 capped by the usury cap of each day\n"
    "  db start | stop | url          the private PostgreSQL cluster under data_dir\n"
    "  help                           this text\n"
    "\n"
    "Settings: config/fundledger.conf (if present; --config or FUNDLEDGER_CONFIG to choose\n"
    "another), overridden by FUNDLEDGER_<KEY> environment variables. With no database_url the\n"
    "commands use the private cluster under data_dir, starting it when needed.\n";

static struct config cfg;
/* Where cfg came from, for SIGHUP's re-read. */
static const char *cfg_file = "config/fundledger.conf";
static bool cfg_required;

/* Every error is one line on stderr: "fundledger: what: message (field)". */
static int fail(const char *what, const struct fl_error *err)
{
    fprintf(stderr, "fundledger: %s: %s%s%s%s\n", what, err->message[0] ? err->message : fl_err_hint(err->code),
            err->field[0] ? " (" : "", err->field, err->field[0] ? ")" : "");
    return 1;
}

static int bad_usage(const char *msg)
{
    fprintf(stderr, "fundledger: %s (see fundledger help)\n", msg);
    return 2;
}

/* The one way the command line reads a number: all of text is decimal digits
 * (config_parse_uint: no sign, blank, suffix or exponent), from min to max. Otherwise prints one
 * line naming the argument and returns false; the caller exits 2 having done nothing. */
static bool arg_number(const char *name, const char *text, unsigned long min, unsigned long max, int64_t *out)
{
    unsigned long v = 0;
    if (text == NULL || !config_parse_uint(text, max, &v) || v < min) {
        fprintf(stderr, "fundledger: %s: must be an integer from %lu to %lu (see fundledger help)\n", name, min, max);
        return false;
    }
    *out = (int64_t)v;
    return true;
}

/* Ids are positive and fit a PostgreSQL bigint. */
#define ARG_ID_MAX ((unsigned long)INT64_MAX)
_Static_assert(sizeof(unsigned long) >= sizeof(int64_t), "config_parse_uint reads every id");

/* mkdir -p: makes path and every missing parent with mode 0755 (before the umask); an existing
 * directory is fine. Returns false with errno set when a part cannot be made or is not a directory. */
static bool make_dirs(const char *path)
{
    char buf[1024];
    size_t len = strlen(path);
    if (len == 0 || len >= sizeof buf) {
        errno = ENAMETOOLONG;
        return false;
    }
    memcpy(buf, path, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (buf[i] != '/' && buf[i] != '\0') {
            continue;
        }
        char saved = buf[i];
        buf[i] = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST) {
            return false;
        }
        buf[i] = saved;
    }
    struct stat st;
    if (stat(path, &st) != 0) {
        return false;
    }
    if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return false;
    }
    return true;
}

/* Connects as the service role (starting the private cluster if needed), after applying
 * migrations as the owner when asked. */
static struct db *connect_db(bool migrate, char *conninfo, size_t cap)
{
    struct fl_error err;
    fl_error_clear(&err);
    if (cluster_conninfo(&cfg, true, conninfo, cap, &err) != FLE_OK) {
        fail("database", &err);
        return NULL;
    }
    struct db *db = NULL;
    if (migrate) {
        /* The cluster was made and started just above. */
        char owner[CONNINFO_BYTES_MAX];
        if (cluster_owner_conninfo(&cfg, false, owner, sizeof owner, &err) != FLE_OK ||
            db_open(owner, false, cfg.db_tx_retries_max, &db, &err) != FLE_OK) {
            fail("database (owner)", &err);
            return NULL;
        }
        unsigned applied = 0;
        if (migrate_apply(db, cfg.migrations_dir, &applied, &err) != FLE_OK) {
            fail("migrate", &err);
            db_close(db);
            return NULL;
        }
        if (applied) {
            log_info("migrate: %u migration(s) applied", applied);
        }
        db_close(db);
        db = NULL;
    }
    /* The service's connection, with the statements prepared against the migrated schema. */
    if (db_open(conninfo, true, cfg.db_tx_retries_max, &db, &err) != FLE_OK) {
        fail("database", &err);
        return NULL;
    }
    char role[128];
    if (migrate_role_is_owner(db, role, sizeof role, &err) == 1) {
        log_warn("database: the service connects as %s, which has the owner's rights, so the database's guards do "
                 "not bind it; connect as fundledger_app (database_url) and migrate as the owner (database_owner_url)",
                 role);
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
    /* TOTP secrets stored clear before migration 0021 are sealed now, before anyone signs in. */
    unsigned sealed = 0;
    if (totp_key_load(&err) != FLE_OK || session_totp_seal_clear(db, &sealed, &err) != FLE_OK) {
        db_close(db);
        return fail("serve", &err);
    }
    if (sealed > 0) {
        log_info("serve: sealed %u TOTP secret(s) stored clear before migration 21", sealed);
    }
    if (demo && demo_database_empty(db, &err)) {
        if (demo_load(db, path, &err) != FLE_OK) {
            db_close(db);
            return fail("demo load", &err);
        }
        printf("demo fund loaded\n");
    }
    db_close(db);
    /* Block the signals we act on in every thread (the threads the server starts inherit the
     * mask); the main thread takes them one at a time with sigwait, so no handler runs anywhere. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGHUP);
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
    for (;;) {
        if (sigwait(&stop, &sig) != 0) {
            continue;
        }
        if (sig != SIGHUP) {
            break;
        }
        /* SIGHUP: re-read the configuration; the log level applies at once, the rest at the next
         * start. Logs go to stderr, which the service manager owns: there is no file to reopen. */
        struct config fresh;
        char msg[512];
        if (!config_load(&fresh, cfg_file, cfg_required, msg, sizeof msg)) {
            log_warn("serve: SIGHUP: configuration not reloaded: %s", msg);
        } else if (!log_set_level_name(fresh.log_level)) {
            log_warn("serve: SIGHUP: log_level %s not known; unchanged", fresh.log_level);
        } else {
            log_info("serve: SIGHUP: configuration re-read; log_level is %s; other settings apply at the next start",
                     fresh.log_level);
        }
    }
    log_info("serve: %s: stopping (no new connections; requests in flight finish within %us)",
             sig == SIGTERM ? "SIGTERM" : "SIGINT", cfg.http_shutdown_grace_s);
    http_server_stop(srv);
    log_info("serve: stopped; database connections closed");
    return 0;
}

/* Chain, anchors (public key and anchor log from the config), balances and origins; the run is
 * recorded (verify_run, with the system user's name) so the auditor's screen shows it. */
static int cmd_verify(struct db *db)
{
    struct ledger_verify_report *rep = malloc(sizeof *rep);
    if (rep == NULL) {
        fprintf(stderr, "verify: out of memory\n");
        return 1;
    }
    struct fl_error err;
    fl_error_clear(&err);
    char by[65], log_path[ANCHOR_PATH_BYTES];
    struct passwd *pw = getpwuid(geteuid());
    if (pw != NULL && pw->pw_name[0] != '\0') {
        snprintf(by, sizeof by, "%s", pw->pw_name);
    } else {
        snprintf(by, sizeof by, "uid %u", (unsigned)geteuid());
    }
    enum fl_err e = verify_run_cli(db, &cfg, by, rep, log_path, NULL, &err);
    if (e != FLE_OK) {
        free(rep);
        return fail("verify", &err);
    }
    ledger_verify_print(rep, log_path, stdout);
    int rc = rep->ok ? 0 : 1;
    free(rep);
    return rc;
}

static int cmd_seal(struct db *db)
{
    struct fl_error err;
    fl_error_clear(&err);
    struct anchor_paths paths;
    anchor_paths_from_config(&cfg, PQdb(db_pg(db)), &paths);
    struct anchor_signer *signer = NULL;
    if (anchor_signer_open(&paths, &signer, &err) != FLE_OK) {
        return fail("seal", &err);
    }
    unsigned total = 0, sealed = LEDGER_SEAL_CHUNK;
    for (int round = 0; sealed == LEDGER_SEAL_CHUNK && round < 1000000; round++) {
        if (ledger_seal_anchored(db, LEDGER_SEAL_CHUNK, signer, &sealed, &err) != FLE_OK) {
            anchor_signer_close(signer);
            return fail("seal", &err);
        }
        total += sealed;
    }
    anchor_signer_close(signer);
    printf("seal: %u entries sealed and anchored\n", total);
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

/* What a command's arguments say, read and checked before the database is touched: a bad
 * argument exits 2 having connected to nothing and changed nothing. */
struct cli_args {
    int64_t id;     /* token revoke|renew ID; iati export --fund */
    int64_t days;   /* token create|renew --expires-days, else the config's token_lifetime_days */
    int64_t org_id; /* user add --org; 0 = none */
    enum role role; /* user add --role */
    int64_t limit;  /* user limit AMOUNT, in minor units of CURRENCY */
};

static int parse_user(int argc, char **argv, struct cli_args *a)
{
    if (argc >= 2 && strcmp(argv[0], "add") == 0) {
        static const char *const names[] = {"--role", "--org", NULL};
        const char *role_name = opt(argc, argv, "--role"), *org = opt(argc, argv, "--org");
        if (!only_options(argc, argv, 2, names) || role_name == NULL) {
            return bad_usage("user add NAME --role ROLE [--org ID]");
        }
        if (!auth_role_parse(role_name, &a->role) || a->role == ROLE_SYSTEM) {
            return bad_usage("unknown role");
        }
        return org == NULL || arg_number("--org", org, 1, ARG_ID_MAX, &a->org_id) ? 0 : 2;
    }
    if (argc == 4 && strcmp(argv[0], "limit") == 0) {
        int exp = money_currency_exponent(argv[2]);
        if (exp < 0) {
            return bad_usage("unknown currency");
        }
        money_status ms = money_parse_amount(argv[3], exp, &a->limit);
        if (ms != MONEY_OK) {
            return bad_usage(ms == MONEY_ERR_LIMIT ? money_status_text(ms) : "the amount is a decimal such as 1000000.00");
        }
        return 0;
    }
    if (argc == 2 && (strcmp(argv[0], "password") == 0 || strcmp(argv[0], "totp") == 0)) {
        return 0; /* sign-in for people (docs/console.md): cmd_user_credential */
    }
    return bad_usage("user add NAME --role ROLE [--org ID] | user limit NAME CURRENCY AMOUNT | user password NAME "
                     "| user totp NAME");
}

static int cmd_user(struct db *db, char **argv, const struct cli_args *a)
{
    struct fl_error err;
    fl_error_clear(&err);
    if (strcmp(argv[0], "password") == 0 || strcmp(argv[0], "totp") == 0) {
        return cmd_user_credential(db, argv[0], argv[1]);
    }
    if (strcmp(argv[0], "add") == 0) {
        int64_t id = 0;
        if (auth_user_add(db, argv[1], a->role, a->org_id, &id, &err) != FLE_OK) {
            return fail("user add", &err);
        }
        printf("user %s (%s) created with id %" PRId64 "\n", argv[1], auth_role_name(a->role), id);
        return 0;
    }
    int64_t id = 0;
    if (auth_user_find(db, argv[1], &id, &err) != FLE_OK || auth_limit_set(db, id, argv[2], a->limit, &err) != FLE_OK) {
        return fail("user limit", &err);
    }
    printf("approval limit of %s set to %s %s\n", argv[1], argv[3], argv[2]);
    return 0;
}

static int parse_token(int argc, char **argv, struct cli_args *a)
{
    const char *days = opt(argc, argv, "--expires-days");
    if (argc >= 1 && strcmp(argv[0], "create") == 0) {
        static const char *const names[] = {"--user", "--label", "--expires-days", NULL};
        if (!only_options(argc, argv, 1, names) || opt(argc, argv, "--user") == NULL) {
            return bad_usage("token create --user NAME [--label TEXT] [--expires-days N]");
        }
        return days == NULL || arg_number("--expires-days", days, 1, TOKEN_LIFETIME_DAYS_MAX, &a->days) ? 0 : 2;
    }
    if (argc == 2 && strcmp(argv[0], "revoke") == 0) {
        return arg_number("token revoke ID", argv[1], 1, ARG_ID_MAX, &a->id) ? 0 : 2;
    }
    if ((argc == 2 || argc == 4) && strcmp(argv[0], "renew") == 0) {
        static const char *const names[] = {"--expires-days", NULL};
        if (!only_options(argc, argv, 2, names)) {
            return bad_usage("token renew ID [--expires-days N]");
        }
        if (!arg_number("token renew ID", argv[1], 1, ARG_ID_MAX, &a->id) ||
            (days != NULL && !arg_number("--expires-days", days, 1, TOKEN_LIFETIME_DAYS_MAX, &a->days))) {
            return 2;
        }
        return 0;
    }
    return bad_usage("token create --user NAME | token renew ID | token revoke ID");
}

static int cmd_token(struct db *db, int argc, char **argv, const struct cli_args *a)
{
    struct fl_error err;
    fl_error_clear(&err);
    if (strcmp(argv[0], "create") == 0) {
        const char *user = opt(argc, argv, "--user");
        int64_t uid = 0, tid = 0;
        char token[TOKEN_TEXT_BYTES];
        if (auth_user_find(db, user, &uid, &err) != FLE_OK ||
            auth_token_create(db, uid, opt(argc, argv, "--label"), (unsigned)a->days, token, &tid, &err) != FLE_OK) {
            return fail("token create", &err);
        }
        printf("%s\n", token);
        fprintf(stderr, "token %" PRId64 " for %s, expires in %" PRId64 " days: store it now, it is shown once\n", tid,
                user, a->days);
        return 0;
    }
    if (strcmp(argv[0], "revoke") == 0) {
        if (auth_token_revoke(db, a->id, &err) != FLE_OK) {
            return fail("token revoke", &err);
        }
        printf("token %" PRId64 " revoked\n", a->id);
        return 0;
    }
    char until[32];
    if (auth_token_renew(db, a->id, (unsigned)a->days, until, &err) != FLE_OK) {
        return fail("token renew", &err);
    }
    printf("token %" PRId64 " expires %s\n", a->id, until);
    return 0;
}

/* close --fund ID --date YYYY-MM-DD --user NAME: every option once, in pairs. */
static int parse_close(int argc, char **argv, struct cli_args *a)
{
    static const char *const names[] = {"--fund", "--date", "--user", NULL};
    const char *date = opt(argc, argv, "--date"), *user = opt(argc, argv, "--user");
    if (!only_options(argc, argv, 0, names) || argc != 6 || date == NULL || user == NULL) {
        return bad_usage("close --fund ID --date YYYY-MM-DD --user NAME");
    }
    if (!ledger_date_valid(date)) {
        fprintf(stderr, "fundledger: --date: must be a date YYYY-MM-DD\n");
        return 2;
    }
    return arg_number("--fund", opt(argc, argv, "--fund"), 1, ARG_ID_MAX, &a->id) ? 0 : 2;
}

/* default-rate --fund ID --rate R --from YYYY-MM-DD --user NAME: every option once, in pairs. */
static int parse_default_rate(int argc, char **argv, struct cli_args *a)
{
    static const char *const names[] = {"--fund", "--rate", "--from", "--user", NULL};
    if (!only_options(argc, argv, 0, names) || argc != 8 || opt(argc, argv, "--rate") == NULL ||
        opt(argc, argv, "--from") == NULL || opt(argc, argv, "--user") == NULL) {
        return bad_usage("default-rate --fund ID --rate R --from YYYY-MM-DD --user NAME");
    }
    return arg_number("--fund", opt(argc, argv, "--fund"), 1, ARG_ID_MAX, &a->id) ? 0 : 2;
}

/* Reads and checks the arguments of a command that uses the database (see struct cli_args);
 * 0, or 2 after a one-line message. */
static int parse_args(const char *cmd, int argc, char **argv, struct cli_args *a)
{
    memset(a, 0, sizeof *a);
    a->days = cfg.token_lifetime_days;
    if (strcmp(cmd, "user") == 0) {
        return parse_user(argc, argv, a);
    }
    if (strcmp(cmd, "token") == 0) {
        return parse_token(argc, argv, a);
    }
    if (strcmp(cmd, "iati") == 0) {
        return arg_number("--fund", opt(argc, argv, "--fund"), 1, ARG_ID_MAX, &a->id) ? 0 : 2;
    }
    if (strcmp(cmd, "close") == 0) {
        return parse_close(argc, argv, a);
    }
    if (strcmp(cmd, "default-rate") == 0) {
        return parse_default_rate(argc, argv, a);
    }
    return 0;
}

/* iati check FILE [--kind K] [--strict] [--policy] [--format text|json]: needs no database.
 * Exit 0: no error (warnings printed); 1: an error (or, with --strict, a warning); 2: the check
 * could not run (usage, configuration, unreadable file). */
static int cmd_iati_check(int argc, char **argv)
{
    static const char *const check_usage =
        "iati check FILE [--kind activities|organisation] [--strict] [--policy] [--format text|json] | iati export "
        "--fund ID --out DIR";
    if (argc < 2 || strcmp(argv[0], "check") != 0) {
        return bad_usage(check_usage);
    }
    const char *path = argv[1], *kind_name = NULL, *format = "text";
    bool strict = false, policy = false;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--strict") == 0) {
            strict = true;
        } else if (strcmp(argv[i], "--policy") == 0) {
            policy = true;
        } else if (strcmp(argv[i], "--kind") == 0 && i + 1 < argc) {
            kind_name = argv[++i];
        } else if (strcmp(argv[i], "--format") == 0 && i + 1 < argc) {
            format = argv[++i];
        } else {
            return bad_usage(check_usage);
        }
    }
    bool json = strcmp(format, "json") == 0;
    if (!json && strcmp(format, "text") != 0) {
        return bad_usage("--format is text or json");
    }
    enum iati_kind kind = IATI_KIND_ACTIVITIES;
    if (kind_name != NULL && strcmp(kind_name, "activities") == 0) {
        kind = IATI_KIND_ACTIVITIES;
    } else if (kind_name != NULL && strcmp(kind_name, "organisation") == 0) {
        kind = IATI_KIND_ORGANISATIONS;
    } else if (kind_name != NULL) {
        return bad_usage("--kind is activities or organisation");
    } else if (access(path, R_OK) != 0) {
        fprintf(stderr, "fundledger: iati check: %s: not readable: %s\n", path, strerror(errno));
        return 2;
    } else if (!iati_file_kind(path, &kind)) {
        kind = IATI_KIND_ACTIVITIES; /* not an IATI root: checked as activities, FL-ROOT / FL-XML say why */
    }
    struct iati_check_config c = {
        .schema_dir = cfg.iati_schema_dir, .codelist_dir = cfg.iati_codelist_dir, .policy = policy};
    struct iati_problems problems;
    iati_problems_init(&problems);
    enum iati_check_result res = iati_check_file(path, kind, &c, &problems);
    size_t errors = iati_problems_count(&problems, 0, IATI_SEVERITY_ERROR) + problems.dropped;
    size_t warnings = iati_problems_count(&problems, 0, IATI_SEVERITY_WARNING);
    size_t infos = iati_problems_count(&problems, 0, IATI_SEVERITY_INFO);
    int rc = res == IATI_CHECK_ERROR ? 2 : res == IATI_CHECK_FAILED || (strict && warnings > 0) ? 1 : 0;
    if (json) {
        /* the IATI Validator's report shape (docs/iati.md): valid, summary by severity, findings */
        json_t *report =
            json_pack("{s:b, s:b, s:s, s:s, s:{s:I, s:I, s:I}, s:I, s:o*}", "valid", res == IATI_CHECK_OK, "checked",
                      res != IATI_CHECK_ERROR, "file", path, "fileType",
                      kind == IATI_KIND_ACTIVITIES ? "iati-activities" : "iati-organisations", "summary", "error",
                      (json_int_t)errors, "warning", (json_int_t)warnings, "info", (json_int_t)infos, "dropped",
                      (json_int_t)problems.dropped, "errors", iati_problems_json(&problems, 0));
        if (report == NULL || json_dumpf(report, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0) {
            fprintf(stderr, "fundledger: iati check: cannot write the JSON report\n");
            rc = 2;
        } else {
            fputc('\n', stdout);
        }
        json_decref(report);
    } else {
        iati_problems_print(&problems, stderr);
        if (res == IATI_CHECK_ERROR) {
            fprintf(stderr, "iati check: %s: the check could not run\n", path);
        } else if (rc == 0) {
            printf("iati check: %s: ok (%zu warning(s), %zu info)\n", path, warnings, infos);
        } else {
            fprintf(stderr, "iati check: %s: %zu error(s), %zu warning(s)%s\n", path, errors, warnings,
                    strict && errors == 0 ? " (--strict: warnings fail)" : "");
        }
    }
    iati_problems_free(&problems);
    return rc;
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
    return argc >= 5 && only_options(argc, argv, 1, iati_export_names) && opt(argc, argv, "--fund") != NULL &&
           opt(argc, argv, "--out") != NULL;
}

/* iati export --fund ID --out DIR: both files after every check, or the problems and exit 1. */
static int cmd_iati_export(struct db *db, int argc, char **argv, const struct cli_args *a)
{
    struct iati_export_run x;
    memset(&x, 0, sizeof x);
    char policy[256];
    const char *given = opt(argc, argv, "--policy-url");
    snprintf(policy, sizeof policy, "%s", given ? given : "");
    if (given == NULL) {
        snprintf(policy, sizeof policy, "http://%s/v1/iati/exclusions-policy", cfg.listen);
    }
    const char *out_dir = opt(argc, argv, "--out");
    if (!make_dirs(out_dir)) {
        fprintf(stderr, "fundledger: iati export: cannot make the directory %s: %s (--out)\n", out_dir,
                strerror(errno));
        return 1;
    }
    x.o = (struct iati_export_options){.fund_id = a->id,
                                       .out_dir = out_dir,
                                       .reporting_org_ref = cfg.iati_reporting_org_ref,
                                       .schema_dir = cfg.iati_schema_dir,
                                       .codelist_dir = cfg.iati_codelist_dir,
                                       .today = opt(argc, argv, "--today"),
                                       .policy_url = policy};
    iati_problems_init(&x.problems);
    x.o.small_group_min = cfg.iati_small_group_min;
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
        printf("  transaction type %-2s %6llu  %s %s (%s)\n", iati_tx_code((enum iati_tx)t),
               (unsigned long long)x.sum.written.count[t], amount, x.sum.written.currency,
               x.sum.withheld_loans > 0 ? "with what was withheld, equal to the ledger" : "equal to the ledger");
    }
    if (x.sum.other_departments > 0) {
        printf("  %llu department(s) with fewer than %u loans to persons summed as other departments\n",
               (unsigned long long)x.sum.other_departments, cfg.iati_small_group_min);
    }
    if (x.sum.withheld_loans > 0) {
        printf("  %llu loan(s) to persons withheld: fewer than %u in all (docs/iati.md, small groups)\n",
               (unsigned long long)x.sum.withheld_loans, cfg.iati_small_group_min);
    }
    return 0;
}

struct close_run {
    struct principal who;
    int64_t fund_id;
    const char *date;
    json_t *out;
};

static enum fl_err close_tx(struct db *db, void *arg, struct fl_error *err)
{
    struct close_run *x = arg;
    json_decref(x->out);
    x->out = loan_close_period(db, &x->who, x->fund_id, x->date, err);
    return x->out ? FLE_OK : err->code;
}

/* close --fund ID --date D --user NAME: the month-end close, posted as that user. */
/* close --fund ID --date YYYY-MM-DD --user NAME, its arguments checked by parse_args. */
static int cmd_close(struct db *db, int argc, char **argv, const struct cli_args *a)
{
    const char *date = opt(argc, argv, "--date"), *user = opt(argc, argv, "--user");
    struct close_run x;
    memset(&x, 0, sizeof x);
    x.fund_id = a->id;
    x.date = date;
    x.who.role = ROLE_FUND_MANAGER;
    snprintf(x.who.name, sizeof x.who.name, "%s", user);
    struct fl_error err;
    fl_error_clear(&err);
    if (auth_user_find(db, user, &x.who.user_id, &err) != FLE_OK || db_tx(db, close_tx, &x, &err) != FLE_OK) {
        json_decref(x.out);
        return fail("close", &err);
    }
    printf("close: fund %" PRId64 " on %s: %lld entries%s\n", x.fund_id, date,
           (long long)json_integer_value(json_object_get(x.out, "entries")),
           json_is_true(json_object_get(x.out, "already_closed")) ? " (already closed: nothing posted)" : "");
    json_decref(x.out);
    return 0;
}

struct default_rate_run {
    struct principal who;
    int64_t fund_id;
    const char *rate, *from;
    json_t *out;
};

static enum fl_err default_rate_tx(struct db *db, void *arg, struct fl_error *err)
{
    struct default_rate_run *x = arg;
    json_decref(x->out);
    x->out = servicing_default_rate_set(db, &x->who, x->fund_id, x->rate, x->from, err);
    return x->out ? FLE_OK : err->code;
}

/* default-rate --fund ID --rate R --from D --user NAME, as that user (a fund manager's act). */
static int cmd_default_rate(struct db *db, int argc, char **argv, const struct cli_args *a)
{
    const char *user = opt(argc, argv, "--user");
    struct default_rate_run x;
    memset(&x, 0, sizeof x);
    x.fund_id = a->id;
    x.rate = opt(argc, argv, "--rate");
    x.from = opt(argc, argv, "--from");
    x.who.role = ROLE_FUND_MANAGER;
    snprintf(x.who.name, sizeof x.who.name, "%s", user);
    struct fl_error err;
    fl_error_clear(&err);
    if (auth_user_find(db, user, &x.who.user_id, &err) != FLE_OK || db_tx(db, default_rate_tx, &x, &err) != FLE_OK) {
        json_decref(x.out);
        return fail("default-rate", &err);
    }
    printf("default-rate: fund %" PRId64 " %s EA from %s\n", x.fund_id,
           json_string_value(json_object_get(x.out, "rate")), x.from);
    json_decref(x.out);
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
    cfg_file = config_path ? config_path : cfg_file;
    cfg_required = required;
    if (!config_load(&cfg, config_path ? config_path : "config/fundledger.conf", required, err, sizeof err)) {
        fprintf(stderr, "fundledger: %s\n", err);
        return i + 2 < argc && strcmp(argv[i], "iati") == 0 && strcmp(argv[i + 1], "check") == 0 ? 2 : 1;
    }
    if (!log_set_level_name(cfg.log_level)) {
        fprintf(stderr, "fundledger: log_level: one of error, warn, info, debug\n");
        return 1;
    }
    char totp_key[TOTP_KEY_PATH_BYTES];
    totp_key_path_from_config(&cfg, totp_key);
    totp_key_configure(totp_key);
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
    static const char *const db_commands[] = {"migrate", "verify", "seal",  "user",        "token",
                                              "demo",    "iati",   "close", "default-rate"};
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
    struct cli_args parsed;
    int bad = parse_args(cmd, rest, args, &parsed);
    if (bad != 0) {
        return bad;
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
        rc = cmd_user(db, args, &parsed);
    } else if (strcmp(cmd, "token") == 0) {
        rc = cmd_token(db, rest, args, &parsed);
    } else if (strcmp(cmd, "iati") == 0) {
        rc = cmd_iati_export(db, rest, args, &parsed);
    } else if (strcmp(cmd, "close") == 0) {
        rc = cmd_close(db, rest, args, &parsed);
    } else if (strcmp(cmd, "default-rate") == 0) {
        rc = cmd_default_rate(db, rest, args, &parsed);
    } else {
        rc = cmd_demo_load(db);
    }
    db_close(db);
    return rc;
}
