/* config: one key table drives defaults, `key = value` file parsing, FUNDLEDGER_* environment overrides and docs. */
#include "fundledger/config.h"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum key_kind {
    KIND_TEXT,   /* string; min = shortest length allowed, longest is the array size - 1 */
    KIND_UINT,   /* unsigned decimal integer from min to max */
    KIND_LISTEN, /* host:port or [ipv6]:port, port 1..65535 */
    KIND_CHOICE, /* one of the words in choices */
};

/* The key table, written once as an X-macro so that the parser's rows and the public doc rows
 * (config_key_docs) come from the same line per key; no per-key code anywhere else.
 * X(key, kind, min, max, choices, default_text, doc). The key is also the struct member. */
#define CONFIG_KEYS(X)                                                                             \
    X(listen, KIND_LISTEN, 0, 0, NULL, "127.0.0.1:8080",                                           \
      "Address the HTTP API listens on: host:port, or [ipv6]:port; port 1 to 65535.")              \
    X(database_url, KIND_TEXT, 0, 0, NULL, "",                                                     \
      "PostgreSQL libpq conninfo or postgresql:// URI; empty runs a private cluster under data_dir.") \
    X(database_owner_url, KIND_TEXT, 0, 0, NULL, "",                                               \
      "Connection of the owner role that migrations run as; empty uses database_url (one role).") \
    X(data_dir, KIND_TEXT, 1, 0, NULL, "var",                                                      \
      "Directory for the private database cluster and other runtime state.")                      \
    X(migrations_dir, KIND_TEXT, 1, 0, NULL, "migrations",                                         \
      "Directory of the numbered NNNN_name.sql schema migrations.")                               \
    X(reports_dir, KIND_TEXT, 1, 0, NULL, "reports",                                               \
      "Directory where generated reports (statements, IATI files) are written.")                  \
    X(http_threads, KIND_UINT, 1, 64, NULL, "4",                                                   \
      "Worker threads serving HTTP requests, 1 to 64; each holds up to two database connections.") \
    X(http_connections_max, KIND_UINT, 1, 10000, NULL, "256",                                      \
      "Most HTTP connections open at once, 1 to 10000.")                                           \
    X(http_connection_memory_bytes, KIND_UINT, 4096, 16777216, NULL, "65536",                      \
      "Memory for each HTTP connection in bytes, 4096 to 16777216.")                               \
    X(http_timeout_s, KIND_UINT, 1, 3600, NULL, "30",                                              \
      "Seconds before an idle HTTP connection is closed, 1 to 3600.")                              \
    X(http_body_bytes_max, KIND_UINT, 1024, 67108864, NULL, "1048576",                             \
      "Largest request body accepted in bytes (413 beyond), 1024 to 67108864.")                    \
    X(db_tx_retries_max, KIND_UINT, 0, 100, NULL, "8",                                             \
      "Retries of a transaction after a serialization failure or deadlock, 0 to 100.")             \
    X(ledger_batch_entries_max, KIND_UINT, 1, 10000, NULL, "512",                                  \
      "Most journal entries posted in one batch, 1 to 10000.")                                     \
    X(ledger_seal_interval_ms, KIND_UINT, 10, 3600000, NULL, "1000",                               \
      "Milliseconds between seals of the ledger, 10 to 3600000.")                                  \
    X(iati_schema_dir, KIND_TEXT, 1, 0, NULL, "../shared/iati/schemas",                            \
      "Directory of the IATI XML schemas that published files are validated against.")            \
    X(iati_codelist_dir, KIND_TEXT, 1, 0, NULL, "../shared/iati/codelists",                        \
      "Directory of the IATI codelists that codes are checked against.")                           \
    X(iati_reporting_org_ref, KIND_TEXT, 1, 0, NULL, "CO-RUE-9001234567",                          \
      "IATI organisation identifier of the fund manager, used as reporting-org ref.")              \
    X(log_level, KIND_CHOICE, 0, 0, "error, warn, info, debug", "info",                            \
      "Least severe messages logged: error, warn, info or debug.")                                 \
    X(token_lifetime_days, KIND_UINT, 1, 3650, NULL, "90",                                         \
      "Days an API token lives when its creator gives no lifetime, 1 to 3650; renewable.")         \
    X(http_connections_per_ip_max, KIND_UINT, 0, 10000, NULL, "64",                                 \
      "Most HTTP connections open at once from one client address, 0 (no limit) to 10000.")       \
    X(http_request_deadline_s, KIND_UINT, 1, 3600, NULL, "30",                                      \
      "Seconds a request (line, headers and body) may take to arrive, however it trickles, 1 to 3600.") \
    X(http_shutdown_grace_s, KIND_UINT, 0, 3600, NULL, "30",                                        \
      "Seconds SIGTERM or SIGINT waits for requests in flight before closing them, 0 to 3600.")   \
    X(iati_small_group_min, KIND_UINT, 1, 1000, NULL, "5",                                         \
      "Fewest loans to persons a department needs to be its own IATI activity, 1 to 1000.")         \
    X(anchor_key_file, KIND_TEXT, 0, 0, NULL, "",                                                  \
      "Ed25519 private key that signs the chain's head (made 0600 on first use); empty: data_dir/anchor.key.") \
    X(anchor_public_key_file, KIND_TEXT, 0, 0, NULL, "",                                           \
      "Public key that verify checks anchors with; empty: the key file's path with .pub appended.") \
    X(anchor_log_file, KIND_TEXT, 0, 0, NULL, "",                                                  \
      "Append-only log of signed chain heads, kept outside the database; empty: data_dir/anchor-DATABASE.log.") \
    X(password_argon2_t_cost, KIND_UINT, 1, 100, NULL, "3",                                        \
      "Argon2id passes over memory per password hash, 1 to 100 (RFC 9106: 3 with 64 MiB).")        \
    X(password_argon2_m_cost_kib, KIND_UINT, 8, 4194304, NULL, "65536",                            \
      "Argon2id memory per password hash in KiB, 8 to 4194304 (each sign-in uses this much).")     \
    X(password_argon2_parallelism, KIND_UINT, 1, 16, NULL, "1",                                    \
      "Argon2id lanes per password hash, 1 to 16.")                                                \
    X(session_ttl_s, KIND_UINT, 60, 2592000, NULL, "28800",                                        \
      "Seconds a browser session lasts after sign-in, 60 to 2592000.")                             \
    X(session_idle_s, KIND_UINT, 10, 86400, NULL, "1800",                                          \
      "Seconds a browser session may stay unused before it ends, 10 to 86400.")                    \
    X(session_cookie_secure, KIND_CHOICE, 0, 0, "auto, always, never", "auto",                     \
      "Secure flag of the session cookie: always, never, or auto (when X-Forwarded-Proto is https).") \
    X(login_fail_window_s, KIND_UINT, 10, 86400, NULL, "900",                                      \
      "Seconds over which failed sign-ins are counted for the limits, 10 to 86400.")               \
    X(login_fail_max_account, KIND_UINT, 1, 1000, NULL, "5",                                       \
      "Failed sign-ins of one account in the window before it is refused (429), 1 to 1000.")       \
    X(login_fail_max_address, KIND_UINT, 1, 100000, NULL, "20",                                    \
      "Failed sign-ins from one client address in the window before it is refused (429).")         \
    X(http_trusted_proxy, KIND_TEXT, 0, 0, NULL, "",                                               \
      "Address of a reverse proxy whose X-Forwarded-For names the client; empty trusts none.") \
    X(totp_key_file, KIND_TEXT, 0, 0, NULL, "",                                                    \
      "32-byte AES-256-GCM key sealing TOTP secrets (made 0600 on first use); empty: data_dir/totp.key.")

struct key_spec {
    const char *key;
    enum key_kind kind;
    size_t offset; /* of the member in struct config */
    size_t size;   /* of the member: sizeof(unsigned), or the char array's size */
    unsigned min;
    unsigned max;
    const char *choices; /* KIND_CHOICE: words separated by ", " */
    const char *default_text;
};

#define MEMBER_SIZE(member) sizeof(((struct config *)0)->member)

#define AS_SPEC(k, kind_, min_, max_, choices_, default_, doc_)                                    \
    {#k, kind_, offsetof(struct config, k), MEMBER_SIZE(k), min_, max_, choices_, default_},
#define AS_DOC(k, kind_, min_, max_, choices_, default_, doc_) {#k, default_, doc_},

static const struct key_spec keys[] = {CONFIG_KEYS(AS_SPEC)};
static const struct config_key_doc key_docs[] = {CONFIG_KEYS(AS_DOC)};

#define KEY_COUNT (sizeof keys / sizeof keys[0])

_Static_assert(sizeof key_docs / sizeof key_docs[0] == KEY_COUNT, "one doc row per key");

/* "FUNDLEDGER_" plus the longest key, upper-cased, and NUL. */
#define ENV_PREFIX "FUNDLEDGER_"
#define ENV_NAME_BYTES 64

/* A problem with a value, phrased to follow "key: ". */
#define PROBLEM_BYTES 160

/* Rows are static and in the table's order, which is also the example file's order. */
const struct config_key_doc *config_key_docs(size_t *n)
{
    assert(n != NULL);
    *n = KEY_COUNT;
    return key_docs;
}

/* Writes a formatted one-line message to err when there is room for one. */
__attribute__((format(printf, 3, 4))) static void set_error(char *err, size_t err_cap, const char *fmt, ...)
{
    assert(fmt != NULL);
    if (err == NULL || err_cap == 0) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_cap, fmt, ap);
    va_end(ap);
}

static bool is_blank(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n' || ch == '\v' || ch == '\f';
}

static bool is_digit(char ch)
{
    return ch >= '0' && ch <= '9';
}

/* Parses all of text (decimal digits only, at least one) as an integer no larger than max. */
static bool parse_unsigned(const char *text, unsigned long max, unsigned long *out)
{
    assert(text != NULL);
    assert(out != NULL);
    unsigned long value = 0;
    size_t i = 0;
    for (; text[i] != '\0'; i++) {
        if (!is_digit(text[i])) {
            return false;
        }
        unsigned long digit = (unsigned long)(text[i] - '0');
        if (value > (max - digit) / 10u) {
            return false;
        }
        value = value * 10u + digit;
    }
    if (i == 0) {
        return false;
    }
    *out = value;
    return true;
}

/* host:port with an ASCII host name or IPv4 address, or [IPv6]:port; port 1..65535. */
static bool listen_valid(const char *text)
{
    assert(text != NULL);
    const char *port;
    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (close == NULL || close == text + 1 || close[1] != ':') {
            return false;
        }
        for (const char *p = text + 1; p < close; p++) {
            bool hex = is_digit(*p) || (*p >= 'a' && *p <= 'f') || (*p >= 'A' && *p <= 'F');
            if (!hex && *p != ':' && *p != '.') {
                return false;
            }
        }
        port = close + 2;
    } else {
        const char *colon = strrchr(text, ':');
        if (colon == NULL || colon == text) {
            return false;
        }
        for (const char *p = text; p < colon; p++) {
            bool alnum = is_digit(*p) || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z');
            if (!alnum && *p != '.' && *p != '-') {
                return false;
            }
        }
        port = colon + 1;
    }
    unsigned long number = 0;
    return parse_unsigned(port, 65535, &number) && number >= 1;
}

/* true when word is one of the ", "-separated words of choices. */
static bool choice_valid(const char *choices, const char *word)
{
    assert(choices != NULL);
    assert(word != NULL);
    size_t len = strlen(word);
    const char *p = choices;
    for (size_t guard = 0; guard < 64 && *p != '\0'; guard++) {
        size_t n = strcspn(p, ",");
        if (n == len && len > 0 && memcmp(p, word, len) == 0) {
            return true;
        }
        p += n;
        while (*p == ',' || *p == ' ') {
            p++;
        }
    }
    return false;
}

/* Checks value against the key's rules and stores it in *c. On a bad value returns false
 * with c untouched and the problem, to follow "key: ", in problem. */
static bool set_value(struct config *c, const struct key_spec *k, const char *value, char *problem,
                      size_t problem_cap)
{
    assert(c != NULL && k != NULL && value != NULL);
    assert(problem != NULL && problem_cap > 0);
    char *member = (char *)c + k->offset;

    if (k->kind == KIND_UINT) {
        assert(k->size == sizeof(unsigned));
        unsigned long number = 0;
        if (!parse_unsigned(value, k->max, &number) || number < k->min) {
            snprintf(problem, problem_cap, "must be an integer from %u to %u", k->min, k->max);
            return false;
        }
        unsigned stored = (unsigned)number;
        memcpy(member, &stored, sizeof stored);
        return true;
    }

    size_t len = strlen(value);
    if (len >= k->size) {
        snprintf(problem, problem_cap, "must be at most %zu bytes long", k->size - 1);
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)value[i];
        if (ch < 0x20 || ch == 0x7f) {
            snprintf(problem, problem_cap, "must not contain control characters");
            return false;
        }
    }
    switch (k->kind) {
    case KIND_TEXT:
        if (len < k->min) {
            snprintf(problem, problem_cap, "must not be empty");
            return false;
        }
        break;
    case KIND_LISTEN:
        if (!listen_valid(value)) {
            snprintf(problem, problem_cap, "must be host:port with a port from 1 to 65535");
            return false;
        }
        break;
    case KIND_CHOICE:
        if (!choice_valid(k->choices, value)) {
            snprintf(problem, problem_cap, "must be one of %s", k->choices);
            return false;
        }
        break;
    case KIND_UINT:
        assert(false);
        break;
    }
    memcpy(member, value, len + 1);
    return true;
}

/* The table row for name (exact, case-sensitive) and its index, or NULL. */
static const struct key_spec *find_key(const char *name, size_t *index)
{
    assert(name != NULL);
    for (size_t i = 0; i < KEY_COUNT; i++) {
        if (strcmp(keys[i].key, name) == 0) {
            if (index != NULL) {
                *index = i;
            }
            return &keys[i];
        }
    }
    return NULL;
}

/* Defaults go through the same setter as file and environment values, so a default that
 * breaks its own key's rules stops the program at the first call (programmer error). */
void config_defaults(struct config *c)
{
    assert(c != NULL);
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < KEY_COUNT; i++) {
        char problem[PROBLEM_BYTES];
        bool ok = set_value(c, &keys[i], keys[i].default_text, problem, sizeof problem);
        assert(ok && "every default satisfies its own key's rules");
        (void)ok;
    }
}

/* Trims blanks at both ends of s in place; returns the first non-blank character. */
static char *trim(char *s)
{
    assert(s != NULL);
    while (is_blank(*s)) {
        s++;
    }
    size_t len = strlen(s);
    while (len > 0 && is_blank(s[len - 1])) {
        s[--len] = '\0';
    }
    return s;
}

/* Handles one line of the file (already known to fit the buffer). set_line[i] records the
 * line that set key i, for the duplicate message. */
static bool load_line(struct config *c, const char *path, unsigned lineno, char *line, unsigned *set_line,
                      char *err, size_t err_cap)
{
    char *text = trim(line);
    if (*text == '\0' || *text == '#') {
        return true;
    }
    char *eq = strchr(text, '=');
    if (eq == NULL) {
        set_error(err, err_cap, "%s:%u: %.64s: expected \"key = value\"", path, lineno, text);
        return false;
    }
    *eq = '\0';
    char *name = trim(text);
    char *value = trim(eq + 1);
    if (*name == '\0') {
        set_error(err, err_cap, "%s:%u: missing key before '='", path, lineno);
        return false;
    }
    size_t index = 0;
    const struct key_spec *k = find_key(name, &index);
    if (k == NULL) {
        set_error(err, err_cap, "%s:%u: %.64s: unknown key", path, lineno, name);
        return false;
    }
    if (set_line[index] != 0) {
        set_error(err, err_cap, "%s:%u: %s: set twice (first on line %u)", path, lineno, k->key, set_line[index]);
        return false;
    }
    set_line[index] = lineno;
    char problem[PROBLEM_BYTES];
    if (!set_value(c, k, value, problem, sizeof problem)) {
        set_error(err, err_cap, "%s:%u: %s: %s", path, lineno, k->key, problem);
        return false;
    }
    return true;
}

/* Reads path line by line into c. One exit through `done` closes the file. */
static bool load_file(struct config *c, const char *path, bool required, char *err, size_t err_cap)
{
    assert(c != NULL && path != NULL);
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        if (errno == ENOENT && !required) {
            return true;
        }
        set_error(err, err_cap, "%s: cannot open: %s", path, strerror(errno));
        return false;
    }

    bool ok = false;
    unsigned set_line[KEY_COUNT] = {0};
    char line[CONFIG_LINE_BYTES_MAX + 1]; /* a longest line, newline included, and NUL */
    /* Bounded: one round per line, and one past the limit to report it. */
    for (unsigned lineno = 1; lineno <= CONFIG_FILE_LINES_MAX + 1; lineno++) {
        if (fgets(line, sizeof line, f) == NULL) {
            if (ferror(f)) {
                set_error(err, err_cap, "%s: cannot read: %s", path, strerror(errno));
                goto done;
            }
            break;
        }
        if (lineno > CONFIG_FILE_LINES_MAX) {
            set_error(err, err_cap, "%s:%u: more than %d lines", path, lineno, CONFIG_FILE_LINES_MAX);
            goto done;
        }
        size_t len = strlen(line);
        if (len == sizeof line - 1 && line[len - 1] != '\n') {
            int next = fgetc(f);
            if (next != EOF) {
                set_error(err, err_cap, "%s:%u: line longer than %d bytes", path, lineno, CONFIG_LINE_BYTES_MAX);
                goto done;
            }
        }
        char *start = line;
        if (lineno == 1 && strncmp(line, "\xef\xbb\xbf", 3) == 0) {
            start += 3; /* UTF-8 byte order mark */
        }
        if (!load_line(c, path, lineno, start, set_line, err, err_cap)) {
            goto done;
        }
    }
    ok = true;
done:
    fclose(f);
    return ok;
}

/* Applies FUNDLEDGER_<KEY> for every key that has one set. */
static bool load_environment(struct config *c, char *err, size_t err_cap)
{
    assert(c != NULL);
    for (size_t i = 0; i < KEY_COUNT; i++) {
        char name[ENV_NAME_BYTES];
        size_t prefix = strlen(ENV_PREFIX);
        size_t klen = strlen(keys[i].key);
        assert(prefix + klen < sizeof name);
        memcpy(name, ENV_PREFIX, prefix);
        for (size_t j = 0; j < klen; j++) {
            char ch = keys[i].key[j];
            name[prefix + j] = (ch >= 'a' && ch <= 'z') ? (char)(ch - 'a' + 'A') : ch;
        }
        name[prefix + klen] = '\0';

        const char *value = getenv(name);
        if (value == NULL) {
            continue;
        }
        char problem[PROBLEM_BYTES];
        if (!set_value(c, &keys[i], value, problem, sizeof problem)) {
            set_error(err, err_cap, "environment %s: %s: %s", name, keys[i].key, problem);
            return false;
        }
    }
    return true;
}

/* Builds the result in a local struct and copies it out only on success, so *c is never
 * half-loaded. Nothing is allocated; the file is closed before returning. */
bool config_load(struct config *c, const char *path, bool required, char *err, size_t err_cap)
{
    assert(c != NULL);
    assert(err != NULL || err_cap == 0);
    struct config loaded;
    config_defaults(&loaded);
    if (path != NULL && !load_file(&loaded, path, required, err, err_cap)) {
        return false;
    }
    if (!load_environment(&loaded, err, err_cap)) {
        return false;
    }
    memcpy(c, &loaded, sizeof loaded);
    return true;
}

bool config_parse_uint(const char *text, unsigned long max, unsigned long *out)
{
    return parse_unsigned(text, max, out);
}
