/* config: service settings from built-in defaults, a `key = value` file and FUNDLEDGER_* environment overrides. */
#ifndef FUNDLEDGER_CONFIG_H
#define FUNDLEDGER_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

/* Every setting, named as its key in the file (FUNDLEDGER_<KEY> upper-cased in the
 * environment). Defaults and bounds are in the one key table in src/core/config.c and in
 * config/fundledger.conf.example. Strings are NUL-terminated and always fit their arrays. */
struct config {
    char listen[128];                      /* "127.0.0.1:8080": host:port, port 1..65535 */
    char database_url[1024];               /* libpq conninfo or URI; "" = private cluster under data_dir */
    char database_owner_url[1024];         /* the owner role's conninfo for migrations; "" = database_url */
    char data_dir[512];                    /* "var" */
    char migrations_dir[512];              /* "migrations" */
    char reports_dir[512];                 /* "reports" */
    unsigned http_threads;                 /* 4, 1..64 */
    unsigned http_connections_max;         /* 256, 1..10000 */
    unsigned http_connection_memory_bytes; /* 65536, 4096..16777216 */
    unsigned http_timeout_s;               /* 30, 1..3600 */
    unsigned http_body_bytes_max;          /* 1048576, 1024..67108864 */
    unsigned db_tx_retries_max;            /* 8, 0..100 */
    unsigned ledger_batch_entries_max;     /* 512, 1..10000 */
    unsigned ledger_seal_interval_ms;      /* 1000, 10..3600000 */
    char iati_schema_dir[512];             /* "../shared/iati/schemas" */
    char iati_codelist_dir[512];           /* "../shared/iati/codelists" */
    char iati_reporting_org_ref[128];      /* "CO-RUE-9001234567": IATI org identifier of the fund manager */
    char log_level[16];                    /* "info": one of error, warn, info, debug */
    unsigned token_lifetime_days;          /* 90, 1..3650: an API token's lifetime when none is given */
    unsigned http_connections_per_ip_max;  /* 64, 0..10000 (0 = no per-client limit) */
    unsigned http_request_deadline_s;      /* 30, 1..3600: a request must arrive within this */
    unsigned http_shutdown_grace_s;        /* 30, 0..3600: SIGTERM waits this long for requests */
    unsigned iati_small_group_min;         /* 5, 1..1000: fewer loans to persons: no activity of its own */
    char anchor_key_file[512];             /* "": data_dir/anchor.key (Ed25519 private key, 0600) */
    char anchor_public_key_file[512];      /* "": anchor_key_file + ".pub" */
    char anchor_log_file[512];             /* "": data_dir/anchor.log (append-only signed heads) */
    /* Sign-in for people (docs/console.md). */
    unsigned password_argon2_t_cost;       /* 3, 1..100 passes */
    unsigned password_argon2_m_cost_kib;   /* 65536, 8..4194304 KiB of memory per hash */
    unsigned password_argon2_parallelism;  /* 1, 1..16 lanes */
    unsigned session_ttl_s;                /* 28800, 60..2592000: a session ends this long after sign-in */
    unsigned session_idle_s;               /* 1800, 10..86400: ... or after this long unused */
    char session_cookie_secure[8];         /* "auto": always, never, or auto (when X-Forwarded-Proto is https) */
    unsigned login_fail_window_s;          /* 900, 10..86400 */
    unsigned login_fail_max_account;       /* 5, 1..1000 failures per account in the window */
    unsigned login_fail_max_address;       /* 20, 1..100000 failures per client address in the window */
    char http_trusted_proxy[64];           /* "": address of a reverse proxy whose X-Forwarded-For is believed */
    char totp_key_file[512];               /* "": data_dir/totp.key (AES-256-GCM key sealing TOTP secrets) */
};

/* Longest line accepted in a configuration file, newline included. */
#define CONFIG_LINE_BYTES_MAX 4096
/* Most lines read from a configuration file; a longer file is refused. */
#define CONFIG_FILE_LINES_MAX 10000

/* Fills *c with the built-in defaults. Cannot fail. */
void config_defaults(struct config *c);

/* Loads the defaults, then the file at `path` if path is non-NULL, then the environment
 * (FUNDLEDGER_<KEY> for each known key; other FUNDLEDGER_* variables are ignored), each
 * layer overriding the one before. A missing file is an error only when required is true;
 * a file that exists but cannot be read always is.
 *
 * File grammar: one `key = value` per line; blank lines and lines whose first non-blank
 * character is '#' are skipped; blanks around key and value are trimmed; '#' after a value
 * is part of the value (no trailing comments). Environment values are taken as they are.
 *
 * Returns true with *c fully set, or false with *c untouched and a one-line message in err
 * (truncated to err_cap; err may be NULL only when err_cap is 0) naming the key and, for
 * the file, the line: "config/fundledger.conf:7: http_threads: must be an integer from 1
 * to 64". Errors: unknown key, key set twice in the file, line without '=', line too long,
 * too many lines, value out of bounds or too long, unreadable file. */
bool config_load(struct config *c, const char *path, bool required, char *err, size_t err_cap);

/* The one strict number parser (configuration values and every number on the command line):
 * all of text must be decimal digits, at least one, no sign, blank or other character, with a
 * value no larger than max. Returns true with *out set, false with *out untouched. */
bool config_parse_uint(const char *text, unsigned long max, unsigned long *out);

/* One row of the key table, for documentation and tests. */
struct config_key_doc {
    const char *key;          /* name in the file, e.g. "http_threads" */
    const char *default_text; /* default as written in the file, e.g. "4" */
    const char *doc;          /* one line: what it sets, its unit and its bounds */
};

/* The key table in file order; *n receives its length. Static storage, never freed. */
const struct config_key_doc *config_key_docs(size_t *n);

#endif
