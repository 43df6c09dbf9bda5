/* fuzz_config: the `key = value` file parser (config_load). Each input is written to a scratch
 * file and loaded. Checked: a refused file leaves *c untouched and says why in one line that
 * names the file; an accepted file gives values within the bounds config.h documents, and the
 * same configuration again when its lines are rewritten without blanks, in reverse order (the
 * grammar says blanks around key and value are trimmed and each key is set once, so order and
 * blanks cannot matter). FUNDLEDGER_* variables are removed first: only the file counts. */
#include <fcntl.h>
#include <stdbool.h>
#include <unistd.h>

#include "fundledger/config.h"
#include "fuzz.h"

extern char **environ;

static char path[] = "/dev/shm/fundledger-fuzz-config.XXXXXX";
static int fd = -1;

static void remove_scratch(void)
{
    (void)unlink(path);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fd = mkstemp(path);
    if (fd < 0) {
        perror("mkstemp");
        abort();
    }
    atexit(remove_scratch);
    /* Drop every FUNDLEDGER_* variable (restart the scan after each removal). */
    for (bool again = true; again;) {
        again = false;
        for (char **e = environ; *e != NULL; e++) {
            if (strncmp(*e, "FUNDLEDGER_", 11) == 0) {
                char name[256];
                size_t n = strcspn(*e, "=");
                if (n < sizeof name) {
                    memcpy(name, *e, n);
                    name[n] = '\0';
                    unsetenv(name);
                    again = true;
                    break;
                }
            }
        }
    }
    return 0;
}

static void write_scratch(const char *data, size_t size)
{
    if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size) {
        perror("scratch file");
        abort();
    }
}

static bool blank(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n' || ch == '\v' || ch == '\f';
}

static bool terminated_clean(const char *s, size_t cap)
{
    size_t len = strnlen(s, cap);
    if (len == cap) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) {
            return false;
        }
    }
    return true;
}

/* config.h's bounds for every member. */
static void check_bounds(const struct config *c)
{
    FUZZ_CHECK(terminated_clean(c->listen, sizeof c->listen) && strchr(c->listen, ':') != NULL, "listen");
    FUZZ_CHECK(terminated_clean(c->database_url, sizeof c->database_url), "database_url");
    FUZZ_CHECK(terminated_clean(c->data_dir, sizeof c->data_dir) && c->data_dir[0], "data_dir");
    FUZZ_CHECK(terminated_clean(c->migrations_dir, sizeof c->migrations_dir) && c->migrations_dir[0], "migrations");
    FUZZ_CHECK(terminated_clean(c->reports_dir, sizeof c->reports_dir) && c->reports_dir[0], "reports_dir");
    FUZZ_CHECK(c->http_threads >= 1 && c->http_threads <= 64, "http_threads %u", c->http_threads);
    FUZZ_CHECK(c->http_connections_max >= 1 && c->http_connections_max <= 10000, "connections %u",
               c->http_connections_max);
    FUZZ_CHECK(c->http_connection_memory_bytes >= 4096 && c->http_connection_memory_bytes <= 16777216, "memory %u",
               c->http_connection_memory_bytes);
    FUZZ_CHECK(c->http_timeout_s >= 1 && c->http_timeout_s <= 3600, "timeout %u", c->http_timeout_s);
    FUZZ_CHECK(c->http_body_bytes_max >= 1024 && c->http_body_bytes_max <= 67108864, "body %u", c->http_body_bytes_max);
    FUZZ_CHECK(c->db_tx_retries_max <= 100, "retries %u", c->db_tx_retries_max);
    FUZZ_CHECK(c->ledger_batch_entries_max >= 1 && c->ledger_batch_entries_max <= 10000, "batch %u",
               c->ledger_batch_entries_max);
    FUZZ_CHECK(c->ledger_seal_interval_ms >= 10 && c->ledger_seal_interval_ms <= 3600000, "seal %u",
               c->ledger_seal_interval_ms);
    FUZZ_CHECK(terminated_clean(c->iati_schema_dir, sizeof c->iati_schema_dir) && c->iati_schema_dir[0], "schema");
    FUZZ_CHECK(terminated_clean(c->iati_codelist_dir, sizeof c->iati_codelist_dir) && c->iati_codelist_dir[0],
               "codelists");
    FUZZ_CHECK(terminated_clean(c->iati_reporting_org_ref, sizeof c->iati_reporting_org_ref) &&
                   c->iati_reporting_org_ref[0],
               "reporting org");
    FUZZ_CHECK(strcmp(c->log_level, "error") == 0 || strcmp(c->log_level, "warn") == 0 ||
                   strcmp(c->log_level, "info") == 0 || strcmp(c->log_level, "debug") == 0,
               "log_level '%s'", c->log_level);
}

/* The file's settings rewritten "key=value", last line first; comments and blank lines dropped.
 * Lines are cut as fgets does (at '\n'), and a line's text ends at its first NUL. */
static size_t rewrite(const char *data, size_t size, char *out)
{
    size_t at = 0, w = 0;
    static size_t starts[CONFIG_FILE_LINES_MAX + 2], ends[CONFIG_FILE_LINES_MAX + 2];
    size_t n = 0;
    while (at < size) {
        FUZZ_CHECK(n < CONFIG_FILE_LINES_MAX + 1, "an accepted file of more than %d lines", CONFIG_FILE_LINES_MAX);
        const char *nl = memchr(data + at, '\n', size - at);
        size_t end = nl ? (size_t)(nl - data) : size;
        size_t start = at;
        if (n == 0 && end - start >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0) {
            start += 3;
        }
        const char *nul = memchr(data + start, '\0', end - start);
        starts[n] = start;
        ends[n] = nul ? (size_t)(nul - data) : end;
        n++;
        at = end + 1;
    }
    for (size_t i = n; i > 0; i--) {
        size_t s = starts[i - 1], e = ends[i - 1];
        while (s < e && blank(data[s])) {
            s++;
        }
        while (e > s && blank(data[e - 1])) {
            e--;
        }
        if (s == e || data[s] == '#') {
            continue;
        }
        const char *eq = memchr(data + s, '=', e - s);
        FUZZ_CHECK(eq != NULL, "an accepted line without '='");
        size_t k_end = (size_t)(eq - data), v_start = k_end + 1;
        while (k_end > s && blank(data[k_end - 1])) {
            k_end--;
        }
        while (v_start < e && blank(data[v_start])) {
            v_start++;
        }
        memcpy(out + w, data + s, k_end - s);
        w += k_end - s;
        out[w++] = '=';
        memcpy(out + w, data + v_start, e - v_start);
        w += e - v_start;
        out[w++] = '\n';
    }
    return w;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 16384) {
        return 0;
    }
    write_scratch((const char *)data, size);
    struct config c, untouched;
    memset(&c, 0xa5, sizeof c);
    memcpy(&untouched, &c, sizeof c);
    char err[512] = "";
    bool ok = config_load(&c, path, true, err, sizeof err);
    if (!ok) {
        FUZZ_CHECK(memcmp(&c, &untouched, sizeof c) == 0, "a refused file changed *c (%s)", err);
        FUZZ_CHECK(strncmp(err, path, strlen(path)) == 0 && err[strlen(path)] == ':', "'%s' does not name the file",
                   err);
        FUZZ_CHECK(strlen(err) > strlen(path) + 2 && strchr(err, '\n') == NULL, "message '%s'", err);
        return 0;
    }
    check_bounds(&c);

    /* Order and blanks do not matter. */
    char *again = malloc(size + 2);
    FUZZ_CHECK(again != NULL, "malloc");
    size_t n = rewrite((const char *)data, size, again);
    write_scratch(again, n);
    struct config c2;
    memset(&c2, 0x5a, sizeof c2);
    bool ok2 = config_load(&c2, path, true, err, sizeof err);
    FUZZ_CHECK(ok2, "the rewritten file is refused: %s\n%.*s", err, (int)n, again);
    /* Compare member by member: struct padding may differ. */
    struct config d;
    config_defaults(&d);
    FUZZ_CHECK(
        strcmp(c.listen, c2.listen) == 0 && strcmp(c.database_url, c2.database_url) == 0 &&
            strcmp(c.data_dir, c2.data_dir) == 0 && strcmp(c.migrations_dir, c2.migrations_dir) == 0 &&
            strcmp(c.reports_dir, c2.reports_dir) == 0 && c.http_threads == c2.http_threads &&
            c.http_connections_max == c2.http_connections_max &&
            c.http_connection_memory_bytes == c2.http_connection_memory_bytes &&
            c.http_timeout_s == c2.http_timeout_s && c.http_body_bytes_max == c2.http_body_bytes_max &&
            c.db_tx_retries_max == c2.db_tx_retries_max && c.ledger_batch_entries_max == c2.ledger_batch_entries_max &&
            c.ledger_seal_interval_ms == c2.ledger_seal_interval_ms &&
            strcmp(c.iati_schema_dir, c2.iati_schema_dir) == 0 &&
            strcmp(c.iati_codelist_dir, c2.iati_codelist_dir) == 0 &&
            strcmp(c.iati_reporting_org_ref, c2.iati_reporting_org_ref) == 0 && strcmp(c.log_level, c2.log_level) == 0,
        "the rewritten file gives another configuration:\n%.*s", (int)n, again);
    free(again);
    return 0;
}
