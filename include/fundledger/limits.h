/* limits: every bound of fundledger in one place, each with its reason. */
#ifndef FUNDLEDGER_LIMITS_H
#define FUNDLEDGER_LIMITS_H

/* Journal: a real entry (a disbursement split over a handful of tranches) needs a dozen lines;
 * 64 leaves room for a waterfall step over many tranches and matches the CHECK in 0001_core.sql. */
#define LEDGER_LINES_MAX 64
/* Memo and references: short human text; the database CHECKs the same lengths. */
#define LEDGER_MEMO_BYTES_MAX 500
#define LEDGER_EVENT_REF_BYTES_MAX 200
#define LEDGER_EVENT_TYPE_BYTES_MAX 64
/* Group commit: at most this many entries in one database transaction (also a config key). */
#define LEDGER_BATCH_ENTRIES_MAX 10000
/* Committer threads (connections) a ledger_batcher may run. */
#define LEDGER_BATCHER_COMMITTERS_MAX 8
/* Sealing reads this many entries per round: bounded memory whatever the journal size. */
#define LEDGER_SEAL_CHUNK 1000
/* Problems ledger_verify_full lists one by one (it counts them all); enough to name each entry of a tampering. */
#define LEDGER_VERIFY_PROBLEMS_MAX 32

/* Names and codes, matching the CHECKs in the migrations. */
#define NAME_BYTES_MAX 200
#define CODE_BYTES_MAX 64
#define USER_NAME_BYTES_MAX 64
#define REASON_BYTES_MAX 500
#define IDEMPOTENCY_KEY_BYTES_MAX 200
#define CURRENCY_CODE_BYTES 4 /* three letters and NUL */
#define DATE_TEXT_BYTES 11    /* YYYY-MM-DD and NUL */

/* Pipeline (0002_pipeline.sql CHECKs the same): a cooperative has at most tens of thousands of
 * members; a purpose is a paragraph; human-security rounds are yearly-ish follow-ups. */
#define PIPELINE_NAME_BYTES_MAX NAME_BYTES_MAX
#define PIPELINE_MEMBERS_MAX 100000
#define PIPELINE_PURPOSE_BYTES_MAX 1000
#define PIPELINE_ROUND_MAX 100
#define PIPELINE_INDICATOR_BYTES_MAX 200
#define PIPELINE_METHOD_BYTES_MAX 500

/* HTTP: path and query are short by design; JSON nesting is shallow in every body we take. */
#define HTTP_PATH_BYTES_MAX 512
#define HTTP_PATH_PARAMS_MAX 4
#define JSON_DEPTH_MAX 8
/* Paged lists: default and largest page. */
#define PAGE_SIZE_DEFAULT 50
#define PAGE_SIZE_MAX 500

/* Tokens: 256 random bits, shown once as "fl_" + 64 hex digits. */
#define TOKEN_RANDOM_BYTES 32
#define TOKEN_TEXT_BYTES (3 + 2 * TOKEN_RANDOM_BYTES + 1)
/* A token's lifetime in days: at most ten years (the records are kept ten years). The default,
 * when its creator gives none, is the config key token_lifetime_days (90). */
#define TOKEN_LIFETIME_DAYS_MAX 3650

/* Error messages are one line; fields are JSON member names or header names. */
#define ERROR_MESSAGE_BYTES 256
#define ERROR_FIELD_BYTES 64

/* Transaction retries on serialization failure or deadlock (also a config key). */
#define DB_TX_RETRIES_MAX 100

/* A lost database connection (db.c): reconnection attempts per connection back off from the
 * minimum, doubling, to the maximum, so a restarting server is not hammered and a recovered one
 * is found within a second; meanwhile requests get 503 with Retry-After of DB_RETRY_AFTER_S. A
 * transaction whose connection was lost before COMMIT runs again on a new connection at most
 * DB_LOST_RETRIES_MAX times (it never committed, so running it again cannot write twice). */
#define DB_RECONNECT_BACKOFF_MIN_MS 50
#define DB_RECONNECT_BACKOFF_MAX_MS 1000
#define DB_RETRY_AFTER_S 1
#define DB_LOST_RETRIES_MAX 1

_Static_assert(LEDGER_LINES_MAX >= 2, "an entry needs two lines");
_Static_assert(PAGE_SIZE_DEFAULT <= PAGE_SIZE_MAX, "default page within the maximum");
_Static_assert(TOKEN_RANDOM_BYTES * 8 == 256, "tokens carry 256 random bits");
_Static_assert(DB_RECONNECT_BACKOFF_MIN_MS <= DB_RECONNECT_BACKOFF_MAX_MS, "backoff grows");
_Static_assert(DB_RETRY_AFTER_S * 1000 >= DB_RECONNECT_BACKOFF_MAX_MS, "a client retrying after Retry-After finds a reconnection attempt due");
_Static_assert(LEDGER_SEAL_CHUNK <= LEDGER_BATCH_ENTRIES_MAX, "seal rounds are batches");

/* Money: the largest single amount, in minor units, that any input may carry and any business
 * table may store (money_parse_amount, migration 0010_amount_limits.sql). 10^15 minor units is
 * 10,000,000,000,000.00 in a two-decimal currency (COP 10 trillion, about 2,500 million US dollars
 * in 2026, several times the largest blended-finance fund; Colombia's whole 2026 budget is about
 * COP 500 trillion), 1,000,000,000,000,000 in a zero-decimal one (JPY, CLP) and
 * 1,000,000,000,000.000 in a three-decimal one (BHD). It is far below int64 (9.22 * 10^18) on
 * purpose: an entry of LEDGER_LINES_MAX maximal lines totals 6.4 * 10^16, and a balance or a total
 * needs more than 9,000 maximal postings before it could overflow; every sum is still checked or
 * taken in 128 bits (docs/architecture.md, Amount limits). */
#define MONEY_AMOUNT_MAX 1000000000000000LL

/* HTTP request headers: all names and values together, in bytes. Above it the reply is 431 in the
 * JSON error shape; above what http_connection_memory_bytes can hold, libmicrohttpd answers its
 * own 431 (HTML) before any code of ours runs (docs/deployment.md). nginx's default is 8 KiB a line. */
#define HTTP_HEADER_BYTES_MAX 16384
/* How often the request-deadline watchdog looks at the open connections. */
#define HTTP_WATCHDOG_MS 250

_Static_assert((MONEY_AMOUNT_MAX * LEDGER_LINES_MAX) < 9223372036854775807LL / 100,
               "an entry's debits total far below int64");

#endif
