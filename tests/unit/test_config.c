/* Unit tests for config: defaults, file grammar, environment precedence, errors naming key and line, the example file. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fundledger/config.h"

#define EXAMPLE_PATH "config/fundledger.conf.example"

/* The environment variable for key: FUNDLEDGER_ and the key upper-cased. */
static void env_name(const char *key, char *out, size_t cap)
{
    int n = snprintf(out, cap, "FUNDLEDGER_%s", key);
    assert_true(n > 0 && (size_t)n < cap);
    for (char *p = out; *p != '\0'; p++) {
        if (*p >= 'a' && *p <= 'z') {
            *p = (char)(*p - 'a' + 'A');
        }
    }
}

/* Removes every FUNDLEDGER_<KEY> so that the caller's environment cannot leak into a test. */
static int clear_env(void **state)
{
    (void)state;
    size_t n = 0;
    const struct config_key_doc *docs = config_key_docs(&n);
    for (size_t i = 0; i < n; i++) {
        char name[96];
        env_name(docs[i].key, name, sizeof name);
        unsetenv(name);
    }
    return 0;
}

/* Writes content to a new temporary file; its path goes to path (free with remove()). */
static void write_temp(const char *content, char *path, size_t cap)
{
    const char *dir = getenv("TMPDIR");
    int n = snprintf(path, cap, "%s/fundledger-test-config-XXXXXX", dir != NULL && dir[0] != '\0' ? dir : "/tmp");
    assert_true(n > 0 && (size_t)n < cap);
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    assert_non_null(f);
    assert_int_equal(fputs(content, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

/* Loads content as a file; returns config_load's result with the message in err. */
static bool load_text(const char *content, struct config *c, char *path, size_t path_cap, char *err, size_t err_cap)
{
    write_temp(content, path, path_cap);
    bool ok = config_load(c, path, true, err, err_cap);
    remove(path);
    return ok;
}

static void assert_config_equal(const struct config *a, const struct config *b)
{
    assert_string_equal(a->listen, b->listen);
    assert_string_equal(a->database_url, b->database_url);
    assert_string_equal(a->database_owner_url, b->database_owner_url);
    assert_string_equal(a->data_dir, b->data_dir);
    assert_string_equal(a->migrations_dir, b->migrations_dir);
    assert_string_equal(a->reports_dir, b->reports_dir);
    assert_int_equal(a->http_threads, b->http_threads);
    assert_int_equal(a->http_connections_max, b->http_connections_max);
    assert_int_equal(a->http_connection_memory_bytes, b->http_connection_memory_bytes);
    assert_int_equal(a->http_timeout_s, b->http_timeout_s);
    assert_int_equal(a->http_body_bytes_max, b->http_body_bytes_max);
    assert_int_equal(a->db_tx_retries_max, b->db_tx_retries_max);
    assert_int_equal(a->ledger_batch_entries_max, b->ledger_batch_entries_max);
    assert_int_equal(a->ledger_seal_interval_ms, b->ledger_seal_interval_ms);
    assert_string_equal(a->iati_schema_dir, b->iati_schema_dir);
    assert_string_equal(a->iati_codelist_dir, b->iati_codelist_dir);
    assert_string_equal(a->iati_reporting_org_ref, b->iati_reporting_org_ref);
    assert_string_equal(a->log_level, b->log_level);
    assert_int_equal(a->token_lifetime_days, b->token_lifetime_days);
    assert_int_equal(a->iati_small_group_min, b->iati_small_group_min);
}

/* ------------------------------------------------------------------ defaults and table */

static void test_defaults(void **state)
{
    (void)state;
    struct config c;
    memset(&c, 0xab, sizeof c);
    config_defaults(&c);
    assert_string_equal(c.listen, "127.0.0.1:8080");
    assert_string_equal(c.database_url, "");
    assert_string_equal(c.data_dir, "var");
    assert_string_equal(c.migrations_dir, "migrations");
    assert_string_equal(c.reports_dir, "reports");
    assert_int_equal(c.http_threads, 4);
    assert_int_equal(c.http_connections_max, 256);
    assert_int_equal(c.http_connection_memory_bytes, 65536);
    assert_int_equal(c.http_timeout_s, 30);
    assert_int_equal(c.http_body_bytes_max, 1048576);
    assert_int_equal(c.db_tx_retries_max, 8);
    assert_int_equal(c.ledger_batch_entries_max, 512);
    assert_int_equal(c.ledger_seal_interval_ms, 1000);
    assert_string_equal(c.iati_schema_dir, "../shared/iati/schemas");
    assert_string_equal(c.iati_codelist_dir, "../shared/iati/codelists");
    assert_string_equal(c.iati_reporting_org_ref, "CO-RUE-9001234567");
    assert_string_equal(c.log_level, "info");
    assert_int_equal(c.token_lifetime_days, 90);
    assert_int_equal(c.http_connections_per_ip_max, 64);
    assert_int_equal(c.http_request_deadline_s, 30);
    assert_int_equal(c.http_shutdown_grace_s, 30);
    assert_int_equal(c.iati_small_group_min, 5);
    assert_int_equal(c.password_argon2_t_cost, 3);
    assert_int_equal(c.password_argon2_m_cost_kib, 65536);
    assert_int_equal(c.password_argon2_parallelism, 1);
    assert_int_equal(c.session_ttl_s, 28800);
    assert_int_equal(c.session_idle_s, 1800);
    assert_string_equal(c.session_cookie_secure, "auto");
    assert_int_equal(c.login_fail_window_s, 900);
    assert_int_equal(c.login_fail_max_account, 5);
    assert_int_equal(c.login_fail_max_address, 20);
    assert_string_equal(c.http_trusted_proxy, "");

    struct config loaded;
    char err[256] = "";
    assert_true(config_load(&loaded, NULL, false, err, sizeof err));
    assert_config_equal(&loaded, &c);
    /* A missing optional file is no error. */
    assert_true(config_load(&loaded, "config/does-not-exist.conf", false, err, sizeof err));
    assert_config_equal(&loaded, &c);
}

static void test_key_table(void **state)
{
    (void)state;
    size_t n = 0;
    const struct config_key_doc *docs = config_key_docs(&n);
    assert_non_null(docs);
    /* 17; database_owner_url; token_lifetime_days; 3 http_*; iati_small_group_min; 3 anchor_*;
     * 10 sign-in keys (docs/console.md) */
    assert_int_equal(n, 37);
    for (size_t i = 0; i < n; i++) {
        assert_non_null(docs[i].key);
        assert_non_null(docs[i].default_text);
        assert_non_null(docs[i].doc);
        assert_true(strlen(docs[i].doc) > 10);
        assert_null(strchr(docs[i].doc, '\n'));
        for (const char *p = docs[i].key; *p != '\0'; p++) {
            assert_true((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_');
        }
        for (size_t j = 0; j < i; j++) {
            assert_true(strcmp(docs[i].key, docs[j].key) != 0);
        }
    }
}

/* config_parse_uint, the one strict number parser (also the command line's): all digits or nothing. */
static void test_parse_uint_strict(void **state)
{
    (void)state;
    unsigned long v = 77;
    static const char *const refused[] = {"", "1x", "x1", "abc", "5x", " 1", "1 ", "+1", "-1", "0x10", "1e3",
                                          "1.0", "3651", "99999999999999999999999"};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        if (config_parse_uint(refused[i], 3650, &v)) {
            fail_msg("'%s' accepted as %lu", refused[i], v);
        }
        assert_int_equal(v, 77); /* untouched */
    }
    assert_true(config_parse_uint("0", 3650, &v));
    assert_int_equal(v, 0);
    assert_true(config_parse_uint("3650", 3650, &v));
    assert_int_equal(v, 3650);
    assert_true(config_parse_uint("007", 3650, &v));
    assert_int_equal(v, 7);
    assert_true(config_parse_uint("9223372036854775807", 9223372036854775807UL, &v));
    assert_int_equal(v, 9223372036854775807UL);
    assert_false(config_parse_uint("9223372036854775808", 9223372036854775807UL, &v));
}

/* Each key set to its own default text through the file gives exactly the defaults. */
static void test_default_texts_parse(void **state)
{
    (void)state;
    size_t n = 0;
    const struct config_key_doc *docs = config_key_docs(&n);
    char content[8192] = "";
    size_t used = 0;
    for (size_t i = 0; i < n; i++) {
        int w = snprintf(content + used, sizeof content - used, "%s = %s\n", docs[i].key, docs[i].default_text);
        assert_true(w > 0 && (size_t)w < sizeof content - used);
        used += (size_t)w;
    }
    struct config c, d;
    char path[512], err[256] = "";
    assert_true(load_text(content, &c, path, sizeof path, err, sizeof err));
    config_defaults(&d);
    assert_config_equal(&c, &d);
}

/* ------------------------------------------------------------------ file */

static void test_file_parse(void **state)
{
    (void)state;
    const char *content =
        "# a comment\n"
        "\n"
        "   # an indented comment\n"
        "listen = 0.0.0.0:9090\n"
        "  http_threads\t=\t16  \n"
        "database_url=host=/tmp/pg dbname=fund user=ledger\n"
        "log_level = debug\r\n"
        "data_dir =    /srv/fundledger/var\n"
        "   \t  \n"
        "db_tx_retries_max = 0\n"
        "iati_reporting_org_ref = XM-DAC-41114\n"
        "http_body_bytes_max = 0067108864\n"
        "ledger_seal_interval_ms = 3600000"; /* no final newline */
    struct config c;
    char path[512], err[256] = "";
    bool ok = load_text(content, &c, path, sizeof path, err, sizeof err);
    if (!ok) {
        fail_msg("load failed: %s", err);
    }
    assert_string_equal(c.listen, "0.0.0.0:9090");
    assert_int_equal(c.http_threads, 16);
    assert_string_equal(c.database_url, "host=/tmp/pg dbname=fund user=ledger");
    assert_string_equal(c.log_level, "debug");
    assert_string_equal(c.data_dir, "/srv/fundledger/var");
    assert_int_equal(c.db_tx_retries_max, 0);
    assert_string_equal(c.iati_reporting_org_ref, "XM-DAC-41114");
    assert_int_equal(c.http_body_bytes_max, 67108864);
    assert_int_equal(c.ledger_seal_interval_ms, 3600000);
    /* Keys not in the file keep their defaults. */
    assert_string_equal(c.migrations_dir, "migrations");
    assert_int_equal(c.http_connections_max, 256);
}

static void test_file_values_accepted(void **state)
{
    (void)state;
    static const char *const lines[] = {
        "listen = [::1]:8080",
        "listen = [2001:db8::1]:443",
        "listen = localhost:65535",
        "listen = example.org:1",
        "listen = 10.0.0.1:08080",
        "database_url =",
        "database_url = postgresql://ledger@localhost/fund?sslmode=require#x",
        "log_level = error",
        "log_level = warn",
        "http_threads = 1",
        "http_threads = 64",
        "http_connection_memory_bytes = 4096",
        "http_connection_memory_bytes = 16777216",
        "db_tx_retries_max = 100",
        "\xef\xbb\xbfhttp_threads = 2", /* UTF-8 byte order mark */
    };
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        struct config c;
        char path[512], err[256] = "";
        if (!load_text(lines[i], &c, path, sizeof path, err, sizeof err)) {
            fail_msg("\"%s\" refused: %s", lines[i], err);
        }
    }
}

/* ------------------------------------------------------------------ environment */

static void test_env_overrides_file(void **state)
{
    (void)state;
    const char *content = "listen = 127.0.0.1:7000\nhttp_threads = 8\nlog_level = warn\n";
    assert_int_equal(setenv("FUNDLEDGER_LISTEN", "0.0.0.0:9000", 1), 0);
    assert_int_equal(setenv("FUNDLEDGER_HTTP_THREADS", "16", 1), 0);
    assert_int_equal(setenv("FUNDLEDGER_DATABASE_URL", "", 1), 0);
    assert_int_equal(setenv("FUNDLEDGER_NOT_A_KEY", "whatever", 1), 0); /* ignored */
    struct config c;
    char path[512], err[256] = "";
    bool ok = load_text(content, &c, path, sizeof path, err, sizeof err);
    unsetenv("FUNDLEDGER_NOT_A_KEY");
    if (!ok) {
        fail_msg("load failed: %s", err);
    }
    assert_string_equal(c.listen, "0.0.0.0:9000");  /* environment beats file */
    assert_int_equal(c.http_threads, 16);            /* environment beats file */
    assert_string_equal(c.log_level, "warn");        /* file beats default */
    assert_string_equal(c.database_url, "");         /* set-but-empty is a value */
    assert_string_equal(c.data_dir, "var");          /* default */

    /* Environment alone, no file. */
    assert_int_equal(setenv("FUNDLEDGER_LEDGER_SEAL_INTERVAL_MS", "250", 1), 0);
    assert_true(config_load(&c, NULL, false, err, sizeof err));
    assert_int_equal(c.ledger_seal_interval_ms, 250);
    assert_string_equal(c.listen, "0.0.0.0:9000");
    clear_env(NULL);
}

static void test_env_every_key(void **state)
{
    (void)state;
    size_t n = 0;
    const struct config_key_doc *docs = config_key_docs(&n);
    /* Each key's environment variable is read: a bad value in it names the variable and key. */
    for (size_t i = 0; i < n; i++) {
        char name[96];
        env_name(docs[i].key, name, sizeof name);
        assert_int_equal(setenv(name, "bad\tvalue", 1), 0);
        struct config c;
        char err[256] = "";
        assert_false(config_load(&c, NULL, false, err, sizeof err));
        char want[192];
        snprintf(want, sizeof want, "environment %s: %s: ", name, docs[i].key);
        if (strncmp(err, want, strlen(want)) != 0) {
            fail_msg("%s: message \"%s\"", docs[i].key, err);
        }
        unsetenv(name);
    }
}

static void test_env_error(void **state)
{
    (void)state;
    assert_int_equal(setenv("FUNDLEDGER_HTTP_THREADS", "0", 1), 0);
    struct config c;
    char err[256] = "";
    assert_false(config_load(&c, NULL, false, err, sizeof err));
    assert_string_equal(err, "environment FUNDLEDGER_HTTP_THREADS: http_threads: must be an integer from 1 to 64");
    /* Environment values are not trimmed. */
    assert_int_equal(setenv("FUNDLEDGER_HTTP_THREADS", " 4", 1), 0);
    assert_false(config_load(&c, NULL, false, err, sizeof err));
    clear_env(NULL);
}

/* ------------------------------------------------------------------ errors */

struct error_case {
    const char *content;
    const char *want; /* message after "<path>:" */
};

static void test_file_errors(void **state)
{
    (void)state;
    char long_dir[700];
    memset(long_dir, 'd', sizeof long_dir);
    long_dir[sizeof long_dir - 1] = '\0';
    char long_line[600];
    snprintf(long_line, sizeof long_line, "data_dir = %.512s\n", long_dir); /* 512 bytes: one too many */
    char fits_line[600];
    snprintf(fits_line, sizeof fits_line, "data_dir = %.511s\n", long_dir);

    const struct error_case cases[] = {
        {"# c\n\n\n\n\n\nhttp_threads = 65\n", "7: http_threads: must be an integer from 1 to 64"},
        {"http_threads = 0\n", "1: http_threads: must be an integer from 1 to 64"},
        {"http_threads = -1\n", "1: http_threads: must be an integer from 1 to 64"},
        {"http_threads = +4\n", "1: http_threads: must be an integer from 1 to 64"},
        {"http_threads = 4.0\n", "1: http_threads: must be an integer from 1 to 64"},
        {"http_threads = 0x10\n", "1: http_threads: must be an integer from 1 to 64"},
        {"http_threads =\n", "1: http_threads: must be an integer from 1 to 64"},
        {"http_threads = 4 # four\n", "1: http_threads: must be an integer from 1 to 64"},
        {"http_threads = 99999999999999999999999\n", "1: http_threads: must be an integer from 1 to 64"},
        {"db_tx_retries_max = 101\n", "1: db_tx_retries_max: must be an integer from 0 to 100"},
        {"http_connection_memory_bytes = 4095\n",
         "1: http_connection_memory_bytes: must be an integer from 4096 to 16777216"},
        {"ledger_seal_interval_ms = 9\n", "1: ledger_seal_interval_ms: must be an integer from 10 to 3600000"},
        {"http_timeout_s = 4294967297\n", "1: http_timeout_s: must be an integer from 1 to 3600"},
        {"listen = 127.0.0.1:8080\nfoo = 1\n", "2: foo: unknown key"},
        {"LISTEN = 127.0.0.1:8080\n", "1: LISTEN: unknown key"},
        {"http_threads = 4\nlisten = 127.0.0.1:1\nhttp_threads = 4\n",
         "3: http_threads: set twice (first on line 1)"},
        {"http_threads 4\n", "1: http_threads 4: expected \"key = value\""},
        {"\n\nlisten\n", "3: listen: expected \"key = value\""},
        {"= 4\n", "1: missing key before '='"},
        {"listen = localhost\n", "1: listen: must be host:port with a port from 1 to 65535"},
        {"listen = :8080\n", "1: listen: must be host:port with a port from 1 to 65535"},
        {"listen = host:0\n", "1: listen: must be host:port with a port from 1 to 65535"},
        {"listen = host:65536\n", "1: listen: must be host:port with a port from 1 to 65535"},
        {"listen = host:\n", "1: listen: must be host:port with a port from 1 to 65535"},
        {"listen = ho st:80\n", "1: listen: must be host:port with a port from 1 to 65535"},
        {"listen = ::1:80\n", "1: listen: must be host:port with a port from 1 to 65535"},
        {"listen = [::1]8080\n", "1: listen: must be host:port with a port from 1 to 65535"},
        {"listen = []:80\n", "1: listen: must be host:port with a port from 1 to 65535"},
        {"listen = [::g]:80\n", "1: listen: must be host:port with a port from 1 to 65535"},
        {"listen = host:80x\n", "1: listen: must be host:port with a port from 1 to 65535"},
        {"listen =\n", "1: listen: must be host:port with a port from 1 to 65535"},
        {"log_level = verbose\n", "1: log_level: must be one of error, warn, info, debug"},
        {"log_level = INFO\n", "1: log_level: must be one of error, warn, info, debug"},
        {"log_level = inf\n", "1: log_level: must be one of error, warn, info, debug"},
        {"log_level =\n", "1: log_level: must be one of error, warn, info, debug"},
        {"data_dir =\n", "1: data_dir: must not be empty"},
        {"reports_dir = a\x01" "b\n", "1: reports_dir: must not contain control characters"},
        {long_line, "1: data_dir: must be at most 511 bytes long"},
        {"log_level = debug-and-more-than-sixteen\n", "1: log_level: must be at most 15 bytes long"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct config c;
        memset(&c, 0x5a, sizeof c);
        char path[512], err[256] = "";
        bool ok = load_text(cases[i].content, &c, path, sizeof path, err, sizeof err);
        char want[1024];
        snprintf(want, sizeof want, "%s:%s", path, cases[i].want);
        if (ok || strcmp(err, want) != 0) {
            fail_msg("case %zu: ok=%d message \"%s\", want \"%s\"", i, (int)ok, err, want);
        }
        /* *c untouched on error. */
        for (size_t b = 0; b < sizeof c; b++) {
            assert_int_equal(((unsigned char *)&c)[b], 0x5a);
        }
    }

    struct config c;
    char path[512], err[256] = "";
    assert_true(load_text(fits_line, &c, path, sizeof path, err, sizeof err));
    assert_int_equal(strlen(c.data_dir), 511);
}

static void test_file_limits(void **state)
{
    (void)state;
    /* A comment line of exactly CONFIG_LINE_BYTES_MAX bytes, newline included, fits; one
     * byte more does not. */
    static char content[CONFIG_LINE_BYTES_MAX + 2];
    memset(content, '#', CONFIG_LINE_BYTES_MAX - 1);
    content[CONFIG_LINE_BYTES_MAX - 1] = '\n';
    content[CONFIG_LINE_BYTES_MAX] = '\0';
    struct config c;
    char path[512], err[256] = "";
    if (!load_text(content, &c, path, sizeof path, err, sizeof err)) {
        fail_msg("longest line refused: %s", err);
    }
    content[CONFIG_LINE_BYTES_MAX - 1] = '#';
    content[CONFIG_LINE_BYTES_MAX] = '\n';
    content[CONFIG_LINE_BYTES_MAX + 1] = '\0';
    assert_false(load_text(content, &c, path, sizeof path, err, sizeof err));
    assert_non_null(strstr(err, ":1: line longer than 4096 bytes"));
    /* The same without its newline, as the last line, fits. */
    content[CONFIG_LINE_BYTES_MAX] = '\0';
    if (!load_text(content, &c, path, sizeof path, err, sizeof err)) {
        fail_msg("longest last line refused: %s", err);
    }

    /* Too many lines. */
    size_t cap = (CONFIG_FILE_LINES_MAX + 2) * 2 + 1;
    char *many = malloc(cap);
    assert_non_null(many);
    for (size_t i = 0; i < cap - 1; i += 2) {
        many[i] = '#';
        many[i + 1] = '\n';
    }
    many[cap - 1] = '\0';
    assert_false(load_text(many, &c, path, sizeof path, err, sizeof err));
    assert_non_null(strstr(err, "more than"));
    free(many);
}

static void test_missing_and_truncated(void **state)
{
    (void)state;
    struct config c;
    char err[256] = "";
    assert_false(config_load(&c, "config/does-not-exist.conf", true, err, sizeof err));
    assert_non_null(strstr(err, "config/does-not-exist.conf: cannot open"));

    /* A message longer than err_cap is cut, still NUL-terminated, nothing written past it. */
    char small[12];
    memset(small, 'x', sizeof small);
    assert_false(config_load(&c, "config/does-not-exist.conf", true, small, 8));
    assert_int_equal(strlen(small), 7);
    assert_int_equal(small[8], 'x');
    /* No message buffer at all. */
    assert_false(config_load(&c, "config/does-not-exist.conf", true, NULL, 0));
}

/* ------------------------------------------------------------------ example file */

/* Reads the whole example file into a malloc'd string (caller frees). */
static char *read_example(void)
{
    FILE *f = fopen(EXAMPLE_PATH, "r");
    if (f == NULL) {
        fail_msg("cannot open %s (tests run from the project root)", EXAMPLE_PATH);
    }
    size_t cap = 65536;
    char *text = malloc(cap);
    assert_non_null(text);
    size_t len = fread(text, 1, cap - 1, f);
    assert_true(len < cap - 1);
    text[len] = '\0';
    fclose(f);
    return text;
}

/* The example as shipped (every key commented out) loads to the defaults; uncommented, every
 * key is present exactly once, under a comment line equal to its doc, and the values are the
 * defaults; and every key of the table is in it. */
static void test_example_file(void **state)
{
    (void)state;
    struct config shipped, defaults;
    char err[256] = "";
    config_defaults(&defaults);
    if (!config_load(&shipped, EXAMPLE_PATH, true, err, sizeof err)) {
        fail_msg("%s", err);
    }
    assert_config_equal(&shipped, &defaults);

    size_t n = 0;
    const struct config_key_doc *docs = config_key_docs(&n);
    unsigned seen[64] = {0};
    assert_true(n <= 64);

    char *text = read_example();
    char *uncommented = malloc(strlen(text) + 1);
    assert_non_null(uncommented);
    size_t used = 0;
    const char *previous = "";
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
        const char *as_setting = line;
        for (size_t i = 0; i < n; i++) {
            size_t klen = strlen(docs[i].key);
            if (strncmp(line, "# ", 2) == 0 && strncmp(line + 2, docs[i].key, klen) == 0 &&
                strncmp(line + 2 + klen, " =", 2) == 0) {
                seen[i]++;
                as_setting = line + 2;
                /* "# key = default" exactly (no trailing blank when the default is empty). */
                char want[1200];
                if (docs[i].default_text[0] == '\0') {
                    snprintf(want, sizeof want, "# %s =", docs[i].key);
                } else {
                    snprintf(want, sizeof want, "# %s = %s", docs[i].key, docs[i].default_text);
                }
                assert_string_equal(line, want);
                /* One comment line above it: the key's doc. */
                char want_doc[512];
                snprintf(want_doc, sizeof want_doc, "# %s", docs[i].doc);
                assert_string_equal(previous, want_doc);
            }
        }
        size_t len = strlen(as_setting);
        memcpy(uncommented + used, as_setting, len);
        used += len;
        uncommented[used++] = '\n';
        previous = line;
    }
    uncommented[used] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (seen[i] != 1) {
            fail_msg("key %s appears %u times in %s", docs[i].key, seen[i], EXAMPLE_PATH);
        }
    }

    struct config c;
    char path[512];
    if (!load_text(uncommented, &c, path, sizeof path, err, sizeof err)) {
        fail_msg("uncommented example refused: %s", err);
    }
    assert_config_equal(&c, &defaults);
    free(uncommented);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_defaults, clear_env),
        cmocka_unit_test_setup(test_key_table, clear_env),
        cmocka_unit_test(test_parse_uint_strict),
        cmocka_unit_test_setup(test_default_texts_parse, clear_env),
        cmocka_unit_test_setup(test_file_parse, clear_env),
        cmocka_unit_test_setup(test_file_values_accepted, clear_env),
        cmocka_unit_test_setup(test_env_overrides_file, clear_env),
        cmocka_unit_test_setup(test_env_every_key, clear_env),
        cmocka_unit_test_setup(test_env_error, clear_env),
        cmocka_unit_test_setup(test_file_errors, clear_env),
        cmocka_unit_test_setup(test_file_limits, clear_env),
        cmocka_unit_test_setup(test_missing_and_truncated, clear_env),
        cmocka_unit_test_setup(test_example_file, clear_env),
    };
    return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
