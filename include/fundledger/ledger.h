/* ledger: the append-only journal of balanced debits and credits: posting, reading, balances, sealing, verify. */
#ifndef FUNDLEDGER_LEDGER_H
#define FUNDLEDGER_LEDGER_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "fundledger/db.h"
#include "fundledger/error.h"
#include "fundledger/limits.h"
#include "fundledger/rate.h"

/* One line: debit when amount_minor > 0, credit when < 0, in the account's currency. */
struct ledger_line {
    int64_t account_id;
    char currency[CURRENCY_CODE_BYTES];
    int64_t amount_minor;
};

/* An entry to post. event_type names the business event ("manual", "reversal", "disbursement",
 * ...) and event_ref identifies it ("proposal:12"). reverses_entry_id is 0 for none. */
struct ledger_entry {
    int64_t fund_id;
    char effective_date[DATE_TEXT_BYTES];
    int64_t posted_by;
    char memo[LEDGER_MEMO_BYTES_MAX + 1];
    char event_type[LEDGER_EVENT_TYPE_BYTES_MAX + 1];
    char event_ref[LEDGER_EVENT_REF_BYTES_MAX + 1];
    int64_t reverses_entry_id;
    unsigned n_lines;
    struct ledger_line lines[LEDGER_LINES_MAX];
};

/* Checks an entry on its own, without the database: 2..LEDGER_LINES_MAX lines, no zero amount,
 * known currencies, a real calendar date, debits equal credits in each currency (no overflow).
 * Errors: FLE_BAD_FIELD / FLE_MISSING_FIELD naming the field ("lines[2].amount"),
 * FLE_UNBALANCED naming the currency. */
enum fl_err ledger_check(const struct ledger_entry *e, struct fl_error *err);

/* true when text is a real calendar date YYYY-MM-DD between 1900-01-01 and 9999-12-31. */
bool ledger_date_valid(const char *text);

/* Reads a date of ledger_date_valid's grammar into a calendar date (rate.h), the one parser every
 * module uses; false (out untouched) when text is not such a date. */
bool ledger_date_parse(const char *text, rate_date *out);

/* Posts n entries inside the caller's open transaction (db_in_tx must be true), all or none:
 * checks each (ledger_check), checks every account exists in the entry's fund with the line's
 * currency, then writes the entries and their lines with one statement; the database checks
 * again, per statement, that every entry balances per currency and moves the account balances.
 * ids[i] gets the id of entries[i]. Errors: those of ledger_check, FLE_BAD_FIELD for an unknown
 * account ("entries[i].lines[j].account_id"), FLE_ALREADY_REVERSED, database errors. */
enum fl_err ledger_post(struct db *db, const struct ledger_entry *const *entries, unsigned n, int64_t *ids,
                        struct fl_error *err);

/* Posts n entries as one transaction of their own (no transaction may be open): ledger_check in
 * C, then one statement in autocommit, so one round trip and one WAL flush for the batch. The
 * database's checks are the only account check: a refusal is the database's message (FLE_RULE)
 * without a field; run the entries through ledger_post for field-level errors. On
 * FLE_DB_UNAVAILABLE the outcome is unknown (see db_exec_commit). */
enum fl_err ledger_post_commit(struct db *db, const struct ledger_entry *const *entries, unsigned n, int64_t *ids,
                               struct fl_error *err);

/* Checks that every account of every entry exists in the entry's fund with the line's currency.
 * FLE_BAD_FIELD naming the line ("lines[j].account_id", or "entries[i].lines[j].account_id" for n > 1). */
enum fl_err ledger_check_accounts(struct db *db, const struct ledger_entry *const *entries, unsigned n,
                                  struct fl_error *err);

/* Builds the reversal of entry id: every line negated, memo given, event "reversal".
 * Errors: FLE_NOT_FOUND, FLE_ALREADY_REVERSED (it has a reversal), FLE_RULE (it is itself a
 * reversal). The entry is not posted. */
enum fl_err ledger_reversal_build(struct db *db, int64_t entry_id, int64_t posted_by, const char *memo,
                                  const char *effective_date, struct ledger_entry *out,
                                  struct fl_error *err);

/* Reads: each returns a new JSON object or array owned by the caller (json_decref), or NULL
 * with *err set. Amounts are decimal strings in the account's currency. */
json_t *ledger_entry_get(struct db *db, int64_t entry_id, struct fl_error *err);
/* Entries of a fund, optionally touching one account (0 = any), with effective dates in
 * [from, to] (NULL = open), keyset-paged by id after after_id, at most limit. The object has
 * "entries" and "next_after" (null on the last page). */
json_t *ledger_entries_list(struct db *db, int64_t fund_id, int64_t account_id, const char *from,
                            const char *to, int64_t after_id, unsigned limit, struct fl_error *err);
/* Balance of one account now (O(1): the maintained balance) or as of a date (sum of lines
 * with effective_date <= as_of). */
enum fl_err ledger_balance(struct db *db, int64_t account_id, const char *as_of, int64_t *balance,
                           struct fl_error *err);
/* Trial balance of a fund: every account with its balance (now or as of a date), and per
 * currency the total debit and credit balances and their sum, which is zero. */
json_t *ledger_trial_balance(struct db *db, int64_t fund_id, const char *as_of, struct fl_error *err);

/* Seals up to max committed, unsealed entries in id order, each with
 * SHA-256(previous hash || canonical content) (the first follows 32 zero bytes). Runs its own
 * transaction and takes an advisory lock, so concurrent sealers are safe; writers never wait
 * for it. *sealed gets how many were sealed. */
enum fl_err ledger_seal(struct db *db, unsigned max, unsigned *sealed, struct fl_error *err);

/* One problem verify found: the entry (or account) it is about, and what is wrong. */
struct ledger_verify_problem {
    int64_t entry_id;   /* 0 when the problem is about an account or the whole chain */
    int64_t account_id; /* 0 when none */
    char text[320];
};

/* What verify found. ok is true when nothing is wrong. The first problem is described in
 * first_bad_entry / first_bad_account / problem; ledger_verify_full also lists up to
 * LEDGER_VERIFY_PROBLEMS_MAX problems (problems_total counts them all). */
struct ledger_verify_report {
    bool ok;
    int64_t entries_checked;
    int64_t entries_unsealed;
    int64_t accounts_checked;
    int64_t first_bad_entry;   /* 0 when none */
    int64_t first_bad_account; /* 0 when none */
    char problem[320];
    /* ledger_verify_full only */
    int64_t anchors_checked;      /* signed anchors in the database checked against the chain */
    int64_t anchor_log_lines;     /* lines of the anchor log checked */
    int64_t anchored_seal_pos;    /* the latest anchored head (0: none) */
    int64_t origins_checked;      /* entries checked against their proposal or business row */
    char key_id[17];              /* the public key's id ("" when none was found) */
    unsigned problems_total;
    unsigned problems_n;
    struct ledger_verify_problem problems[LEDGER_VERIFY_PROBLEMS_MAX];
};

/* Recomputes the hash chain over every sealed entry in seal order and every account balance
 * from the journal, and checks every entry balances; stops at the first mismatch. Reads in
 * chunks of LEDGER_SEAL_CHUNK entries: memory does not grow with the journal. */
enum fl_err ledger_verify(struct db *db, struct ledger_verify_report *rep, struct fl_error *err);

struct anchor_signer;
struct anchor_verifier;

/* ledger_seal, and when signer is non-NULL, the chunk's new head is signed (anchor_sign) and
 * stored in ledger_anchor in the same transaction and, after the commit, appended to the anchor
 * log. A head sealed earlier but not yet anchored (after an upgrade, or a seal without a signer)
 * is anchored even when nothing is left to seal. An error appending to the log is returned after
 * the seal committed (the next anchor covers the chain again). */
enum fl_err ledger_seal_anchored(struct db *db, unsigned max, const struct anchor_signer *signer, unsigned *sealed,
                                 struct fl_error *err);

/* What ledger_verify_full checks besides ledger_verify. */
struct ledger_verify_options {
    const struct anchor_verifier *verifier; /* NULL: no public key (every anchor is then a problem) */
    const char *anchor_log;                 /* path of the anchor log; NULL or missing: a problem when anchors exist */
};

/* Everything ledger_verify checks, and (docs/architecture.md, Tamper evidence):
 * - every anchor in the database: signed by the verifier's key, over the chain's actual head at
 *   its seal position, following the previous anchor (count); none past the chain's end;
 * - every sealed entry covered by an anchor (none sealed after the last anchor);
 * - every line of the anchor log: well-formed, signed, and its head equal to the chain's at
 *   that seal position; a head past the chain's end names the entries cut from the tail;
 * - every entry against what produced it (ledger_verify_origins in statements.c).
 * Problems are listed with the entry named; rep->ok is false when there is any. Errors: database
 * errors only (a problem found is FLE_OK with rep->ok false). */
enum fl_err ledger_verify_full(struct db *db, const struct ledger_verify_options *o, struct ledger_verify_report *rep,
                               struct fl_error *err);

/* Prints a ledger_verify_full report: what was checked, one "verify: MISMATCH: ..." line per
 * listed problem, then "verify: ok" or "verify: FAILED". */
void ledger_verify_print(const struct ledger_verify_report *rep, const char *anchor_log, FILE *out);

/* The latest anchored head (what publications and statements carry), as a new JSON object
 * {"chain", "seal_pos", "entry_id", "count", "hash", "key_id", "signature"} (hashes and the
 * signature in hex; anchor_message() says what is signed), or JSON null when nothing is anchored
 * yet; NULL with *err on a database error. */
json_t *ledger_chain_head(struct db *db, struct fl_error *err);

/* Group commit: many threads post; `committers` threads (1..LEDGER_BATCHER_COMMITTERS_MAX), each
 * with its own connection, write what has queued up (at most batch_max entries) as one durable
 * transaction of one statement, then answer each writer. One committer is the default; more
 * split the writers into smaller batches (measured slower with writers that wait for each
 * answer, tests/bench/README.md). */
struct ledger_batcher;
enum fl_err ledger_batcher_start(const char *conninfo, unsigned batch_max, unsigned committers,
                                 unsigned tx_retries_max, struct ledger_batcher **out, struct fl_error *err);
/* Posts one entry and returns when it is committed (durable as the server's settings make
 * every commit) or refused. Thread-safe. If the batch it was in is refused by the database,
 * each entry of that batch is retried alone, so one bad entry never sinks the others. */
enum fl_err ledger_batcher_post(struct ledger_batcher *b, const struct ledger_entry *e, int64_t *id,
                                struct fl_error *err);
/* Stops the committer after the queue drains, closes the connection, frees everything. */
void ledger_batcher_stop(struct ledger_batcher *b);

#endif
